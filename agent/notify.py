"""Deadlines and notifications: claim reminders, incident notifications, written confirmations.

- Claim deadline (STD x.1, sla-semantics §2): a claim for month m is void after the 30th Jour Ouvré after
  m; the alert date (30 calendar days after m) is when Vigie urges filing. `claim_reminder` says where a
  month stands; a month past its deadline is reported `void`, never skipped.
- Incident notification (VGA 5.7, CGV 16): "le Client devra fournir : le nom de l'interlocuteur déclarant,
  le type de service impacté, la description de l'incident, la localisation et les conséquences, la personne
  à contacter"; the GTR clock starts with it (VGA 5.5) and an STD outage counts only once notified
  (STD x.1.1). When an outage lasts longer than a configurable duration, Vigie drafts it and, if SMTP is
  configured, sends it to the provider's address (telecom@technicophone.fr).
- Written confirmation (VGA 5.7): a phone notification starts the clock only "sous réserve de confirmation
  par le Client de la déclaration par écrit par fax ou par email dans les trente (30) minutes après l'appel":
  `written_confirmation` drafts it, `confirmation_deadline` is the call + 30 minutes.

Time is an argument everywhere (`now`, `today`); sending is the only I/O, through `send`.
"""

from __future__ import annotations

import enum
import smtplib
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from pydantic import SecretStr

from agent.ledger.records import ClaimState, ClaimStatus
from sla.calendars import PARIS
from sla.model import Outage

CONFIRMATION_DELAY = timedelta(minutes=30)  # VGA 5.7 "dans les trente (30) minutes après l'appel"
PROVIDER_ADDRESS = "telecom@technicophone.fr"  # VGA 5.1 / STD support paragraph


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...] = (PROVIDER_ADDRESS,)
    cc: tuple[str, ...] = ()
    starttls: bool = False
    ssl: bool = False  # implicit TLS (port 465)
    ca_file: Path | None = None  # trust this CA (a private one) instead of the system's
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = 10.0


@dataclass(frozen=True)
class IncidentNotice:
    """The six items VGA 5.7 asks the Client to give when it reports an incident."""

    declarant: str  # "le nom de l'interlocuteur déclarant"
    service: str  # "le type de service impacté" (and the service instance)
    description: str  # "la description de l'incident"
    location: str  # "la localisation" (site, address)
    consequences: str  # "les conséquences"
    contact: str  # "la personne à contacter … pour l'informer de l'avancement"
    client: str
    site: str
    outage_start: datetime


def _fmt(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%d/%m/%Y %H:%M (%Z)")


def _message(subject: str, body: str, smtp: SmtpConfig, now: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(smtp.recipients)
    if smtp.cc:
        msg["Cc"] = ", ".join(smtp.cc)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain="vigie.invalid")
    # CGV 4.1: notices by e-mail "avec avis de réception"
    msg["Disposition-Notification-To"] = smtp.sender
    msg["Return-Receipt-To"] = smtp.sender
    msg.set_content(body)
    return msg


def _items(notice: IncidentNotice) -> str:
    return (
        f"- Interlocuteur déclarant : {notice.declarant}\n"
        f"- Service impacté : {notice.service}\n"
        f"- Description de l'incident : {notice.description}\n"
        f"- Localisation : {notice.location} (site {notice.site})\n"
        f"- Conséquences : {notice.consequences}\n"
        f"- Personne à contacter : {notice.contact}\n"
        f"- Début constaté par nos mesures : {_fmt(notice.outage_start)}\n"
    )


def incident_notification(
    notice: IncidentNotice, smtp: SmtpConfig, now: datetime, reference: str | None = None
) -> EmailMessage:
    """The written Notification de Défaillance (VGA 5.7, CGV 16), in the contract's language. `reference`:
    ours, for the provider to quote (the ledger's ticket until the provider's own number is known)."""
    subject = f"Déclaration d'incident — {notice.client} — {notice.site} — {notice.service}"
    if reference is not None:
        subject += f" — réf. {reference}"
    body = (
        "Madame, Monsieur,\n\n"
        "Nous vous notifions l'incident suivant, conformément à la procédure de déclaration des incidents "
        "(article 5.7 des conditions du Service VGA, article 16 des Conditions Générales) :\n\n"
        f"{_items(notice)}\n"
        "Merci de nous communiquer la référence du ticket ouvert et l'heure qui y figure.\n\n"
        f"Notification envoyée le {_fmt(now)}.\n"
    )
    return _message(subject, body, smtp, now)


def written_confirmation(
    ticket_ref: str, called_at: datetime, notice: IncidentNotice, smtp: SmtpConfig, now: datetime
) -> EmailMessage:
    """The written confirmation of a phone notification (VGA 5.7: within 30 minutes of the call)."""
    subject = f"Confirmation écrite de la déclaration téléphonique — ticket {ticket_ref} — {notice.site}"
    body = (
        "Madame, Monsieur,\n\n"
        f"Nous confirmons par écrit la déclaration d'incident faite par téléphone le {_fmt(called_at)}, "
        f"enregistrée sous le ticket {ticket_ref} (article 5.7 : confirmation dans les trente minutes "
        "suivant l'appel).\n\n"
        f"{_items(notice)}\n"
        f"Confirmation envoyée le {_fmt(now)}.\n"
    )
    return _message(subject, body, smtp, now)


def confirmation_deadline(called_at: datetime) -> datetime:
    return called_at + CONFIRMATION_DELAY


def confirmation_late(called_at: datetime, sent_at: datetime) -> bool:
    """VGA 5.7: a confirmation after the 30 minutes moves the GTR start to the confirmation."""
    return sent_at > confirmation_deadline(called_at)


def outages_to_notify(
    outages: Iterable[Outage], now: datetime, after: timedelta, already: Sequence[Outage] = ()
) -> list[Outage]:
    """Outages still running (or ended) that have lasted at least `after`, not notified yet."""
    done = {(o.start, o.end) for o in already}
    out = []
    for o in outages:
        if o.notified_at is not None or (o.start, o.end) in done:
            continue
        if min(o.end, now) - o.start >= after:
            out.append(o)
    return out


def send(message: EmailMessage, smtp: SmtpConfig) -> None:
    """Send over SMTP; the only I/O of this module. Errors propagate (the caller records and retries)."""
    # TLS verifies the server's certificate and name (smtplib's own default would not)
    context = ssl.create_default_context(cafile=smtp.ca_file) if smtp.ssl or smtp.starttls else None
    client = (
        smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_s, context=context)
        if smtp.ssl
        else smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
    )
    with client:
        if smtp.starttls and not smtp.ssl:
            client.starttls(context=context)
        if smtp.username is not None and smtp.password is not None:
            client.login(smtp.username, smtp.password.get_secret_value())
        client.send_message(message)


