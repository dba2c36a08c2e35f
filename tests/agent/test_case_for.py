"""The statement of a service from the store's edge states (`agent.central.case_for`): the time no edge state
covers is unknown (sla-semantics §5), never up — before the service's first state, and where the edge said
`unknown` (its agent stopped, its probes silent) — while the rest of a current month is not a gap."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from agent.central import case_for
from agent.config import parse_inventory
from agent.store import schema
from agent.store.sqlite import Interval
from sla.calendars import Month
from sla.model import UnknownAs
from sla.statement import compute

INVENTORY = """
version: 1
agent: {id: central-1}
clients:
  - id: acme
    sites:
      - id: acme-lyon
        agent: edge-lyon
        services:
          - id: acme-lyon-internet
            contract: internet
            monthly_fee_eur: 450.00
            policy: {count_unnotified: true}
            devices:
              - name: cpe
                address: 192.0.2.1
                probes: [{kind: icmp, interval_s: 30}]
"""
SERVICE = parse_inventory(INVENTORY).clients[0].sites[0].services[0]
MONTH = Month(2025, 11)  # 1 November 00:00 in Paris is 31 October 23:00 UTC
NOW = datetime(2025, 11, 20, 14, 7, 13, tzinfo=UTC)


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
