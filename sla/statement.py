"""One service instance, one month: from outages (or samples), exclusions and tickets to the contract's
figures. `compute` is the whole engine in one pure call; `to_json` is the stable output of sla-semantics §7.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from sla.availability import (
    availability_pct,
    capped_total_pct,
    claim_alert_date,
    claim_deadline,
    counted_seconds,
    euros,
    tier_pct,
)
from sla.calendars import Clock, HolidayCalendar, Month, epoch, from_epoch, local_midnight, windows
from sla.gtr import TicketResult, evaluate_ticket, ho_availability_pct, target_for
from sla.intervals import IntervalSet, intersect, measure, normalize, overlaps, subtract
from sla.model import (
    Cause,
    Denominator,
    Exclusion,
    Outage,
    Policy,
    Qualification,
    Service,
    Ticket,
    UnknownAs,
    Window,
)
from sla.profiles import ContractProfile, Regime, profile_for
from sla.qualify import combine, qualify_probe

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SIXTY = Decimal(60)
GTD_MONTHS = 6  # VGA 5.3 "calculé sur une période de six (6) mois"
EDGE_MARGIN_S = 86_400


@dataclass(frozen=True)
class ProbeSamples:
    """All samples of one probe: sorted epoch seconds and outcomes."""

    probe: str
    times: npt.NDArray[np.int64]
    ok: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Case:
    month: Month
    service: Service
    policy: Policy = field(default_factory=Policy)
    qualification: Qualification = field(default_factory=Qualification)
    outages: tuple[Outage, ...] = ()
    samples: tuple[ProbeSamples, ...] | None = None
    exclusions: tuple[Exclusion, ...] = ()
    tickets: tuple[Ticket, ...] = ()
    # With `outages` given directly: the spans in which the service's state was known (the store's edge
    # states, up or down). Outside them it is unknown, as in a gap of the samples (§5). None: known
    # throughout (a case file's outages).
    known: tuple[tuple[datetime, datetime], ...] | None = None


@dataclass(frozen=True)
class OutageLine:
    start: int
    end: int
    notified: bool
    counted: bool
    window_s: int
    excluded_s: int


@dataclass(frozen=True)
class ExclusionLine:
    exclusion: Exclusion
    applied: bool
    why_not: str | None
    excluded_s: int


@dataclass(frozen=True)
class Gtd:
    first_month: Month
    last_month: Month
    availability_pct: Decimal
    objective_pct: Decimal
    data_completeness_pct: Decimal


@dataclass(frozen=True)
class Statement:
    month: Month
    service: Service
    profile: ContractProfile
    policy: Policy
    minutes_in_month: Decimal
    coverage_minutes: Decimal
    unavailable_minutes: Decimal
    excluded_minutes: Decimal
    counted_minutes: Decimal
    availability_pct: Decimal
    gross_availability_pct: Decimal
    shadow: dict[str, Decimal] | None
    objective_pct: Decimal | None
    objective_met: bool | None
    tier_pct: Decimal
    availability_credit_eur: Decimal
    tickets: tuple[TicketResult, ...]
    gtr_penalty_pct: Decimal
    total_credit_pct: Decimal
    total_credit_eur: Decimal
    cap_applied: bool
    claim_deadline: date | None
    claim_alert_date: date | None
    outages: tuple[OutageLine, ...]
    microcuts: tuple[tuple[int, int], ...]
    exclusions: tuple[ExclusionLine, ...]
    unknown_minutes: Decimal
    data_completeness_pct: Decimal
    gtd: Gtd | None
    flags: tuple[str, ...]


def in_service_period(month: Month, service: Service) -> tuple[int, int]:
    """sla-semantics §2: `in_service_from` from 00:00, `in_service_until` through 24:00, Europe/Paris."""
    start, end = _in_service(service, month.start, month.end)
    if end <= start:
        raise ValueError(f"service {service.id!r} is not in service during {month}")
    return start, end


def _in_service(service: Service, start: int, end: int) -> tuple[int, int]:
    """`[start, end)` clipped to the service's days in service."""
    if service.in_service_from is not None:
        start = max(start, local_midnight(service.in_service_from))
    # the last day `date` can hold has no next day to end at: in service until then is in service throughout
    if service.in_service_until is not None and service.in_service_until < date.max:
        end = min(end, local_midnight(service.in_service_until + timedelta(days=1)))
    return start, end


