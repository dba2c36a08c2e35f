"""STD availability (art. x.1.1–x.1.4), one test per rule, with the boundaries of the tier table.

November 2026 has 30 days: M = 43 200 min, so 99.85 % allows 64.8 min, 99.5 % 216 min and 97 % 1 296 min.
"""

from __future__ import annotations

import pytest

from tests.sla.timeline import down, excluded, figures, samples, ticket

MONDAY = "2026-11-16"


@pytest.mark.parametrize(
    ("end", "availability", "tier", "met"),
    [
        ("11:04:48", "99.850", "0", True),  # exactly 99.85: "au moins 99,85 %" is met
        ("11:05:48", "99.847685", "3", False),  # one minute over
        ("13:36", "99.500", "3", False),  # 99.5 in both rows: default boundary_99_5 = 3
        ("13:37", "99.497685", "5", False),
    ],
)
def test_tier_boundaries_at_99_85_and_99_5(end: str, availability: str, tier: str, met: bool) -> None:
    f = figures("2026-11", outages=[down(f"{MONDAY} 10:00", end)], monthly_fee_eur="200.00")
    assert (f["availability_pct"], f["tier_pct"], f["objective_met"]) == (availability, tier, met)


def test_boundary_99_5_policy_puts_exactly_99_5_in_the_5_percent_row() -> None:
    f = figures("2026-11", outages=[down(f"{MONDAY} 10:00", "13:36")], boundary_99_5=5)
    assert (f["availability_pct"], f["tier_pct"], f["policy"]["boundary_99_5"]) == ("99.500", "5", 5)


@pytest.mark.parametrize(("end", "tier"), [("2026-11-18 14:36", "5"), ("2026-11-18 14:37", "10")])
def test_97_percent_is_in_the_5_percent_row_and_below_is_10(end: str, tier: str) -> None:
    # Monday 09:00 to Wednesday: only the coverage hours count (480 + 480 + 336 = 1 296 min = 3 %).
    f = figures("2026-11", outages=[down(f"{MONDAY} 09:00", end)])
    assert f["tier_pct"] == tier
    assert f["availability_pct"] == ("97.000" if tier == "5" else "96.997685")


def test_credit_is_the_tier_of_the_monthly_fee_rounded_half_up_once() -> None:
    f = figures("2026-11", outages=[down(f"{MONDAY} 10:00", "11:30")], monthly_fee_eur="333.35")
    assert (f["tier_pct"], f["availability_credit_eur"], f["total_credit_eur"]) == ("3", "10.00", "10.00")


def test_only_minutes_inside_the_coverage_window_count() -> None:
    # 08:00–10:00: the hour before 09:00 is outside "de 9 heures à 17 heures".
    f = figures(outages=[down("2026-10-14 08:00", "10:00")])
    assert (f["unavailable_minutes"], f["counted_minutes"]) == ("60.00", "60.00")
    assert f["shadow"]["all_hours_pct"] == "99.731543"  # 120 min over 44 700


def test_a_weekend_outage_counts_nothing_but_shows_in_the_all_hours_shadow() -> None:
    f = figures(outages=[down("2026-10-17 10:00", "2026-10-18 10:00")])
    assert f["counted_minutes"] == "0.00" and f["availability_pct"] == "100.000"
    assert f["shadow"]["all_hours_pct"] == "96.778523"


def test_an_outage_across_a_weekend_counts_friday_evening_and_monday_morning() -> None:
    f = figures(outages=[down("2026-10-16 16:00", "2026-10-19 10:00")])
    assert f["counted_minutes"] == "120.00"


def test_an_outage_across_the_month_end_counts_in_each_month_for_its_part() -> None:
    outage = down("2026-10-30 16:00", "2026-11-02 10:00")
    assert figures("2026-10", outages=[outage])["counted_minutes"] == "60.00"
    assert figures("2026-11", outages=[outage])["counted_minutes"] == "60.00"


def test_overlapping_outages_count_once() -> None:
    f = figures(outages=[down("2026-10-14 10:00", "11:00"), down("2026-10-14 10:30", "11:30")])
    assert f["counted_minutes"] == "90.00"


