"""Replay after an outage (issue 4, "Performance"): 1 M spooled samples shipped to victoria-metrics.

    .venv/bin/python bench/replay.py              # 1,000,000 samples
    .venv/bin/python bench/replay.py --quick      # 20,000 samples (CI smoke)

What is measured, in one run against one victoria-metrics that this script starts on a free loopback port
(its own storage in a temporary directory; stopped by its PID at the end):
1. the spool is filled with N probe samples (`vigie_probe` points of 50 probes, 1-s grid) while "the
   store is unreachable" — not timed;
2. **agent**: the agent's own shipping path drains it — `Shipper` + `InfluxSink` (influxdb-client v2 write
   API, gzip, batches of 5,000, the spool's begin/end acknowledgements): points per second = N / wall time
   until the spool is empty;
3. **floor**: the same line protocol (the same N lines, with another `agent` tag so the points are new),
   gzip-compressed and POSTed in batches of 5,000 to `/api/v2/write` with a plain HTTP client
   (http.client, one keep-alive connection, no spool): points per second. Twice: at gzip level 9 (what
   influxdb-client uses, the floor the issue's target was set against) and at the agent's level (1).
The ratio agent / floor is the figure of merit; the target is ≥ 0.5 (against the level-9 floor; the ratio
against the level-1 floor is printed too). Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agent.clock import SystemClock  # noqa: E402
from agent.config import InfluxStoreConfig  # noqa: E402
from agent.lab import stop_pid  # noqa: E402
from agent.metrics import AgentMetrics  # noqa: E402
from agent.shipper import GZIP_LEVEL, InfluxSink, Shipper  # noqa: E402
from agent.spool import SqliteSpool  # noqa: E402
from agent.store import schema  # noqa: E402

BATCH = 5000
PROBES = 50
T0_MS = 1_795_000_000_000
FLOORS = {9: "replay-floor", GZIP_LEVEL: "replay-floor-l1"}  # gzip level → the floor's `agent` tag


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def records(n: int, agent: str) -> list[schema.Record]:
    out = []
    for i in range(n):
        p = i % PROBES
        ids = {
            "client": "bench",
            "site": f"site{p // 10}",
            "service": f"svc{p}",
            "agent": agent,
            "device": f"cpe{p}",
            "probe": "icmp",
            "kind": "icmp",
            "target": f"127.2.0.{p + 1}",
        }
        t = T0_MS + (i // PROBES) * 1000
        out.append(
            schema.sample(
                ids=ids, ok=True, reason=None, time_ms=t, duration_s=0.0012, values={"rtt_avg_ms": 0.05 + (i % 7) / 100}
            )
        )
    return out


def vm_count(base: str, agent: str) -> int:
    """Points of `vigie_probe_ok` of `agent` in VM (export API: every stored timestamp, duplicates included)."""
    urllib.request.urlopen(f"{base}/internal/force_flush", timeout=30).read()
    url = f"{base}/api/v1/export?" + urllib.parse.urlencode({"match[]": f'{{agent="{agent}"}}'})
    total = 0
    with urllib.request.urlopen(url, timeout=300) as r:
        for line in r:
            series = json.loads(line)
            if series["metric"]["__name__"] == "vigie_probe_ok":
                total += len(series["timestamps"])
    return total


async def drain(spool: SqliteSpool, url: str) -> float:
    os.environ["VIGIE_BENCH_TOKEN"] = "bench"
    cfg = InfluxStoreConfig.model_validate(
        {"kind": "influxdb", "url": url, "token": {"env": "VIGIE_BENCH_TOKEN"}, "batch_size": BATCH}
    )
    clock = SystemClock()
    sink = InfluxSink(cfg, clock)
    shipper = Shipper(spool, sink, AgentMetrics(), clock, batch_size=BATCH, flush_interval_s=0.05)
    start = time.perf_counter()
    try:
        while spool.pending():
            wait = await shipper.ship_once()
            if wait is not None and spool.pending():
                raise RuntimeError("the store refused a batch during the bench")
    finally:
        sink.close()
    return time.perf_counter() - start


def floor(lines: list[str], port: int, level: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8", "Authorization": "Token x"}
    start = time.perf_counter()
    for i in range(0, len(lines), BATCH):
        body = gzip.compress("\n".join(lines[i : i + BATCH]).encode(), level)
        conn.request("POST", "/api/v2/write?org=vigie&bucket=vigie&precision=ms", body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"floor: HTTP {resp.status}")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="20,000 samples (CI smoke)")
    args = ap.parse_args()
    n = 20_000 if args.quick else args.samples
    vm = shutil.which("victoria-metrics")
    if vm is None:
        print("bench/replay.py: victoria-metrics is not installed (.ci/apt-packages.txt)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="vigie-replay-"))
    port = free_tcp_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [vm, f"-storageDataPath={tmp / 'vm'}", f"-httpListenAddr=127.0.0.1:{port}", "-retentionPeriod=100y",
         "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=ERROR"],
        stdout=(tmp / "vm.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/health", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("victoria-metrics did not start") from None
                time.sleep(0.1)
        t = time.perf_counter()
        spool = SqliteSpool(tmp / "spool.db", max_bytes=4 * 2**30)
        recs = records(n, "replay-agent")
        for i in range(0, n, 10_000):
            spool.put(recs[i : i + 10_000])
        fill_s = time.perf_counter() - t
        del recs
        agent_s = asyncio.run(drain(spool, base))
        spool.close()
        floor_s = {level: floor([r.line() for r in records(n, tag)], port, level) for level, tag in FLOORS.items()}
        got_agent = vm_count(base, "replay-agent")
        got_floor = {level: vm_count(base, tag) for level, tag in FLOORS.items()}
    finally:
        stop_pid(proc.pid, grace_s=15)
    agent_rate = n / agent_s
    ratio = {level: agent_rate * s / n for level, s in floor_s.items()}
    print(f"replay of {n:,} spooled samples to victoria-metrics (batches of {BATCH:,}, gzip)")
    print(f"{'path':<34} {'seconds':>9} {'points/s':>11} {'in VM':>10}")
    print(f"{'agent (spool → Shipper → client)':<34} {agent_s:>9.2f} {agent_rate:>11,.0f} {got_agent:>10,}")
    for level, s in floor_s.items():
        print(f"{f'floor (plain HTTP POST, gzip {level})':<34} {s:>9.2f} {n / s:>11,.0f} {got_floor[level]:>10,}")
    print(
        f"ratio agent / floor: {ratio[9]:.2f} (gzip 9, the client's default; target ≥ 0.5), "
        f"{ratio[GZIP_LEVEL]:.2f} (gzip {GZIP_LEVEL}, the agent's level); spool filled in {fill_s:.1f} s (not timed)"
    )
    print(
        json.dumps(
            {
                "bench": "replay",
                "samples": n,
                "batch": BATCH,
                "agent_s": round(agent_s, 3),
                "agent_points_per_s": round(agent_rate),
                "agent_gzip_level": GZIP_LEVEL,
                "floor_s": round(floor_s[9], 3),  # the floor of the target: gzip 9
                "floor_points_per_s": round(n / floor_s[9]),
                "ratio": round(ratio[9], 3),
                "floor_gzip1_s": round(floor_s[GZIP_LEVEL], 3),  # the floor at the agent's level
                "floor_gzip1_points_per_s": round(n / floor_s[GZIP_LEVEL]),
                "ratio_gzip1": round(ratio[GZIP_LEVEL], 3),
                "in_vm_agent": got_agent,
                "in_vm_floor": got_floor[9],
                "in_vm_floor_gzip1": got_floor[GZIP_LEVEL],
                "fill_s": round(fill_s, 2),
                "within_target": ratio[9] >= 0.5,
            }
        )
    )
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if got_agent == n and all(got == n for got in got_floor.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
