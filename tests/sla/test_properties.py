"""Property tests of the SLA engine (issue 2, "Tests"; rules in shared/spec/sla-semantics.md §1–§6).

Cases are drawn around DST months (March / October), February, holiday months and ordinary months, with
timezone-aware datetimes in Europe/Paris and other offsets, outages inside and across the month's edges,
exclusions of every cause, tickets of every channel, and sometimes probe samples instead of outages.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sla.calendars import Month, epoch
from sla.intervals import Interval, IntervalSet, intersect, measure, normalize, subtract, union
from sla.model import (
    AccessType,
    Cause,
    Channel,
    Denominator,
    Exclusion,
    Freeze,
    GtrOption,
    Outage,
    Policy,
    Qualification,
    Service,
    Ticket,
    TicketKind,
    UnknownAs,
    Window,
)
from sla.profiles import CONTRACTS
from sla.qualify import ProbeTimeline, combine, qualify_probe
from sla.statement import Case, ProbeSamples, Statement, compute, to_json

# Statements: 100 examples each; the interval algebra is cheap and gets more. The whole file runs in seconds.
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHEAP = settings(max_examples=200, deadline=None)

MINUTE, HOUR, DAY = 60, 3600, 86400
HUNDRED = Decimal(100)
CAP_PCT = Decimal(10)

# DST months (last Sunday of March / October), February (leap and not), holiday months, ordinary months.
MONTHS = (
    Month(2025, 3),
    Month(2025, 10),
    Month(2026, 3),
    Month(2026, 10),
    Month(2024, 2),
    Month(2025, 2),
    Month(2025, 5),
    Month(2025, 7),
    Month(2025, 12),
    Month(2026, 1),
)
ZONES = (
    ZoneInfo("Europe/Paris"),
    ZoneInfo("Europe/Paris"),
    UTC,
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=-8)),
    ZoneInfo("America/New_York"),
    ZoneInfo("Australia/Lord_Howe"),
)
VGA_OPTIONS = (
    (AccessType.ANALOG, GtrOption.STANDARD),
    (AccessType.ANALOG, GtrOption.BUSINESS_6H),
    (AccessType.ANALOG, GtrOption.ROUND_THE_CLOCK_6H),
    (AccessType.ISDN_T0, GtrOption.STANDARD),
    (AccessType.ISDN_T0, GtrOption.ROUND_THE_CLOCK_6H),
)


# --- strategies ----------------------------------------------------------------------------------------


def aware(draw: st.DrawFn, seconds: int) -> datetime:
    """The instant `seconds` as a timezone-aware datetime in a drawn zone."""
    return datetime.fromtimestamp(seconds, tz=draw(st.sampled_from(ZONES)))


def instant(draw: st.DrawFn, month: Month, margin: int = 2 * DAY) -> int:
    """Epoch seconds in or around the month; often on a minute, sometimes near the Paris coverage edges."""
    raw = draw(st.integers(month.start - margin, month.end + margin - 1))
    return draw(st.sampled_from((raw, raw - raw % MINUTE, raw - raw % (15 * MINUTE))))


def duration(draw: st.DrawFn) -> int:
    return draw(
        st.one_of(
            st.integers(1, 2 * MINUTE),  # microcuts and their boundary
            st.integers(MINUTE, 6 * HOUR),
            st.integers(HOUR, 4 * DAY),
        )
    )


@st.composite
def outages(draw: st.DrawFn, month: Month) -> Outage:
    start = instant(draw, month)
    end = start + duration(draw)
    notified = draw(st.booleans())
    return Outage(
        start=aware(draw, start),
        end=aware(draw, end),
        notified_at=aware(draw, start + draw(st.integers(0, 2 * HOUR))) if notified else None,
    )


@st.composite
def exclusions(draw: st.DrawFn, month: Month) -> Exclusion:
    start = instant(draw, month)
    end = start + duration(draw)
    cause = draw(st.sampled_from(list(Cause)))
    announced = draw(st.sampled_from((None, -7 * DAY, -1, 0, HOUR)))
    return Exclusion(
        cause=cause,
        start=aware(draw, start),
        end=aware(draw, end),
        announced_at=None if announced is None else aware(draw, start + announced),
    )


@st.composite
def tickets(draw: st.DrawFn, month: Month) -> Ticket:
    opened = instant(draw, month, margin=DAY)
    restored = draw(st.one_of(st.none(), st.integers(0, 5 * DAY), st.integers(0, 5 * DAY), st.integers(0, DAY)))
    confirmed = draw(st.one_of(st.none(), st.integers(0, 2 * HOUR)))
    freezes = []
    for offset, length in draw(st.lists(st.tuples(st.integers(-HOUR, 2 * DAY), st.integers(1, DAY)), max_size=2)):
        freezes.append(Freeze(start=aware(draw, opened + offset), end=aware(draw, opened + offset + length)))
    return Ticket(
        id=f"T-{draw(st.integers(1000, 9999))}",
        opened_at=aware(draw, opened),
        kind=draw(st.sampled_from(list(TicketKind))),
        channel=draw(st.sampled_from(list(Channel))),
        confirmed_in_writing_at=None if confirmed is None else aware(draw, opened + confirmed),
        restored_at=None if restored is None else aware(draw, opened + restored),
        cause=draw(st.sampled_from((None, None, None, *Cause))),
        freezes=tuple(freezes),
    )


@st.composite
def policies(draw: st.DrawFn, month: Month) -> Policy:
    closed = draw(st.lists(st.integers(0, 27), max_size=2))
    return Policy(
        window=draw(st.sampled_from(list(Window))),
        denominator=draw(st.sampled_from(list(Denominator))),
        count_unnotified=draw(st.booleans()),
        boundary_99_5=draw(st.sampled_from((3, 5))),
        unknown_as=draw(st.sampled_from(list(UnknownAs))),
        holidays_subdivision=draw(st.sampled_from((None, "57"))),
        extra_closed_days=frozenset(month.first_day + timedelta(days=d) for d in closed),
    )


@st.composite
def probe_samples(draw: st.DrawFn, month: Month, names: tuple[str, ...], interval: int) -> tuple[ProbeSamples, ...]:
    """Regular samples with runs of failures, gaps, and unknown time at the month's edges."""
    out = []
    for name in names:
        t = month.start + draw(st.integers(-DAY, 2 * DAY))
        times: list[int] = []
        oks: list[bool] = []
        for count, ok, gap in draw(
            st.lists(
                st.tuples(st.integers(1, 400), st.booleans(), st.sampled_from((0, 0, 0, 2, 4, 50))),
                min_size=1,
                max_size=12,
            )
        ):
            t += gap * interval
            times.extend(range(t, t + count * interval, interval))
            oks.extend([ok] * count)
            t += count * interval
        out.append(ProbeSamples(name, np.array(times, dtype=np.int64), np.array(oks, dtype=np.bool_)))
    return tuple(out)


