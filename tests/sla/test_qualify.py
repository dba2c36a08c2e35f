"""From probe samples to outages (sla-semantics §5): runs, gaps, quorum, microcuts."""

from __future__ import annotations

from typing import Any

from sla.model import Qualification
from tests.sla.timeline import figures, samples

START = "2026-10-14 10:00"  # a Wednesday, inside coverage


def outages(*probes: Any, **kw: Any) -> list[tuple[str, str]]:
    f = figures(samples=list(probes), count_unnotified=True, **kw)
    return [(o["start"][11:19], o["end"][11:19]) for o in f["outages"]]


def test_outage_starts_at_the_first_failed_sample_and_ends_at_the_first_good_one() -> None:
    assert outages(samples(START, "UUUDDDDDUUUU")) == [("10:03:00", "10:08:00")]


def test_fewer_than_down_after_failures_are_not_an_outage() -> None:
    assert outages(samples(START, "UUDDUUUDDUUU")) == []


def test_a_single_success_inside_a_failure_does_not_end_it_with_up_after_2() -> None:
    assert outages(samples(START, "UDDDDUDDDUUU")) == [("10:01:00", "10:09:00")]


def test_down_after_and_up_after_are_configurable() -> None:
    q = Qualification(down_after=1, up_after=1, microcut_s=0)
    assert outages(samples(START, "UDUDDU"), qualification=q) == [("10:01:00", "10:02:00"), ("10:03:00", "10:05:00")]


def test_a_gap_makes_the_state_unknown_and_resets_the_runs() -> None:
    # DD, then a 10-minute hole, then D: never three consecutive failures.
    f = figures(samples=[samples(START, "UUDD" + "." * 10 + "DUUU")], count_unnotified=True)
    assert f["outages"] == []
    assert f["unknown_minutes"] != "0.00"


def test_a_failing_state_open_at_the_end_of_the_samples_lasts_one_more_interval() -> None:
    assert outages(samples(START, "UUUDDDD")) == [("10:03:00", "10:07:00")]


def test_quorum_all_needs_every_probe_failing() -> None:
    a = samples(START, "UUDDDDDDUU", probe="icmp")
    b = samples(START, "UUUUDDDDDD", probe="snmp")
    assert outages(a, b) == [("10:04:00", "10:08:00")]


def test_quorum_one_counts_any_probe_failing() -> None:
    a = samples(START, "UUDDDDDDUU", probe="icmp")
    b = samples(START, "UUUUDDDDDDUU", probe="snmp")
    assert outages(a, b, qualification=Qualification(quorum=1)) == [("10:02:00", "10:10:00")]


def test_a_probe_with_unknown_state_makes_the_service_unknown_not_up() -> None:
    a = samples(START, "UUDDDDDDDDUU", probe="icmp")
    b = samples(START, "UU" + "." * 10, probe="snmp")  # silent after 10:01
    f = figures(samples=[a, b], count_unnotified=True)
    assert f["outages"] == []
    assert "incomplete_data" in f["flags"]


def test_a_short_outage_from_samples_is_a_microcut() -> None:
    q = Qualification(down_after=1, up_after=1)
    f = figures(samples=[samples(START, "UUDUU", step=30)], count_unnotified=True, qualification=q)
    assert f["outages"] == [] and f["microcuts"][0]["seconds"] == 30


def test_nominal_interval_defaults_to_the_median_spacing() -> None:
    # 30-s samples: a 2-minute hole (> 3 × 30 s) is a gap.
    f = figures(samples=[samples(START, "UUUU" + "." * 4 + "UUUU", step=30)])
    assert f["unknown_minutes"] != "0.00"
    f = figures(
        samples=[samples(START, "UUUU" + "." * 4 + "UUUU", step=30)], qualification=Qualification(interval_s=60)
    )
    assert (
        f["unknown_minutes"]
        == figures(samples=[samples(START, "UUUUUUUUUUUU", step=30)], qualification=Qualification(interval_s=60))[
            "unknown_minutes"
        ]
    )


def test_an_outage_from_samples_across_the_month_edge_is_judged_whole_and_counted_per_month() -> None:
    # 30-s samples: failing from 31 October 16:59:00 (CET) to 2 November ... only its part in each month counts.
    probe = samples("2026-10-30 16:58", "UU" + "D" * 6 + "UUUU", step=30)  # failing 16:59:00–17:02:00
    q = Qualification(microcut_s=120)
    october = figures("2026-10", samples=[probe], count_unnotified=True, qualification=q)
    assert october["microcuts"] == [] and october["outages"][0]["end"] == "2026-10-30T17:02:00+01:00"
    assert october["counted_minutes"] == "1.00"  # 16:59–17:00 inside coverage


def test_a_short_failure_just_after_the_month_start_is_judged_on_its_whole_length() -> None:
    # failing 23:59:00 on 30 November to 00:01:30 on 1 December: 150 s, not a microcut in either month.
    probe = samples("2026-11-30 23:58", "UU" + "D" * 5 + "UUU", step=30)
    q = Qualification(microcut_s=120)
    december = figures("2026-12", samples=[probe], count_unnotified=True, window="all_hours", qualification=q)
    assert december["microcuts"] == []
    assert december["counted_minutes"] == "1.50"
