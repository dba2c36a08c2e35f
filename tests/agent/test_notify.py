"""Incident notifications and written confirmations sent to a real SMTP server (aiosmtpd on 127.0.0.1,
started and stopped by the test), claim reminders, and claim tracking."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from agent.clock import FakeClock
from agent.ledger import Kind, Ledger, LedgerError, Record
from agent.ledger.records import ClaimStatus, effective, fold_claim
from agent.notify import (
    IncidentNotice,
    ReminderLevel,
    SmtpConfig,
    claim_reminder,
    confirmation_deadline,
    confirmation_late,
    incident_notification,
    outages_to_notify,
    send,
    written_confirmation,
)
from sla.model import Outage

VIGIE = [sys.executable, "-c", "from agent.cli import main; main()"]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default))
        )  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text)


NOTICE = IncidentNotice(
    declarant="Jeanne Martin (DSI)",
    service="VGA ligne analogique boulangerie-tours-ligne-1",
    description="Plus de tonalité sur la ligne depuis 14:40",
    location="3 place Plumereau, 37000 Tours",
    consequences="Aucun appel entrant ni sortant; terminal de paiement hors service",
    contact="Paul Durand, 06 12 34 56 78",
    client="Boulangerie Tours",
    site="Tours centre",
    outage_start=paris("2026-10-16T14:40:00+02:00"),
)


def body(message: EmailMessage) -> str:
    return str(message.get_content())


def test_an_outage_past_the_threshold_is_notified_with_the_six_items_of_vga_5_7(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    outage = Outage(paris("2026-10-16T14:40:00+02:00"), paris("2026-10-16T18:00:00+02:00"))
    short = Outage(paris("2026-10-16T15:00:00+02:00"), paris("2026-10-16T15:04:00+02:00"))
    now = paris("2026-10-16T14:52:00+02:00")
    due = outages_to_notify([outage, short], now, after=timedelta(minutes=10))
    assert due == [outage]
    smtp = SmtpConfig("127.0.0.1", port, sender="noc@boulangerie.example", cc=("jeanne@boulangerie.example",))
    send(incident_notification(NOTICE, smtp, now), smtp)
    ((sender, recipients, message),) = inbox.messages
    assert sender == "noc@boulangerie.example"
    assert recipients == ["telecom@technicophone.fr", "jeanne@boulangerie.example"]
    assert message["Subject"] == "Déclaration d'incident — Boulangerie Tours — Tours centre — " + NOTICE.service
    assert message["Disposition-Notification-To"] == "noc@boulangerie.example"
    text = body(message)
    for line in (
        "Interlocuteur déclarant : Jeanne Martin (DSI)",
        "Service impacté : VGA ligne analogique",
        "Description de l'incident : Plus de tonalité",
        "Localisation : 3 place Plumereau, 37000 Tours (site Tours centre)",
        "Conséquences : Aucun appel entrant",
        "Personne à contacter : Paul Durand",
        "Début constaté par nos mesures : 16/10/2026 14:40 (CEST)",
        "Notification envoyée le 16/10/2026 14:52 (CEST)",
    ):
        assert line in text


def test_a_phone_notification_gets_its_written_confirmation_within_30_minutes(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    called = paris("2026-10-27T09:05:00+01:00")
    assert confirmation_deadline(called) == paris("2026-10-27T09:35:00+01:00")
    now = called + timedelta(minutes=4)
    assert not confirmation_late(called, now)
    assert confirmation_late(called, called + timedelta(minutes=31))
    smtp = SmtpConfig("127.0.0.1", port, sender="noc@boulangerie.example")
    send(written_confirmation("VGA-5538", called, NOTICE, smtp, now), smtp)
    ((_, _, message),) = inbox.messages
    assert "ticket VGA-5538" in message["Subject"]
    text = body(message)
    assert "déclaration d'incident faite par téléphone le 27/10/2026 09:05 (CET)" in text
    assert "Confirmation envoyée le 27/10/2026 09:09 (CET)" in text


def test_claim_reminders_follow_the_alert_date_and_the_deadline() -> None:
    deadline, alert = date(2026, 12, 14), date(2026, 11, 30)

    def level(today: date) -> ReminderLevel:
        return claim_reminder("acme", "2026-10", deadline, alert, today).level

    assert level(date(2026, 11, 2)) is ReminderLevel.UPCOMING
    assert level(date(2026, 11, 23)) is ReminderLevel.SEND_NOW
    assert level(date(2026, 12, 1)) is ReminderLevel.URGENT
    assert level(date(2026, 12, 14)) is ReminderLevel.URGENT
    void = claim_reminder("acme", "2026-10", deadline, alert, date(2026, 12, 15))
    assert void.level is ReminderLevel.VOID and "void" in void.message


def test_claim_tracking_drafted_sent_acknowledged_credited_with_dates(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite", FakeClock(datetime(2026, 11, 5, tzinfo=UTC))) as book:

        def step(kind: Kind, **data: str) -> None:
            book.append(Record(kind, "acme/2026-10", data, client="acme"))

        with pytest.raises(LedgerError, match="cannot record sent: the claim is not drafted yet"):
            step(Kind.CLAIM_SENT, date="2026-11-05")
        step(Kind.CLAIM_DRAFTED, date="2026-11-05", amount_eur="13.50", digest="ab" * 32)
        step(Kind.CLAIM_SENT, date="2026-11-06")
        with pytest.raises(LedgerError, match="is before the previous step"):
            step(Kind.CLAIM_ACKNOWLEDGED, date="2026-11-01")
        step(Kind.CLAIM_ACKNOWLEDGED, date="2026-11-09")
        with pytest.raises(LedgerError, match="invoice_reference"):
            step(Kind.CLAIM_CREDITED, date="2026-12-01")
        step(Kind.CLAIM_CREDITED, date="2026-12-01", invoice_reference="F-2026-1201")
        state = fold_claim(effective(book.subject("acme/2026-10")))
    assert state is not None and state.status is ClaimStatus.CREDITED
    assert {k: v.isoformat() for k, v in state.dates.items()} == {
        "drafted": "2026-11-05",
        "sent": "2026-11-06",
        "acknowledged": "2026-11-09",
        "credited": "2026-12-01",
    }
    assert state.invoice_reference == "F-2026-1201" and state.amount_eur == "13.50"
    done = claim_reminder("acme", "2026-10", date(2026, 12, 14), date(2026, 11, 30), date(2026, 12, 20), state)
    assert done.level is ReminderLevel.DONE  # sent in time: no void warning after the deadline


def test_cli_claims_track(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [*VIGIE, "claims", "track", *args, "--ledger", str(tmp_path / "l.sqlite")]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    assert run("acme", "2026-10", "drafted", "--date", "2026-11-05", "--amount", "13.50").returncode == 0
    sent = run("acme", "2026-10", "sent", "--date", "2026-11-06")
    assert sent.returncode == 0 and "sent (drafted 2026-11-05, sent 2026-11-06)" in sent.stdout
    bad = run("acme", "2026-10", "credited", "--date", "2026-12-01")
    assert bad.returncode == 2 and "invoice_reference" in bad.stderr