@st.composite
def cases(
    draw: st.DrawFn,
    *,
    samples: bool | None = None,
    min_outages: int = 0,
    in_service: bool = True,
    contracts: tuple[str, ...] = CONTRACTS,
    max_tickets: int = 4,
) -> Case:
    month = draw(st.sampled_from(MONTHS))
    contract = draw(st.sampled_from(contracts))
    access_type = gtr_option = None
    if contract == "vga":
        access_type, gtr_option = draw(st.sampled_from(VGA_OPTIONS))
    probation_until = None
    if contract == "hosted" and draw(st.booleans()):
        probation_until = month.first_day + timedelta(days=draw(st.integers(-60, 40)))
    in_from = in_until = None
    if in_service and draw(st.booleans()):
        in_from = month.first_day + timedelta(days=draw(st.integers(-40, month.last_day.day - 1)))
    if in_service and draw(st.booleans()):
        earliest = max(month.first_day, in_from or month.first_day)
        in_until = earliest + timedelta(days=draw(st.integers(0, 40)))
    service = Service(
        id="svc",
        contract=contract,
        monthly_fee_eur=draw(st.decimals(Decimal("0.01"), Decimal("5000"), places=2)),
        in_service_from=in_from,
        in_service_until=in_until,
        access_type=access_type,
        gtr_option=gtr_option,
        probation_until=probation_until,
    )
    use_samples = draw(st.booleans()) if samples is None else samples
    probe_set: tuple[ProbeSamples, ...] | None = None
    interval_s: int | None = None
    if use_samples:
        names = ("voice-1", "data-1") if contract == "mobile" else draw(st.sampled_from((("icmp",), ("a", "b"))))
        interval = draw(st.sampled_from((300, 600, 900)))
        probe_set = draw(probe_samples(month, names, interval))
        # The nominal interval given, or the median spacing when every probe has two samples or more.
        if draw(st.booleans()) or any(p.times.size < 2 for p in probe_set):
            interval_s = interval
    qualification = Qualification(
        down_after=draw(st.integers(1, 3)),
        up_after=draw(st.integers(1, 2)),
        microcut_s=draw(st.sampled_from((0, 60, 600))),
        interval_s=interval_s,
    )
    return Case(
        month=month,
        service=service,
        policy=draw(policies(month)),
        qualification=qualification,
        outages=() if use_samples else tuple(draw(st.lists(outages(month), min_size=min_outages, max_size=6))),
        samples=probe_set,
        exclusions=tuple(draw(st.lists(exclusions(month), max_size=4))),
        tickets=tuple(draw(st.lists(tickets(month), max_size=max_tickets))),
    )


