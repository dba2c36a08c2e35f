"""`vigie ledger import|history|verify|retract`, and what the ticket / exclusion / maintenance groups share.

The ledger file is `--ledger PATH`, or `$VIGIE_LEDGER`, or `vigie-ledger.sqlite` in the current directory.
Every refusal exits 2 with one line that names the record and the value; nothing is written then.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.clock import SystemClock
from agent.inputs import year_problem
from agent.ledger import Kind, Ledger, LedgerError, Record, fold_all
from agent.ledger.convert import find_ticket
from agent.ledger.importer import load_records
from agent.ledger.store import MAX_RECORD_ID

app = typer.Typer(help="The annotation ledger: import, history, integrity, retraction.", no_args_is_help=True)

LedgerOpt = Annotated[
    Path,
    typer.Option("--ledger", envvar="VIGIE_LEDGER", help="Ledger file (SQLite).", show_default=True),
]
AuthorOpt = Annotated[str | None, typer.Option("--author", help="Who records this.")]
# record numbers are SQLite INTEGERs: a larger one is refused here, not an OverflowError in sqlite3
RecordId = Annotated[int, typer.Argument(min=1, max=MAX_RECORD_ID, help="The record's number, as printed.")]
SupersedesOpt = Annotated[
    int | None,
    typer.Option(
        "--supersedes", min=1, max=MAX_RECORD_ID, help="Correct record N: this record replaces it (history kept)."
    ),
]
DEFAULT_LEDGER = Path("vigie-ledger.sqlite")


def in_years(value: str | None) -> str | None:
    """The callback of every time option: a time of a year Vigie does not handle (`--at 9999-…`, `0001-…`) is
    refused naming its option, before it is recorded for good and overflows every statement that reads it.
    A value that is no ISO time at all is left to the record's own check, which names the field."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    problem = year_problem(moment)
    if problem is not None:
        raise typer.BadParameter(problem)
    return value


@contextmanager
def opened(path: Path, read_only: bool = False) -> Iterator[Ledger]:
    """The ledger, refusals reported as `refused: …` (exit 2). `read_only`: a command that only reads it
    (verify, history, show) does not create a missing file: it says so (a mistyped `--ledger` or a command
    run in the wrong directory would otherwise look like an empty, intact ledger)."""
    if read_only and not path.exists():
        typer.echo(f"error: {path}: no ledger here (nothing recorded yet; --ledger FILE or VIGIE_LEDGER)", err=True)
        raise typer.Exit(2)
    try:
        ledger = Ledger(path, SystemClock())
    except LedgerError as exc:  # the message names the file
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        yield ledger
    except LedgerError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        ledger.close()


def subject_for(path: Path, supersedes: int | None, new_subject: str) -> str:
    """A correction is about the same subject as the record it supersedes; a new record gets `new_subject`."""
    if supersedes is None:
        return new_subject
    with opened(path) as ledger:
        target = ledger.get(supersedes)
        if target is None:
            raise LedgerError(f"supersedes #{supersedes}: no such record")
        return target.subject


def ticket_subject(book: Ledger, name: str, *, err: bool = False) -> str:
    """The ticket `name` designates: the one opened under it, else the one it is the provider's reference of
    (`vigie ticket reference`), said on stdout (stderr: `err`, when stdout is JSON); `name` itself when no
    ticket has it (the ledger then refuses the record, naming it)."""
    ticket = find_ticket(fold_all(book.tickets_naming(name)), name)
    if ticket is None or ticket.ref == name:
        return name
    typer.echo(f"{name}: the provider's reference of ticket {ticket.ref}", err=err)
    return ticket.ref


def record_one(path: Path, record: Record, describe: Callable[[Record], str] | None = None) -> Record:
    with opened(path) as ledger:
        if record.supersedes is not None:
            target = ledger.get(record.supersedes)
            if target is None:
                raise LedgerError(f"supersedes #{record.supersedes}: no such record")
            if target.subject != record.subject:
                raise LedgerError(
                    f"supersedes #{record.supersedes}: that record is about {target.subject}, not {record.subject}"
                )
        stored = ledger.append(record)
    typer.echo(describe(stored) if describe else f"record #{stored.id}: {stored.kind.value} {stored.subject}")
    return stored


def record_dict(r: Record) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind.value,
        "subject": r.subject,
        "client": r.client,
        "site": r.site,
        "service": r.service,
        "author": r.author,
        "recorded_at": r.recorded_at.isoformat() if r.recorded_at else None,
        "supersedes": r.supersedes,
        "data": r.data,
    }


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="Records as YAML or CSV.")], ledger: LedgerOpt = DEFAULT_LEDGER
) -> None:
    """Import records, all or nothing: the first refusal aborts the whole import."""
    with opened(ledger) as book:
        stored = book.append_many(load_records(file))
    typer.echo(f"imported {len(stored)} records (#{stored[0].id}–#{stored[-1].id})" if stored else "nothing to import")


@app.command("history")
def history_command(
    subject: Annotated[
        str | None,
        typer.Argument(help="A ticket reference (ours or the provider's), X<n>, M<n>; all when omitted."),
    ] = None,
    ledger: LedgerOpt = DEFAULT_LEDGER,
) -> None:
    """Every record, superseded ones included, as JSON lines (a ticket's provider reference: its
    ticket.reference records)."""
    with opened(ledger, read_only=True) as book:
        records = book.subject(ticket_subject(book, subject, err=True)) if subject else book.records()
    if subject and not records:  # a mistyped reference must not look like a subject with no history
        typer.echo(f"error: no ledger records about {subject}", err=True)
        raise typer.Exit(1)
    superseded = {r.supersedes for r in records if r.supersedes is not None}
    for r in records:
        line = record_dict(r) | {"superseded": r.id in superseded}
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")


@app.command("verify")
def verify_command(ledger: LedgerOpt = DEFAULT_LEDGER) -> None:
    """Check the hash chain: exits 1 if a record was changed after it was written."""
    with opened(ledger, read_only=True) as book:
        problems = book.verify()
    for p in problems:
        typer.echo(p, err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("ledger intact")


@app.command("retract")
def retract_command(
    record_id: RecordId,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the history).")],
    author: AuthorOpt = None,
    ledger: LedgerOpt = DEFAULT_LEDGER,
) -> None:
    """Withdraw a record made by mistake: a new record that supersedes it with nothing."""
    with opened(ledger) as book:
        target = book.get(record_id)
        if target is None:
            raise LedgerError(f"retract #{record_id}: no such record")
        stored = book.append(
            Record(Kind.RETRACT, target.subject, {"reason": reason}, author=author, supersedes=record_id)
        )
    typer.echo(f"record #{stored.id}: retracts #{record_id} ({target.kind.value} {target.subject})")
