"""The annotation ledger: append-only records, corrections by supersession, refusals that explain, and the
bridge to the SLA engine."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agent.casefile import load_case
from agent.clock import FakeClock
from agent.ledger import AUTO_EXCLUSION, AUTO_MAINTENANCE, Kind, Ledger, LedgerError, Record, ServiceRef
from agent.ledger.convert import check_maintenance, fold_all, slice_for, with_ledger
from agent.ledger.importer import load_records
from sla.calendars import Month
from sla.model import Outage
from sla.statement import compute, to_json

REPO = Path(__file__).resolve().parents[2]
VIGIE = [sys.executable, "-c", "from agent.cli import main; main()"]
REF = ServiceRef("acme", "lyon", "acme-lyon-fibre")
SCOPE = {"client": "acme", "site": "lyon", "service": "acme-lyon-fibre"}


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.sqlite", FakeClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC)))


def opened(ledger: Ledger, ref: str = "T-1", at: str = "2026-11-18T14:10:00+01:00", channel: str = "phone") -> Record:
    return ledger.append(Record(Kind.TICKET_OPEN, ref, {"opened_at": at, "channel": channel}, **SCOPE))


def refused(ledger: Ledger, record: Record) -> str:
    with pytest.raises(LedgerError) as info:
        ledger.append(record)
    return str(info.value)


def test_a_freeze_before_the_ticket_was_opened_is_refused_naming_the_ticket_and_the_value(ledger: Ledger) -> None:
    opened(ledger)
    message = refused(ledger, Record(Kind.TICKET_FREEZE, "T-1", {"start": "2026-11-18T14:00:00+01:00"}))
    assert "ticket T-1" in message
    assert "start: 2026-11-18T14:00:00+01:00 is before the ticket was opened at 2026-11-18T14:10:00+01:00" in message
    assert len(ledger.records()) == 1  # nothing written


def test_a_freeze_after_the_notified_restoration_is_refused(ledger: Ledger) -> None:
    opened(ledger)
    ledger.append(Record(Kind.TICKET_RESTORE, "T-1", {"restored_at": "2026-11-18T16:50:00+01:00"}))
    message = refused(
        ledger,
        Record(Kind.TICKET_FREEZE, "T-1", {"start": "2026-11-18T16:00:00+01:00", "end": "2026-11-18T17:00:00+01:00"}),
    )
    assert "end: 2026-11-18T17:00:00+01:00 is after the restoration notified at 2026-11-18T16:50:00+01:00" in message


def test_restoring_while_a_freeze_is_running_is_refused_until_resumed(ledger: Ledger) -> None:
    opened(ledger)
    ledger.append(Record(Kind.TICKET_FREEZE, "T-1", {"start": "2026-11-18T15:00:00+01:00", "reason": "x"}))
    assert "still running; resume it first" in refused(
        ledger, Record(Kind.TICKET_RESTORE, "T-1", {"restored_at": "2026-11-18T16:50:00+01:00"})
    )
    ledger.append(Record(Kind.TICKET_RESUME, "T-1", {"at": "2026-11-18T15:30:00+01:00"}))
    ledger.append(Record(Kind.TICKET_RESTORE, "T-1", {"restored_at": "2026-11-18T16:50:00+01:00"}))
    (ticket,) = fold_all(ledger.records()).tickets
    assert [(f.start.isoformat(), f.end.isoformat() if f.end else None) for f in ticket.freezes] == [
        ("2026-11-18T15:00:00+01:00", "2026-11-18T15:30:00+01:00")
    ]


def test_contradictory_records_are_refused(ledger: Ledger) -> None:
    opened(ledger)
    assert "already open" in refused(
        ledger, Record(Kind.TICKET_OPEN, "T-1", {"opened_at": "2026-11-18T15:00:00+01:00", "channel": "email"}, **SCOPE)
    )
    assert "no ticket T-9 has been opened" in refused(
        ledger, Record(Kind.TICKET_CONFIRM, "T-9", {"confirmed_at": "2026-11-18T15:00:00+01:00"})
    )
    assert "has no UTC offset" in refused(
        ledger, Record(Kind.TICKET_CONFIRM, "T-1", {"confirmed_at": "2026-11-18T14:20:00"})
    )
    assert "is not after the ticket was opened" in refused(
        ledger, Record(Kind.TICKET_RESTORE, "T-1", {"restored_at": "2026-11-18T14:00:00+01:00"})
    )
    assert "channel: 'fax' is not one of phone | email | portal" in refused(
        ledger, Record(Kind.TICKET_OPEN, "T-2", {"opened_at": "2026-11-18T15:00:00+01:00", "channel": "fax"}, **SCOPE)
    )


def test_a_correction_supersedes_a_record_and_is_judged_in_its_place_history_kept(ledger: Ledger) -> None:
    first = opened(ledger, at="2026-11-18T14:30:00+01:00")
    # the opening time was wrong: a freeze at 14:15 is refused against it...
    freeze = Record(
        Kind.TICKET_FREEZE, "T-1", {"start": "2026-11-18T14:15:00+01:00", "end": "2026-11-18T14:20:00+01:00"}
    )
    assert "before the ticket was opened" in refused(ledger, freeze)
    # ...and accepted once the opening is corrected
    fix = ledger.append(
        Record(
            Kind.TICKET_OPEN,
            "T-1",
            {"opened_at": "2026-11-18T14:10:00+01:00", "channel": "phone"},
            supersedes=first.id,
            **SCOPE,
        )
    )
    ledger.append(freeze)
    (ticket,) = fold_all(ledger.records()).tickets
    assert ticket.opened_at.isoformat() == "2026-11-18T14:10:00+01:00"
    assert [r.id for r in ledger.subject("T-1")] == [1, 2, 3]  # the superseded record is still there
    assert "already superseded by record #2" in refused(
        ledger, Record(Kind.TICKET_OPEN, "T-1", {"opened_at": "x", "channel": "phone"}, supersedes=first.id, **SCOPE)
    )
    assert fix.supersedes == first.id


def test_a_retraction_removes_a_record_from_the_fold_not_from_the_history(ledger: Ledger) -> None:
    opened(ledger)
    confirm = ledger.append(Record(Kind.TICKET_CONFIRM, "T-1", {"confirmed_at": "2026-11-18T14:20:00+01:00"}))
    ledger.append(Record(Kind.RETRACT, "T-1", {"reason": "wrong ticket"}, supersedes=confirm.id))
    (ticket,) = fold_all(ledger.records()).tickets
    assert ticket.confirmed_in_writing_at is None
    assert len(ledger.subject("T-1")) == 3


def test_the_table_refuses_update_and_delete_and_verify_detects_a_change_behind_its_back(ledger: Ledger) -> None:
    opened(ledger)
    db = sqlite3.connect(ledger.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE ledger_records SET author = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM ledger_records")
    assert ledger.verify() == []
    db.execute("DROP TRIGGER ledger_records_no_update")
    db.execute('UPDATE ledger_records SET data = \'{"opened_at": "2026-11-18T16:00:00+01:00", "channel": "phone"}\'')
    db.commit()
    assert ledger.verify() == ["record #1: content does not match its hash (changed after it was written)"]


def test_exclusion_states_proposed_accepted_disputed_follow_the_table(ledger: Ledger, tmp_path: Path) -> None:
    data = {"cause": "power_cut", "start": "2026-11-24T10:15:00+01:00", "end": "2026-11-24T11:30:00+01:00"}
    x = ledger.append(Record(Kind.EXCLUSION_ADD, AUTO_EXCLUSION, data, author="provider", client="acme", site="lyon"))
    assert x.subject == f"X{x.id}"
    ledger.append(Record(Kind.EXCLUSION_DISPUTE, x.subject, {"note": "no UPS log"}, author="customer"))
    assert "cannot dispute exclusion" in refused(ledger, Record(Kind.EXCLUSION_DISPUTE, x.subject, {}))
    ledger.append(Record(Kind.EXCLUSION_ACCEPT, x.subject, {"note": "log received"}, author="customer"))
    message = refused(ledger, Record(Kind.EXCLUSION_DISPUTE, x.subject, {}))
    assert "it is accepted" in message and "supersede" in message
    (state,) = fold_all(ledger.records()).exclusions
    assert [h[0].value for h in state.history] == ["proposed", "disputed", "accepted"]
    assert state.scope == "site"


def test_exclusion_refusals_name_the_cause_and_interval(ledger: Ledger) -> None:
    base = {"client": "acme"}
    assert "site_access_pending is not an exclusion" in refused(
        ledger,
        Record(
            Kind.EXCLUSION_ADD,
            AUTO_EXCLUSION,
            {"cause": "site_access_pending", "start": "2026-11-24T10:00:00+01:00", "end": "2026-11-24T11:00:00+01:00"},
            **base,
        ),
    )
    assert "cause: 'storm' is not one of" in refused(
        ledger, Record(Kind.EXCLUSION_ADD, AUTO_EXCLUSION, {"cause": "storm"}, **base)
    )
    assert "end: 2026-11-24T10:00:00+01:00 is not after start 2026-11-24T11:00:00+01:00" in refused(
        ledger,
        Record(
            Kind.EXCLUSION_ADD,
            AUTO_EXCLUSION,
            {"cause": "power_cut", "start": "2026-11-24T11:00:00+01:00", "end": "2026-11-24T10:00:00+01:00"},
            **base,
        ),
    )


def test_a_maintenance_announced_after_it_began_is_refused_with_the_reason(ledger: Ledger) -> None:
    message = refused(
        ledger,
        Record(
            Kind.MAINTENANCE_ADD,
            AUTO_MAINTENANCE,
            {
                "received_at": "2026-11-03T09:30:00+01:00",
                "start": "2026-11-03T09:00:00+01:00",
                "end": "2026-11-03T10:00:00+01:00",
            },
            client="acme",
        ),
    )
    assert "received_at: 2026-11-03T09:30:00+01:00 is not before the announced window began" in message
    assert "STD 4.1.1" in message


def test_maintenance_windows_are_checked_against_the_outage_timeline(ledger: Ledger) -> None:
    ledger.append(
        Record(
            Kind.MAINTENANCE_ADD,
            AUTO_MAINTENANCE,
            {
                "received_at": "2026-10-27T16:00:00+01:00",
                "start": "2026-11-03T09:00:00+01:00",
                "end": "2026-11-03T10:00:00+01:00",
            },
            client="acme",
        )
    )
    view = fold_all(ledger.records())
    outage = Outage(
        datetime.fromisoformat("2026-11-03T08:50:00+01:00"), datetime.fromisoformat("2026-11-03T10:25:00+01:00")
    )
    messages = [f.message for f in check_maintenance(view.maintenances, [outage])]
    assert len(messages) == 2
    assert "began 10 min before the announced window" in messages[0]
    assert "overran the announced window by 25 min" in messages[1]


IMPORT_YAML = """
tickets:
  - ref: T-2211
    client: acme
    site: lyon
    service: acme-lyon-fibre
    channel: phone
    opened_at: 2026-11-18T14:10:00+01:00
    confirmed_in_writing_at: 2026-11-18T14:25:00+01:00
    restored_at: 2026-11-18T16:50:00+01:00
