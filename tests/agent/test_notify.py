"""Incident notifications and written confirmations sent to a real SMTP server (aiosmtpd on 127.0.0.1,
started and stopped by the test), claim reminders, and claim tracking."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from pydantic import SecretStr

from agent.central import Central
from agent.clock import FakeClock
from agent.config import load_inventory
from agent.ledger import Kind, Ledger, LedgerError, Record, fold_all
from agent.ledger.records import ClaimStatus, effective, fold_claim
from agent.metrics import AgentMetrics
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
from agent.notify_schedule import Notifier
from agent.store import schema
from agent.store.sqlite import SqliteStore
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


# --- the schedule: incident notifications, confirmations and reminders, each once (agent/notify_schedule.py) ----

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday; October's claim alert date is 30 November


def inventory_yaml(port: int, *, send: bool = True, extra: str = "") -> str:
    return f"""
version: 1
agent:
  id: central-1
  store: {{kind: embedded, path: vigie.db}}
  central: {{ledger: ledger.sqlite}}
clients:
  - id: acme
    name: ACME Industries
    sites:
      - id: acme-lyon
        name: Lyon HQ
        services:
          - {{id: acme-lyon-internet, contract: internet, monthly_fee_eur: 450.00,
              devices: [{{name: cpe, address: 192.0.2.1, probes: [{{kind: icmp}}]}}]}}
          - {{id: acme-lyon-sdsl, contract: internet, monthly_fee_eur: 120.00,
              devices: [{{name: cpe2, address: 192.0.2.2, probes: [{{kind: icmp}}]}}]}}
          - {{id: acme-lyon-vga, contract: vga, monthly_fee_eur: 120.00, access_type: analog,
              gtr_option: 6h_business, devices: [{{name: voice, address: 192.0.2.10, probes: [{{kind: icmp}}]}}]}}
  - id: globex
    sites:
      - id: globex-paris
        services:
          - {{id: globex-paris-internet, contract: internet, monthly_fee_eur: 300.00,
              devices: [{{name: cpe, address: 192.0.2.30, probes: [{{kind: icmp}}]}}]}}