# --- availability bounds -------------------------------------------------------------------------------


@FAST
@given(cases())
def test_every_figure_is_a_percentage(case: Case) -> None:
    s = compute(case)
    figures = {"availability_pct": s.availability_pct, "gross_availability_pct": s.gross_availability_pct}
    figures["data_completeness_pct"] = s.data_completeness_pct
    figures.update({f"shadow.{k}": v for k, v in (s.shadow or {}).items()})
    if s.gtd is not None:
        figures["gtd"] = s.gtd.availability_pct
        figures["gtd.data_completeness_pct"] = s.gtd.data_completeness_pct
    for name, value in figures.items():
        assert 0 <= value <= HUNDRED, (name, value)
    assert s.availability_pct >= s.gross_availability_pct
    assert _seconds(s.counted_minutes) == _seconds(s.unavailable_minutes) - _seconds(s.excluded_minutes)
    assert 0 <= s.excluded_minutes <= s.unavailable_minutes
    assert 0 <= s.unknown_minutes <= s.minutes_in_month
    assert 0 <= s.coverage_minutes <= s.minutes_in_month


# --- exclusions only ever help ---------------------------------------------------------------------------


@FAST
@given(st.data())
def test_adding_an_exclusion_never_lowers_availability(data: st.DataObject) -> None:
    case = data.draw(cases())
    extra = data.draw(exclusions(case.month))
    before = compute(case)
    after = compute(replace(case, exclusions=(*case.exclusions, extra)))
    assert after.availability_pct >= before.availability_pct
    assert after.gross_availability_pct == before.gross_availability_pct
    assert after.unavailable_minutes == before.unavailable_minutes
    assert after.counted_minutes <= before.counted_minutes
    for name, value in (before.shadow or {}).items():
        assert after.shadow is not None
        assert after.shadow[name] >= value, name
    if before.gtd is not None:
        assert after.gtd is not None
        assert after.gtd.availability_pct >= before.gtd.availability_pct
    assert after.tier_pct <= before.tier_pct
    assert after.total_credit_pct <= before.total_credit_pct


# --- splitting an outage changes nothing -----------------------------------------------------------------


@FAST
@given(st.data())
def test_splitting_an_outage_gives_the_same_figures(data: st.DataObject) -> None:
    case = data.draw(cases(samples=False, min_outages=1))
    index = data.draw(st.integers(0, len(case.outages) - 1))
    whole = case.outages[index]
    start, end = epoch(whole.start), epoch(whole.end)
    if end - start < 2:
        whole = replace(whole, end=whole.start + timedelta(seconds=2))
        start, end = epoch(whole.start), epoch(whole.end)
    cut = data.draw(st.integers(start + 1, end - 1))
    at_cut = datetime.fromtimestamp(cut, tz=data.draw(st.sampled_from(ZONES)))
    # One incident recorded as two touching pieces: the notification belongs to the incident, whichever piece
    # carries it.
    keep = data.draw(st.sampled_from(((True, True), (True, False), (False, True))))
    pieces = (
        replace(whole, end=at_cut, notified_at=whole.notified_at if keep[0] else None),
        replace(whole, start=at_cut, notified_at=whole.notified_at if keep[1] else None),
    )
    original = replace(case, outages=(*case.outages[:index], whole, *case.outages[index + 1 :]))
    split = replace(case, outages=(*case.outages[:index], *pieces, *case.outages[index + 1 :]))
    assert _without_outage_list(compute(split)) == _without_outage_list(compute(original))


def _without_outage_list(s: Statement) -> dict[str, Any]:
    out = to_json(s)
    del out["outages"]
    return out


