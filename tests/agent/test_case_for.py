"""The statement of a service from the store's edge states (`agent.central.case_for`): the time no edge state
covers is unknown (sla-semantics §5), never up — before the service's first state, and where the edge said
`unknown` (its agent stopped, its probes silent) — while the rest of a current month is not a gap."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from agent.central import Central, case_for
from agent.clock import FakeClock
from agent.config import parse_inventory
from agent.metrics import AgentMetrics
from agent.store import schema
from agent.store.sqlite import Interval, SqliteStore
from sla.model import UnknownAs
from sla.statement import compute
from tests.agent.test_central_ledger import INVENTORY, MONTH, NOW

SERVICE = parse_inventory(INVENTORY).clients[0].sites[0].services[0]  # acme-lyon-internet, contract internet
# MONTH: November 2025 (1 November 00:00 in Paris is 31 October 23:00 UTC); NOW: Thursday 20th, 14:07:13 UTC


def at(day: int, hour: int) -> int:
    return schema.ms(datetime(2025, 11, day, hour, tzinfo=UTC))


EDGE = [  # the first state comes on Monday 3 November, 01:00 in Paris; the edge agent was stopped 6 h on Monday
    # the 10th, 10:00–16:00 in Paris: inside the coverage window (Monday–Friday 09:00–17:00), unlike the weekend
    Interval("up", at(3, 0), at(10, 9), None),
    Interval("unknown", at(10, 9), at(10, 15), None),
    Interval("up", at(10, 15), at(18, 10), None),
    Interval("down", at(18, 10), at(18, 12), None),
    Interval("up", at(18, 12), None, None),  # still up at NOW
]


def test_time_without_an_edge_state_is_unknown_not_up() -> None:
    st = compute(case_for(SERVICE, MONTH, EDGE, NOW))
    before_first = (49 + 6) * 60  # 31 Oct 23:00 → 3 Nov 00:00 UTC, and the edge's 6 unknown hours
    assert st.unknown_minutes == before_first
    assert "incomplete_data" in st.flags and st.data_completeness_pct < 100
    assert st.unavailable_minutes == 120  # the outage; unknown time is not down by default (unknown_as)
    known = compute(case_for(SERVICE, MONTH, [replace(EDGE[0], start_ms=at(1, 0) - 3_600_000), *EDGE[1:]], NOW))
    assert known.unknown_minutes == 6 * 60  # the rest of the month, after NOW, is not a gap


def test_unknown_as_unavailable_counts_it() -> None:
    case = case_for(SERVICE, MONTH, EDGE, NOW)
    pessimistic = compute(replace(case, policy=replace(case.policy, unknown_as=UnknownAs.UNAVAILABLE)))
    assert pessimistic.unavailable_minutes == 120 + 6 * 60  # the unknown time inside the coverage window


def test_an_empty_store_is_a_month_of_unknown_never_a_perfect_month() -> None:
    end = datetime.fromtimestamp(MONTH.end, UTC)
    st = compute(case_for(SERVICE, MONTH, [], end))
    assert st.unknown_minutes == 30 * 24 * 60
    assert st.data_completeness_pct == Decimal("0.000") and "incomplete_data" in st.flags


def test_a_silent_agents_last_state_holds_only_until_its_last_heartbeat() -> None:
    """Issue #4: an agent that falls silent makes its sites unknown, never up — its last `up` is not carried
    to now. A state that began after the last heartbeat holds until it began (the agent was alive then)."""
    last_beat = at(19, 8)
    st = compute(case_for(SERVICE, MONTH, EDGE, NOW, silent_since=last_beat))
    silent_s = (NOW - datetime(2025, 11, 19, 8, tzinfo=UTC)).total_seconds()
    assert st.unknown_minutes == (49 + 6) * 60 + Decimal(int(silent_s)) / 60
    later = [*EDGE[:-1], replace(EDGE[-1], end_ms=at(19, 9)), Interval("down", at(19, 9), None, None)]
    st = compute(case_for(SERVICE, MONTH, later, NOW, silent_since=last_beat))
    assert st.unavailable_minutes == 120  # the down state began after the last beat: known only at its start
    assert (
        st.unknown_minutes
        == (49 + 6) * 60 + Decimal(int((NOW - datetime(2025, 11, 19, 9, tzinfo=UTC)).total_seconds())) / 60
    )


def test_the_central_statements_of_a_silent_agents_services_count_its_silence_as_unknown(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "vigie.db")
    ids = {"client": "acme", "site": "acme-lyon", "service": SERVICE.id, "agent": "edge-lyon"}
    month_start = MONTH.start * 1000
    store.write([schema.state(ids=ids, state="up", source="edge", time_ms=month_start)])
    clock = FakeClock(NOW)
    inventory = parse_inventory(INVENTORY)

    def unknown_min(beat: datetime) -> float:
        store.write(
            [
                schema.heartbeat(
                    agent="edge-lyon", role="edge", seq=1, uptime_s=1, spool_records=0, time_ms=schema.ms(beat)
                )
            ]
        )
        (statement,) = [
            r
            for r in Central(inventory, store, clock, AgentMetrics(), tmp_path / "l.sqlite").statements()
            if r.measurement == schema.STATEMENT
        ]
        return float(statement.field("unknown_min"))

    assert unknown_min(NOW - timedelta(hours=1)) == 60  # silent for an hour (timeout 90 s): that hour is unknown
    assert unknown_min(NOW - timedelta(seconds=20)) == 0  # heard again: its `up` holds to now
