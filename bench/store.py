"""Store benchmark: one month of 30-s probe samples for N sites, written and read back for the SLA computation.

- write: influxdb-client v2 write API (the shipper's `InfluxSink`, batches of 5,000 lines, gzip) to
  victoria-metrics (the lab's 127.0.0.1:8428), vs the embedded SQLite store;
- read: the InfluxQL read path (`InfluxReader.samples`, one probe a query) from influxdb 1.6.7 (the lab's
  127.0.0.1:8086, loaded through its 1.x /write API, not timed), vs the embedded store.

Reports points/s both ways and the ratio to the embedded store. Needs the lab servers (run through
`tests/lab/run`, or set VIGIE_BENCH_VM / VIGIE_BENCH_INFLUXDB).

    .venv/bin/python bench/store.py            # 100 sites × 30 days (8.64 M points)
    .venv/bin/python bench/store.py --quick    # 10 sites × 3 days

Measured 2026-11-26, 100 sites × 30 days (8,640,000 points, 11 min 40 s wall for the whole run under
`tests/lab/run`; 2 cores shared with another helper's CPU-bound job and an agent footprint bench, load ≈ 2.6):

    write VM (influxdb-client)       44.76 s   193,014 points/s   7.55× the embedded store
    write embedded SQLite           338.14 s    25,551 points/s
    read influxdb 1.6.7 (InfluxQL)   33.92 s   254,680 points/s   0.41× the embedded store
    read embedded SQLite             13.76 s   628,064 points/s

At 10 sites (864,000 points) it was VM 163 k/s = 2.0× SQLite's 80 k, influxdb 306 k/s = 5.2× SQLite's 59 k.
The embedded store's read now uses the `samples_by_probe` index (one probe's month without scanning every
sample), so its read scales with one probe's points and beats InfluxDB's JSON over HTTP. Its write is what
slows with size (80 k → 26 k points/s for a 7 GB file). Likely cause, not yet measured apart: the primary key
(series first) and `samples_by_probe` append each new site's month, but `points_by_measurement`
(measurement, time) takes it across its whole range, so each 5,000-point transaction (synced:
`synchronous=FULL`) touches pages all over a large index.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from agent.clock import FakeClock
from agent.config import InfluxStoreConfig
from agent.shipper import InfluxSink, Outcome
from agent.store import schema
from agent.store.influx import InfluxQL, InfluxReader
from agent.store.schema import Record
from agent.store.sqlite import SqliteStore

VM = os.environ.get("VIGIE_BENCH_VM", "http://127.0.0.1:8428")
INFLUXDB = os.environ.get("VIGIE_BENCH_INFLUXDB", "http://127.0.0.1:8086")
START_MS = 1_761_951_600_000  # 2025-11-01 00:00 Europe/Paris


def site_records(run: str, site: int, days: int) -> list[Record]:
    ids = {"client": run, "site": f"site-{site:03d}", "service": f"svc-{site:03d}", "agent": f"edge-{site:03d}",
           "device": "cpe", "probe": "cpe-icmp", "kind": "icmp", "target": "192.0.2.1"}  # fmt: skip
    out = []
    for i in range(days * 2880):
        ok = (i + site) % 997 != 0
        values = {"rtt_avg_ms": 1.0 + (i % 7) / 10, "loss_ratio": 0.0 if ok else 1.0}
        out.append(schema.sample(ids=ids, ok=ok, reason=None if ok else "timeout", time_ms=START_MS + 30_000 * i,
                                 duration_s=0.01, values=values))  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, default=100)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="10 sites × 3 days")
    args = ap.parse_args()
    sites, days = (10, 3) if args.quick else (args.sites, args.days)
    run = f"bench-{uuid.uuid4().hex[:8]}"
    os.environ.setdefault("VIGIE_BENCH_TOKEN", "bench")
    total = sites * days * 2880
    print(f"{sites} sites × {days} days of 30-s samples: {total:,} points")
    config = InfluxStoreConfig.model_validate({"kind": "influxdb", "url": VM, "token": {"env": "VIGIE_BENCH_TOKEN"}})
    sink = InfluxSink(config, FakeClock(datetime.fromtimestamp(START_MS / 1000, UTC)))
    db = f"vigie_bench_{run[6:]}"
    client = InfluxQL(INFLUXDB, db, timeout_s=120)
    client.command(f'CREATE DATABASE "{db}"')
    vm_write = sq_write = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "bench.db")
        try:
            for s in range(sites):  # one site's month at a time: generation and the 1.x load are not timed
                records = site_records(run, s, days)
                t = time.perf_counter()
                for i in range(0, len(records), 5000):
                    result = asyncio.run(sink.send(records[i : i + 5000]))
                    if result.outcome is not Outcome.ACCEPTED:
                        raise SystemExit(f"VM refused a batch: {result}")
                vm_write += time.perf_counter() - t
                t = time.perf_counter()
                for i in range(0, len(records), 5000):
                    store.write(records[i : i + 5000])
                sq_write += time.perf_counter() - t
                client.write(records, batch=10_000)
            reader = InfluxReader(client)
            t = time.perf_counter()
            got = sum(len(reader.samples(f"{run}/site-{s:03d}/svc-{s:03d}/cpe-icmp")) for s in range(sites))
            ix_read = time.perf_counter() - t
            assert got == total, (got, total)
            db_sqlite: sqlite3.Connection = store.db
            t = time.perf_counter()
            got = 0
            for s in range(sites):
                pid = f"{run}/site-{s:03d}/svc-{s:03d}/cpe-icmp"
                got += len(db_sqlite.execute("SELECT time_ms, ok FROM samples WHERE probe_id = ? ORDER BY time_ms",
                                             (pid,)).fetchall())  # fmt: skip
            sq_read = time.perf_counter() - t
            assert got == total
        finally:
            store.close()
            sink.close()
            client.command(f'DROP DATABASE "{db}"')
            client.close()

    print(f"{'':28}{'seconds':>10}{'points/s':>14}{'ratio to SQLite':>18}")
    print(f"{'write VM (influxdb-client)':28}{vm_write:10.2f}{total / vm_write:14,.0f}{sq_write / vm_write:18.2f}")
    print(f"{'write embedded SQLite':28}{sq_write:10.2f}{total / sq_write:14,.0f}{1:18.2f}")
    print(f"{'read influxdb 1.6.7 (InfluxQL)':28}{ix_read:10.2f}{total / ix_read:14,.0f}{sq_read / ix_read:18.2f}")
    print(f"{'read embedded SQLite':28}{sq_read:10.2f}{total / sq_read:14,.0f}{1:18.2f}")


if __name__ == "__main__":
    main()