def test_touching_outages_do_not_overlap_and_add_up() -> None:
    f = figures(outages=[down("2026-10-14 10:00", "11:00"), down("2026-10-14 11:00", "12:00")])
    assert f["counted_minutes"] == "120.00"


def test_an_unnotified_outage_does_not_count_but_shows_in_the_measured_shadow() -> None:
    f = figures(outages=[down("2026-10-14 10:00", "11:00", notified=False)])
    assert f["counted_minutes"] == "0.00" and f["availability_pct"] == "100.000"
    assert f["shadow"]["measured_pct"] == "99.865771"
    assert f["outages"][0]["notified"] is False


def test_count_unnotified_policy_counts_it() -> None:
    f = figures(outages=[down("2026-10-14 10:00", "11:00", notified=False)], count_unnotified=True)
    assert f["counted_minutes"] == "60.00"


def test_a_ticket_whose_life_overlaps_the_outage_notifies_it_from_its_observed_start() -> None:
    f = figures(
        outages=[down("2026-10-14 10:00", "11:00", notified=False)],
        tickets=[ticket("2026-10-14 10:40", "2026-10-14 11:30")],
    )
    assert f["counted_minutes"] == "60.00"


def test_a_ticket_opened_after_the_outage_ended_does_not_notify_it() -> None:
    f = figures(
        outages=[down("2026-10-14 10:00", "11:00", notified=False)],
        tickets=[ticket("2026-10-14 11:00", "2026-10-14 12:00")],
    )
    assert f["counted_minutes"] == "0.00"


def test_announced_planned_maintenance_is_excluded_but_its_overrun_counts() -> None:
    f = figures(
        outages=[down("2026-10-20 09:00", "10:30")],
        exclusions=[excluded("planned_maintenance", "2026-10-20 09:00", "10:00", announced="2026-10-13 12:00")],
    )
    assert (f["unavailable_minutes"], f["excluded_minutes"], f["counted_minutes"]) == ("90.00", "60.00", "30.00")
    assert f["gross_availability_pct"] == "99.798657"
    assert f["exclusions"][0]["applied"] is True


def test_maintenance_announced_after_it_started_counts_and_is_flagged() -> None:
    f = figures(
        outages=[down("2026-10-20 09:00", "10:00")],
        exclusions=[excluded("planned_maintenance", "2026-10-20 09:00", "10:00", announced="2026-10-20 09:30")],
    )
    assert f["counted_minutes"] == "60.00"
    assert "unannounced_maintenance" in f["flags"]
    assert f["exclusions"][0]["applied"] is False


@pytest.mark.parametrize(
    "cause",
    [
        "power_cut",
        "customer_fault",
        "equipment_not_supplied",
        "third_party_operator",
        "force_majeure",
        "capacity_exceeded",
        "customer_non_cooperation",
        "access_refused",
    ],
)
def test_excusable_events_are_excluded_from_the_net_figure_only(cause: str) -> None:
    f = figures(outages=[down("2026-10-14 10:00", "12:00")], exclusions=[excluded(cause, "2026-10-14 10:00", "11:00")])
    assert (f["excluded_minutes"], f["counted_minutes"]) == ("60.00", "60.00")
    assert f["gross_availability_pct"] < f["availability_pct"]


def test_site_access_pending_is_not_an_exclusion() -> None:
    f = figures(
        outages=[down("2026-10-14 10:00", "11:00")],
        exclusions=[excluded("site_access_pending", "2026-10-14 10:00", "11:00")],
    )
    assert f["counted_minutes"] == "60.00"


@pytest.mark.parametrize(("end", "counted", "microcuts"), [("10:00:59", "0.00", 1), ("10:01", "1.00", 0)])
def test_microcuts_below_60_seconds_are_listed_apart_and_never_counted(end: str, counted: str, microcuts: int) -> None:
    f = figures(outages=[down("2026-10-14 10:00", end)])
    assert f["counted_minutes"] == counted
    assert len(f["microcuts"]) == microcuts


def test_window_all_hours_policy_counts_the_night() -> None:
    f = figures(outages=[down("2026-10-14 02:00", "03:00")], window="all_hours")
    assert f["counted_minutes"] == "60.00" and f["policy"]["window"] == "all_hours"


