"""`vigie maintenance add`: a maintenance announcement received from the provider (STD 4.1.1: "hors
périodes de maintenance programmées"). Refused when it was received after the window began."""

from __future__ import annotations

from typing import Annotated

import typer

from agent.cli.ledger import DEFAULT_LEDGER, AuthorOpt, LedgerOpt, SupersedesOpt, in_years, record_one, subject_for
from agent.ledger import AUTO_MAINTENANCE, Kind, Record

app = typer.Typer(help="Maintenance announcements: received time and announced window.", no_args_is_help=True)


@app.command("add")
def add_command(
    received_at: Annotated[
        str, typer.Option("--received-at", help="When the notice was received (ISO time).", callback=in_years)
    ],
    start: Annotated[str, typer.Option("--start", help="Announced window start (ISO time).", callback=in_years)],
    end: Annotated[str, typer.Option("--end", help="Announced window end (ISO time).", callback=in_years)],
    client: Annotated[str, typer.Option("--client")],
    site: Annotated[str | None, typer.Option("--site")] = None,
    service: Annotated[str | None, typer.Option("--service")] = None,
    reference: Annotated[str | None, typer.Option("--reference", help="The notice's reference.")] = None,
    note: Annotated[str | None, typer.Option("--note")] = None,
    author: AuthorOpt = None,
    supersedes: SupersedesOpt = None,
    ledger: LedgerOpt = DEFAULT_LEDGER,
) -> None:
    """Record an announced maintenance window."""
    subject = subject_for(ledger, supersedes, AUTO_MAINTENANCE)
    data = {"received_at": received_at, "start": start, "end": end, "reference": reference, "note": note}
    record = Record(
        Kind.MAINTENANCE_ADD,
        subject,
        data,
        client=client,
        site=site,
        service=service,
        author=author,
        supersedes=supersedes,
    )
    record_one(ledger, record, lambda r: f"record #{r.id}: maintenance {r.subject} {start} – {end}")
