"""`vigie ticket open|confirm|freeze|resume|restore|show`: the provider's ticket, as the contract reads it.

VGA 5.5/5.7: the GTR clock starts at the ticket time if the notification was written or confirmed in
writing within 30 minutes; it stops when the provider notifies the restoration; VGA 5.8: it is frozen from
the request for site access until access is obtained.
"""

from __future__ import annotations

import enum
import json
import sys
from typing import Annotated

import typer

from agent.cli.ledger import DEFAULT_LEDGER, AuthorOpt, LedgerOpt, SupersedesOpt, opened, record_one
from agent.ledger import Kind, Record
from agent.ledger.convert import fold_all
from agent.ledger.records import iso
from sla.model import Cause, Channel, TicketKind

app = typer.Typer(help="Tickets: opening, written confirmation, freezes, restoration.", no_args_is_help=True)

Ref = Annotated[str, typer.Argument(help="The provider's ticket reference (unique id, VGA 5.7).")]
At = Annotated[str, typer.Option("--at", help="ISO 8601 time with its UTC offset, e.g. 2026-10-14T10:05:00+02:00.")]


class FreezeReason(enum.StrEnum):
    SITE_ACCESS_PENDING = "site_access_pending"
    CUSTOMER_NON_COOPERATION = "customer_non_cooperation"
    ACCESS_REFUSED = "access_refused"


@app.command("open")
def open_command(
    ref: Ref,
    at: At,
    client: Annotated[str, typer.Option("--client")],
    site: Annotated[str, typer.Option("--site")],
    service: Annotated[str, typer.Option("--service", help="The service instance id (as in its case file).")],
    channel: Annotated[Channel, typer.Option("--channel", help="How the incident was notified.")],
    kind: Annotated[TicketKind, typer.Option("--kind")] = TicketKind.REPAIR,
    author: AuthorOpt = None,
    supersedes: SupersedesOpt = None,
    ledger: LedgerOpt = DEFAULT_LEDGER,
) -> None:
    """Record a ticket: its reference, ticket time and notification channel."""
    data = {"opened_at": at, "channel": channel.value, "kind": kind.value}
    record_one(
        ledger,
        Record(
            Kind.TICKET_OPEN, ref, data, client=client, site=site, service=service, author=author, supersedes=supersedes
        ),
    )
    if channel is Channel.PHONE:
        typer.echo(f"ticket {ref}: notified by phone: confirm it in writing within 30 minutes (VGA 5.7)")


@app.command("confirm")
def confirm_command(
    ref: Ref, at: At, author: AuthorOpt = None, supersedes: SupersedesOpt = None, ledger: LedgerOpt = DEFAULT_LEDGER
) -> None:
    """Record the written confirmation (fax or e-mail) of a phone notification."""
    record_one(ledger, Record(Kind.TICKET_CONFIRM, ref, {"confirmed_at": at}, author=author, supersedes=supersedes))


@app.command("freeze")
def freeze_command(
    ref: Ref,
    start: Annotated[str, typer.Option("--start", help="When the provider asked for site access (ISO time).")],
    reason: Annotated[FreezeReason, typer.Option("--reason")],
    end: Annotated[str | None, typer.Option("--end", help="When access was obtained; else use resume.")] = None,
    author: AuthorOpt = None,
    supersedes: SupersedesOpt = None,
    ledger: LedgerOpt = DEFAULT_LEDGER,
) -> None:
    """Freeze the ticket's clock (VGA 5.8), from START until --end or a later `resume`."""
    data = {"start": start, "end": end, "reason": reason.value}
    record_one(ledger, Record(Kind.TICKET_FREEZE, ref, data, author=author, supersedes=supersedes))


@app.command("resume")
def resume_command(
    ref: Ref, at: At, author: AuthorOpt = None, supersedes: SupersedesOpt = None, ledger: LedgerOpt = DEFAULT_LEDGER
) -> None:
    """End the running freeze: access obtained."""
    record_one(ledger, Record(Kind.TICKET_RESUME, ref, {"at": at}, author=author, supersedes=supersedes))


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
    record_one(ledger, Record(Kind.TICKET_RESTORE, ref, data, author=author, supersedes=supersedes))


@app.command("show")
def show_command(ref: Ref, ledger: LedgerOpt = DEFAULT_LEDGER) -> None:
    """The ticket as the ledger folds it (corrections applied), as JSON."""
    with opened(ledger) as book:
        view = fold_all(book.subject(ref))
    if not view.tickets:
        typer.echo(f"error: no ticket {ref}", err=True)
        raise typer.Exit(2)
    t = view.tickets[0]
    out = {
        "ref": t.ref,
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
