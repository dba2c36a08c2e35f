"""Scheduled notifications: incident notifications, written confirmations, claim reminders — each once.

Run at each recomputation of the central role (`agent.central.Central.statements`) and by
`vigie notify run CONFIG` (one pass, e.g. from cron, or to catch up). Nothing happens without a
`notifications:` section; only the clients listed under `notifications.clients` are handled.

- Incident notification (VGA 5.7, CGV 16; contract-terms B3: a provider-detected outage becomes countable
  once notified): a service whose edge state has been `down` for `incident_after_min` and is still down,
  with no ledger ticket whose life overlaps the outage, gets the Notification de Défaillance (the six items
  of VGA 5.7) addressed to the client's `to` (the provider) with its `internal` people in copy. Once sent,
  it is recorded in the ledger as a ticket opened at the sending time with channel `email` (so the GTR
  clock starts, VGA 5.5), under our reference `VIGIE-<service>-<outage start, UTC>`, quoted in the subject.
  The provider's own reference, when it answers, is attached to that ticket (`vigie ticket reference`), not
  opened as a second ticket (which would earn a second GTR penalty for the same incident).
  A draft (send: false) is not a notification: no ticket is recorded, the operator sends it and records
  the provider's ticket (`vigie ticket open`).
- Written confirmation (VGA 5.7): a ticket notified by phone (`vigie ticket open --channel phone`) in the
  last `CONFIRM_LOOKBACK` and not confirmed in writing gets its confirmation e-mail at the next pass (the
  passes run every `agent.central.recompute_interval_s`: keep it well under 30 minutes); once sent, the
  ledger records `ticket.confirm` at the sending time.
- Claim reminders: for each of the last `reminders.months_back` closed months, a client whose claim is not
  sent (claim tracking in the ledger) gets a reminder (to its `internal` people) when the claim alert date
  minus one of `reminders.days_before` is reached — at most one per threshold, and after a pause only the
  latest threshold reached. The claim is built from the store as `vigie claims build --inventory` builds
  it: nothing to claim → no reminder. Past the claim deadline the month is void (the claim's `void`
  status): one last notice says so.

Never twice: every message has a key (`incident:<service>:<start ms>`, `confirm:<ticket>`,
`reminder:<client>/<month>:<days>`, `void:<client>/<month>`) in the state file (`notifications.state`), with
its status: `drafted`, `sending`, `sent`, `failed` (retried at the next pass), `skipped`. A message is
written to `notifications.drafts` (.eml) before it is sent. If the process dies between the SMTP
server's acceptance and the ledger record, the key stays `sending`: the next pass sends it again — with
the same Message-ID, so it is recognisably the same message — unless the ledger already shows its record
(the ticket or its confirmation), in which case it is only marked `sent`. That window is the only way a
message can go twice.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from agent.claims.build import build_claim
from agent.clock import Clock
from agent.config import Client, ClientNotifications, Inventory, NotificationsConfig, Site, SmtpSecurity
from agent.ledger import Kind, Ledger, Record, fold_all
from agent.ledger.records import ClaimState, TicketState, effective, fold_claim
from agent.notify import (
    IncidentNotice,
    ReminderLevel,
    SmtpConfig,
    claim_reminder,
    incident_notification,
    outages_to_notify,
    reminder_message,
    send,
    written_confirmation,
)
from agent.store import schema
from sla.availability import claim_alert_date
from sla.calendars import PARIS, Month, from_epoch
from sla.model import Channel, Outage
from sla.profiles import profile_for

if TYPE_CHECKING:
    from agent.central import StoreReader

log = logging.getLogger("vigie.notify")

CONFIRM_LOOKBACK = timedelta(days=7)  # older unconfirmed phone tickets are left to the operator
AUTHOR = "vigie"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    key        TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    draft      TEXT,
    detail     TEXT
);
"""
DONE = ("drafted", "sent", "skipped")


@dataclass(frozen=True)
class Outcome:
    key: str
    status: str  # drafted | sent | failed | skipped
    detail: str = ""


class Outbox:
    """What was drafted and sent, by message key (a SQLite file; survives restarts)."""

    def __init__(self, path: Path, clock: Clock) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def status(self, key: str) -> str | None:
        row = self.db.execute("SELECT status FROM messages WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def mark(self, key: str, status: str, draft: Path | None = None, detail: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO messages (key, status, updated_at, draft, detail) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, "
            "draft = coalesce(excluded.draft, draft), detail = excluded.detail",
            (key, status, self.clock.now().isoformat(), None if draft is None else str(draft), detail),
        )


