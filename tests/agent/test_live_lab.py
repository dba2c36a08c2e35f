"""The live lab behind `make run`, in bounded mode: real namespaces / SNMP agents, the edge and central
agents as processes, a real link cut with `vigie lab outage`, and the NOC telling "agent down" apart.

Asserts the outage is detected, qualified and counted in the store and shows in the view's output, that
a killed edge agent makes its sites `unknown (agent_down)` — not `up`, not `down` — because the NOC still
reaches them, and that the lab stops everything it started, by PID, and removes its namespaces.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent.agent_harness import wait_for

pytestmark = pytest.mark.lab
CLI = "from agent.cli import main; main()"


def vigie(*args: str) -> list[str]:
    return [sys.executable, "-c", CLI, *args]


def rows(store: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    if not store.exists():
        return []
    db = sqlite3.connect(store)
    try:
        return list(db.execute(sql, params))
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def last_state(store: Path, service: str, source: str) -> tuple[str, str | None] | None:
    got = rows(
        store,
        "SELECT state, cause FROM state_changes WHERE service = ? AND source = ? ORDER BY time_ms DESC LIMIT 1",
        service,
        source,
    )
    return (str(got[0][0]), None if got[0][1] is None else str(got[0][1])) if got else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.mark.parametrize("mode", ["netns", "loopback"])
def test_live_lab_detects_a_real_cut_counts_it_and_tells_agent_down_from_site_down(tmp_path: Path, mode: str) -> None:
    if mode == "netns" and os.geteuid() != 0:
        pytest.skip("netns mode needs root")
    lab_dir = tmp_path / "lab"
    out = tmp_path / "view.txt"
    # loopback sites are polled by SNMP every 2 s only: a 6-s cut could be seen as 4 s, a microcut (< 5 s)
    cut_s = 6 if mode == "netns" else 9
    with out.open("wb") as f:
        runner = subprocess.Popen(
            vigie("lab", "run", "--duration", "32s" if mode == "netns" else "30s", "--every", "2s", "--snapshots",
                  "--demo", "none", "--mode", mode, "--dir", str(lab_dir)),
            stdout=f,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    store = lab_dir / "store.db"
    lyon = "acme-lyon-internet"
    try:
        wait_for(lambda: last_state(store, lyon, "edge") == ("up", None), 25, "lyon qualified up at the edge")
        state = json.loads((lab_dir / "lab.json").read_text())
        pids = [*state["pids"].values()]

        cut = subprocess.run(
            vigie("lab", "outage", "lyon", "--for", f"{cut_s}s", "--dir", str(lab_dir)),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert cut.returncode == 0, cut.stderr
        if mode == "netns":
            assert "ip -n vigie-live-lyon link set uplink down" in cut.stdout
            link = subprocess.run(
                ["ip", "-n", "vigie-live-lyon", "link", "show", "uplink"], capture_output=True, text=True, check=True
            )
            assert "state DOWN" in link.stdout  # the link really is down
        else:
            assert "SIGSTOP" in cut.stdout
            snmp_pid = state["sites"]["lyon"]["snmp_pid"]
            assert Path(f"/proc/{snmp_pid}/stat").read_text().split()[2] == "T"  # the device really hangs

        wait_for(lambda: last_state(store, lyon, "edge") == ("down", None), 15, "the cut detected at the edge")
        wait_for(lambda: last_state(store, lyon, "central") == ("down", None), 15, "the NOC view down")
        # restored by the lab after cut_s: the outage is closed, qualified and counted
        wait_for(
            lambda: rows(store, "SELECT class, end_ms - start_ms FROM outages WHERE service = ?", lyon) != [],
            20,
            "the outage in the store",
        )
        [(klass, length_ms)] = rows(store, "SELECT class, end_ms - start_ms FROM outages WHERE service = ?", lyon)
        assert klass == "outage"
        assert 3_000 <= int(length_ms) <= (cut_s + 6) * 1000  # type: ignore[call-overload]
        wait_for(lambda: last_state(store, lyon, "edge") == ("up", None), 15, "lyon back up")
        others = rows(store, "SELECT count(*) FROM outages WHERE service != ?", lyon)
        assert others == [(0,)]  # the other sites were not touched

        # Agent down, site up: the edge agent dies; the NOC still reaches every site → unknown (agent_down).
        if mode == "netns":
            os.kill(state["pids"]["edge"], signal.SIGKILL)
            for service in ("acme-lyon-internet", "acme-nancy-vga", "bistro-paris-internet"):
                wait_for(
                    lambda s=service: last_state(store, s, "central") == ("unknown", "agent_down"),
                    20,
                    f"{service}: unknown (agent_down) in the NOC view",
                )
        assert runner.wait(timeout=60) == 0
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGTERM)
            runner.wait(timeout=30)
    view = out.read_text(errors="replace")
    assert "acme-lyon-internet: edge qualified DOWN" in view
    assert "acme-lyon-internet: outage counted" in view
    assert "LAB: lyon link restored" in view
    assert "Vigie live lab" in view and "acme/lyon" in view  # the table snapshots
    if mode == "netns":
        assert "(agent_down)" in view
    # everything stopped by PID, nothing left behind
    assert [p for p in pids if alive(p)] == []
    if mode == "netns":
        assert "vigie-live" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert "10.251.0.0/16" not in subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
