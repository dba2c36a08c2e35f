"""`vigie ticket open|reference|confirm|freeze|resume|restore|show`: the provider's ticket, as the contract
reads it.

VGA 5.5/5.7: the GTR clock starts at the ticket time if the notification was written or confirmed in
writing within 30 minutes; it stops when the provider notifies the restoration; VGA 5.8: it is frozen from
the request for site access until access is obtained.

A ticket is opened under a reference: the provider's, or ours (`VIGIE-<service>-<start UTC>`, recorded by
agent/notify_schedule.py when Vigie e-mails the incident notification: the sending time starts the clock).
The provider's own reference (VGA 5.7: its unique id for the ticket) is then attached to it with
`reference` (or `open --provider-ref`), and every command here accepts either name: a second ticket for the
same incident would earn a second GTR penalty (crosscheck's `overlapping_tickets`).
"""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.cli.ledger import (
    DEFAULT_LEDGER,
    AuthorOpt,
    LedgerOpt,
    SupersedesOpt,
    in_years,
    opened,
    record_one,
    ticket_subject,
)
from agent.ledger import Kind, Record
from agent.ledger.convert import fold_all
from agent.ledger.records import iso
from sla.model import Cause, Channel, TicketKind

app = typer.Typer(
    help="Tickets: opening, the provider's reference, written confirmation, freezes, restoration.",
    no_args_is_help=True,
)

NewRef = Annotated[
    str, typer.Argument(help="The ticket's reference: the provider's (unique id, VGA 5.7) or ours (VIGIE-…).")
]
Ref = Annotated[
    str,
    typer.Argument(help="The ticket: the reference it was opened under, or the provider's reference attached to it."),
]
ProviderRefOpt = Annotated[
    str | None,
    typer.Option(
        "--provider-ref", help="The provider's own reference for this ticket (VGA 5.7), when REF is ours (VIGIE-…)."
    ),
]
At = Annotated[
    str,
    typer.Option("--at", help="ISO 8601 time with its UTC offset, e.g. 2026-10-14T10:05:00+02:00.", callback=in_years),
]


class FreezeReason(enum.StrEnum):
    SITE_ACCESS_PENDING = "site_access_pending"
    CUSTOMER_NON_COOPERATION = "customer_non_cooperation"
    ACCESS_REFUSED = "access_refused"


def _describe(r: Record) -> str:
    provider_ref = f": provider's reference {r.data['provider_ref']}" if r.kind is Kind.TICKET_REFERENCE else ""
    return f"record #{r.id}: {r.kind.value} {r.subject}{provider_ref}"


def _record(
    ledger: Path, name: str, kind: Kind, data: dict[str, Any], author: str | None, supersedes: int | None
) -> None:
    """Record on the ticket `name` designates (ours or the provider's reference)."""
    with opened(ledger) as book:
        ref = ticket_subject(book, name)
    record_one(ledger, Record(kind, ref, data, author=author, supersedes=supersedes), _describe)


@app.command("open")
def open_command(
    ref: NewRef,
    at: At,
    client: Annotated[str, typer.Option("--client")],
    site: Annotated[str, typer.Option("--site")],
    service: Annotated[str, typer.Option("--service", help="The service instance id (as in its case file).")],
    channel: Annotated[Channel, typer.Option("--channel", help="How the incident was notified.")],
    kind: Annotated[TicketKind, typer.Option("--kind")] = TicketKind.REPAIR,
    provider_ref: ProviderRefOpt = None,
    author: AuthorOpt = None,
    supersedes: SupersedesOpt = None,
    ledger: LedgerOpt = DEFAULT_LEDGER,
) -> None:
    """Record a ticket: its reference, ticket time and notification channel (and the provider's reference)."""
    data = {"opened_at": at, "channel": channel.value, "kind": kind.value}
    opening = Record(
        Kind.TICKET_OPEN, ref, data, client=client, site=site, service=service, author=author, supersedes=supersedes
    )
    if provider_ref is None:
        record_one(ledger, opening)
    else:
        # one transaction: the ticket and its provider reference, or neither when the reference is refused
        with opened(ledger) as book:
            reference = Record(Kind.TICKET_REFERENCE, ref, {"provider_ref": provider_ref}, author=author)
            stored = book.append_many([opening, reference])
        for r in stored:
            typer.echo(_describe(r))
    if channel is Channel.PHONE:
        typer.echo(f"ticket {ref}: notified by phone: confirm it in writing within 30 minutes (VGA 5.7)")


