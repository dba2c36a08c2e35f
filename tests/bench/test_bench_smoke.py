"""The SLA engine benchmark runs (issue 2, "Performance"): a smoke check of bench/sla_engine.py --quick on a
handful of instances. It checks that the benchmark works and reports its figures, not the speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "sla_engine.py"


def test_quick_benchmark_reports_samples_per_second_and_ratio() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--instances", "4"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["instances"] == 4
    assert figures["samples"] > 4 * 3 * 80_000  # a month of 30-second samples from three probes each
    assert figures["samples_per_s_per_core"] > 0
    assert figures["ratio_to_floor"] > 0
    assert figures["outages"] > 0
    assert "samples/s per core" in done.stdout
    assert "ratio to floor" in done.stdout
