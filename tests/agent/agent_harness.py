"""Helpers for the agent fault tests: write an inventory, run `vigie agent run` as a real process, read VM."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agent.store.schema import Record

VM = "http://127.0.0.1:8428"


def inventory(
    agent_id: str,
    tmp: Path,
    *,
    store: dict[str, Any] | None = None,
    probes: int = 3,
    interval_s: int = 1,
    max_bytes: int = 16 * 1024 * 1024,
    extra_agent: dict[str, Any] | None = None,
) -> dict[str, Any]:
    devices = [
        {
            "name": f"lo{i}",
            "address": "127.0.0.1",
            "probes": [{"kind": "icmp", "interval_s": interval_s, "config": {"count": 1, "timeout_s": 0.3}}],
        }
        for i in range(probes)
    ]
    return {
        "version": 1,
        "agent": {
            "id": agent_id,
            "heartbeat_interval_s": 1,
            "spool": {"path": str(tmp / "spool.db"), "max_bytes": max_bytes},
            "store": store or {"kind": "embedded", "path": str(tmp / "store.db")},
            "metrics": {"listen": None},
            **(extra_agent or {}),
        },
        "clients": [
            {
                "id": "acme",
                "sites": [
                    {
                        "id": "lyon",
                        "services": [
                            {
                                "id": f"net-{agent_id}",
                                "contract": "internet",
                                "monthly_fee_eur": 100,
                                "devices": devices,
                            }
                        ],
                    }
                ],
            }
        ],
    }


def influx_store(url: str = VM, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "influxdb",
        "url": url,
        "token": {"env": "VIGIE_TEST_TOKEN"},
        "org": "vigie",
        "bucket": "vigie",
        "batch_size": 50,
        "flush_interval_s": 0.2,
        "max_backoff_s": 2,
        **extra,
    }


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@dataclass
class AgentProcess:
    proc: subprocess.Popen[bytes]
    log: Path

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def start_agent(config: Path, role: str = "edge", log_name: str = "agent.log") -> AgentProcess:
    log = config.parent / log_name
    env = {**os.environ, "VIGIE_TEST_TOKEN": "test-token"}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from agent.cli import main; main()", "agent", "run", str(config), "--role", role],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    agent = AgentProcess(proc, log)
    started = log.read_text(errors="replace").count('"agent started"')
    wait_for(lambda: agent.text().count('"agent started"') > started or not agent.alive(), 60, "the agent to start")
    return agent


def spool_records(path: Path) -> list[Record]:
    if not path.exists():
        return []
    db = sqlite3.connect(path)
    try:
        return [Record.from_line(x) for (x,) in db.execute("SELECT line FROM spool")]
    finally:
        db.close()


def spool_counters(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        return {str(k): int(v) for k, v in db.execute("SELECT name, value FROM counters")}
    except sqlite3.OperationalError:  # not created yet
        return {}
    finally:
        db.close()


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def vm_export(match: str) -> list[dict[str, Any]]:
    urllib.request.urlopen(f"{VM}/internal/force_flush", timeout=10).read()
    url = f"{VM}/api/v1/export?" + urllib.parse.urlencode({"match[]": match})
    with urllib.request.urlopen(url, timeout=30) as r:
        return [json.loads(line) for line in r.read().decode().splitlines() if line.strip()]


def probe_points_in_vm(agent_id: str) -> dict[str, list[int]]:
    """probe tag → every timestamp (ms) of its `ok` field in VM, duplicates included."""
    out: dict[str, list[int]] = defaultdict(list)
    for series in vm_export(f'vigie_probe_ok{{agent="{agent_id}"}}'):
        out[series["metric"]["probe"]].extend(series["timestamps"])
    return out


def probe_points_in_spool(path: Path) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for r in spool_records(path):
        if r.measurement == "vigie_probe":
            out[r.tag("probe") or ""].append(r.time_ms)
    return out
