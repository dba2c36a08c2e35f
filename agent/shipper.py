"""Ship the spool to the store: batches taken with `spool.begin`, acknowledged with `spool.end`.

Sinks:
- `EmbeddedSink`: the local SQLite store (the default); a commit is the acknowledgement.
- `InfluxSink`: influxdb-client's v2 write API (InfluxDB 1.8+, 2.x, 3.x; VictoriaMetrics in the tests),
  synchronous writes in a worker thread, gzip-compressed (level 1), millisecond precision, no retries inside the
  client: every retry decision is the shipper's, through one table (house style 14):

  | answer                      | outcome                                                              |
  |-----------------------------|----------------------------------------------------------------------|
  | 2xx                         | accepted: the batch leaves the spool                                 |
  | 429, 500, 502, 503, 504     | retry with exponential back-off, or after `Retry-After` if given      |
  | connection error, timeout   | retry with back-off (the uplink or the store is down)                |
  | 413                         | split the batch in halves and ship each                              |
  | 400, 422, other 4xx         | rejected: moved to the spool's quarantine (kept, never resent),      |
  |                             | counted, logged — e.g. a field type conflict                         |
  | 401, 403                    | fatal for shipping: alert (log + `vigie_ship_auth_failed` = 1), keep  |
  |                             | the data, retry at the maximum back-off until the credentials work    |
  | 404                         | fatal for shipping: the org/bucket/database does not exist (or a 2.x  |
  |                             | has no DBRP mapping): alert, keep, retry at the maximum back-off      |
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import gzip
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from agent.clock import Clock
from agent.config import InfluxStoreConfig
from agent.metrics import AgentMetrics
from agent.spool import Batch, Spool
from agent.store.schema import Record
from agent.store.sqlite import SqliteStore

log = logging.getLogger("vigie.shipper")

GZIP_LEVEL = 1  # a third larger than level 9 on line protocol, a tenth of its CPU
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
AUTH_STATUSES = frozenset({401, 403})
NOT_FOUND_STATUSES = frozenset({404})


class Outcome(Enum):
    ACCEPTED = "accepted"
    RETRY = "retry"
    SPLIT = "split"
    REJECTED = "rejected"
    AUTH = "auth"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    status: int | None = None
    retry_after_s: float | None = None
    detail: str = ""


def classify(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.ACCEPTED
    if status in RETRY_STATUSES:
        return Outcome.RETRY
    if status == 413:
        return Outcome.SPLIT
    if status in AUTH_STATUSES:
        return Outcome.AUTH
    if status in NOT_FOUND_STATUSES:
        return Outcome.NOT_FOUND
    if 400 <= status < 500:
        return Outcome.REJECTED
    return Outcome.RETRY


def parse_retry_after(value: str | None, now_epoch: float) -> float | None:
    """`Retry-After: 7` or an HTTP date (RFC 9110 §10.2.3); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now_epoch)


Points = Batch | Sequence[Record]
"""What a sink is given: a (part of a) spool batch — its lines as spooled, records decoded on demand — or
plain records (tests, tools)."""


def lines_of(points: Points) -> Sequence[str]:
    return points.lines if isinstance(points, Batch) else [r.line() for r in points]


def records_of(points: Points) -> Sequence[Record]:
    return points.records if isinstance(points, Batch) else points


class Sink(Protocol):
    async def send(self, points: Points) -> SendResult: ...

    def close(self) -> None: ...


class EmbeddedSink:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    async def send(self, points: Points) -> SendResult:
        self.store.write(records_of(points))
        return SendResult(Outcome.ACCEPTED)

    def close(self) -> None:
        self.store.close()


class InfluxSink:
    def __init__(self, config: InfluxStoreConfig, clock: Clock) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.config = config
        self.clock = clock
        self.client = InfluxDBClient(
            url=config.url,
            token=config.token.reveal(),
            org=config.org,
            timeout=int(config.timeout_s * 1000),
            retries=False,
        )
        if config.gzip:  # compressed here, at level 1 (the client's own gzip is level 9: 10× the CPU)
            self.client.api_client.set_default_header("Content-Encoding", "gzip")  # type: ignore[no-untyped-call]
        self.write_api = self.client.write_api(write_options=SYNCHRONOUS)

    def _write(self, text: str) -> None:
        from influxdb_client.domain.write_precision import WritePrecision

        body = text.encode()
        self.write_api.write(
            bucket=self.config.bucket,
            org=self.config.org,
            record=gzip.compress(body, GZIP_LEVEL) if self.config.gzip else body,
            write_precision=WritePrecision.MS,  # type: ignore[arg-type]  # the stubs type it as str
        )

    async def send(self, points: Points) -> SendResult:
        from influxdb_client.rest import ApiException

        body = "\n".join(lines_of(points))  # one string: the client encodes it once, no per-line work
        try:
            await asyncio.to_thread(self._write, body)
        except ApiException as exc:
            status = int(exc.status or 0)
            headers: Any = exc.headers or {}
            retry_after = parse_retry_after(headers.get("Retry-After"), self.clock.now().timestamp())
            body = (exc.body or b"").decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body or "")
            return SendResult(classify(status), status, retry_after, body[:300])
        except Exception as exc:  # connection refused, reset, timeout: the store or the uplink is away
            return SendResult(Outcome.RETRY, None, None, f"{type(exc).__name__}: {exc}"[:300])
        return SendResult(Outcome.ACCEPTED, 204)

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]


