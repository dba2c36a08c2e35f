"""Smoke test of the collector benchmarks (bench/icmp.py, bench/snmp.py): each `--quick` mode runs in the lab,
prints its table, a ratio and a JSON line with positive rates. No speed assertion: the figures are for people."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from lab_support import REPO, require_binary, require_lab, require_root, require_shared_fixtures


def run_quick(script: str) -> tuple[str, dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    last = proc.stdout.strip().splitlines()[-1]
    return proc.stdout, json.loads(last)


@pytest.mark.lab
def test_icmp_bench_quick() -> None:
    require_lab()
    require_root()
    require_binary("fping")
    out, figures = run_quick("icmp.py")
    assert "ratio collector/fping" in out
    assert figures["bench"] == "icmp"
    assert figures["fping"]["replies_per_s"] > 0
    assert figures["collector"]["replies_per_s"] > 0
    assert figures["ratio"] > 0


@pytest.mark.lab
def test_snmp_bench_quick() -> None:
    require_lab()
    require_binary("snmpbulkwalk")
    require_shared_fixtures()  # the bench serves the shared recordings
    out, figures = run_quick("snmp.py")
    assert "ratio collector/net-snmp" in out
    assert figures["bench"] == "snmp"
    assert figures["netsnmp"]["varbinds_per_s"] > 0
    assert figures["collector"]["varbinds_per_s"] > 0
    assert figures["ratio"] > 0