@app.command("reference")
def reference_command(
    ref: Ref,
    provider_ref: Annotated[str, typer.Argument(help="The provider's reference for this ticket, e.g. TT-48213.")],
    author: AuthorOpt = None,
    supersedes: SupersedesOpt = None,
    ledger: LedgerOpt = DEFAULT_LEDGER,
) -> None:
    """Attach the provider's own reference to a ticket (VGA 5.7: its unique id), e.g. to our VIGIE-… ticket:
    its opening and GTR clock stay. A reference names one ticket only; to correct it, --supersedes N."""
    _record(ledger, ref, Kind.TICKET_REFERENCE, {"provider_ref": provider_ref}, author, supersedes)


@app.command("confirm")
def confirm_command(
    ref: Ref, at: At, author: AuthorOpt = None, supersedes: SupersedesOpt = None, ledger: LedgerOpt = DEFAULT_LEDGER
) -> None:
    """Record the written confirmation (fax or e-mail) of a phone notification."""
    _record(ledger, ref, Kind.TICKET_CONFIRM, {"confirmed_at": at}, author, supersedes)


@app.command("freeze")
def freeze_command(
    ref: Ref,
    start: Annotated[
        str, typer.Option("--start", help="When the provider asked for site access (ISO time).", callback=in_years)
    ],
    reason: Annotated[FreezeReason, typer.Option("--reason")],
    end: Annotated[
        str | None, typer.Option("--end", help="When access was obtained; else use resume.", callback=in_years)
    ] = None,
    author: AuthorOpt = None,
    supersedes: SupersedesOpt = None,
    ledger: LedgerOpt = DEFAULT_LEDGER,
) -> None:
    """Freeze the ticket's clock (VGA 5.8), from START until --end or a later `resume`."""
    data = {"start": start, "end": end, "reason": reason.value}
    _record(ledger, ref, Kind.TICKET_FREEZE, data, author, supersedes)


@app.command("resume")
def resume_command(
    ref: Ref, at: At, author: AuthorOpt = None, supersedes: SupersedesOpt = None, ledger: LedgerOpt = DEFAULT_LEDGER
) -> None:
    """End the running freeze: access obtained."""
    _record(ledger, ref, Kind.TICKET_RESUME, {"at": at}, author, supersedes)


@app.command("restore")
def restore_command(
    ref: Ref,
    at: At,
    cause: Annotated[
        Cause | None, typer.Option("--cause", help="An exclusion cause if the incident was excusable.")
    ] = None,
    author: AuthorOpt = None,
    supersedes: SupersedesOpt = None,
    ledger: LedgerOpt = DEFAULT_LEDGER,
) -> None:
    """Record the provider's notification of restoration (VGA 5.5, 5.9): it stops the clock."""
    data = {"restored_at": at, "cause": None if cause is None else cause.value}
    _record(ledger, ref, Kind.TICKET_RESTORE, data, author, supersedes)


@app.command("show")
def show_command(ref: Ref, ledger: LedgerOpt = DEFAULT_LEDGER) -> None:
    """The ticket as the ledger folds it (corrections applied), as JSON."""
    with opened(ledger, read_only=True) as book:
        view = fold_all(book.subject(ticket_subject(book, ref, err=True)))
    if not view.tickets:
        typer.echo(f"error: no ticket {ref}", err=True)
        raise typer.Exit(2)
    t = view.tickets[0]
    out = {
        "ref": t.ref,
        "provider_ref": t.provider_ref,
        "client": t.client,
        "site": t.site,
        "service": t.service,
        "kind": t.kind.value,
        "channel": t.channel.value,
        "opened_at": iso(t.opened_at),
        "confirmed_in_writing_at": iso(t.confirmed_in_writing_at),
        "restored_at": iso(t.restored_at),
        "cause": None if t.cause is None else t.cause.value,
        "freezes": [{"start": iso(f.start), "end": iso(f.end), "reason": f.reason} for f in t.freezes],
        "records": t.record_ids,
    }
    sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
