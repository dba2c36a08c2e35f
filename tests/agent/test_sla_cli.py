"""`vigie sla compute` as a user runs it: the shipped examples, the table, and bad case files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
VIGIE = [sys.executable, "-c", "from agent.cli import main; main()"]


def vigie(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VIGIE, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_at_least_five_examples_ship_with_their_expected_output() -> None:
    assert len(EXAMPLES) >= 5
    for case in EXAMPLES:
        assert (REPO / "examples" / "expected" / f"{case.stem}.json").is_file(), case.name


@pytest.mark.parametrize("case", EXAMPLES, ids=lambda p: p.stem)
def test_example_gives_its_expected_output(case: Path) -> None:
    result = vigie("sla", "compute", str(case), "--format", "json")
    assert result.returncode == 0, result.stderr
    expected = json.loads((REPO / "examples" / "expected" / f"{case.stem}.json").read_text(encoding="utf-8"))
    assert json.loads(result.stdout) == expected


def test_examples_cover_the_situations_the_issue_names() -> None:
    outputs = {c.stem: json.loads((REPO / "examples" / "expected" / f"{c.stem}.json").read_text()) for c in EXAMPLES}
    contracts = {o["contract"] for o in outputs.values()}
    assert {"internet", "vga", "mobile", "hosted"} <= contracts
    assert any(x["cause"] == "planned_maintenance" and x["applied"] for o in outputs.values() for x in o["exclusions"])
    assert any("probation" in o["flags"] for o in outputs.values())
    assert any(o["month"] == "2026-10" and o["minutes_in_month"] == "44700.00" for o in outputs.values())
    assert any(t["penalty_pct"] != "0" for o in outputs.values() for t in o["tickets"])


def test_table_format_shows_outages_exclusions_and_policy() -> None:
    result = vigie("sla", "compute", str(REPO / "examples" / "internet-maintenance-2026-11.yaml"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for text in (
        "99.560185 %",
        "Outages",
        "Exclusions",
        "planned_maintenance",
        "power_cut",
        "policy: window=coverage",
        "13.50 EUR",
        "2027-01-13",
    ):
        assert text in out, text


def test_policy_override_on_the_command_line_is_applied_and_printed() -> None:
    case = str(REPO / "examples" / "internet-maintenance-2026-11.yaml")
    result = vigie("sla", "compute", case, "-f", "json", "--policy", "window=all_hours", "--policy", "boundary_99_5=5")
    out = json.loads(result.stdout)
    assert out["policy"]["window"] == "all_hours" and out["policy"]["boundary_99_5"] == 5


def write(tmp_path: Path, text: str, name: str = "case.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """\
month: 2026-10
service: {id: s1, contract: internet, monthly_fee_eur: "450.00"}
outages:
  - {start: 2026-10-14T10:00:00+02:00, end: 2026-10-14T11:00:00+02:00, notified_at: 2026-10-14T10:05:00+02:00}
"""


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        (
            "end: 2026-10-14T11:00:00+02:00",
            "end: 2026-10-14T09:00:00+02:00",
            "outages[0].end: 2026-10-14T09:00:00+02:00 is not after start 2026-10-14T10:00:00+02:00",
        ),
        (
            "start: 2026-10-14T10:00:00+02:00",
            "start: 2026-10-14T10:00:00",
            "outages[0].start: 2026-10-14T10:00:00 is not valid; expected an ISO 8601 time with a UTC offset",
        ),
        (
            "contract: internet",
            "contract: internett",
            "service.contract: 'internett' is not a contract; expected one of",
        ),
        ('monthly_fee_eur: "450.00"', 'monthly_fee_eur: "4x0"', "service.monthly_fee_eur: 4x0 is not valid"),
        ("month: 2026-10", "month: 2026-13", "month: '2026-13' is not a month; expected YYYY-MM"),
        ("outages:", "outage:", "outage: unknown key"),
        ("service: {id: s1, ", "service: {", "service.id: required key missing"),
    ],
)
def test_a_bad_case_file_names_the_key_the_value_and_what_was_expected(
    tmp_path: Path, replace: str, by: str, message: str
) -> None:
    assert replace in GOOD
    result = vigie("sla", "compute", str(write(tmp_path, GOOD.replace(replace, by))), "-f", "json")
    assert result.returncode == 2
    assert result.stdout == ""  # never a partial result
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_good_case_file_computes(tmp_path: Path) -> None:
    result = vigie("sla", "compute", str(write(tmp_path, GOOD)), "-f", "json")
    assert result.returncode == 0 and json.loads(result.stdout)["counted_minutes"] == "60.00"


def test_vga_without_access_type_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("contract: internet", "contract: vga")
    result = vigie("sla", "compute", str(write(tmp_path, text)))
    assert result.returncode == 2 and "access_type is required for contract vga" in result.stderr


def test_a_freeze_outside_the_tickets_life_is_refused(tmp_path: Path) -> None:
    text = (
        GOOD
        + """\
tickets:
  - id: T-1
    opened_at: 2026-10-14T10:05:00+02:00
    restored_at: 2026-10-14T12:00:00+02:00
    freezes: [{start: 2026-10-14T11:00:00+02:00, end: 2026-10-14T13:00:00+02:00}]
"""
    )
    result = vigie("sla", "compute", str(write(tmp_path, text)))
    assert result.returncode == 2
    assert "tickets[0].freezes[0].end: 2026-10-14T13:00:00+02:00 is after the ticket was restored" in result.stderr


def test_an_unknown_policy_is_refused(tmp_path: Path) -> None:
    result = vigie("sla", "compute", str(write(tmp_path, GOOD)), "--policy", "boundary_99_5=4")
    assert result.returncode == 2 and "policy.boundary_99_5: 4 is not valid" in result.stderr
    result = vigie("sla", "compute", str(write(tmp_path, GOOD)), "--policy", "holidays_subdivision=67")
    assert result.returncode == 2 and "unknown French holiday subdivision '67'" in result.stderr


def test_a_bad_samples_line_is_named_with_its_line_number(tmp_path: Path) -> None:
    write(
        tmp_path,
        "time,probe,ok\n2026-10-14T10:00:00+02:00,icmp,1\n2026-10-14T10:01:00,icmp,1\n"
        "2026-10-14T10:02:00+02:00,icmp,maybe\n",
        "s.csv",
    )
    text = "month: 2026-10\nservice: {id: s1, contract: internet, monthly_fee_eur: 10}\nsamples: s.csv\n"
    result = vigie("sla", "compute", str(write(tmp_path, text)))
    assert result.returncode == 2
    assert "s.csv line 3: time '2026-10-14T10:01:00' has no UTC offset" in result.stderr
    assert "s.csv line 4: ok 'maybe' is not valid; expected 1/0 or true/false" in result.stderr


def test_samples_and_outages_together_are_refused(tmp_path: Path) -> None:
    result = vigie("sla", "compute", str(write(tmp_path, GOOD + "samples: s.csv\n")))
    assert result.returncode == 2 and "give either outages: or samples:, not both" in result.stderr


def test_a_missing_case_file_is_a_clear_error(tmp_path: Path) -> None:
    result = vigie("sla", "compute", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "nope.yaml: cannot read" in result.stderr
