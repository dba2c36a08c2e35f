"""The shipper against a real HTTP server on loopback that answers like a struggling InfluxDB: 503/429 with
Retry-After, 500, 400, 401, 413; the real influxdb-client, gzip on. Nothing acknowledged is lost."""

from __future__ import annotations

import gzip
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.clock import SystemClock
from agent.config import InfluxStoreConfig
from agent.metrics import AgentMetrics
from agent.shipper import InfluxSink, Shipper, parse_retry_after
from agent.spool import MemorySpool, SqliteSpool
from agent.store import schema
from collectors.base import SecretSource


class StoreServer:
    """Answers each write with the next scripted status (then 204), records accepted lines and arrival times."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]) -> None:
        self.script = list(script)
        self.accepted: list[str] = []
        self.arrivals: list[tuple[float, int, int]] = []  # (monotonic, status, lines)
        self.gzip_seen = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    server.gzip_seen = True
                    body = gzip.decompress(body)
                lines = [x for x in body.decode().split("\n") if x]
                status, headers = server.script.pop(0) if server.script else (204, {})
                if status == 413 and len(lines) <= 2:
                    status = 204
                server.arrivals.append((time.monotonic(), status, len(lines)))
                if status == 204:
                    server.accepted.extend(lines)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                payload = b'{"code":"x","message":"scripted"}' if status != 204 else b""
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server_factory() -> Iterator[object]:
    made: list[StoreServer] = []

    def make(script: list[tuple[int, dict[str, str]]]) -> StoreServer:
        made.append(StoreServer(script))
        return made[-1]

    yield make
    for s in made:
        s.close()


def records(n: int) -> list[schema.Record]:
    ids = {"client": "c", "site": "s", "service": "svc", "agent": "a", "device": "d", "probe": "p", "kind": "icmp"}
    return [
        schema.sample(
            ids=ids,
            ok=True,
            reason=None,
            time_ms=1_700_000_000_000 + i * 1000,
            duration_s=0.01,
            values={"rtt_avg_ms": 1.0},
        )
        for i in range(n)
    ]


def shipper_for(server: StoreServer, spool: MemorySpool, metrics: AgentMetrics, batch: int = 10) -> Shipper:
    config = InfluxStoreConfig(kind="influxdb", url=server.url, token=SecretSource(env="X_UNUSED_TOKEN"), gzip=True)
    os.environ.setdefault("X_UNUSED_TOKEN", "t")
    sink = InfluxSink(config, SystemClock())
    return Shipper(spool, sink, metrics, SystemClock(), batch_size=batch, max_backoff_s=5, base_backoff_s=0.05)


async def drain(shipper: Shipper, spool: MemorySpool, timeout: float = 20) -> None:
    import asyncio

    deadline = time.monotonic() + timeout
    while spool.pending() and time.monotonic() < deadline:
        wait = await shipper.ship_once()
        if wait:
            await asyncio.sleep(wait)


async def test_retry_after_on_503_and_429_is_honoured_and_nothing_is_lost(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory([(503, {"Retry-After": "1"}), (429, {"Retry-After": "2"}), (500, {})])
    spool, metrics = MemorySpool(), AgentMetrics()
    spool.put(records(25))
    await drain(shipper_for(server, spool, metrics), spool)
    assert spool.pending() == 0
    assert sorted(server.accepted) == sorted(r.line() for r in records(25))  # all, once
    times = [t for t, _, _ in server.arrivals]
    assert times[1] - times[0] >= 1.0  # Retry-After: 1 after the 503
    assert times[2] - times[1] >= 2.0  # Retry-After: 2 after the 429
    assert server.gzip_seen
    assert metrics.ship_retries._value.get() == 3


async def test_a_400_is_rejected_and_counted_the_rest_goes_on(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory([(400, {})])
    spool, metrics = MemorySpool(), AgentMetrics()
    spool.put(records(25))
    shipper = shipper_for(server, spool, metrics)
    await drain(shipper, spool)
    assert spool.stats.rejected == 10 and spool.stats.accepted == 15
    assert (shipper.errors, shipper.rejected) == (1, 10)  # the heartbeat's ship_errors and ship_rejected
    assert len(server.accepted) == 15
    assert metrics.rejected.labels("400")._value.get() == 10
    assert len(spool.quarantined()) == 10  # rejected points are kept, not lost


async def test_404_alerts_and_keeps_the_data(server_factory) -> None:  # type: ignore[no-untyped-def]
    # a wrong org/bucket/database (or a 2.x without DBRP mapping): nothing may be dropped
    server = server_factory([(404, {}), (404, {})])
    spool, metrics = MemorySpool(), AgentMetrics()
    spool.put(records(5))
    shipper = shipper_for(server, spool, metrics)
    assert await shipper.ship_once() == shipper.max_backoff_s
    assert metrics.auth_failed._value.get() == 1
    assert spool.pending() == 5 and spool.stats.rejected == 0
    assert await shipper.ship_once() == shipper.max_backoff_s  # still missing: still kept
    await shipper.ship_once()  # the bucket exists now
    assert len(server.accepted) == 5 and spool.pending() == 0 and metrics.auth_failed._value.get() == 0


async def test_401_alerts_and_keeps_the_data(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory([(401, {})])
    spool, metrics = MemorySpool(), AgentMetrics()
    spool.put(records(5))
    shipper = shipper_for(server, spool, metrics)
    wait = await shipper.ship_once()
    assert wait == shipper.max_backoff_s
    assert metrics.auth_failed._value.get() == 1
    assert spool.pending() == 5
    assert await shipper.ship_once() is not None or spool.pending() == 0
    assert metrics.auth_failed._value.get() == 0


async def test_413_splits_the_batch(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory([(413, {}), (413, {})])
    spool, metrics = MemorySpool(), AgentMetrics()
    spool.put(records(8))
    await drain(shipper_for(server, spool, metrics, batch=8), spool)
    assert sorted(server.accepted) == sorted(r.line() for r in records(8))
    assert spool.stats.rejected == 0


async def test_a_batch_the_store_took_leaves_the_spool_while_the_next_one_is_sent(server_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    server = server_factory([])
    spool = SqliteSpool(tmp_path / "spool.db", 1 << 30)
    spool.put(records(25))
    shipper = shipper_for(server, spool, AgentMetrics())
    assert await shipper.ship_once() is None  # a full batch: its acknowledgement waits for the next send
    assert len(server.accepted) == 10 and spool.pending() == 25
    assert await shipper.ship_once() is None
    assert len(server.accepted) == 20 and spool.pending() == 15  # the first batch left during the second send
    spool.close()  # a crash here: the second batch was taken by the store but is still spooled
    spool = SqliteSpool(tmp_path / "spool.db", 1 << 30)
    assert spool.pending() == 15
    shipper = shipper_for(server, spool, AgentMetrics())
    task = asyncio.create_task(shipper.run())
    while len(server.accepted) < 35:
        await asyncio.sleep(0.02)
    task.cancel()  # stopping acknowledges what the store took
    await asyncio.gather(task, return_exceptions=True)
    assert spool.pending() == 0
    assert len(server.accepted) == 35  # the second batch twice (at-least-once), nothing lost:
    assert sorted(set(server.accepted)) == sorted(r.line() for r in records(25))
    spool.close()


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 3, 3, 8, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Tue, 03 Mar 2026 08:00:30 GMT", now) == 30.0
    assert parse_retry_after("soon", now) is None
