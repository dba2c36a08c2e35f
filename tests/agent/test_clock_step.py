"""The wall clock stepped ±1 hour (an NTP step) during a run: durations stay right (house style: `Clock`).

Driven through the Clock seam with `FakeClock.step` (the wall clock jumps, the monotonic clock does not):
- a probe run during which the wall clock jumps +1 h (then −1 h) still reports its true duration;
- the central role's heartbeat watch times silence on the monotonic clock: a +1 h or −1 h step on the NOC
  host neither makes a live agent look silent nor keeps a dead one alive, and the unknown period starts
  exactly `heartbeat_timeout_s` after the last heartbeat was seen;
- the edge's scheduler (the real APScheduler, its wall clock stepped −1 h): probe runs go on at their
  cadence (`follow_wall_clock_steps` reschedules the jobs from the new wall time).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import apscheduler.schedulers.base
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from agent.central import Central
from agent.clock import FakeClock, SystemClock
from agent.config import parse_inventory
from agent.edge import Edge, ScheduledExecutor, follow_wall_clock_steps
from agent.metrics import AgentMetrics
from agent.spool import MemorySpool
from agent.store import schema
from agent.store.sqlite import Interval
from collectors.base import ProbeResult

T0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
INVENTORY = """
agent: {id: edge-1, central: {heartbeat_timeout_s: 30}}
clients:
  - id: acme
    sites:
      - id: lyon
        agent: edge-1
        services:
          - id: net
            contract: internet
            monthly_fee_eur: 100
            devices:
              - name: cpe
                address: 192.0.2.1
                probes: [{kind: icmp, interval_s: 10}]
"""


class SteppingCollector:
    """Takes 0.25 s of monotonic time; the wall clock steps by `step_s` in the middle of the run."""

    def __init__(self, clock: FakeClock, step_s: float) -> None:
        self.clock, self.step_s = clock, step_s

    async def collect(self, target: str, scheduled_at: datetime) -> ProbeResult:
        self.clock.advance(0.1)
        self.clock.step(self.step_s)
        self.clock.advance(0.15)
        return ProbeResult(kind="icmp", target=target, scheduled_at=scheduled_at, ok=True)


def test_a_probe_duration_survives_wall_clock_steps_both_ways() -> None:
    inv = parse_inventory(INVENTORY)
    for step in (3600.0, -3600.0):
        clock = FakeClock(T0)
        edge = Edge(inv, MemorySpool(), clock, AgentMetrics(), lambda spec, c=clock, s=step: SteppingCollector(c, s))
        [probe_id] = edge.probes
        records = asyncio.run(edge.run_probe(probe_id, T0))
        sample = next(r for r in records if r.measurement == schema.PROBE)
        assert sample.field("duration_s") == 0.25  # not 3600.25, not negative
        assert sample.time_ms == schema.ms(edge.probes[probe_id].trigger.slot(T0))  # stamped at its slot


class Reader:
    def __init__(self) -> None:
        self.beats: dict[str, int] = {}

    def last_heartbeats(self) -> dict[str, int]:
        return dict(self.beats)

    def state_intervals(self, service: str, source: str = "edge", until_ms: int | None = None) -> list[Interval]:
        return [Interval("up", schema.ms(T0), None, None)] if source == "edge" else []


def states(records: list[Any]) -> list[tuple[str, str | None]]:
    return [(r.tag("state"), r.tag("cause")) for r in records]


def test_heartbeat_silence_is_timed_on_the_monotonic_clock_across_steps() -> None:
    clock = FakeClock(T0)
    reader = Reader()
    central = Central(parse_inventory(INVENTORY).model_copy(), reader, clock, AgentMetrics())
    reader.beats["edge-1"] = schema.ms(clock.now())
    assert states(central.watch()) == [("up", None)]
    for step in (3600, -3600, -3600, 3600):  # NTP steps on the NOC host, the agent beating every 10 s
        clock.step(step)
        clock.advance(10)
        reader.beats["edge-1"] += 10_000
        assert central.watch() == []  # still up: no false silence, whatever the wall clock says
        assert central.metrics.silent_agents._value.get() == 0
    # the agent dies; the wall clock steps an hour forward: silence still ends 30 s after the last beat seen
    clock.step(3600)
    clock.advance(29)
    assert central.watch() == []
    clock.advance(2)
    [record] = central.watch()
    assert states([record]) == [("unknown", "agent_silent")]
    assert record.time_ms == schema.ms(clock.now()) - 1000  # 30 s after the last heartbeat was seen


class SteppableClock:
    """Real time whose wall clock the test steps (an NTP step), without touching the machine's clock."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def now(self) -> datetime:
        return SystemClock().now() + timedelta(seconds=self.offset_s)

    def monotonic(self) -> float:
        return SystemClock().monotonic()


class SlotRecorder:
    def __init__(self, slots: list[datetime]) -> None:
        self.slots = slots

    async def collect(self, target: str, scheduled_at: datetime) -> ProbeResult:
        self.slots.append(scheduled_at)
        return ProbeResult(kind="icmp", target=target, scheduled_at=scheduled_at, ok=True)


def test_probe_runs_go_on_at_their_cadence_after_the_wall_clock_steps_back_an_hour(monkeypatch: Any) -> None:
    """The real APScheduler, reading the stepped wall clock: after a −1 h step the probe (every 1 s) keeps
    running every second, on the slots of the new wall time (without the fix: nothing for an hour)."""
    clock = SteppableClock()

    class SchedulerTime(datetime):  # APScheduler 3 reads `datetime.now` itself: it reads the stepped clock
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return clock.now().astimezone(tz)

    monkeypatch.setattr(apscheduler.schedulers.base, "datetime", SchedulerTime)
    inv = parse_inventory(INVENTORY.replace("interval_s: 10", "interval_s: 1, jitter_s: 0"))
    slots: list[datetime] = []

    async def scenario() -> tuple[int, datetime]:
        edge = Edge(inv, MemorySpool(), clock, AgentMetrics(), lambda spec: SlotRecorder(slots), commit_window_s=0)
        scheduler = AsyncIOScheduler(executors={"default": ScheduledExecutor()}, timezone="UTC")
        scheduler.start()
        edge.schedule(scheduler)
        watch = asyncio.create_task(follow_wall_clock_steps(scheduler, clock, check_s=0.2))
        await asyncio.sleep(2.5)
        before = len(slots)
        clock.offset_s = -3600.0
        stepped_at = clock.now()
        await asyncio.sleep(4.5)
        scheduler.shutdown(wait=False)
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
        return before, stepped_at

    before, stepped_at = asyncio.run(scenario())
    after = slots[before:]
    assert before >= 2
    assert len(after) >= 3, after  # the runs went on (a stalled scheduler would have none for an hour)
    assert all(stepped_at - timedelta(seconds=2) <= s <= stepped_at + timedelta(seconds=5) for s in after)
    assert all((b - a).total_seconds() in (1, 2) for a, b in pairwise(after))  # every second (2: a slot coalesced)