exclusions:
  - {client: acme, site: lyon, service: acme-lyon-fibre, cause: power_cut, start: 2026-11-24T10:15:00+01:00,
     end: 2026-11-24T11:30:00+01:00, evidence: ups.log, note: "sysUpTime reset", author: noc, status: accepted}
  - {client: acme, cause: customer_fault, start: 2026-11-05T10:00:00+01:00, end: 2026-11-05T11:00:00+01:00}
maintenances:
  - {client: acme, site: lyon, received_at: 2026-10-27T16:00:00+01:00, start: 2026-11-03T09:00:00+01:00,
     end: 2026-11-03T10:00:00+01:00, reference: MNT-0412}
"""

CASE_WITHOUT_ANNOTATIONS = """
month: 2026-11
service: {id: acme-lyon-fibre, contract: internet, monthly_fee_eur: "450.00", in_service_from: 2024-01-01}
outages:
  - {start: 2026-11-03T09:00:00+01:00, end: 2026-11-03T10:25:00+01:00, notified_at: 2026-11-03T09:00:00+01:00}
  - {start: 2026-11-18T14:02:00+01:00, end: 2026-11-18T16:47:00+01:00}
  - {start: 2026-11-24T10:15:00+01:00, end: 2026-11-24T11:30:00+01:00, notified_at: 2026-11-24T10:20:00+01:00}
