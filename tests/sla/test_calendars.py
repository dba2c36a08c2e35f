"""Calendars (sla-semantics §1): coverage, Heures Ouvrées, wall clock, holidays, DST, claim dates."""

from __future__ import annotations

from datetime import date

import pytest

from sla.availability import claim_alert_date, claim_deadline
from sla.calendars import Clock, HolidayCalendar, Month, windows
from sla.intervals import measure
from tests.sla.timeline import at, figures

FRANCE = HolidayCalendar()
MOSELLE = HolidayCalendar(subdivision="57")


@pytest.mark.parametrize(
    ("month", "minutes"),
    [
        ("2026-10", "44700.00"),  # last Sunday of October: 25 hours
        ("2026-03", "44580.00"),  # last Sunday of March: 23 hours
        ("2026-11", "43200.00"),
        ("2026-12", "44640.00"),
        ("2027-02", "40320.00"),
        ("2028-02", "41760.00"),
    ],
)
def test_minutes_in_month_are_elapsed_paris_minutes_with_dst(month: str, minutes: str) -> None:
    assert figures(month)["minutes_in_month"] == minutes


def test_coverage_is_monday_to_friday_nine_to_five_without_holidays() -> None:
    # October 2026: 22 weekdays, no holiday → 22 × 480 min.
    assert figures("2026-10")["coverage_minutes"] == "10560.00"
    # November 2026: 21 weekdays, 11 November (Wednesday) is a holiday; 1 November is a Sunday.
    assert figures("2026-11")["coverage_minutes"] == "9600.00"


def test_coverage_window_of_one_day_is_09_00_to_17_00_paris_time() -> None:
    day = windows(
        Clock.COVERAGE, int(at("2026-10-14 00:00").timestamp()), int(at("2026-10-15 00:00").timestamp()), FRANCE
    )
    assert day == [(int(at("2026-10-14 09:00").timestamp()), int(at("2026-10-14 17:00").timestamp()))]


def test_heures_ouvrees_are_08_30_to_17_30_on_jours_ouvres() -> None:
    week = windows(
        Clock.BUSINESS_HOURS, int(at("2026-10-12 00:00").timestamp()), int(at("2026-10-19 00:00").timestamp()), FRANCE
    )
    assert len(week) == 5 and measure(week) == 5 * 9 * 3600
    assert week[0][0] == int(at("2026-10-12 08:30").timestamp())


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 4, 6), "Lundi de Pâques"),
        (date(2026, 5, 14), "Ascension"),
        (date(2026, 5, 25), "Lundi de Pentecôte"),
        (date(2026, 7, 14), "Fête nationale"),
    ],
)
def test_national_holidays_are_not_jours_ouvres(day: date, name: str) -> None:
    assert not FRANCE.is_jour_ouvre(day)
    assert FRANCE.holiday_name(day) == name


def test_a_holiday_on_a_weekend_removes_no_coverage() -> None:
    # 1 and 8 May 2027 are Saturdays: May 2027 has 21 weekdays, minus Ascension (Thu 6 May) and Whit Monday
    # (17 May) only → 19 days.
    assert figures("2027-05")["coverage_minutes"] == "9120.00"
    # and in May 2026, 1 May (Fri), 8 May (Fri), Ascension 14 May, Whit Monday 25 May: 21 − 4 = 17 days.
    assert figures("2026-05")["coverage_minutes"] == "8160.00"


def test_good_friday_and_26_december_only_with_subdivision_57() -> None:
    assert FRANCE.is_jour_ouvre(date(2026, 4, 3))
    assert not MOSELLE.is_jour_ouvre(date(2026, 4, 3))
    assert MOSELLE.holiday_name(date(2026, 4, 3)) == "Vendredi saint"
    assert not MOSELLE.is_jour_ouvre(date(2025, 12, 26))
    # April 2026: 22 weekdays, Easter Monday → 21 days; Moselle also loses Good Friday → 20 days.
    assert figures("2026-04")["coverage_minutes"] == "10080.00"
    assert figures("2026-04", holidays_subdivision="57")["coverage_minutes"] == "9600.00"


def test_operator_added_closed_days_are_not_jours_ouvres() -> None:
    assert figures("2026-10", extra_closed_days=["2026-10-30"])["coverage_minutes"] == "10080.00"


def test_claim_deadline_is_the_30th_jour_ouvre_after_the_month() -> None:
    # sla-semantics §2: March 2025 → 2025-05-15 (Easter Monday, 1 and 8 May skipped); alert 30 calendar days.
    assert claim_deadline(Month(2025, 3), FRANCE, 30) == date(2025, 5, 15)
    assert claim_alert_date(Month(2025, 3), 30) == date(2025, 4, 30)
    assert figures("2026-10")["claim_deadline"] == "2026-12-14"
    assert figures("2026-10")["claim_alert_date"] == "2026-11-30"


def test_claim_deadline_counts_alsace_moselle_holidays_when_set() -> None:
    # November 2025 → deadline counted over December (25 and 26 December closed in Moselle) and January.
    plain = claim_deadline(Month(2025, 11), FRANCE, 30)
    moselle = claim_deadline(Month(2025, 11), MOSELLE, 30)
    assert plain == date(2026, 1, 13)
    assert moselle == date(2026, 1, 14)


def test_dst_day_in_heures_ouvrees_still_has_nine_hours() -> None:
    # Monday 30 March 2026, after the change; the window is wall-clock 08:30–17:30.
    day = windows(
        Clock.BUSINESS_HOURS, int(at("2026-03-30 00:00").timestamp()), int(at("2026-03-31 00:00").timestamp()), FRANCE
    )
    assert measure(day) == 9 * 3600
