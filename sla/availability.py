"""STD availability (art. x.1.2), its tiers (x.1.3), cap (x.1) and claim dates (x.1).

    A = (M − U) / M × 100

M is the month's elapsed minutes in service ("minutes totales dans le mois (ouvrées et non ouvrées)"), U the
minutes of total unavailability inside the coverage window (x.1.1), notified, not excused (x.1.4), counted
once where outages overlap. Policies switch each reading (sla-semantics §2); shadow figures show the others.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sla.calendars import HolidayCalendar, Month
from sla.intervals import IntervalSet, intersect, measure, subtract
from sla.profiles import STD_TIERS

HUNDRED = Decimal(100)


def availability_pct(denominator_s: int, counted_s: int) -> Decimal:
    """(M − U) / M × 100, exact. An empty denominator (nothing to measure) is 100 %."""
    if denominator_s <= 0:
        return HUNDRED
    return (Decimal(denominator_s) - Decimal(counted_s)) / Decimal(denominator_s) * HUNDRED


def counted_seconds(unavailable: IntervalSet, window: IntervalSet, excluded: IntervalSet) -> tuple[int, int]:
    """(unavailable in window, of which excluded): the U before and the part removed by exclusions."""
    in_window = intersect(unavailable, window)
    return measure(in_window), measure(in_window) - measure(subtract(in_window, excluded))


def tier_pct(availability: Decimal, boundary_99_5: int) -> Decimal:
    """STD x.1.3. 99.85 meets the objective ("au moins 99,85 %"); "Moins de 97 %" is strict so 97 earns 5 %;
    99.5 is printed in two rows: policy `boundary_99_5` says which (default 3, the table's own convention)."""
    if availability == Decimal("99.5"):
        return Decimal(boundary_99_5)
    credit = Decimal(0)
    for tier in STD_TIERS:
        if availability < tier.below_pct:
            credit = tier.credit_pct
    return credit


def capped_total_pct(tier: Decimal, gtr_penalties: Decimal, cap: Decimal) -> tuple[Decimal, bool]:
    """STD x.1 / VGA 5.4: total compensation ≤ cap; the cap applies only when the raw sum is strictly above."""
    raw = tier + gtr_penalties
    return min(raw, cap), raw > cap


def euros(fee: Decimal, pct: Decimal) -> Decimal:
    """sla-semantics §6: exact until here, then rounded half-up to the cent, once."""
    return (fee * pct / HUNDRED).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def claim_deadline(month: Month, calendar: HolidayCalendar, jours_ouvres: int) -> date:
    """STD x.1: the claim must be sent "dans un délai de trente (30) Jours suivant le mois"; CGV art. 2 makes
    an unqualified "jour" a jour ouvré, so: the 30th Jour Ouvré after the last day of the month."""
    return calendar.nth_jour_ouvre_after(month.last_day, jours_ouvres)


def claim_alert_date(month: Month, calendar_days: int) -> date:
    """30 calendar days after the month: the product urges filing by then, well before the deadline."""
    return month.last_day + timedelta(days=calendar_days)
