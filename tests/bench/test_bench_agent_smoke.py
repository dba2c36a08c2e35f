"""The agent benchmarks run (issue 4, "Performance"): bench/agent_footprint.py and bench/replay.py in --quick
mode. They check that each benchmark works and reports its figures (table + JSON line), not the speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.lab_support import require_binary

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run(script: str) -> tuple[str, dict[str, object]]:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick"], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, json.loads(done.stdout.strip().splitlines()[-1])


def test_agent_footprint_quick_reports_rss_and_cpu() -> None:
    require_binary("snmpd")
    out, figures = run("agent_footprint.py")
    assert figures["targets"] == 50
    assert float(figures["rss_peak_mb"]) > 0  # type: ignore[arg-type]
    assert float(figures["cpu_pct_one_core"]) >= 0  # type: ignore[arg-type]
    runs = figures["probe_runs"]
    assert isinstance(runs, dict) and runs["icmp"]["runs"] > 0 and runs["snmp"]["runs"] > 0
    assert "RSS peak (MB)" in out and "CPU steady (% of one core)" in out


def test_replay_quick_reports_points_per_second_and_the_ratio_to_plain_http() -> None:
    require_binary("victoria-metrics")
    out, figures = run("replay.py")
    assert figures["samples"] == 20_000
    assert figures["in_vm_agent"] == figures["in_vm_floor"] == 20_000  # every point arrived, once
    assert float(figures["ratio"]) > 0  # type: ignore[arg-type]
    assert "ratio agent / floor" in out