def run(inventory: Inventory, reader: StoreReader, clock: Clock, ledger_path: Path) -> list[Outcome]:
    """One pass (the central role's hook): never raises, logs what went wrong."""
    if inventory.notifications is None or not inventory.notifications.clients:
        return []
    try:
        with Notifier(inventory, inventory.notifications, reader, clock, ledger_path) as job:
            return job.run()
    except Exception:  # a notification problem must not stop the statements
        log.exception("notifications: the pass failed; retried at the next recomputation")
        return []


class Notifier:
    def __init__(
        self, inventory: Inventory, config: NotificationsConfig, reader: StoreReader, clock: Clock, ledger_path: Path
    ) -> None:
        self.inventory = inventory
        self.config = config
        self.reader = reader
        self.clock = clock
        self.base = ledger_path.parent
        self.drafts = self._path(config.drafts)
        self.outbox = Outbox(self._path(config.state), clock)
        self.ledger_path = ledger_path
        self._book: Ledger | None = None

    def _path(self, path: Path) -> Path:
        """Paths of the section are relative to the ledger's directory (the central role's data directory)."""
        return path if path.is_absolute() else self.base / path

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.outbox.close()
        if self._book is not None:
            self._book.close()

    def _ledger(self) -> Ledger:
        """The ledger, opened at the first record to write or read; created only to write one (a missing
        ledger is an empty one, never created by reading it: docs/agent.md)."""
        if self._book is None:
            self._book = Ledger(self.ledger_path, self.clock)
        return self._book

    def _records(self, client: str, kinds: list[str] | None = None) -> list[Record]:
        return self._ledger().records(client=client, kinds=kinds) if self.ledger_path.exists() else []

    def _subject(self, subject: str) -> list[Record]:
        return self._ledger().subject(subject) if self.ledger_path.exists() else []

    def run(self) -> list[Outcome]:
        now = self.clock.now()
        out = [*self.incidents(now), *self.confirmations(now), *self.reminders(now)]
        for o in out:
            log.info("notification %s: %s %s", o.key, o.status, o.detail)
        return out

    # --- who and where ------------------------------------------------------------------------------

    def _clients(self) -> Iterator[tuple[Client, ClientNotifications]]:
        for client in self.inventory.clients:
            settings = self.config.clients.get(client.id)
            if settings is not None:
                yield client, settings

    def _smtp(self, to: tuple[str, ...], cc: tuple[str, ...] = ()) -> SmtpConfig:
        server = self.config.smtp
        return SmtpConfig(
            host=server.host if server else "",
            port=server.port if server else 0,
            sender=self.config.sender,
            recipients=to,
            cc=cc,
            starttls=server is not None and server.security is SmtpSecurity.STARTTLS,
            ssl=server is not None and server.security is SmtpSecurity.SSL,
            username=server.username if server else None,
            password=SecretStr(server.password.reveal()) if server and server.password else None,
            timeout_s=server.timeout_s if server else 10.0,
            ca_file=self._path(server.ca_file) if server and server.ca_file else None,
        )

    def _notice(
        self, client: Client, site: Site, service_id: str, settings: ClientNotifications, start: datetime
    ) -> IncidentNotice:
        service = next(s for s in site.services if s.id == service_id)
        title = profile_for(service.contract, start.astimezone(PARIS).date()).title
        return IncidentNotice(
            declarant=settings.declarant,
            service=f"{title} — {service.id}",
            description="Absence totale du service constatée par notre supervision (sondes du site et du NOC).",
            location=settings.locations.get(site.id, site.name or site.id),
            consequences=settings.consequences,
            contact=settings.contact,
            client=client.name or client.id,
            site=site.name or site.id,
            outage_start=start,
        )

    def _tickets(self, client: str) -> tuple[TicketState, ...]:
        return fold_all(self._records(client, ["ticket"])).tickets

    def _interrupted(self, key: str) -> bool:
        """Sent, but the process stopped before marking it so: `_deliver` settles it against the ledger."""
        return self.outbox.status(key) == "sending"

    # --- delivery: once per key ----------------------------------------------------------------------

    def _deliver(
        self,
        key: str,
        message: EmailMessage,
        smtp: SmtpConfig,
        record: Callable[[datetime], None] | None = None,
        recorded: Callable[[], bool] = lambda: False,
    ) -> Outcome | None:
        status = self.outbox.status(key)
        if status in DONE:
            return None
        if status == "sending" and recorded():
            self.outbox.mark(key, "sent", detail="recorded in the ledger before a restart")
            return None
        # the same key always gives the same Message-ID: a message sent again after a crash is recognisable
        message.replace_header("Message-ID", f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@vigie.invalid>")
        self.drafts.mkdir(parents=True, exist_ok=True)
        draft = self.drafts / f"{key.replace('/', '_').replace(':', '_')}.eml"
        draft.write_bytes(bytes(message))
        if not self.config.send:
            self.outbox.mark(key, "drafted", draft)
            return Outcome(key, "drafted", str(draft))
        self.outbox.mark(key, "sending", draft)
        try:
            send(message, smtp)
        except (OSError, smtplib.SMTPException) as exc:
            self.outbox.mark(key, "failed", detail=f"{type(exc).__name__}: {exc}")
            log.warning("notification %s: not sent (%s); retried at the next pass", key, exc)
            return Outcome(key, "failed", str(exc))
        if record is not None and not recorded():
            record(self.clock.now())
        self.outbox.mark(key, "sent")
        return Outcome(key, "sent", ", ".join(smtp.recipients))

    # --- incidents -----------------------------------------------------------------------------------

    def incidents(self, now: datetime) -> list[Outcome]:
        out = []
        for client, settings in self._clients():
            tickets = self._tickets(client.id)
            for site in client.sites:
                for service in site.services:
                    outcome = self._incident(client, settings, site, service.id, tickets, now)
                    if outcome is not None:
                        out.append(outcome)
        return out

    def _incident(
        self,
        client: Client,
        settings: ClientNotifications,
        site: Site,
        service: str,
        tickets: tuple[TicketState, ...],
        now: datetime,
    ) -> Outcome | None:
        intervals = self.reader.state_intervals(service, "edge", until_ms=schema.ms(now))
        last = intervals[-1] if intervals else None
        if last is None or last.state != "down" or last.end_ms is not None:
            return None  # only an outage still running is notified
        start = from_epoch(last.start_ms // 1000)
        if not outages_to_notify([Outage(start, now)], now, timedelta(minutes=self.config.incident_after_min)):
            return None
        key = f"incident:{service}:{last.start_ms}"
        notified = any(t.service == service and t.opened_at < now and (t.restored_at or now) > start for t in tickets)
        if notified and not self._interrupted(key):
            return None  # already notified: a ticket of this outage is in the ledger
        ref = f"VIGIE-{service}-{start.astimezone(UTC):%Y%m%dT%H%MZ}"
        smtp = self._smtp(settings.to, settings.internal)
        message = incident_notification(self._notice(client, site, service, settings, start), smtp, now, ref)

        def record(at: datetime) -> None:
            data = {"opened_at": at.isoformat(), "channel": Channel.EMAIL.value, "kind": "repair"}
            opening = Record(Kind.TICKET_OPEN, ref, data, client.id, site.id, service, AUTHOR)
            self._ledger().append(opening)

        return self._deliver(key, message, smtp, record, lambda: bool(self._subject(ref)))

    # --- written confirmations -----------------------------------------------------------------------

    def confirmations(self, now: datetime) -> list[Outcome]:
        out = []
        for client, settings in self._clients():
            for t in self._tickets(client.id):
                key = f"confirm:{t.ref}"
                if t.channel is not Channel.PHONE:
                    continue
                if t.confirmed_in_writing_at is not None and not self._interrupted(key):
                    continue
                if not now - CONFIRM_LOOKBACK <= t.opened_at <= now:
                    continue
                site = next((s for s in client.sites if s.id == t.site), None)
                if site is None or t.service not in {s.id for s in site.services}:
                    log.warning(
                        "ticket %s: site %s / service %s not in the inventory: no confirmation",
                        t.ref,
                        t.site,
                        t.service,
                    )
                    continue
                notice = self._notice(
                    client, site, str(t.service), settings, self._outage_start(str(t.service), t.opened_at)
                )
                smtp = self._smtp(settings.to, settings.internal)

                def record(at: datetime, ref: str = t.ref) -> None:
                    self._ledger().append(
                        Record(Kind.TICKET_CONFIRM, ref, {"confirmed_at": at.isoformat()}, author=AUTHOR)
                    )

                def recorded(ref: str = t.ref, client_id: str = client.id) -> bool:
                    return any(x.ref == ref and x.confirmed_in_writing_at is not None for x in self._tickets(client_id))

                outcome = self._deliver(
                    f"confirm:{t.ref}",
                    written_confirmation(t.ref, t.opened_at, notice, smtp, now),
                    smtp,
                    record,
                    recorded,
                )
                if outcome is not None:
                    out.append(outcome)
        return out

    def _outage_start(self, service: str, at: datetime) -> datetime:
        """Start of the measured outage running at `at` (the call), else the call itself."""
        at_ms = schema.ms(at)
        for i in self.reader.state_intervals(service, "edge", until_ms=at_ms + 1):
            if i.state == "down" and i.start_ms <= at_ms and (i.end_ms is None or i.end_ms > at_ms):
                return from_epoch(i.start_ms // 1000)
        return at

    # --- claim reminders -----------------------------------------------------------------------------

    def reminders(self, now: datetime) -> list[Outcome]:
        today = now.astimezone(PARIS).date()
        month = Month(today.year, today.month)
        out = []
        for _ in range(self.config.reminders.months_back):
            month = month.previous()
            for client, settings in self._clients():
                outcome = self._remind(client, settings, month, today, now)
                if outcome is not None:
                    out.append(outcome)
        return out

    def _remind(
        self, client: Client, settings: ClientNotifications, month: Month, today: date, now: datetime
    ) -> Outcome | None:
        tracking = fold_claim(effective(self._subject(f"{client.id}/{month}")))
        if tracking is not None and tracking.dates.get("sent") is not None:
            return None  # sent (or further): nothing to remind
        alerts = [
            alert
            for site in client.sites
            for service in site.services
            if (alert := _alert_date(service.contract, month)) is not None
        ]
        if not alerts:
            return None  # VGA only: claims once a year, no deadline (VGA 5.6)
        due = [d for d in self.config.reminders.days_before if today >= min(alerts) - timedelta(days=d)]
        checked = f"checked:{client.id}/{month}:{today}"  # the claim is built at most once a day
        if not due or self.outbox.status(checked) is not None:
            return None
        outcome = self._claim_reminder(client, settings, month, today, now, tracking, min(due))
        if outcome is None or outcome.status != "failed":
            self.outbox.mark(checked, "skipped")
        return outcome

    def _claim_reminder(
        self,
        client: Client,
        settings: ClientNotifications,
        month: Month,
        today: date,
        now: datetime,
        tracking: ClaimState | None,
        days_before: int,
    ) -> Outcome | None:
        from agent.claims.store_source import client_info, store_items  # it imports agent.central, which imports us

        claim = build_claim(
            client_info(self.inventory, client),
            store_items(client, month, self.reader, fold_all(self._records(client.id)), now, self.inventory.agent),
            today=today,
        )
        deadline = claim.annex["claim_deadline"]
        deadline_day = date.fromisoformat(deadline) if deadline else None
        key = f"void:{client.id}/{month}" if claim.status == "void" else f"reminder:{client.id}/{month}:{days_before}"
        if self.outbox.status(key) in DONE:
            return None
        if claim.status == "nothing_to_claim":
            self.outbox.mark(key, "skipped", detail="nothing to claim")
            return Outcome(key, "skipped", "nothing to claim")
        alert = claim.annex["claim_alert_date"]
        reminder = claim_reminder(
            client.id, str(month), deadline_day, date.fromisoformat(alert) if alert else None, today, tracking
        )
        if reminder.level is ReminderLevel.DONE:
            return None
        amount = claim.annex["total_void_eur"] if claim.status == "void" else claim.annex["total_claimed_eur"]
        smtp = self._smtp(settings.internal or (self.config.sender,))
        return self._deliver(key, reminder_message(reminder, amount, smtp, now), smtp)


def _alert_date(contract: str, month: Month) -> date | None:
    days = profile_for(contract, month.first_day).claim_alert_calendar_days
    return None if days is None else claim_alert_date(month, days)