class Shipper:
    def __init__(
        self,
        spool: Spool,
        sink: Sink,
        metrics: AgentMetrics,
        clock: Clock,
        *,
        batch_size: int = 5000,
        flush_interval_s: float = 1.0,
        max_backoff_s: float = 300.0,
        base_backoff_s: float = 0.5,
    ) -> None:
        self.spool = spool
        self.sink = sink
        self.metrics = metrics
        self.clock = clock
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_backoff_s = max_backoff_s
        self.base_backoff_s = base_backoff_s
        self.failures = 0  # consecutive, for the back-off
        self.errors = 0  # failed write attempts since start (the heartbeat's `ship_errors`)
        self.rejected = 0  # points the store rejected for good since start (the heartbeat's `ship_rejected`)
        self._wake = asyncio.Event()
        self._unacked: tuple[Batch, list[int], list[int]] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        observed = self.clock.monotonic()
        try:
            while True:
                delay = await self.ship_once()
                if delay is None and self.clock.monotonic() - observed < 1.0:
                    continue  # more to send right away (the spool's gauges are read at most once a second)
                self.metrics.observe_spool(self.spool)
                observed = self.clock.monotonic()
                if delay is None:
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
        finally:
            self.acknowledge()  # stopping: what the store took leaves the spool

    async def ship_once(self) -> float | None:
        """Send one batch. Returns how long to wait before the next one (None: go on at once).

        While catching up (full batches), a batch the store took is acknowledged in the spool during the
        next call, while that call's batch is on the wire: the spool's work overlaps the store's. Until
        then its records stay in the spool, in flight, so a crash in between sends them again."""
        batch = self.spool.begin(self.batch_size)
        if not len(batch):
            self.acknowledge()
            self.spool.end(batch, [], [])
            return self.flush_interval_s
        accepted: list[int] = []
        rejected: list[int] = []
        sending = asyncio.ensure_future(self._ship(batch, 0, accepted, rejected))
        try:
            await asyncio.sleep(0)  # let the send start (its HTTP request runs in a worker thread)
            self.acknowledge()  # the previous batch, while this one is on the wire
            wait = await sending
        except BaseException:
            sending.cancel()
            self.spool.end(batch, accepted, rejected)
            raise
        if accepted:
            self.metrics.shipped.inc(len(accepted))
            self.metrics.last_ship.set(self.clock.monotonic())
        if wait is None and len(batch) >= self.batch_size:
            self._unacked = (batch, accepted, rejected)
            self.failures = 0
            return None
        self.spool.end(batch, accepted, rejected)
        if wait is None:
            self.failures = 0
            return self.flush_interval_s
        return wait

    def acknowledge(self) -> None:
        """End, in the spool, the batch whose acknowledgement `ship_once` left for later (if any)."""
        if self._unacked is not None:
            batch, accepted, rejected = self._unacked
            self._unacked = None
            self.spool.end(batch, accepted, rejected)

    async def _ship(self, records: Batch, offset: int, accepted: list[int], rejected: list[int]) -> float | None:
        result = await self.sink.send(records)
        label = str(result.status or "connection")
        indexes = range(offset, offset + len(records))
        if result.outcome is Outcome.ACCEPTED:
            accepted.extend(indexes)
            self.metrics.auth_failed.set(0)
            return None
        self.metrics.ship_errors.labels(label).inc()
        self.errors += 1
        if result.outcome is Outcome.SPLIT and len(records) > 1:
            half = len(records) // 2
            first = await self._ship(records.part(0, half), offset, accepted, rejected)
            if first is not None:
                return first
            return await self._ship(records.part(half, len(records)), offset + half, accepted, rejected)
        if result.outcome in (Outcome.REJECTED, Outcome.SPLIT):
            rejected.extend(indexes)
            self.metrics.rejected.labels(label).inc(len(records))
            self.rejected += len(records)
            log.error(
                "store rejected %d points (HTTP %s): %s",
                len(records),
                result.status,
                result.detail,
                extra={"status": result.status, "points": len(records)},
            )
            return None
        self.failures += 1
        if result.outcome is Outcome.AUTH:
            self.metrics.auth_failed.set(1)
            log.critical(
                "ALERT: the store refuses our credentials (HTTP %s); data kept in the spool",
                result.status,
                extra={"status": result.status, "alert": "store_auth"},
            )
            return self.max_backoff_s
        if result.outcome is Outcome.NOT_FOUND:
            self.metrics.auth_failed.set(1)
            log.critical(
                "ALERT: the store has no such org/bucket/database (HTTP 404: %s); data kept in the spool. "
                "Check store.org / store.bucket in the config, or run `vigie influx setup CONFIG`",
                result.detail,
                extra={"status": result.status, "alert": "store_not_found"},
            )
            return self.max_backoff_s
        self.metrics.ship_retries.inc()
        backoff = min(self.max_backoff_s, self.base_backoff_s * 2 ** min(self.failures - 1, 20))
        wait = result.retry_after_s if result.retry_after_s is not None else random.uniform(backoff / 2, backoff)
        wait = min(wait, self.max_backoff_s)
        log.warning(
            "store unavailable (%s), retry in %.1f s",
            label if result.status else result.detail,
            wait,
            extra={"status": result.status, "retry_in_s": round(wait, 3)},
        )
        return wait
