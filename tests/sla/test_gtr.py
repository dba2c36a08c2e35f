"""GTR and restoration clocks: VGA art. 5.2–5.8 (penalised) and the STD 6 HO / 72 HO targets (KPIs)."""

from __future__ import annotations

from typing import Any

import pytest

from sla.gtr import ClockFrozen, ClockResumed, GtrClock, GtrState, GtrTransitionError, ServiceRestored
from tests.sla.timeline import down, excluded, figures, ticket

T0_STANDARD = {"contract": "vga", "access_type": "isdn_t0", "gtr_option": "standard"}  # 6 HO, penalised


def only_ticket(month: str = "2026-10", **kw: Any) -> dict[str, Any]:
    tickets = figures(month, **kw)["tickets"]
    assert len(tickets) == 1
    return dict(tickets[0])


@pytest.mark.parametrize(
    ("restored", "elapsed", "penalty"),
    [
        ("2026-10-12 15:00", "6.00", "0"),  # TR = 6 exactly: no penalty
        ("2026-10-12 15:01", "6.016666", "2"),
        ("2026-10-12 17:00", "8.00", "2"),  # "8 < TR ≤ 8" upper bound inclusive
        ("2026-10-12 17:01", "8.016666", "5"),
        ("2026-10-13 12:00", "12.00", "5"),  # 8.5 h on Monday + 3.5 h on Tuesday
        ("2026-10-13 12:01", "12.016666", "10"),
    ],
)
def test_vga_penalty_brackets_on_tr_in_heures_ouvrees(restored: str, elapsed: str, penalty: str) -> None:
    t = only_ticket(**T0_STANDARD, tickets=[ticket("2026-10-12 09:00", restored)])
    assert (t["clock"], t["target_hours"], t["elapsed_hours"], t["penalty_pct"]) == (
        "business_hours",
        "6",
        elapsed,
        penalty,
    )
    assert t["breached"] is (penalty != "0")


def test_heures_ouvrees_clock_sleeps_over_the_weekend() -> None:
    t = only_ticket(**T0_STANDARD, tickets=[ticket("2026-10-16 15:30", "2026-10-19 10:30")])
    assert (t["elapsed_hours"], t["breached"], t["penalty_pct"]) == ("4.00", False, "0")


def test_heures_ouvrees_clock_sleeps_on_a_holiday() -> None:
    # Tuesday 10 November 16:30 → Thursday 12 November 10:30; Wednesday 11 November is a holiday.
    t = only_ticket("2026-11", **T0_STANDARD, tickets=[ticket("2026-11-10 16:30", "2026-11-12 10:30")])
    assert t["elapsed_hours"] == "3.00"


def test_24x7_option_runs_on_the_wall_clock() -> None:
    t = only_ticket(
        contract="vga",
        access_type="analog",
        gtr_option="6h_24x7",
        tickets=[ticket("2026-10-16 20:00", "2026-10-17 03:00")],
    )
    assert (t["clock"], t["elapsed_hours"], t["penalty_pct"]) == ("wall_clock", "7.00", "2")


def test_analog_standard_72_ho_is_a_kpi_without_penalty() -> None:
    t = only_ticket(
        contract="vga",
        access_type="analog",
        gtr_option="standard",
        tickets=[ticket("2026-10-05 09:00", "2026-10-26 09:00")],
    )
    assert (t["target_hours"], t["breached"], t["penalty_pct"]) == ("72", True, "0")


def test_analog_6h_business_option_is_penalised() -> None:
    t = only_ticket(
        contract="vga",
        access_type="analog",
        gtr_option="6h_business",
        tickets=[ticket("2026-10-12 09:00", "2026-10-12 16:00")],
    )
    assert (t["target_hours"], t["penalty_pct"]) == ("6", "2")


def test_phone_call_confirmed_in_writing_within_30_minutes_starts_at_the_ticket_time() -> None:
    t = only_ticket(
        **T0_STANDARD,
        tickets=[ticket("2026-10-12 09:00", "2026-10-12 15:30", channel="phone", confirmed="2026-10-12 09:30")],
    )
    assert (t["start"], t["elapsed_hours"], t["penalty_pct"], t["flags"]) == (
        "2026-10-12T09:00:00+02:00",
        "6.50",
        "2",
        [],
    )


def test_a_late_written_confirmation_moves_the_start() -> None:
    t = only_ticket(
        **T0_STANDARD,
        tickets=[ticket("2026-10-12 09:00", "2026-10-12 15:30", channel="phone", confirmed="2026-10-12 09:31")],
    )
    assert (t["start"], t["elapsed_hours"], t["penalty_pct"], t["flags"]) == (
        "2026-10-12T09:31:00+02:00",
        "5.983333",
        "0",
        ["late_confirmation"],
    )


def test_a_phone_call_never_confirmed_earns_no_penalty_but_is_measured() -> None:
    t = only_ticket(**T0_STANDARD, tickets=[ticket("2026-10-12 09:00", "2026-10-13 17:00", channel="phone")])
    assert (t["breached"], t["penalty_pct"], t["flags"]) == (True, "0", ["unconfirmed"])
    assert t["elapsed_hours"] == "17.00"  # 8.5 HO on Monday and on Tuesday


def test_site_access_freeze_is_subtracted_on_the_tickets_clock() -> None:
    t = only_ticket(
        **T0_STANDARD,
        tickets=[ticket("2026-10-12 09:00", "2026-10-12 17:00", freezes=(("2026-10-12 11:00", "2026-10-12 13:30"),))],
    )
    assert (t["elapsed_hours"], t["frozen_hours"], t["penalty_pct"]) == ("5.50", "2.50", "0")


