"""The edge role: run every probe on its grid, qualify each service's state as samples arrive, spool it all.

Scheduling (APScheduler 3.x, AsyncIOScheduler):
- each probe is one job on a `GridTrigger`: fire times are the slots `phase + k × interval` (the phase is a
  stable hash of the probe id, so probes of a site do not all fire at once) plus a random jitter in
  `[0, jitter_s)`. Unlike APScheduler's own IntervalTrigger, the jitter never accumulates into the grid;
- `ScheduledExecutor` hands each job its scheduled fire time; the sample is stamped with the *slot* of that
  time (the un-jittered grid point), so a probe's samples are exactly `interval_s` apart and a replayed or
  late run lands on the same point;
- each run is a coroutine bounded by `timeout_s` (< interval): a slow or hung device times out into a failed
  sample, never delays another probe, and never overlaps its own next run. Anything a collector raises
  becomes a failed sample (reason `internal_error`) and a log line with the traceback (nornir's
  `Task.start`).

Qualification (sla-semantics §5) runs at the edge with `sla.qualify` (each probe's window by
`qualify_window`, the same rule in plain Python: no numpy at the edge), per service, on a sliding window of
each probe's recent samples: the state at the newest sample time is down / unknown / up, and a change is
emitted at once as a `vigie_state` point dated when it really began (the first failed sample of the run
that qualified it, or the first good one of the run that ended it). A down period that ends is also
emitted as a `vigie_outage` point, classed `microcut` when shorter than `microcut_s`. The windows and the
state are saved in the spool, in the same transaction as the records, so a restart continues them (a gap
longer than 3 intervals is unknown, as in sla/).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.triggers.base import BaseTrigger

from agent.clock import Clock
from agent.config import Inventory, ProbeSpec, ServiceConfig
from agent.metrics import AgentMetrics
from agent.spool import Spool
from agent.store import schema
from agent.store.schema import Record
from agent.store.tables import table_records
from collectors import COLLECTORS
from sla.intervals import IntervalSet, clip, normalize
from sla.profiles import profile_for
from sla.qualify import GAP_FACTOR, ProbeTimeline, combine

log = logging.getLogger("vigie.edge")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- scheduling --------------------------------------------------------------------------------------------


class GridTrigger(BaseTrigger):  # type: ignore[misc]
    """Fire at `phase + k × interval` (+ jitter in [0, jitter)); pure: `now` is an argument."""

    def __init__(self, interval_s: int, jitter_s: float = 0.0, phase_s: int = 0) -> None:
        if not 0 <= jitter_s < interval_s:
            raise ValueError("jitter must be in [0, interval)")
        self.interval_s = interval_s
        self.jitter_s = jitter_s
        self.phase_s = phase_s % interval_s

    def slot(self, t: datetime) -> datetime:
        """The grid point at or before `t` (the scheduled time without its jitter)."""
        seconds = (t - EPOCH).total_seconds() - self.phase_s
        k = int(seconds // self.interval_s)
        return EPOCH + timedelta(seconds=k * self.interval_s + self.phase_s)

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        if previous_fire_time is not None:
            slot = self.slot(previous_fire_time) + timedelta(seconds=self.interval_s)
        else:
            slot = self.slot(now)
            if slot < now:
                slot += timedelta(seconds=self.interval_s)
        return slot + timedelta(seconds=random.uniform(0, self.jitter_s) if self.jitter_s else 0.0)

    def __str__(self) -> str:
        return f"grid[{self.interval_s}s+{self.phase_s}, jitter {self.jitter_s}s]"


def phase_of(probe_id: str, interval_s: int) -> int:
    return zlib.crc32(probe_id.encode()) % interval_s


class ScheduledExecutor(AsyncIOExecutor):  # type: ignore[misc]
    """Runs coroutine jobs with their scheduled fire time as `scheduled_at` (APScheduler 3 does not pass it)."""

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        async def run() -> list[Any]:
            await job.func(*job.args, scheduled_at=run_times[-1], **job.kwargs)  # coalesced: the latest slot
            return []

        def done(f: asyncio.Future[list[Any]]) -> None:
            self._pending_futures.discard(f)
            if f.cancelled():  # the scheduler's shutdown (agent stopping): not a job error, no traceback
                return
            try:
                events = f.result()
            except BaseException:
                self._run_job_error(job.id, *sys.exc_info()[1:])
            else:
                self._run_job_success(job.id, events)

        task = self._eventloop.create_task(run())
        task.add_done_callback(done)
        self._pending_futures.add(task)


async def follow_wall_clock_steps(scheduler: Any, clock: Clock, check_s: float = 1.0, tolerance_s: float = 2.0) -> None:
    """Reschedule every job of `scheduler` when the wall clock steps (an NTP step: the wall clock moves
    against the monotonic one by more than `tolerance_s`). APScheduler 3 waits for its jobs' wall-clock
    fire times: after a step back of an hour it would run nothing for an hour. Each job gets the next fire
    time of its trigger from the new wall time (the same grid slots: they are wall time by design).
    Checked every `check_s` of monotonic time; runs until cancelled."""
    offset = clock.now().timestamp() - clock.monotonic()
    while True:
        await asyncio.sleep(check_s)
        now = clock.now()
        stepped = now.timestamp() - clock.monotonic() - offset
        if abs(stepped) <= tolerance_s:
            continue
        offset += stepped
        log.warning("wall clock stepped by %+.1f s; jobs rescheduled from the new time", stepped)
        for job in scheduler.get_jobs():
            job.modify(next_run_time=job.trigger.get_next_fire_time(None, now))


# --- qualification -----------------------------------------------------------------------------------------


@dataclass
class ServiceQualifier:
    """Edge qualification of one service: sliding windows of its probes' samples → state changes."""

    ids: dict[str, str]  # client, site, service, agent
    intervals: dict[str, int]  # probe name → interval_s
    down_after: int
    up_after: int
    microcut_s: int
    groups: tuple[str, ...] = ()
    quorum: int | None = None
    source: str = "edge"  # "noc" when the central role qualifies its own probes (second vantage point)
    windows: dict[str, deque[tuple[int, bool]]] = field(default_factory=dict)
    state: str | None = None
    since: int = 0  # epoch seconds of the current state's start
    down_since: int | None = None

    def __post_init__(self) -> None:
        size = 2 * max(self.down_after, self.up_after) + 2
        for name in self.intervals:
            self.windows.setdefault(name, deque(maxlen=size))

    def observe(self, probe: str, t: int, ok: bool) -> list[Record]:
        window = self.windows[probe]
        if window and t <= window[-1][0]:
            return []  # a replayed or out-of-order slot: already qualified
        window.append((t, ok))
        return self._evaluate(t)

    def _evaluate(self, now: int) -> list[Record]:
        firsts = [w[0][0] for w in self.windows.values() if w]
        period = (min(firsts), now + 1)
        # A full window has forgotten older samples: runs that began before it are cut, so its first
        # max(down_after, up_after) + 1 samples are not trusted for dating a change.
        lead = max(self.down_after, self.up_after) + 1
        trusted_from = max(
            (w[0][0] + lead * self.intervals[n] for n, w in self.windows.items() if len(w) == w.maxlen),
            default=period[0] - 1,
        )
        timelines: dict[str, ProbeTimeline] = {}
        for name, w in self.windows.items():
            timelines[name] = qualify_window(
                w, period=period, down_after=self.down_after, up_after=self.up_after, interval_s=self.intervals[name]
            )
        tl = combine(timelines, period=period, groups=self.groups, quorum=self.quorum)
        # Evaluate where every probe has reported: a probe with a longer interval (or a slower run, e.g. an
        # SNMP timeout) has not yet sampled the newest slot of a faster one, and reading the service there
        # would see that probe "unknown" and flap down → unknown → down. A probe silent for longer than
        # the gap factor is unknown for real (sla/qualify.py), so the horizon never lags more than that.
        covered = [w[-1][0] + self.intervals[n] - 1 for n, w in self.windows.items() if w]
        slack = GAP_FACTOR * max(self.intervals.values())
        now = min(now, max(min(covered), now - slack))
        # Every boundary since the current state began, in order: a gap (agent stopped) between two
        # evaluations is an unknown period that must be emitted even though the newest sample is good.
        points = sorted(
            {p for s, e in (*tl.down, *tl.unknown) for p in (s, e) if max(self.since, trusted_from) < p <= now}
        )
        out: list[Record] = []
        for point in [*points, now]:
            state, since = _state_at(point, tl.down, tl.unknown, period[0])
            if state != self.state:
                out += self._change(state, since)
        return out

    def _change(self, state: str, since: int) -> list[Record]:
        since = max(since, self.since + 1) if self.state is not None else since
        out: list[Record] = []
        if self.state == "down" and self.down_since is not None and self.source == "edge":
            # outages are the edge's (the measurement of record); the NOC vantage point writes states only
            out.append(
                schema.outage(
                    ids=self.ids,
                    start_ms=self.down_since * 1000,
                    end_ms=since * 1000,
                    microcut=since - self.down_since < self.microcut_s,
                )
            )
            self.down_since = None
        if state == "down":
            self.down_since = since
        out.append(schema.state(ids=self.ids, state=state, source=self.source, time_ms=since * 1000))
        self.state, self.since = state, since
        return out

    def dump(self) -> str:
        return json.dumps(
            {
                "windows": {k: list(v) for k, v in self.windows.items()},
                "state": self.state,
                "since": self.since,
                "down_since": self.down_since,
            }
        )

    def restore(self, text: str) -> None:
        data = json.loads(text)
        for name, items in data["windows"].items():
            if name in self.windows:
                self.windows[name].extend((int(t), bool(o)) for t, o in items)
        self.state, self.since, self.down_since = data["state"], int(data["since"]), data["down_since"]


