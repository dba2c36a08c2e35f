"""Fault tests against a real victoria-metrics (lab): the store stopped and restarted, the agent SIGKILLed.

Each test runs `vigie agent run` as a real process shipping to VM through influxdb-client (/api/v2/write),
then reads VM back through its export API and the spool, and asserts that no sample was lost (every slot of
every probe's grid is there while the agent ran) and none duplicated.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import pytest

from agent.clock import SystemClock
from tests.agent.agent_harness import (
    influx_store,
    inventory,
    probe_points_in_spool,
    probe_points_in_vm,
    start_agent,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.lab
CLOCK = SystemClock()


def vm_pid_file() -> Path:
    run = os.environ.get("VIGIE_LAB_RUN")
    assert run, "VIGIE_LAB_RUN not set"
    return Path(run) / "victoria-metrics.pid"


def vm_healthy() -> bool:
    try:
        return urllib.request.urlopen("http://127.0.0.1:8428/health", timeout=1).status == 200
    except OSError:
        return False


def stop_vm() -> list[str]:
    pid = int(vm_pid_file().read_text())
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), 30, "victoria-metrics to stop")
    return argv


def start_vm(argv: list[str]) -> None:
    log = vm_pid_file().parent / "victoria-metrics.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    vm_pid_file().write_text(f"{proc.pid}\n")
    wait_for(vm_healthy, 30, "victoria-metrics to restart")


def all_points(agent_id: str, spool: Path) -> dict[str, list[int]]:
    vm = probe_points_in_vm(agent_id)
    left = probe_points_in_spool(spool)
    return {p: sorted(vm.get(p, []) + left.get(p, [])) for p in set(vm) | set(left)}


def holes(times: list[int], step_ms: int) -> list[int]:
    present = set(times)
    return [t for t in range(min(times), max(times) + 1, step_ms) if t not in present]


def test_victoria_metrics_stopped_then_restarted_every_sample_arrives_once(tmp_path: Path) -> None:
    agent_id = f"vmstop-{uuid.uuid4().hex[:8]}"
    config = write_config(tmp_path / "inv.yaml", inventory(agent_id, tmp_path, store=influx_store()))
    agent = start_agent(config)
    try:
        wait_for(lambda: sum(map(len, probe_points_in_vm(agent_id).values())) >= 6, 30, "first samples in VM")
        argv = stop_vm()
        time.sleep(6)  # the agent keeps sampling into its spool
        assert agent.alive()
        start_vm(argv)
        time.sleep(6)  # back-off ≤ 2 s, then the spool drains
    finally:
        assert agent.stop() == 0, agent.text()
    points = all_points(agent_id, tmp_path / "spool.db")
    assert len(points) == 3
    for probe, times in points.items():
        assert len(times) >= 12, probe
        assert [t for t, n in Counter(times).items() if n > 1] == [], f"{probe}: duplicates"
        assert holes(times, 1000) == [], f"{probe}: lost samples"
    assert len(probe_points_in_spool(tmp_path / "spool.db")) <= 3  # drained except the last moments


def test_the_agent_killed_mid_run_and_restarted_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    agent_id = f"kill9-{uuid.uuid4().hex[:8]}"
    config = write_config(tmp_path / "inv.yaml", inventory(agent_id, tmp_path, store=influx_store(batch_size=5)))
    dead: list[tuple[float, float]] = []  # wall-clock windows when no agent ran
    agent = start_agent(config)
    try:
        wait_for(lambda: sum(map(len, probe_points_in_vm(agent_id).values())) >= 6, 30, "first samples in VM")
        for _ in range(3):
            time.sleep(random.uniform(1.5, 3.5))
            killed_at = CLOCK.now().timestamp()
            agent.kill9()
            time.sleep(0.5)
            agent = start_agent(config, log_name="agent2.log")
            dead.append((killed_at, CLOCK.now().timestamp()))
        time.sleep(5)
    finally:
        assert agent.stop() == 0, agent.text()
    points = all_points(agent_id, tmp_path / "spool.db")
    assert len(points) == 3
    for probe, times in points.items():
        counts = Counter(times)
        assert [t for t, n in counts.items() if n > 1] == [], f"{probe}: duplicates"
        # no hole except while no agent was running (a slot due then was never sampled)
        lost = [t for t in holes(times, 1000) if not any(a - 1.5 <= t / 1000 <= b + 2.5 for a, b in dead)]
        assert lost == [], f"{probe}: samples lost outside the dead windows"