"""


def test_imported_ledger_drives_the_engine_like_the_case_file_example_and_names_its_records(
    ledger: Ledger, tmp_path: Path
) -> None:
    (tmp_path / "ups.log").write_text("UPS on battery 10:14\n")
    (tmp_path / "records.yaml").write_text(IMPORT_YAML)
    stored = ledger.append_many(load_records(tmp_path / "records.yaml"))
    assert [r.kind for r in stored][:3] == [Kind.TICKET_OPEN, Kind.TICKET_CONFIRM, Kind.TICKET_RESTORE]
    (tmp_path / "case.yaml").write_text(CASE_WITHOUT_ANNOTATIONS)
    case = load_case(tmp_path / "case.yaml")
    part = slice_for(fold_all(ledger.records()), REF, Month(2026, 11))
    # the proposed client-wide customer_fault exclusion is listed, not applied
    assert [x.cause.value for x in part.pending_exclusions] == ["customer_fault"]
    statement = to_json(compute(with_ledger(case, part)))
    expected = json.loads((REPO / "examples" / "expected" / "internet-maintenance-2026-11.json").read_text())
    for key in ("availability_pct", "counted_minutes", "excluded_minutes", "tier_pct", "total_credit_eur"):
        assert statement[key] == expected[key], key
    assert [t["id"] for t in statement["tickets"]] == ["T-2211"]
    assert part.record_ids == tuple(r.id for r in stored if r.subject != stored[-2].subject)
    power = next(x for x in part.exclusions if x.cause.value == "power_cut")
    assert power.evidence is not None and power.evidence.endswith(
        "sha256:" + __import__("hashlib").sha256(b"UPS on battery 10:14\n").hexdigest()
    )


def test_an_import_is_all_or_nothing(ledger: Ledger, tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text(
        "kind,subject,client,site,service,opened_at,channel,start,end,reason\n"
        "ticket.open,T-5,acme,lyon,acme-lyon-fibre,2026-11-18T14:10:00+01:00,email,,,\n"
        "ticket.freeze,T-5,,,,,,2026-11-18T14:00:00+01:00,2026-11-18T15:00:00+01:00,site_access_pending\n"
    )
    with pytest.raises(LedgerError, match="before the ticket was opened"):
        ledger.append_many(load_records(tmp_path / "bad.csv"))
    assert ledger.records() == []


def vigie(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "VIGIE_LEDGER": str(cwd / "l.sqlite")}
    return subprocess.run([*VIGIE, *args], capture_output=True, text=True, cwd=cwd, timeout=60, env=env)


def ticket_life(ref: str) -> tuple[tuple[str, ...], ...]:
    """The CLI commands of a ticket's life after its opening: confirmed, frozen, resumed, restored."""
    return (
        ("ticket", "confirm", ref, "--at", "2026-11-18T14:25:00+01:00"),
        ("ticket", "freeze", ref, "--start", "2026-11-18T15:00:00+01:00", "--reason", "site_access_pending"),
        ("ticket", "resume", ref, "--at", "2026-11-18T15:45:00+01:00"),
        ("ticket", "restore", ref, "--at", "2026-11-18T16:50:00+01:00"),
    )