def qualify_window(
    samples: Iterable[tuple[int, bool]], *, period: tuple[int, int], down_after: int, up_after: int, interval_s: int
) -> ProbeTimeline:
    """`sla.qualify.qualify_probe` of a window of (time, ok) samples, sorted, in one plain-Python pass: the
    edge's windows hold a few samples, and the edge agent does without numpy (~12 MB resident). The same
    timeline as `qualify_probe` (tests/agent/test_edge.py compares them on random sample streams)."""
    failing: IntervalSet = []
    unknown: IntervalSet = []
    previous: int | None = None
    passing, run_ok, run_start, run_len, fail_start = True, True, 0, 0, 0
    for t, ok in samples:
        if previous is None:
            unknown.append((t - 10**12, t))  # before the first sample (clipped below)
        elif t - previous > GAP_FACTOR * interval_s:  # a gap: the segment ends, the next one starts passing
            if not passing:
                failing.append((fail_start, previous + interval_s))
            unknown.append((previous + interval_s, t))
            passing, run_len = True, 0
        if run_len and ok == run_ok:
            run_len += 1
        else:
            run_ok, run_start, run_len = ok, t, 1
        if ok != passing and run_len >= (up_after if ok else down_after):  # a qualifying run toggles the probe
            if ok:
                failing.append((fail_start, run_start))
            fail_start, passing = run_start, ok
        previous = t
    if previous is None:
        return ProbeTimeline(failing=[], unknown=[period] if period[1] > period[0] else [])
    if not passing:
        failing.append((fail_start, previous + interval_s))
    unknown.append((previous + interval_s, previous + interval_s + 10**12))
    return ProbeTimeline(failing=clip(normalize(failing), *period), unknown=clip(normalize(unknown), *period))