def applicable_exclusions(
    exclusions: Sequence[Exclusion],
) -> tuple[IntervalSet, list[tuple[Exclusion, str | None]]]:
    """STD x.1.4 / VGA 5.1: which exclusions excuse unavailability, and why the others do not."""
    applied: list[tuple[int, int]] = []
    verdicts: list[tuple[Exclusion, str | None]] = []
    for x in exclusions:
        why_not = None
        if not x.cause.is_excusable:
            why_not = "freezes the VGA GTR clock only (VGA 5.8); not an exclusion"
        elif x.cause is Cause.PLANNED_MAINTENANCE and (x.announced_at is None or x.announced_at >= x.start):
            # STD x.1.1 "hors périodes de maintenance programmées": programmed means announced before it began.
            why_not = "maintenance not announced before it started: counts as unavailability"
        else:
            applied.append((epoch(x.start), epoch(x.end)))
        verdicts.append((x, why_not))
    return normalize(applied), verdicts


def _service_timeline(
    case: Case, profile: ContractProfile, period: tuple[int, int]
) -> tuple[list[tuple[int, int, bool]], IntervalSet]:
    """Outages as (start, end, notified directly) spans and unknown time, either given or qualified from
    samples (sla-semantics §5)."""
    if case.samples is None:
        outages = [(epoch(o.start), epoch(o.end), o.notified_at is not None) for o in case.outages]
        if case.known is None:
            return outages, []
        return outages, subtract([period], normalize((epoch(s), epoch(e)) for s, e in case.known))
    q = case.qualification
    probes = {
        p.probe: qualify_probe(
            p.times,
            p.ok,
            period=period,
            down_after=q.down_after,
            up_after=q.up_after,
            interval_s=q.interval_s,
        )
        for p in case.samples
    }
    timeline = combine(probes, period=period, groups=profile.unavailability_groups, quorum=q.quorum)
    return [(s, e, False) for s, e in timeline.down], timeline.unknown