def test_cli_ticket_life_and_refusal_exit_codes(tmp_path: Path) -> None:
    scope = ["--client", "acme", "--site", "lyon", "--service", "acme-lyon-fibre"]
    ok = vigie("ticket", "open", "T-7", "--at", "2026-11-18T14:10:00+01:00", "--channel", "phone", *scope, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "confirm it in writing within 30 minutes" in ok.stdout
    bad = vigie(
        "ticket", "freeze", "T-7", "--start", "2026-11-18T13:00:00+01:00", "--reason", "access_refused", cwd=tmp_path
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("refused: ticket T-7") and "before the ticket was opened" in bad.stderr
    for args in ticket_life("T-7"):
        result = vigie(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    shown = json.loads(vigie("ticket", "show", "T-7", cwd=tmp_path).stdout)
    assert shown["freezes"] == [
        {"start": "2026-11-18T15:00:00+01:00", "end": "2026-11-18T15:45:00+01:00", "reason": "site_access_pending"}
    ]
    (tmp_path / "ev.txt").write_text("photo of the flooded street cabinet")
    added = vigie(
        "exclusion", "add", "--cause", "force_majeure", "--start", "2026-11-20T08:00:00+01:00",
        "--end", "2026-11-20T12:00:00+01:00", "--client", "acme", "--evidence", "ev.txt", cwd=tmp_path,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    key = added.stdout.split()[3]
    assert vigie("exclusion", "dispute", key, "--note", "not FM", cwd=tmp_path).returncode == 0
    listed = [json.loads(line) for line in vigie("exclusion", "list", cwd=tmp_path).stdout.splitlines()]
    assert listed[0]["status"] == "disputed" and listed[0]["scope"] == "client"
    assert vigie("ledger", "verify", cwd=tmp_path).stdout.strip() == "ledger intact"


def test_cli_a_correction_keeps_the_subject_of_the_record_it_supersedes(tmp_path: Path) -> None:
    window = ["--start", "2026-11-20T08:00:00+01:00", "--end", "2026-11-20T10:00:00+01:00", "--client", "acme"]
    first = vigie("maintenance", "add", "--received-at", "2026-11-13T09:00:00+01:00", *window, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    record_id, subject = first.stdout.split()[1].lstrip("#").rstrip(":"), first.stdout.split()[3]
    fixed = vigie(
        "maintenance", "add", "--received-at", "2026-11-13T10:00:00+01:00", *window, "--supersedes", record_id,
        cwd=tmp_path,
    )  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.split()[3] == subject  # same maintenance, corrected
    missing = vigie("maintenance", "add", "--received-at", "2026-11-13T10:00:00+01:00", *window, "--supersedes", "999",
                    cwd=tmp_path)  # fmt: skip
    assert missing.returncode == 2 and "supersedes #999: no such record" in missing.stderr


OURS = "VIGIE-acme-lyon-fibre-20261118T1302Z"  # as agent/notify_schedule.py names the ticket it opens
SCOPE_ARGS = ["--client", "acme", "--site", "lyon", "--service", "acme-lyon-fibre"]


def open_ours(cwd: Path, ref: str = OURS, *extra: str) -> subprocess.CompletedProcess[str]:
    """Our ticket, opened by e-mail as the incident notification does."""
    return vigie("ticket", "open", ref, "--at", "2026-11-18T14:10:00+01:00", "--channel", "email", *SCOPE_ARGS, *extra,
                 cwd=cwd)  # fmt: skip


def history(cwd: Path, subject: str | None = None) -> list[dict[str, Any]]:
    out = vigie("ledger", "history", *([subject] if subject else []), cwd=cwd)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_cli_the_providers_reference_attaches_to_our_ticket_and_every_command_resolves_it(tmp_path: Path) -> None:
    assert open_ours(tmp_path).returncode == 0
    attached = vigie("ticket", "reference", OURS, "TT-48213", "--author", "noc", cwd=tmp_path)
    assert attached.returncode == 0, attached.stderr
    assert attached.stdout.strip() == f"record #2: ticket.reference {OURS}: provider's reference TT-48213"
    for args in ticket_life("TT-48213"):
        result = vigie(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        said, recorded = result.stdout.splitlines()
        assert said == f"TT-48213: the provider's reference of ticket {OURS}"
        assert recorded.endswith(f"{args[1]} {OURS}")
    shown = vigie("ticket", "show", "TT-48213", cwd=tmp_path)
    assert shown.stderr.strip() == f"TT-48213: the provider's reference of ticket {OURS}"
    ticket = json.loads(shown.stdout)
    assert (ticket["ref"], ticket["provider_ref"], ticket["records"]) == (OURS, "TT-48213", [1, 2, 3, 4, 5, 6])
    # the opening, and with it the GTR clock (VGA 5.5), is still the e-mail's
    assert (ticket["opened_at"], ticket["channel"]) == ("2026-11-18T14:10:00+01:00", "email")
    assert ticket["restored_at"] == "2026-11-18T16:50:00+01:00" and len(ticket["freezes"]) == 1
    (reference,) = [r for r in history(tmp_path, "TT-48213") if r["kind"] == "ticket.reference"]
    assert (reference["subject"], reference["data"], reference["author"]) == (OURS, {"provider_ref": "TT-48213"}, "noc")
    with Ledger(tmp_path / "l.sqlite", FakeClock(datetime(2026, 11, 20, tzinfo=UTC))) as book:
        assert len(fold_all(book.records()).tickets) == 1  # one incident, one ticket


def test_cli_refusals_of_a_providers_reference_name_the_value_and_write_nothing(tmp_path: Path) -> None:
    assert open_ours(tmp_path).returncode == 0
    other = "VIGIE-acme-lyon-fibre-20261120T0900Z"
    assert open_ours(tmp_path, other).returncode == 0
    assert vigie("ticket", "reference", other, "TT-1", cwd=tmp_path).returncode == 0  # record #3
    assert vigie("ticket", "open", "TT-9", "--at", "2026-11-18T14:20:00+01:00", "--channel", "phone", *SCOPE_ARGS,
                 cwd=tmp_path).returncode == 0  # fmt: skip
    before = len(history(tmp_path))

    def refused(*args: str) -> str:
        result = vigie(*args, cwd=tmp_path)
        assert result.returncode == 2, result.stdout
        assert len(history(tmp_path)) == before  # nothing written
        return result.stderr

    assert "no ticket VIGIE-nope has been opened" in refused("ticket", "reference", "VIGIE-nope", "TT-2")
    assert "provider_ref: '   ' is empty" in refused("ticket", "reference", OURS, "   ")
    taken = refused("ticket", "reference", OURS, "TT-1")
    assert f"'TT-1' is already the provider's reference of ticket {other} (record #3)" in taken
    own = refused("ticket", "reference", OURS, "TT-9")
    assert "'TT-9' is already a ticket of its own (records #4)" in own and "vigie ledger retract" in own
    second = refused("ticket", "reference", other, "TT-2")
    assert f"ticket {other} already has the provider's reference 'TT-1' (record #3)" in second
    assert "a second reference is a correction" in second and "--supersedes 3" in second
    # `open` checks the same: its reference is refused with the opening (one transaction)
    assert f"'TT-1' is already the provider's reference of ticket {other}" in refused(
        "ticket", "open", "T-NEW", "--at", "2026-11-18T14:20:00+01:00", "--channel", "phone", *SCOPE_ARGS,
        "--provider-ref", "TT-1",
    )  # fmt: skip
    assert f"TT-1 is the provider's reference of ticket {other} (record #3)" in refused(
        "ticket", "open", "TT-1", "--at", "2026-11-18T14:20:00+01:00", "--channel", "phone", *SCOPE_ARGS
    )
    # the correction goes through --supersedes
    fixed = vigie("ticket", "reference", "TT-1", "TT-2", "--supersedes", "3", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(vigie("ticket", "show", "TT-2", cwd=tmp_path).stdout)["provider_ref"] == "TT-2"
    assert vigie("ticket", "show", "TT-1", cwd=tmp_path).returncode == 2  # the old reference names nothing now


def test_cli_open_with_the_providers_reference(tmp_path: Path) -> None:
    result = open_ours(tmp_path, OURS, "--provider-ref", "TT-48213")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"record #1: ticket.open {OURS}",
        f"record #2: ticket.reference {OURS}: provider's reference TT-48213",
    ]
    assert json.loads(vigie("ticket", "show", "TT-48213", cwd=tmp_path).stdout)["ref"] == OURS


def test_the_import_attaches_providers_references_from_yaml_and_csv(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(
        IMPORT_YAML.split("exclusions:")[0].replace("ref: T-2211", f"ref: {OURS}\n    provider_ref: TT-48213")
    )
    assert vigie("ledger", "import", "t.yaml", cwd=tmp_path).returncode == 0
    (tmp_path / "t.csv").write_text(
        "kind,subject,client,site,service,opened_at,channel,provider_ref\n"
        "ticket.open,VIGIE-b,acme,lyon,acme-lyon-backup,2026-11-19T09:00:00+01:00,email,\n"
        "ticket.reference,VIGIE-b,,,,,,TT-5\n"
    )
    imported = vigie("ledger", "import", "t.csv", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    shown = {name: json.loads(vigie("ticket", "show", name, cwd=tmp_path).stdout) for name in ("TT-48213", "TT-5")}
    assert (shown["TT-48213"]["ref"], shown["TT-48213"]["restored_at"]) == (OURS, "2026-11-18T16:50:00+01:00")
    assert (shown["TT-5"]["ref"], shown["TT-5"]["service"]) == ("VIGIE-b", "acme-lyon-backup")
    # the import checks what the command checks: a reference taken by another ticket aborts it all
    (tmp_path / "dup.csv").write_text(
        "kind,subject,client,site,service,opened_at,channel,provider_ref\n"
        "ticket.open,VIGIE-c,acme,lyon,acme-lyon-fibre,2026-11-20T09:00:00+01:00,email,\n"
        "ticket.reference,VIGIE-c,,,,,,TT-5\n"
    )
    dup = vigie("ledger", "import", "dup.csv", cwd=tmp_path)
    assert dup.returncode == 2 and "'TT-5' is already the provider's reference of ticket VIGIE-b" in dup.stderr
    assert vigie("ticket", "show", "VIGIE-c", cwd=tmp_path).returncode == 2