# --- a month is the sum of its halves --------------------------------------------------------------------


@FAST
@given(st.data())
def test_a_month_split_in_two_halves_sums_to_the_month(data: st.DataObject) -> None:
    case = data.draw(cases(in_service=False))
    month = case.month
    last_of_first_half = month.first_day + timedelta(days=data.draw(st.integers(0, month.last_day.day - 2)))
    first = replace(case, service=replace(case.service, in_service_until=last_of_first_half))
    second = replace(case, service=replace(case.service, in_service_from=last_of_first_half + timedelta(days=1)))
    whole, a, b = compute(case), compute(first), compute(second)
    for name in (
        "minutes_in_month",
        "coverage_minutes",
        "unavailable_minutes",
        "excluded_minutes",
        "counted_minutes",
        "unknown_minutes",
    ):
        assert _seconds(getattr(a, name)) + _seconds(getattr(b, name)) == _seconds(getattr(whole, name)), name


def _seconds(minutes: Decimal) -> int:
    """Minutes are whole seconds / 60 (§2 "sum seconds exactly"); compare the seconds, not the 28-digit quotient."""
    seconds = (minutes * 60).to_integral_value()
    assert abs(minutes * 60 - seconds) < Decimal("1e-20"), minutes
    return int(seconds)


# --- the 10 % cap ------------------------------------------------------------------------------------------


@st.composite
def breaching_tickets(draw: st.DrawFn, month: Month) -> Ticket:
    """A written VGA ticket opened in the month and restored 5 h to 5 days later: usually a penalty."""
    opened = draw(st.integers(month.start, month.end - 1))
    return Ticket(
        id=f"B-{draw(st.integers(1000, 9999))}",
        opened_at=aware(draw, opened),
        channel=draw(st.sampled_from((Channel.EMAIL, Channel.PORTAL))),
        restored_at=aware(draw, opened + draw(st.integers(5 * HOUR, 5 * DAY))),
    )


@FAST
@given(cases(contracts=("vga", "vga", "vga", "internet", "mobile", "hosted", "preselection"), max_tickets=8), st.data())
def test_the_credit_never_exceeds_the_cap(case: Case, data: st.DataObject) -> None:
    if case.service.contract == "vga":
        extra = data.draw(st.lists(breaching_tickets(case.month), max_size=5))
        case = replace(case, tickets=(*case.tickets, *extra))
    s = compute(case)
    fee = case.service.monthly_fee_eur
    assert 0 <= s.total_credit_pct <= CAP_PCT
    assert s.total_credit_pct <= s.tier_pct + s.gtr_penalty_pct
    assert s.cap_applied == (s.tier_pct + s.gtr_penalty_pct > CAP_PCT)
    # §6: euros are rounded half-up to the cent once, at the end — the cap in euros is rounded the same way.
    cap_eur = (fee * CAP_PCT / HUNDRED).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert Decimal(0) <= s.total_credit_eur <= cap_eur
    assert s.total_credit_eur <= fee * CAP_PCT / HUNDRED + Decimal("0.005")
    assert s.availability_credit_eur <= cap_eur
    if "probation" in s.flags or case.service.contract == "preselection":
        assert s.total_credit_pct == 0
        assert s.total_credit_eur == 0


# --- interval algebra (sla/intervals.py) -----------------------------------------------------------------

raw_intervals = st.lists(st.tuples(st.integers(0, 200), st.integers(0, 200)), max_size=12)


def _points(a: IntervalSet) -> set[int]:
    return {t for s, e in a for t in range(s, e)}


def _is_normal(a: IntervalSet) -> bool:
    return all(s < e for s, e in a) and all(e1 < s2 for (_, e1), (s2, _) in pairwise(a))


@CHEAP
@given(raw_intervals)
def test_normalize_is_idempotent_and_keeps_the_points(raw: list[Interval]) -> None:
    once = normalize(raw)
    assert normalize(once) == once
    assert _is_normal(once)
    assert _points(once) == {t for s, e in raw for t in range(s, e)}


@CHEAP
@given(raw_intervals, raw_intervals)
def test_union_measure_is_at_most_the_sum(a_raw: list[Interval], b_raw: list[Interval]) -> None:
    a, b = normalize(a_raw), normalize(b_raw)
    u = union(a, b)
    assert _is_normal(u)
    assert max(measure(a), measure(b)) <= measure(u) <= measure(a) + measure(b)
    assert measure(u) == measure(a) + measure(b) - measure(intersect(a, b))
    assert measure(normalize(a_raw)) <= sum(max(0, e - s) for s, e in a_raw)