def compute(case: Case) -> Statement:
    month, service, policy = case.month, case.service, case.policy
    profile = profile_for(service.contract, month.first_day)
    calendar = HolidayCalendar(policy.holidays_subdivision, policy.extra_closed_days)
    period = in_service_period(month, service)
    gtd_first = month
    for _ in range(GTD_MONTHS - 1):
        gtd_first = gtd_first.previous()
    # Qualify a day beyond each edge: an outage crossing the month edge keeps its whole duration (a microcut
    # is judged on the whole down period) and counts in each month for its part inside (§1).
    qualification_period = (
        (gtd_first.start if profile.regime is Regime.VGA else month.start) - EDGE_MARGIN_S,
        month.end + EDGE_MARGIN_S,
    )
    outages, unknown_all = _service_timeline(case, profile, qualification_period)

    # CP preamble "Interruption": microcoupures are excluded; listed apart, never in U. A microcut is a down
    # period shorter than microcut_s: outages that touch or overlap are one down period (§5), so an outage
    # recorded in two touching pieces is not two microcuts.
    microcut_s = case.qualification.microcut_s
    down_periods = normalize((s, e) for s, e, _ in outages)
    period_starts = [s for s, _ in down_periods]

    def down_period(start: int, end: int) -> tuple[int, int]:
        """The down period (union of touching or overlapping outages) that contains `[start, end)`."""
        i = bisect_right(period_starts, start) - 1
        return down_periods[i] if i >= 0 and end <= down_periods[i][1] else (start, end)

    microcuts = [(s, e) for s, e in down_periods if e - s < microcut_s and overlaps((s, e), period)]
    real = [(s, e, direct) for s, e, direct in outages if (p := down_period(s, e))[1] - p[0] >= microcut_s]

    ticket_lives = [
        (
            epoch(t.opened_at),
            epoch(t.restored_at) if t.restored_at else max(month.end, epoch(t.opened_at) + 1),
        )
        for t in case.tickets
    ]

    # Notification belongs to the incident, i.e. the down period: an outage recorded in touching pieces is
    # notified as a whole (§2 "it then counts from its observed start"). STD x.1.1 "En cas de notification
    # d'un Incident": notified directly or covered by a ticket's life.
    notified_periods = {down_period(s, e) for s, e, direct in real if direct}
    lines = [
        (s, e, (span := down_period(s, e)) in notified_periods or any(overlaps(span, life) for life in ticket_lives))
        for s, e, _ in real
    ]
    notified_set = normalize((s, e) for s, e, notified in lines if notified)
    observed_set = normalize((s, e) for s, e, _ in lines)
    unknown_counted = unknown_all if policy.unknown_as is UnknownAs.UNAVAILABLE else []
    excluded_set, verdicts = applicable_exclusions(case.exclusions)
    main_u = normalize(observed_set + unknown_counted if policy.count_unnotified else notified_set + unknown_counted)
    measured_u = normalize(observed_set + unknown_counted)

    whole = [period]
    coverage = windows(Clock.COVERAGE, *period, calendar)
    business = windows(Clock.BUSINESS_HOURS, *period, calendar)
    shadow: dict[str, Decimal] | None = None
    if profile.regime is Regime.VGA:
        # sla-semantics §2 VGA: the month's figure in Heures Ouvrées, informational (GTD is over 6 months).
        window, denominator, basis = business, measure(business), business
    else:
        use_coverage = policy.window is Window.COVERAGE or policy.denominator is Denominator.COVERAGE_WINDOW
        window = coverage if use_coverage else whole
        denominator = measure(coverage) if policy.denominator is Denominator.COVERAGE_WINDOW else measure(whole)
        basis = coverage
        u_all, x_all = counted_seconds(main_u, whole, excluded_set)
        u_cov, x_cov = counted_seconds(main_u, coverage, excluded_set)
        u_meas, x_meas = counted_seconds(measured_u, window, excluded_set)
        shadow = {
            "all_hours_pct": availability_pct(measure(whole), u_all - x_all),
            "coverage_only_pct": availability_pct(measure(coverage), u_cov - x_cov),
            "measured_pct": availability_pct(denominator, u_meas - x_meas),
        }
    unavailable_s, excluded_s = counted_seconds(main_u, window, excluded_set)
    counted_s = unavailable_s - excluded_s
    availability = availability_pct(denominator, counted_s)
    gross = availability_pct(denominator, unavailable_s)

    flags: list[str] = []
    objective_pct = profile.objective_pct
    tier = tier_pct(availability, policy.boundary_99_5) if profile.regime is Regime.STD else Decimal(0)
    objective_met = None if objective_pct is None else availability >= objective_pct

    month_tickets = [t for t in case.tickets if month.start <= epoch(t.opened_at) < month.end]
    ticket_results = (
        tuple(
            evaluate_ticket(
                t,
                regime=profile.regime,
                target=target_for(profile.regime, t, _value(service.access_type), _value(service.gtr_option)),
                month_end=month.end,
                calendar=calendar,
                exclusions=case.exclusions,
                outages=observed_set,
            )
            for t in month_tickets
        )
        if profile.regime is not Regime.NONE
        else ()
    )
    gtr_penalty = sum((r.penalty_pct for r in ticket_results), Decimal(0))
    total_pct, cap_applied = capped_total_pct(tier, gtr_penalty, profile.cap_pct)
    availability_credit = euros(service.monthly_fee_eur, tier)

    if profile.probation and service.probation_until is not None and month.first_day <= service.probation_until:
        # XI 3.2: during the Phase Probatoire "les SLA ne sont pas applicables": every credit is 0.
        flags.append("probation")
        total_pct, availability_credit = Decimal(0), Decimal("0.00")
    total_credit = euros(service.monthly_fee_eur, total_pct)

    # unknown_minutes: in service (VGA: in Heures Ouvrées); completeness: share of the window's basis known.
    unknown_in_basis = measure(intersect(unknown_all, basis))
    unknown_s = unknown_in_basis if profile.regime is Regime.VGA else measure(intersect(unknown_all, whole))
    completeness = availability_pct(measure(basis), unknown_in_basis)
    if completeness < 100:
        flags.append("incomplete_data")
    if any(why and x.cause is Cause.PLANNED_MAINTENANCE for x, why in verdicts):
        flags.append("unannounced_maintenance")

    deadline_days, alert_days = profile.claim_deadline_jours_ouvres, profile.claim_alert_calendar_days
    outage_lines = tuple(
        OutageLine(
            start=s,
            end=e,
            notified=notified,
            counted=notified or policy.count_unnotified,
            window_s=measure(intersect([(s, e)], window)),
            excluded_s=measure(intersect(intersect([(s, e)], window), excluded_set)),
        )
        for s, e, notified in lines
        if overlaps((s, e), period)
    )
    main_in_window = intersect(main_u, window)
    exclusion_lines = tuple(
        ExclusionLine(
            exclusion=x,
            applied=why is None,
            why_not=why,
            excluded_s=0 if why else measure(intersect(main_in_window, [(epoch(x.start), epoch(x.end))])),
        )
        for x, why in verdicts
    )
    return Statement(
        month=month,
        service=service,
        profile=profile,
        policy=policy,
        minutes_in_month=Decimal(measure(whole)) / SIXTY,
        coverage_minutes=Decimal(measure(basis)) / SIXTY,
        unavailable_minutes=Decimal(unavailable_s) / SIXTY,
        excluded_minutes=Decimal(excluded_s) / SIXTY,
        counted_minutes=Decimal(counted_s) / SIXTY,
        availability_pct=availability,
        gross_availability_pct=gross,
        shadow=shadow,
        objective_pct=objective_pct,
        objective_met=objective_met,
        tier_pct=tier,
        availability_credit_eur=availability_credit,
        tickets=ticket_results,
        gtr_penalty_pct=gtr_penalty,
        total_credit_pct=total_pct,
        total_credit_eur=total_credit,
        cap_applied=cap_applied,
        claim_deadline=None if deadline_days is None else claim_deadline(month, calendar, deadline_days),
        claim_alert_date=None if alert_days is None else claim_alert_date(month, alert_days),
        outages=outage_lines,
        microcuts=tuple(microcuts),
        exclusions=exclusion_lines,
        unknown_minutes=Decimal(unknown_s) / SIXTY,
        data_completeness_pct=completeness,
        gtd=_gtd(gtd_first, month, service, calendar, notified_set, unknown_counted, unknown_all, excluded_set)
        if profile.regime is Regime.VGA
        else None,
        flags=tuple(flags),
    )