# --- claim deadlines --------------------------------------------------------------------------------


class ReminderLevel(enum.StrEnum):
    UPCOMING = "upcoming"  # before the week of the alert date
    SEND_NOW = "send_now"  # the week before the alert date
    URGENT = "urgent"  # past the alert date, before the deadline
    VOID = "void"  # past the deadline: "nulle et non avenue"
    DONE = "done"  # sent (or further)


@dataclass(frozen=True)
class Reminder:
    client: str
    month: str
    level: ReminderLevel
    deadline: date | None
    alert_date: date | None
    days_left: int | None
    message: str


def claim_reminder(
    client: str,
    month: str,
    deadline: date | None,
    alert_date: date | None,
    today: date,
    tracking: ClaimState | None = None,
) -> Reminder:
    if tracking is not None and tracking.status is not ClaimStatus.DRAFTED:
        sent = tracking.dates.get("sent")
        return Reminder(
            client,
            month,
            ReminderLevel.DONE,
            deadline,
            alert_date,
            None,
            f"claim {tracking.status.value} (sent {sent})",
        )
    if deadline is None or alert_date is None:
        return Reminder(client, month, ReminderLevel.UPCOMING, None, None, None, "no deadline (VGA: once a year)")
    days_left = (deadline - today).days
    if today > deadline:
        level, text = ReminderLevel.VOID, f"deadline {deadline} passed: a claim now is void (STD x.1)"
    elif today > alert_date:
        level, text = ReminderLevel.URGENT, f"past the alert date {alert_date}: send before {deadline}"
    elif (alert_date - today).days <= 7:
        level, text = ReminderLevel.SEND_NOW, f"send by {alert_date} (deadline {deadline})"
    else:
        level, text = ReminderLevel.UPCOMING, f"send by {alert_date} (deadline {deadline})"
    return Reminder(client, month, level, deadline, alert_date, days_left, f"{client} {month}: {text}")


def reminder_message(reminder: Reminder, amount_eur: str, smtp: SmtpConfig, now: datetime) -> EmailMessage:
    """The client's own reminder to file (or, past the deadline, the notice that the claim is void)."""
    if reminder.level is ReminderLevel.VOID:
        subject = f"Réclamation {reminder.month} — {reminder.client} : délai dépassé, réclamation nulle"
        action = (
            f"Le délai de réclamation ({reminder.deadline}) est dépassé : une réclamation serait désormais "
            "« nulle et non avenue » (STD x.1). Le mois est marqué nul."
        )
    else:
        subject = f"Réclamation {reminder.month} — {reminder.client} : à envoyer avant le {reminder.alert_date}"
        action = (
            f"La réclamation n'est pas encore envoyée. Date d'alerte : {reminder.alert_date} ; "
            f"délai contractuel : {reminder.deadline} (STD x.1), soit {reminder.days_left} jour(s). "
            f"Générez-la avec : vigie claims build --month {reminder.month} --client {reminder.client}, "
            f"puis enregistrez l'envoi : vigie claims track {reminder.client} {reminder.month} sent --date …"
        )
    body = f"Montant calculé : {amount_eur} EUR.\n\n{action}\n\n({reminder.message})\n"
    return _message(subject, body, smtp, now)
