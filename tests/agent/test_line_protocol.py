"""`Record.from_line` is the exact inverse of `Record.line` (the spool keeps lines only, format 4): random
records with every escape and field type, and a record of every measurement the schema defines."""

from __future__ import annotations

import math
import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.store import schema
from agent.store.schema import Record

# the characters line protocol escapes (comma, space, equals sign, backslash), and a few others
SPECIAL = ",= \\\"'\n\ti=é€"
text = st.text(alphabet=st.sampled_from(string.ascii_letters + string.digits + "_-.:/" + SPECIAL), min_size=1)
floats = st.floats(allow_nan=False) | st.sampled_from([0.0, -0.0, 1e-320, 1e300, -1.5e-7, 3.0, math.inf, -math.inf])
values = st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | floats


@st.composite
def records(draw: st.DrawFn) -> Record:
    tags = draw(st.dictionaries(text, text, max_size=6))
    fields = draw(st.dictionaries(text, values, min_size=1, max_size=6))
    return Record(
        draw(st.sampled_from(schema.MEASUREMENTS) | text),
        tuple(sorted(tags.items())),
        tuple(sorted(fields.items())),
        draw(st.integers(min_value=-(2**62), max_value=2**62)),
    )


@settings(max_examples=2000, deadline=None)
@given(records())
def test_from_line_inverts_line(r: Record) -> None:
    back = Record.from_line(r.line())
    assert back == r
    assert [type(v) for _, v in back.fields] == [type(v) for _, v in r.fields]  # 1 is not 1.0 nor True


def test_nan_comes_back_as_nan() -> None:
    [(name, value)] = Record.from_line(Record(schema.PROBE, (), (("x", math.nan),), 1).line()).fields
    assert name == "x" and math.isnan(value)


def every_measurement() -> list[Record]:
    ids = {"client": "Acme, Inc.", "site": "Lyon HQ", "service": "a=b\\c", "agent": "edge 1"}
    probe_ids = {**ids, "device": "cpe", "probe": "icmp-0", "kind": "icmp", "target": "10.0.0.1"}
    out = [
        schema.sample(ids=probe_ids, ok=True, reason=None, time_ms=1, duration_s=0.012, values={"rtt": 1.5, "n": 3}),
        schema.sample(ids=probe_ids, ok=False, reason="time out", time_ms=2, duration_s=1.0, values={}),
        schema.state(ids=ids, state="down", source="edge", time_ms=3, cause="link, down"),
        schema.outage(ids=ids, start_ms=4000, end_ms=94_000, microcut=False),
        schema.heartbeat(agent="edge 1", role="edge", seq=7, uptime_s=1e6, spool_records=3, time_ms=5, ship_errors=0),
        schema.statement(
            ids={**{k: ids[k] for k in schema.SERVICE_TAGS}, "contract": "C 1", "month": "2026-11"},
            fields={"availability_pct": 99.95, "objective_met": True, "credit_eur": 0.0},
            time_ms=6,
        ),
        schema.gtr(
            ids={k: ids[k] for k in schema.SERVICE_TAGS},
            ticket="T,1",
            clock="4h",
            status="frozen",
            freeze_reason="customer site closed",
            elapsed_s=3600.0,
            target_s=14400.0,
            frozen_s=12.5,
            time_ms=7,
        ),
        schema.exclusion(
            scope={"client": "Acme, Inc.", "site": None, "service": None},
            ref="X12",
            kind="maintenance",
            cause="works",
            state="announced",
            start_ms=8000,
            end_ms=9000,
            current=True,
        ),
        schema.make(schema.INTERFACE, {**probe_ids, "ifname": "ge-0/0/0 uplink"}, {"oper_up": 1, "in_bps": 2e9}, 9),
        schema.make(
            schema.VM,
            {**probe_ids, "vmid": "vm-1", "name": "db 1"},
            {"power_on": 1, "vcpus": 4, "mem_bytes": 2.0 * 2**30},
            10,
        ),
    ]
    assert {r.measurement for r in out} == set(schema.MEASUREMENTS)
    return out


@pytest.mark.parametrize("r", every_measurement(), ids=lambda r: r.measurement)
def test_every_measurement_round_trips(r: Record) -> None:
    assert Record.from_line(r.line()) == r
    assert Record.from_line(r.line()).kind is r.kind


def test_seeded_random_records_round_trip() -> None:
    rng = random.Random(4)
    alphabet = string.ascii_letters + SPECIAL
    for _ in range(5000):
        word = lambda: "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))  # noqa: E731
        value = rng.choice(
            [rng.random() * 10 ** rng.randint(-30, 30), rng.randint(-(10**12), 10**12), rng.random() < 0.5]
        )
        r = Record(word(), tuple(sorted({word(): word() for _ in range(rng.randint(0, 4))}.items())),
                   ((word(), value),), rng.randint(0, 2**41))  # fmt: skip
        assert Record.from_line(r.line()) == r


@pytest.mark.parametrize(
    "line",
    [
        "vigie_probe",
        "vigie_probe ok=true",
        "vigie_probe ok=true x",
        "vigie_probe,site ok=true 1",
        "m ok=maybe 1",
        "m x 1",
    ],
)
def test_a_line_it_cannot_have_written_is_refused(line: str) -> None:
    with pytest.raises(ValueError):
        Record.from_line(line)