def test_coverage_window_denominator_divides_by_coverage_minutes() -> None:
    f = figures(outages=[down("2026-10-14 10:00", "11:00")], denominator="coverage_window")
    assert f["availability_pct"] == "99.431818"  # 1 − 60 / 10 560
    assert f["tier_pct"] == "5"


def test_a_service_started_mid_month_counts_only_minutes_in_service() -> None:
    f = figures(in_service_from="2026-10-16", outages=[down("2026-10-14 10:00", "11:00")])
    assert f["minutes_in_month"] == "23100.00"  # 16 to 31 October, 25-hour Sunday included
    assert f["counted_minutes"] == "0.00"
    assert f["coverage_minutes"] == "5280.00"  # 11 weekdays


def test_unknown_time_is_available_by_default_and_counted_with_unknown_as_unavailable() -> None:
    # One probe, a sample every minute all month, none from 10:00 to 12:00 on 14 October.
    before = (13 * 24 + 10) * 60
    month = samples("2026-10-01 00:00", "U" * before + "." * 120 + "U" * (44700 - before - 120))
    base = figures(samples=[month])
    assert (base["counted_minutes"], base["unknown_minutes"]) == ("0.00", "120.00")
    assert base["data_completeness_pct"] == "98.863636"  # 1 − 120 / 10 560
    assert "incomplete_data" in base["flags"]
    strict = figures(samples=[month], unknown_as="unavailable")
    assert strict["counted_minutes"] == "120.00"


def test_probation_shows_the_tier_but_credits_nothing() -> None:
    f = figures(contract="hosted", probation_until="2026-10-20", outages=[down("2026-10-14 09:00", "11:00")])
    assert f["tier_pct"] == "3" and f["objective_met"] is False
    assert (f["total_credit_pct"], f["total_credit_eur"], f["availability_credit_eur"]) == ("0", "0.00", "0.00")
    assert "probation" in f["flags"]
    after = figures(
        "2026-11", contract="hosted", probation_until="2026-10-20", outages=[down("2026-11-16 09:00", "17:00")]
    )
    assert after["total_credit_pct"] == "5" and "probation" not in after["flags"]


def test_preselection_has_no_commitment_and_no_compensation() -> None:
    f = figures(contract="preselection", outages=[down("2026-10-14 09:00", "17:00")])
    assert (f["objective_pct"], f["objective_met"], f["tier_pct"], f["total_credit_eur"]) == (None, None, "0", "0.00")
    assert f["claim_deadline"] is None
    assert f["availability_pct"] == "98.926174"  # measured figure only


def test_mobile_is_unavailable_only_when_voice_and_data_are_both_down() -> None:
    voice = samples("2026-10-14 10:00", "U" * 10 + "D" * 30 + "U" * 20, probe="voice")
    data = samples("2026-10-14 10:00", "U" * 20 + "D" * 30 + "U" * 10, probe="data")
    f = figures(contract="mobile", samples=[voice, data], count_unnotified=True)
    assert f["unavailable_minutes"] == "20.00"  # 10:20–10:40, both down
    only_voice = figures(
        contract="mobile", samples=[voice, samples("2026-10-14 10:00", "U" * 60, probe="data")], count_unnotified=True
    )
    assert only_voice["unavailable_minutes"] == "0.00"


def test_the_report_prints_every_policy_value_used() -> None:
    assert figures()["policy"] == {
        "window": "coverage",
        "denominator": "calendar_month",
        "count_unnotified": False,
        "boundary_99_5": 3,
        "unknown_as": "available",
        "holidays_subdivision": None,
        "extra_closed_days": [],
    }


def test_the_cap_limits_the_total_to_ten_percent() -> None:
    f = figures(
        contract="vga",
        access_type="isdn_t0",
        gtr_option="standard",
        tickets=[
            ticket("2026-10-05 09:00", "2026-10-07 09:00", id="A"),
            ticket("2026-10-12 09:00", "2026-10-14 09:00", id="B"),
        ],
    )
    assert (f["gtr_penalty_pct"], f["total_credit_pct"], f["cap_applied"]) == ("20", "10", True)