def _state_at(now: int, down: list[tuple[int, int]], unknown: list[tuple[int, int]], floor: int) -> tuple[str, int]:
    for name, intervals in (("down", down), ("unknown", unknown)):
        for s, e in intervals:
            if s <= now < e:
                return name, s
    ends = [e for s, e in (*down, *unknown) if e <= now]
    return "up", max(ends, default=floor)


def qualifier_for(
    service: ServiceConfig, ids: dict[str, str], specs: list[ProbeSpec], on: datetime, source: str = "edge"
) -> ServiceQualifier:
    q = service.qualification
    profile = profile_for(service.contract, on.date())
    return ServiceQualifier(
        ids=ids,
        intervals={s.name: int(s.probe.interval_s) for s in specs},
        down_after=q.down_after,
        up_after=q.up_after,
        microcut_s=q.microcut_s,
        groups=profile.unavailability_groups,
        quorum=None if q.quorum == "all" else int(q.quorum),
        source=source,
    )


# --- the edge ----------------------------------------------------------------------------------------------

CollectorFactory = Callable[[ProbeSpec], Any]


def default_collector(spec: ProbeSpec) -> Any:
    return COLLECTORS[spec.probe.kind](spec.probe.config)


@dataclass
class ProbeRuntime:
    spec: ProbeSpec
    trigger: GridTrigger
    collector: Any
    qualifier: ServiceQualifier
    ids: dict[str, str]