notifications:
  from: noc@acme.example
  send: {"true" if send else "false"}
  smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout_s: 5}}
  incident_after_min: 15
  clients:
    acme:
      internal: [jeanne@acme.example]
      declarant: Jeanne Martin (DSI)
      contact: Paul Durand, 06 12 34 56 78
      locations: {{acme-lyon: "12 rue des Lilas, 69003 Lyon"}}
{extra}"""


def down(store: SqliteStore, service: str, start: datetime, end: datetime | None = None) -> None:
    ids = {"client": "acme", "site": "acme-lyon", "service": service, "agent": "edge-lyon"}
    points = [schema.state(ids=ids, state="up", source="edge", time_ms=schema.ms(datetime(2026, 9, 1, tzinfo=UTC)))]
    points.append(schema.state(ids=ids, state="down", source="edge", time_ms=schema.ms(start), cause="icmp_loss"))
    if end is not None:
        points.append(schema.state(ids=ids, state="up", source="edge", time_ms=schema.ms(end)))
    store.write(points)


@pytest.fixture
def site_dir(tmp_path: Path, smtp_server: tuple[Inbox, int]) -> Path:
    _, port = smtp_server
    (tmp_path / "inventory.yaml").write_text(inventory_yaml(port), encoding="utf-8")
    store = SqliteStore(tmp_path / "vigie.db")
    down(store, "acme-lyon-internet", NOW - timedelta(minutes=20))  # due
    down(store, "acme-lyon-sdsl", NOW - timedelta(minutes=5))  # not yet
    down(store, "acme-lyon-vga", NOW - timedelta(minutes=40))  # already notified by phone, below
    store.close()
    with Ledger(tmp_path / "ledger.sqlite", FakeClock(NOW)) as book:
        book.append(
            Record(
                Kind.TICKET_OPEN,
                "VGA-9001",
                {"opened_at": (NOW - timedelta(minutes=4)).isoformat(), "channel": "phone"},
                client="acme",
                site="acme-lyon",
                service="acme-lyon-vga",
            )
        )
    return tmp_path


def notify_run(directory: Path, now: datetime, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [*VIGIE, "notify", "run", str(directory / "inventory.yaml"), "--now", now.isoformat(), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_due_notifications_are_sent_once_and_recorded_across_restarts(
    site_dir: Path, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    first = notify_run(site_dir, NOW)
    assert first.returncode == 0, first.stderr
    assert "incident:acme-lyon-internet:" in first.stdout and "confirm:VGA-9001: sent" in first.stdout
    subjects = sorted(str(m["Subject"]) for _, _, m in inbox.messages)
    ref = "VIGIE-acme-lyon-internet-20261123T0840Z"
    assert subjects == [
        "Confirmation écrite de la déclaration téléphonique — ticket VGA-9001 — Lyon HQ",
        "Déclaration d'incident — ACME Industries — Lyon HQ — III. Connectivité Internet — acme-lyon-internet — "
        f"réf. {ref}",
    ]
    incident = next(m for _, _, m in inbox.messages if "réf." in str(m["Subject"]))
    sender, recipients, _ = inbox.messages[0]
    assert sender == "noc@acme.example"
    assert recipients == ["telecom@technicophone.fr", "jeanne@acme.example"]
    text = body(incident)
    assert "Localisation : 12 rue des Lilas, 69003 Lyon (site Lyon HQ)" in text
    assert "Début constaté par nos mesures : 23/11/2026 09:40 (CET)" in text
    # the ledger: our ticket, opened by e-mail when sent (the GTR clock starts), and the phone ticket confirmed
    with Ledger(site_dir / "ledger.sqlite", FakeClock(NOW)) as book:
        tickets = {t.ref: t for t in fold_all(book.records()).tickets}
    assert tickets[ref].channel.value == "email" and tickets[ref].opened_at == NOW
    assert tickets[ref].service == "acme-lyon-internet" and tickets[ref].site == "acme-lyon"
    assert tickets["VGA-9001"].confirmed_in_writing_at == NOW
    assert not confirmation_late(tickets["VGA-9001"].opened_at, NOW)
    assert len(list((site_dir / "vigie-drafts").glob("*.eml"))) == 2

    # a restart, later: the same outages, nothing sent twice; the sdsl outage is now due
    second = notify_run(site_dir, NOW + timedelta(minutes=11))
    assert second.returncode == 0, second.stderr
    assert len(inbox.messages) == 3
    assert "incident:acme-lyon-sdsl:" in second.stdout and "1 message(s) handled" in second.stdout
    third = notify_run(site_dir, NOW + timedelta(minutes=20))
    assert third.returncode == 0 and "0 message(s) handled" in third.stdout
    assert len(inbox.messages) == 3
    assert len({str(m["Message-ID"]) for _, _, m in inbox.messages}) == 3


def test_a_message_accepted_before_a_crash_is_not_sent_again_once_recorded(
    site_dir: Path, smtp_server: tuple[Inbox, int]
) -> None:
    """The key is `sending` (the process died after the SMTP server accepted it) and the ledger already holds
    its ticket (or the confirmation): the next pass only marks it sent."""
    inbox, _ = smtp_server
    inventory = load_inventory(site_dir / "inventory.yaml").inventory
    assert inventory.notifications is not None
    store = SqliteStore(site_dir / "vigie.db")
    try:
        with Notifier(inventory, inventory.notifications, store, FakeClock(NOW), site_dir / "ledger.sqlite") as job:
            sent = [o for o in job.run() if o.status == "sent"]
            assert len(sent) == 2 and len(inbox.messages) == 2
            for o in sent:
                job.outbox.mark(o.key, "sending")  # as if the process had died before marking them sent
        with Notifier(inventory, inventory.notifications, store, FakeClock(NOW), site_dir / "ledger.sqlite") as job:
            assert job.run() == []
            assert {job.outbox.status(o.key) for o in sent} == {"sent"}
        assert len(inbox.messages) == 2
    finally:
        store.close()


def test_an_smtp_failure_is_retried_and_drafts_only_mode_sends_nothing(
    tmp_path: Path, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    closed = free_port()
    (tmp_path / "inventory.yaml").write_text(inventory_yaml(closed), encoding="utf-8")
    store = SqliteStore(tmp_path / "vigie.db")
    down(store, "acme-lyon-internet", NOW - timedelta(minutes=30))
    store.close()
    failed = notify_run(tmp_path, NOW)
    assert failed.returncode == 1 and "incident:acme-lyon-internet:" in failed.stdout and "failed" in failed.stdout
    # not sent: no ticket, the GTR clock has not started; and a pass with nothing to record creates no ledger
    assert not (tmp_path / "ledger.sqlite").exists()
    (tmp_path / "inventory.yaml").write_text(inventory_yaml(port), encoding="utf-8")
    retried = notify_run(tmp_path, NOW + timedelta(minutes=5))
    assert retried.returncode == 0 and ": sent" in retried.stdout
    assert len(inbox.messages) == 1
    with Ledger(tmp_path / "ledger.sqlite", FakeClock(NOW)) as book:
        (ticket,) = fold_all(book.records()).tickets
    assert ticket.opened_at == NOW + timedelta(minutes=5)

    drafts_only = tmp_path / "drafts-only"
    drafts_only.mkdir()
    (drafts_only / "inventory.yaml").write_text(inventory_yaml(port, send=False), encoding="utf-8")
    store = SqliteStore(drafts_only / "vigie.db")
    down(store, "acme-lyon-internet", NOW - timedelta(minutes=30))
    store.close()
    for _ in range(2):
        run = notify_run(drafts_only, NOW)
        assert run.returncode == 0, run.stderr
    (draft,) = (drafts_only / "vigie-drafts").glob("*.eml")
    message = message_from_bytes(draft.read_bytes(), policy=policy.default)
    assert "réf. VIGIE-acme-lyon-internet-" in str(message["Subject"])
    assert len(inbox.messages) == 1  # nothing more sent
    assert not (drafts_only / "ledger.sqlite").exists()  # a draft is not a notification: nothing recorded


def test_claim_reminders_before_the_alert_date_once_each_then_void_past_the_deadline(
    tmp_path: Path, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    (tmp_path / "inventory.yaml").write_text(inventory_yaml(port), encoding="utf-8")
    store = SqliteStore(tmp_path / "vigie.db")
    # October: a 10-hour outage on the internet access, notified by e-mail: 13.50 EUR to claim
    down(store, "acme-lyon-internet", datetime(2026, 10, 14, 8, tzinfo=UTC), datetime(2026, 10, 14, 18, tzinfo=UTC))
    store.close()
    with Ledger(tmp_path / "ledger.sqlite", FakeClock(NOW)) as book:
        book.append(
            Record(
                Kind.TICKET_OPEN,
                "INT-1",
                {"opened_at": "2026-10-14T10:05:00+02:00", "channel": "email"},
                client="acme",
                site="acme-lyon",
                service="acme-lyon-internet",
            )
        )

    def reminders(day: str) -> list[EmailMessage]:
        run = notify_run(tmp_path, datetime.fromisoformat(f"{day}T08:00:00+01:00"))
        assert run.returncode == 0, run.stderr
        return [m for _, _, m in inbox.messages if str(m["Subject"]).startswith("Réclamation 2026-10")]

    assert reminders("2026-11-22") == []  # eight days before the alert date
    (first,) = reminders("2026-11-23")  # seven days before
    assert inbox.messages[-1][1] == ["jeanne@acme.example"]
    assert str(first["Subject"]) == "Réclamation 2026-10 — acme : à envoyer avant le 2026-11-30"
    assert "Montant calculé : " in body(first) and "délai contractuel : 2026-12-14" in body(first)
    assert len(reminders("2026-11-24")) == 1  # not again
    assert len(reminders("2026-11-30")) == 2  # on the alert date
    assert len(reminders("2026-12-14")) == 2  # nothing more before the deadline
    void = reminders("2026-12-15")[-1]  # past the deadline, still not sent: the month is void
    assert "délai dépassé, réclamation nulle" in str(void["Subject"])
    assert len(reminders("2026-12-16")) == 3

    # a claim recorded as sent gets no reminder
    other = tmp_path / "sent"
    other.mkdir()
    (other / "inventory.yaml").write_text(inventory_yaml(port), encoding="utf-8")
    (other / "vigie.db").write_bytes((tmp_path / "vigie.db").read_bytes())
    with Ledger(other / "ledger.sqlite", FakeClock(NOW)) as book:
        book.append(Record(Kind.CLAIM_DRAFTED, "acme/2026-10", {"date": "2026-11-20"}, client="acme"))
        book.append(Record(Kind.CLAIM_SENT, "acme/2026-10", {"date": "2026-11-21"}, client="acme"))
    before = len(inbox.messages)
    run = notify_run(other, datetime.fromisoformat("2026-11-30T08:00:00+01:00"))
    assert run.returncode == 0 and len(inbox.messages) == before


def test_the_central_recomputation_notifies_and_counts_the_outage(
    site_dir: Path, smtp_server: tuple[Inbox, int]
) -> None:
    """The hook in Central.statements: once notified, the running outage counts (count_unnotified is false by
    default: before the notification it did not)."""
    inbox, _ = smtp_server
    loaded = load_inventory(site_dir / "inventory.yaml")
    store = SqliteStore(site_dir / "vigie.db")
    clock = FakeClock(NOW)

    def counted_minutes(records: list[Any]) -> float:
        (line,) = [
            r for r in records if r.measurement == "vigie_statement" and r.tag("service") == "acme-lyon-internet"
        ]
        return float(dict(line.fields)["counted_min"])

    try:
        central = Central(loaded.inventory, store, clock, AgentMetrics(), site_dir / "ledger.sqlite")
        assert counted_minutes(central.statements()) == 0.0  # the ticket opens now: [start, now) is before it
        assert len(inbox.messages) == 2
        clock.advance(300)
        assert counted_minutes(central.statements()) == 25.0
        assert len(inbox.messages) == 2
    finally:
        store.close()


def test_config_check_reports_notification_errors_with_their_line(tmp_path: Path) -> None:
    text = (
        inventory_yaml(25)
        .replace("from: noc@acme.example", "from: noc")
        .replace("locations: {acme-lyon:", "locations: {acme-paris:")
        .replace("send: true", "send: true\n  frequency: 3")
    )

    def line(needle: str) -> int:
        return next(i for i, row in enumerate(text.splitlines(), 1) if needle in row)

    def check() -> str:
        (tmp_path / "inventory.yaml").write_text(text, encoding="utf-8")
        run = subprocess.run(
            [*VIGIE, "config", "check", str(tmp_path / "inventory.yaml")], capture_output=True, text=True
        )
        assert run.returncode == 1
        return run.stderr

    errors = check()
    assert f":{line('from: noc')}: notifications.from: String should match pattern" in errors
    assert f":{line('frequency: 3')}: notifications.frequency: Extra inputs are not permitted" in errors
    text = text.replace("from: noc\n", "from: noc@acme.example\n").replace("  frequency: 3\n", "")
    where = line("locations: {acme-paris:")
    assert f":{where}: notifications.clients.acme.locations.acme-paris: 'acme-paris' is not a site of client" in check()


# --- TLS: STARTTLS with login, implicit TLS, and an untrusted certificate refused ---------------------------


OPENSSL_REQ = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
OPENSSL_REQ += ["-addext", "subjectAltName=IP:127.0.0.1"]


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl), the test's own CA."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [*OPENSSL_REQ, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


class Logins:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        self.seen.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password == b"s3cret")


def test_starttls_with_login_and_implicit_tls_verify_the_server(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, logins = Inbox(), Logins()
    port = free_port()
    starttls = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=logins,
        auth_require_tls=True,
    )
    starttls.start()
    try:
        smtp = SmtpConfig(
            "127.0.0.1",
            port,
            sender="noc@acme.example",
            starttls=True,
            username="vigie",
            password=SecretStr("s3cret"),
            ca_file=cert,
        )
        send(incident_notification(NOTICE, smtp, NOW), smtp)
        assert logins.seen == [("vigie", "s3cret")] and len(inbox.messages) == 1
        with pytest.raises(ssl.SSLCertVerificationError):  # the system's CAs do not know this server
            send(incident_notification(NOTICE, smtp, NOW), replace(smtp, ca_file=None))
        assert len(inbox.messages) == 1
    finally:
        starttls.stop()
    port = free_port()
    implicit = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=context)
    implicit.start()
    try:
        smtp = SmtpConfig("127.0.0.1", port, sender="noc@acme.example", ssl=True, ca_file=cert)
        send(incident_notification(NOTICE, smtp, NOW), smtp)
        assert len(inbox.messages) == 2
    finally:
        implicit.stop()