def test_a_freeze_overnight_only_subtracts_its_business_hours() -> None:
    t = only_ticket(
        **T0_STANDARD,
        tickets=[ticket("2026-10-12 16:00", "2026-10-13 12:00", freezes=(("2026-10-12 17:00", "2026-10-13 09:00"),))],
    )
    assert (t["frozen_hours"], t["elapsed_hours"]) == ("1.00", "4.00")


def test_an_open_ticket_runs_to_the_end_of_the_month_without_penalty() -> None:
    t = only_ticket(**T0_STANDARD, tickets=[ticket("2026-10-30 15:00", None)])
    assert (t["stop"], t["elapsed_hours"], t["penalty_pct"], t["flags"]) == (
        "2026-11-01T00:00:00+01:00",
        "2.50",
        "0",
        ["open"],
    )


def test_an_excusable_cause_earns_no_penalty_but_breach_is_still_reported() -> None:
    t = only_ticket(**T0_STANDARD, tickets=[ticket("2026-10-12 09:00", "2026-10-13 17:00", cause="power_cut")])
    assert (t["breached"], t["penalty_pct"], t["flags"]) == (True, "0", ["excusable"])


def test_only_tickets_opened_in_the_month_count() -> None:
    f = figures("2026-11", **T0_STANDARD, tickets=[ticket("2026-10-30 09:00", "2026-11-02 17:00")])
    assert f["tickets"] == [] and f["gtr_penalty_pct"] == "0"


def test_penalties_of_a_site_month_are_capped_at_10_percent() -> None:
    f = figures(
        **T0_STANDARD,
        monthly_fee_eur="80.00",
        tickets=[
            ticket("2026-10-05 09:00", "2026-10-05 16:00", id="A"),  # 7 h → 2 %
            ticket("2026-10-06 09:00", "2026-10-07 12:00", id="B"),  # 12 h → 5 %
            ticket("2026-10-08 09:00", "2026-10-09 12:00", id="C"),  # 12 h → 5 %
        ],
    )
    assert (f["gtr_penalty_pct"], f["total_credit_pct"], f["total_credit_eur"], f["cap_applied"]) == (
        "12",
        "10",
        "8.00",
        True,
    )


def test_vga_has_no_availability_tier_and_no_claim_deadline() -> None:
    f = figures(**T0_STANDARD, outages=[down("2026-10-12 08:30", "17:30")])
    assert (f["tier_pct"], f["objective_pct"], f["claim_deadline"], f["shadow"]) == ("0", "99.8", None, None)
    # the month's figure is in Heures Ouvrées: 9 h lost out of 22 × 9 h.
    assert (f["coverage_minutes"], f["counted_minutes"], f["availability_pct"]) == ("11880.00", "540.00", "95.454545")


def test_gtd_is_reported_over_the_six_months_ending_with_the_month() -> None:
    f = figures(**T0_STANDARD, outages=[down("2026-06-15 08:30", "17:30"), down("2026-10-12 08:30", "17:30")])
    assert f["gtd"]["period"] == "2026-05/2026-10"
    # May–October 2026: 17 + 22 + 22 + 21 + 22 + 22 = 126 Jours Ouvrés × 9 h = 1 134 HO; 18 h lost.
    assert f["gtd"]["availability_pct"] == "98.412698"
    assert f["gtd"]["objective_met"] is False


def test_std_repair_target_is_6_ho_and_never_money() -> None:
    t = only_ticket(tickets=[ticket("2026-10-12 09:00", "2026-10-13 17:00")])
    assert (t["clock"], t["target_hours"], t["breached"], t["penalty_pct"]) == ("business_hours", "6", True, "0")


def test_std_repair_clock_freezes_during_refused_access_and_non_cooperation() -> None:
    t = only_ticket(
        tickets=[ticket("2026-10-12 09:00", "2026-10-12 17:00")],
        exclusions=[
            excluded("access_refused", "2026-10-12 10:00", "11:00"),
            excluded("customer_non_cooperation", "2026-10-12 10:30", "12:00"),
        ],
    )
    assert (t["frozen_hours"], t["elapsed_hours"], t["breached"]) == ("2.00", "6.00", False)


def test_std_equipment_replacement_is_72_ho_and_subtracts_only_its_own_freezes() -> None:
    t = only_ticket(
        tickets=[ticket("2026-10-05 09:00", "2026-10-14 09:00", kind="equipment_replacement")],
        exclusions=[excluded("access_refused", "2026-10-06 10:00", "11:00")],
    )
    assert (t["target_hours"], t["frozen_hours"], t["elapsed_hours"], t["breached"]) == ("72", "0.00", "63.00", False)


def test_a_ticket_restored_while_probes_still_see_the_outage_is_flagged() -> None:
    t = only_ticket(
        outages=[down("2026-10-12 09:00", "12:00")], tickets=[ticket("2026-10-12 09:05", "2026-10-12 11:00")]
    )
    assert "restored_while_down" in t["flags"]


def test_an_illegal_clock_transition_raises_and_changes_nothing() -> None:
    clock = GtrClock(start=0)
    clock.apply(ClockFrozen(10))
    with pytest.raises(GtrTransitionError):
        clock.apply(ClockFrozen(20))
    assert clock.state is GtrState.FROZEN
    clock.apply(ClockResumed(30))
    clock.apply(ServiceRestored(50))
    with pytest.raises(GtrTransitionError):
        clock.apply(ClockResumed(60))
    assert clock.state is GtrState.STOPPED and clock.running == [(0, 10), (30, 50)]