@CHEAP
@given(raw_intervals, raw_intervals)
def test_intersect_and_subtract_partition(a_raw: list[Interval], b_raw: list[Interval]) -> None:
    a, b = normalize(a_raw), normalize(b_raw)
    both, only_a = intersect(a, b), subtract(a, b)
    assert _is_normal(only_a)
    assert all(s < e for s, e in both)
    assert measure(a) == measure(both) + measure(only_a)
    assert _points(both) == _points(a) & _points(b)
    assert _points(only_a) == _points(a) - _points(b)
    assert normalize(intersect(b, a)) == normalize(both)


# --- qualification (sla/qualify.py) ----------------------------------------------------------------------


Probes = list[list[bool]]


@st.composite
def regular_probes(draw: st.DrawFn) -> tuple[int, int, Probes]:
    interval = draw(st.sampled_from((1, 30, 60, 300)))
    t0 = draw(st.integers(1_700_000_000, 1_800_000_000))
    n = draw(st.integers(1, 60))
    probes = draw(st.lists(st.lists(st.booleans(), min_size=n, max_size=n), min_size=1, max_size=4))
    return interval, t0, probes


@CHEAP
@given(regular_probes())
def test_without_runs_or_gaps_failing_is_failed_samples_times_interval(drawn: tuple[int, int, Probes]) -> None:
    interval, t0, probes = drawn
    n = len(probes[0])
    times = np.arange(t0, t0 + n * interval, interval, dtype=np.int64)
    period = (t0 - DAY, t0 + n * interval + DAY)
    timelines = {}
    for i, oks in enumerate(probes):
        timeline = qualify_probe(
            times, np.array(oks, dtype=np.bool_), period=period, down_after=1, up_after=1, interval_s=interval
        )
        assert measure(timeline.failing) == oks.count(False) * interval
        # Known exactly from the first sample to the last sample + interval, unknown before and after.
        assert timeline.unknown == [(period[0], t0), (t0 + n * interval, period[1])]
        assert not intersect(timeline.failing, timeline.unknown)
        timelines[f"p{i}"] = timeline
    service = combine(timelines, period=period)
    everyone_failing = [t for t in range(n) if not any(oks[t] for oks in probes)]
    assert measure(service.down) == len(everyone_failing) * interval
    for k in range(n):
        moment = t0 + k * interval
        down = any(s <= moment < e for s, e in service.down)
        assert down == (k in everyone_failing)


@CHEAP
@given(
    st.lists(st.tuples(st.lists(st.tuples(st.integers(0, 300), st.integers(1, 60)), max_size=5)), min_size=1),
    st.integers(1, 4),
)
def test_with_quorum_all_the_service_is_down_only_where_every_probe_fails(
    shapes: list[tuple[list[tuple[int, int]]]], quorum_any: int
) -> None:
    # Probe timelines built directly: failing and unknown disjoint, both inside the period.
    period = (0, 400)
    timelines = {}
    for i, (spans,) in enumerate(shapes):
        failing = normalize((s, s + n) for s, n in spans[::2])
        unknown = subtract(normalize((s, s + n) for s, n in spans[1::2]), failing)
        timelines[f"p{i}"] = ProbeTimeline(failing=failing, unknown=unknown)
    service = combine(timelines, period=period)
    points = [(_points(p.failing), _points(p.unknown)) for p in timelines.values()]
    down_points, unknown_points = _points(service.down), _points(service.unknown)
    for t in range(*period):
        states = ["failing" if t in failing else "unknown" if t in unknown else "ok" for failing, unknown in points]
        down = t in down_points
        unknown = t in unknown_points
        assert down == all(s == "failing" for s in states), (t, states)
        assert unknown == (not down and "ok" not in states), (t, states)
    # A smaller quorum can only widen the down time.
    assert not subtract(service.down, combine(timelines, period=period, quorum=quorum_any).down)


@FAST
@given(cases(samples=True, contracts=("internet", "mobile", "vga")))
def test_sampled_statement_unknown_and_completeness_agree(case: Case) -> None:
    s = compute(case)
    assert (s.data_completeness_pct < HUNDRED) == ("incomplete_data" in s.flags)
    if s.unknown_minutes == 0:
        assert s.data_completeness_pct == HUNDRED
