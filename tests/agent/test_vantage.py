"""Second vantage point: the NOC's rule (`agent.central.decide`) and the edge's qualification horizon with
probes of different intervals (no down → unknown → down flapping while a slower probe has not reported)."""

from __future__ import annotations

import pytest

from agent.central import Vote, decide
from agent.edge import ServiceQualifier
from agent.store import schema

UP, DOWN, UNKNOWN = Vote("up", 1000), Vote("down", 2000), Vote("unknown", 3000)


@pytest.mark.parametrize(
    ("edge", "noc", "silent", "quorum", "expected"),
    [
        # the agent reports: its view decides unless the quorum asks for more vantage points
        (UP, None, False, None, ("up", None, 1000)),
        (DOWN, None, False, None, ("down", None, 2000)),
        (DOWN, DOWN, False, None, ("down", None, 2000)),
        (DOWN, UP, False, None, ("up", None, 2000)),  # quorum all: the NOC disagrees, not down
        (DOWN, UP, False, 1, ("down", None, 2000)),  # quorum 1: one vantage point is enough
        # the agent is silent: never up; the NOC tells agent down from site down
        (UNKNOWN, None, True, None, ("unknown", "agent_silent", 3000)),
        (UNKNOWN, UP, True, None, ("unknown", "agent_down", 3000)),
        (UNKNOWN, DOWN, True, None, ("unknown", "agent_silent_site_unreachable", 3000)),
        (UNKNOWN, DOWN, True, 1, ("down", "site_down", 2000)),
        (None, None, False, None, None),
    ],
)
def test_the_quorum_rule_over_vantage_points(
    edge: Vote | None, noc: Vote | None, silent: bool, quorum: int | None, expected: object
) -> None:
    assert decide(edge, noc, agent_silent=silent, quorum=quorum) == expected


def test_the_down_time_is_when_the_quorum_was_reached() -> None:
    assert decide(Vote("down", 5000), Vote("down", 7000), agent_silent=False, quorum=None) == ("down", None, 7000)
    assert decide(Vote("down", 5000), Vote("down", 7000), agent_silent=False, quorum=1) == ("down", None, 5000)


def test_mixed_intervals_do_not_flap_while_the_slower_probe_is_due() -> None:
    q = ServiceQualifier(
        ids={"client": "c", "site": "s", "service": "svc", "agent": "a"},
        intervals={"icmp": 1, "snmp": 2},
        down_after=2,
        up_after=2,
        microcut_s=5,
    )
    out: list[schema.Record] = []
    # both fine for 10 s, then both fail from t=10 to t=20 (the snmp result of each slot arrives late)
    for t in range(0, 30):
        ok = not 10 <= t < 20
        out += q.observe("icmp", t, ok)
        if t % 2 == 1:  # the snmp sample of slot t-1 arrives after the icmp sample of slot t
            out += q.observe("snmp", t - 1, not 10 <= t - 1 < 20)
    states = [(r.tag("state"), r.time_ms // 1000) for r in out if r.measurement == schema.STATE]
    assert states == [("up", 0), ("down", 10), ("up", 20)]
    outages = [r for r in out if r.measurement == schema.OUTAGE]
    assert [(r.time_ms // 1000, r.field("end_s"), r.tag("class")) for r in outages] == [(10, 20, "outage")]


def test_the_noc_vantage_point_writes_states_but_no_outage_points() -> None:
    q = ServiceQualifier(
        ids={"client": "c", "site": "s", "service": "svc", "agent": "noc"},
        intervals={"icmp": 1},
        down_after=2,
        up_after=2,
        microcut_s=5,
        source="noc",
    )
    out = [r for t in range(30) for r in q.observe("icmp", t, not 10 <= t < 20)]
    assert {r.measurement for r in out} == {schema.STATE}
    assert {r.tag("source") for r in out} == {"noc"}