class Edge:
    def __init__(
        self,
        inventory: Inventory,
        spool: Spool,
        clock: Clock,
        metrics: AgentMetrics,
        collector_factory: CollectorFactory = default_collector,
        *,
        specs: list[ProbeSpec] | None = None,
        source: str = "edge",
        commit_window_s: float = 0.1,
    ) -> None:
        """`specs`: the probes to run (default: those of the sites this agent polls); `source`: the
        `vigie_state` source tag of the qualified states ("noc" for the central role's own probes);
        `commit_window_s`: runs finishing within it share one spool commit."""
        self.agent = inventory.agent.id
        self.spool = spool
        self.clock = clock
        self.metrics = metrics
        self.source = source
        self.probes: dict[str, ProbeRuntime] = {}
        self.commit_window_s = commit_window_s
        self._queued: list[Record] = []
        self._queued_state: dict[str, str] = {}
        self._committed: asyncio.Future[None] | None = None
        self._commit_timer: asyncio.TimerHandle | None = None
        specs = list(inventory.probes(agent=self.agent)) if specs is None else specs
        by_service: dict[str, list[ProbeSpec]] = {}
        for spec in specs:
            by_service.setdefault(spec.service.id, []).append(spec)
        saved = spool.edge_state()
        self.qualifiers: dict[str, ServiceQualifier] = {}
        for service_id, members in by_service.items():
            first = members[0]
            ids = {"client": first.client, "site": first.site, "service": service_id, "agent": self.agent}
            qualifier = qualifier_for(first.service, ids, members, clock.now(), source)
            if service_id in saved:
                try:
                    qualifier.restore(saved[service_id])
                except (KeyError, ValueError, TypeError):
                    log.warning("edge state of %s unreadable; starting fresh", service_id)
            self.qualifiers[service_id] = qualifier
        for spec in specs:
            p = spec.probe
            ids = {
                "client": spec.client,
                "site": spec.site,
                "service": spec.service.id,
                "agent": self.agent,
                "device": spec.device.name,
                "probe": spec.name,
                "kind": p.kind,
                "target": spec.target,
            }
            self.probes[spec.id] = ProbeRuntime(
                spec=spec,
                trigger=GridTrigger(p.interval_s, p.effective_jitter_s, phase_of(spec.id, p.interval_s)),
                collector=collector_factory(spec),
                qualifier=self.qualifiers[spec.service.id],
                ids=ids,
            )
        metrics.probes_configured.set(len(self.probes))

    async def run_probe(self, probe_id: str, scheduled_at: datetime | None = None) -> list[Record]:
        """One probe run at its scheduled time: a sample (never an exception) plus any state change, spooled."""
        rt = self.probes[probe_id]
        scheduled_at = scheduled_at or self.clock.now()
        kind = rt.spec.probe.kind
        slot = rt.trigger.slot(scheduled_at.astimezone(UTC))
        started = self.clock.monotonic()
        self.metrics.probes_running.inc()
        reason: str | None
        values: Mapping[str, Any] = {}
        try:
            async with asyncio.timeout(rt.spec.probe.effective_timeout_s):  # no extra task, unlike wait_for
                result = await rt.collector.collect(rt.spec.target, slot)
            ok, reason, values = bool(result.ok), (result.reason.value if result.reason else None), result.values
        except TimeoutError:
            ok, reason = False, "timeout"
        except Exception:
            log.exception("probe %s raised; recorded as a failed sample", probe_id)
            self.metrics.probe_errors.labels(kind).inc()
            ok, reason = False, "internal_error"
        finally:
            self.metrics.probes_running.dec()
        duration = self.clock.monotonic() - started
        t = int((slot - EPOCH).total_seconds())
        records = [
            schema.sample(
                ids=rt.ids, ok=ok, reason=None if ok else reason, time_ms=t * 1000, duration_s=duration, values=values
            )
        ]
        records += table_records(rt.ids, values, t * 1000)  # interface / VM rows (vigie_interface, vigie_vm)
        changes = rt.qualifier.observe(rt.spec.name, t, ok)
        records += changes
        await self._spool(records, {rt.spec.service.id: rt.qualifier.dump()})
        self.metrics.probe_runs.labels(kind, "ok" if ok else (reason or "failed")).inc()
        self.metrics.probe_latency.labels(kind).observe(duration)
        for c in changes:
            if c.measurement == schema.STATE:
                self.metrics.state_changes.labels(c.tag("state") or "").inc()
                log.info(
                    "state change",
                    extra={"service": c.tag("service"), "state": c.tag("state"), "since_ms": c.time_ms},
                )
        return records

    async def _spool(self, records: list[Record], edge_state: dict[str, str]) -> None:
        """Spool a run's records in one commit with those of the runs that finish within `commit_window_s`
        (group commit: probes of a grid slot finish together); returns once that commit is done, so a run
        counts as written only when it is durable (a kill -9 loses no run that returned)."""
        self._queued += records
        self._queued_state.update(edge_state)  # a service's newest qualifier state wins
        if self._committed is None:
            loop = asyncio.get_running_loop()
            self._committed = loop.create_future()
            self._commit_timer = loop.call_later(self.commit_window_s, self.flush)
        await asyncio.shield(self._committed)  # a cancelled run does not cancel the others' commit

    def flush(self) -> None:
        """Commit the queued runs now (the window's end, or the edge stopping)."""
        done, records, state = self._committed, self._queued, self._queued_state
        if done is None:
            return
        self._committed, self._queued, self._queued_state = None, [], {}
        if self._commit_timer is not None:
            self._commit_timer.cancel()
        try:
            self.spool.put(records, edge_state=state)
        except Exception as exc:  # each waiting run raises it (APScheduler logs it); nothing is acknowledged
            done.set_exception(exc)
            done.exception()  # retrieved here too: no "never retrieved" warning when every waiter was cancelled
        else:
            done.set_result(None)

    def schedule(self, scheduler: Any) -> None:
        for probe_id, rt in self.probes.items():
            scheduler.add_job(
                self.run_probe,
                trigger=rt.trigger,
                args=(probe_id,),
                id=f"probe:{probe_id}",
                name=probe_id,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=rt.spec.probe.interval_s,
                replace_existing=True,
            )

    def unschedule(self, scheduler: Any) -> None:
        for probe_id in self.probes:
            job = scheduler.get_job(f"probe:{probe_id}")
            if job is not None:
                job.remove()
