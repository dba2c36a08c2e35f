"""The long-running agent process: wires config, edge or central role, spool, shipper, heartbeat, metrics.

Signals: SIGHUP reloads the inventory — a config that fails validation is logged (every error, with its
line) and the running config keeps running; SIGTERM / SIGINT stop cleanly (the spool is durable anyway).
Logs are structured (one JSON object per line by default).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from agent.clock import Clock, SystemClock
from agent.config import ConfigError, InfluxStoreConfig, LoadedConfig, LogFormat, Role, load_inventory
from agent.edge import CollectorFactory, Edge, ScheduledExecutor, default_collector, follow_wall_clock_steps
from agent.metrics import AgentMetrics
from agent.shipper import EmbeddedSink, InfluxSink, Shipper, Sink
from agent.spool import SqliteSpool
from agent.store import schema
from agent.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from agent.central import Central  # imported by the central role only: the edge never loads the ledger

log = logging.getLogger("vigie.agent")

_STD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _STD_ATTRS})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(fmt: LogFormat, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if fmt is LogFormat.JSON else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's malloc_trim; elsewhere nothing to do): what
    start-up and the first SNMP runs freed stays mapped otherwise, and counts in the agent's RSS."""
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


_LIBC = ctypes.CDLL(None)


class AgentRuntime:
    def __init__(
        self,
        config_path: Path,
        role: Role,
        clock: Clock | None = None,
        collector_factory: CollectorFactory = default_collector,
    ) -> None:
        self.config_path = config_path
        self.role = role
        self.clock = clock or SystemClock()
        self.collector_factory = collector_factory
        self.metrics = AgentMetrics()
        self.loaded: LoadedConfig = load_inventory(config_path)
        self.stopping = asyncio.Event()
        self.edge: Edge | None = None
        self.noc: Edge | None = None  # central role: its own probes from the NOC
        self.central: Central | None = None
        self.store: SqliteStore | None = None
        self.heartbeat_seq = 0
        self.started = self.clock.monotonic()

    def _sink(self) -> Sink:
        store_cfg = self.loaded.inventory.agent.store
        if isinstance(store_cfg, InfluxStoreConfig):
            return InfluxSink(store_cfg, self.clock)
        self.store = SqliteStore(self.loaded.resolve(store_cfg.path))
        return EmbeddedSink(self.store)

    async def run(self) -> None:
        agent = self.loaded.inventory.agent
        setup_logging(agent.log_format)
        self.spool = SqliteSpool(self.loaded.resolve(agent.spool.path), agent.spool.max_bytes)
        sink = self._sink()
        store_cfg = agent.store
        batch = store_cfg.batch_size if isinstance(store_cfg, InfluxStoreConfig) else 5000
        flush = store_cfg.flush_interval_s if isinstance(store_cfg, InfluxStoreConfig) else 1.0
        backoff = store_cfg.max_backoff_s if isinstance(store_cfg, InfluxStoreConfig) else 30.0
        self.shipper = Shipper(
            self.spool, sink, self.metrics, self.clock, batch_size=batch, flush_interval_s=flush, max_backoff_s=backoff
        )
        server = self.metrics.serve(agent.metrics.listen) if agent.metrics.listen else None
        self.scheduler = AsyncIOScheduler(executors={"default": ScheduledExecutor()}, timezone="UTC")
        self.scheduler.start()
        self._start_role()
        self.scheduler.add_job(
            self._heartbeat_job,
            IntervalTrigger(seconds=agent.heartbeat_interval_s),
            id="heartbeat",
            max_instances=1,
            coalesce=True,
        )
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        await self._heartbeat()
        gc.collect()
        gc.freeze()  # what start-up made lives as long as the process: no collection scans it again
        ship_task = asyncio.create_task(self.shipper.run(), name="shipper")
        clock_task = asyncio.create_task(follow_wall_clock_steps(self.scheduler, self.clock), name="clock-steps")
        log.info("agent started", extra={"agent": agent.id, "role": self.role.value, "config": str(self.config_path)})
        try:
            await self.stopping.wait()
        finally:
            log.info("agent stopping", extra={"agent": agent.id})
            self.scheduler.shutdown(wait=False)
            for edge in (self.edge, self.noc):
                if edge is not None:
                    edge.flush()  # the runs in the commit window are spooled
            ship_task.cancel()
            clock_task.cancel()
            await asyncio.gather(ship_task, clock_task, return_exceptions=True)
            if server is not None:
                server.shutdown()
            sink.close()
            self.spool.close()

    def _start_role(self) -> None:
        inv = self.loaded.inventory
        if self.role is Role.EDGE:
            self.edge = Edge(inv, self.spool, self.clock, self.metrics, self.collector_factory)
            self.edge.schedule(self.scheduler)
        else:
            from agent.central import Central

            if self.store is None:
                raise ConfigError(
                    [f"{self.config_path}: the central role reads the embedded store (store.kind: embedded)"]
                )
            c = inv.agent.central
            self.central = Central(inv, self.store, self.clock, self.metrics, self.loaded.resolve(c.ledger))
            if c.noc_probes:
                # the second vantage point: the central role runs these probes itself, from the NOC
                specs = [s for s in inv.probes() if s.probe.kind in c.noc_probes]
                self.noc = Edge(
                    inv, self.spool, self.clock, self.metrics, self.collector_factory, specs=specs, source="noc"
                )
                self.noc.schedule(self.scheduler)
            self.scheduler.add_job(
                self._central_watch,
                IntervalTrigger(seconds=max(1, min(10, c.heartbeat_timeout_s // 2))),
                id="central:watch",
                max_instances=1,
                coalesce=True,
                replace_existing=True,
            )
            self.scheduler.add_job(
                self._central_statements,
                IntervalTrigger(seconds=c.recompute_interval_s),
                id="central:statements",
                max_instances=1,
                coalesce=True,
                replace_existing=True,
            )

    def _stop_role(self) -> None:
        for edge in (self.edge, self.noc):
            if edge is not None:
                edge.unschedule(self.scheduler)
                edge.flush()
        self.edge = self.noc = None
        for job_id in ("central:watch", "central:statements"):
            if self.scheduler.get_job(job_id) is not None:
                self.scheduler.remove_job(job_id)
        self.central = None

    def reload(self) -> None:
        """SIGHUP: load the config again; on any error keep the running one."""
        try:
            new = load_inventory(self.config_path)
        except Exception as exc:  # ConfigError, and anything a hostile file could provoke
            for line in exc.errors if isinstance(exc, ConfigError) else [f"{type(exc).__name__}: {exc}"[:500]]:
                log.error("config reload refused: %s", line)
            log.error("config reload failed; the previous config keeps running")
            self.metrics.config_reloads.labels("refused").inc()
            return
        old = self.loaded.inventory.agent
        if (new.inventory.agent.spool, new.inventory.agent.store, new.inventory.agent.metrics) != (
            old.spool,
            old.store,
            old.metrics,
        ):
            log.warning("spool, store and metrics settings change only on restart; the rest is reloaded")
        try:
            self._stop_role()
            self.loaded = new
            self._start_role()
        except Exception:
            log.exception("config reload failed while applying it")
            self.metrics.config_reloads.labels("failed").inc()
            return
        self.metrics.config_reloads.labels("ok").inc()
        log.info("config reloaded", extra={"probes": len(self.edge.probes) if self.edge else 0})

    async def _heartbeat_job(self, scheduled_at: Any = None) -> None:
        await self._heartbeat()

    async def _heartbeat(self) -> None:
        self.heartbeat_seq += 1
        record = schema.heartbeat(
            agent=self.loaded.inventory.agent.id,
            role=self.role.value,
            seq=self.heartbeat_seq,
            uptime_s=self.clock.monotonic() - self.started,
            spool_records=self.spool.pending(),
            time_ms=schema.ms(self.clock.now()),
            ship_errors=self.shipper.errors,
            ship_rejected=self.shipper.rejected,
        )
        self.spool.put([record])
        self.metrics.heartbeats.inc()
        self.metrics.observe_spool(self.spool)
        release_free_memory()

    async def _central_watch(self, scheduled_at: Any = None) -> None:
        if self.central is not None:
            records = self.central.watch()
            if records:
                self.spool.put(records)

    async def _central_statements(self, scheduled_at: Any = None) -> None:
        if self.central is not None:
            records = self.central.statements()
            if records:
                self.spool.put(records)