def _gtd(
    first: Month,
    last: Month,
    service: Service,
    calendar: HolidayCalendar,
    notified_set: IntervalSet,
    unknown_counted: IntervalSet,
    unknown_all: IntervalSet,
    excluded_set: IntervalSet,
) -> Gtd:
    """VGA 5.3: 1 − interruption HO / HO of the six complete months ending with the evaluated one."""
    business = windows(Clock.BUSINESS_HOURS, *_in_service(service, first.start, last.end), calendar)
    unavailable, excluded = counted_seconds(normalize(notified_set + unknown_counted), business, excluded_set)
    return Gtd(
        first_month=first,
        last_month=last,
        availability_pct=ho_availability_pct(unavailable - excluded, measure(business)),
        objective_pct=Decimal("99.8"),
        data_completeness_pct=availability_pct(measure(business), measure(intersect(unknown_all, business))),
    )


def _value(member: Any) -> str | None:
    return None if member is None else str(member.value)


# --- output (sla-semantics §7) -------------------------------------------------------------------------


def decimal_text(value: Decimal, places: int, max_places: int = 6) -> str:
    """At least `places` decimals; exact when the value fits in `max_places`, else truncated toward
    −∞ there, so a printed figure never overstates (99.8499… never prints as 99.850)."""
    exact = value.normalize()
    exponent = exact.as_tuple().exponent
    shown = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    shown = min(max(shown, places), max_places)
    return str(value.quantize(Decimal(1).scaleb(-shown), rounding=ROUND_FLOOR))


def pct_text(value: Decimal) -> str:
    return decimal_text(value, 3)


def minutes_text(value: Decimal) -> str:
    return decimal_text(value, 2)


def rate_text(value: Decimal) -> str:
    """Contractual rates (tier, penalty, cap) as the contract prints them: "0", "3", "10"."""
    return f"{value.normalize():f}"


def iso(seconds: int) -> str:
    return from_epoch(seconds).isoformat()


def ticket_json(t: TicketResult) -> dict[str, Any]:
    return {
        "id": t.id,
        "kind": t.kind,
        "clock": t.clock.value,
        "target_hours": rate_text(t.target_hours),
        "start": iso(t.start),
        "stop": iso(t.stop),
        "elapsed_hours": decimal_text(t.elapsed_hours, 2),
        "frozen_hours": decimal_text(t.frozen_hours, 2),
        "breached": t.breached,
        "penalty_pct": rate_text(t.penalty_pct),
        "flags": list(t.flags),
    }


def exclusion_json(line: ExclusionLine) -> dict[str, Any]:
    x = line.exclusion
    return {
        "cause": x.cause.value,
        "start": iso(epoch(x.start)),
        "end": iso(epoch(x.end)),
        "applied": line.applied,
        "why_not": line.why_not,
        "excluded_minutes": minutes_text(Decimal(line.excluded_s) / SIXTY),
        "note": x.note,
        "evidence": x.evidence,
        "author": x.author,
    }


def to_json(s: Statement) -> dict[str, Any]:
    p = s.policy
    return {
        "month": str(s.month),
        "service_id": s.service.id,
        "contract": s.service.contract,
        "contract_profile": {
            "title": s.profile.title,
            "version": s.profile.version,
            "effective_from": s.profile.effective_from.isoformat(),
            "article": s.profile.article() or None,
        },
        "policy": {
            "window": p.window.value,
            "denominator": p.denominator.value,
            "count_unnotified": p.count_unnotified,
            "boundary_99_5": p.boundary_99_5,
            "unknown_as": p.unknown_as.value,
            "holidays_subdivision": p.holidays_subdivision,
            "extra_closed_days": sorted(d.isoformat() for d in p.extra_closed_days),
        },
        "minutes_in_month": minutes_text(s.minutes_in_month),
        "coverage_minutes": minutes_text(s.coverage_minutes),
        "unavailable_minutes": minutes_text(s.unavailable_minutes),
        "excluded_minutes": minutes_text(s.excluded_minutes),
        "counted_minutes": minutes_text(s.counted_minutes),
        "availability_pct": pct_text(s.availability_pct),
        "gross_availability_pct": pct_text(s.gross_availability_pct),
        "shadow": None if s.shadow is None else {k: pct_text(v) for k, v in s.shadow.items()},
        "objective_pct": None if s.objective_pct is None else rate_text(s.objective_pct),
        "objective_met": s.objective_met,
        "tier_pct": rate_text(s.tier_pct),
        "availability_credit_eur": str(s.availability_credit_eur),
        "tickets": [ticket_json(t) for t in s.tickets],
        "gtr_penalty_pct": rate_text(s.gtr_penalty_pct),
        "total_credit_pct": rate_text(s.total_credit_pct),
        "total_credit_eur": str(s.total_credit_eur),
        "cap_applied": s.cap_applied,
        "claim_deadline": None if s.claim_deadline is None else s.claim_deadline.isoformat(),
        "claim_alert_date": None if s.claim_alert_date is None else s.claim_alert_date.isoformat(),
        "outages": [
            {
                "start": iso(o.start),
                "end": iso(o.end),
                "notified": o.notified,
                "counted": o.counted,
                "minutes_in_window": minutes_text(Decimal(o.window_s) / SIXTY),
                "excluded_minutes": minutes_text(Decimal(o.excluded_s) / SIXTY),
            }
            for o in s.outages
        ],
        "microcuts": [{"start": iso(a), "end": iso(b), "seconds": b - a} for a, b in s.microcuts],
        "exclusions": [exclusion_json(line) for line in s.exclusions],
        "unknown_minutes": minutes_text(s.unknown_minutes),
        "data_completeness_pct": pct_text(s.data_completeness_pct),
        "gtd": None
        if s.gtd is None
        else {
            "period": f"{s.gtd.first_month}/{s.gtd.last_month}",
            "availability_pct": pct_text(s.gtd.availability_pct),
            "objective_pct": rate_text(s.gtd.objective_pct),
            "objective_met": s.gtd.availability_pct >= s.gtd.objective_pct,
            "data_completeness_pct": pct_text(s.gtd.data_completeness_pct),
        },
        "flags": list(s.flags),
    }
