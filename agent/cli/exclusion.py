"""`vigie exclusion add|accept|dispute|list`: excusable events and excluded periods (sla-semantics §4).

An exclusion is proposed, then accepted or disputed, so the provider and the customer can disagree on
record; only accepted exclusions are applied by default, the others are listed in the claim annex.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from agent.cli.ledger import (
    DEFAULT_LEDGER,
    AuthorOpt,
    LedgerOpt,
    SupersedesOpt,
    in_years,
    opened,
    record_one,
    subject_for,
)
from agent.ledger import AUTO_EXCLUSION, Kind, Record
from agent.ledger.convert import fold_all
from agent.ledger.importer import hash_evidence
from agent.ledger.records import iso
from sla.model import Cause

app = typer.Typer(help="Exclusions: typed cause, scope, interval, evidence, proposed → accepted / disputed.")

Key = Annotated[str, typer.Argument(help="The exclusion, X<n> as printed by `add`.")]
Note = Annotated[str | None, typer.Option("--note")]


@app.command("add")
def add_command(
    cause: Annotated[Cause, typer.Option("--cause")],
    start: Annotated[str, typer.Option("--start", help="ISO 8601 time with offset.", callback=in_years)],
    end: Annotated[str, typer.Option("--end", help="ISO 8601 time with offset.", callback=in_years)],
    client: Annotated[str, typer.Option("--client", help="Scope: the client (alone: every service of it).")],
    site: Annotated[str | None, typer.Option("--site", help="Scope: one site (every service there).")] = None,
    service: Annotated[str | None, typer.Option("--service", help="Scope: one service instance.")] = None,
    announced_at: Annotated[
        str | None, typer.Option("--announced-at", help="planned_maintenance: notice time.", callback=in_years)
    ] = None,
    evidence: Annotated[Path | None, typer.Option("--evidence", help="A file; stored by path and SHA-256.")] = None,
    note: Note = None,
    author: AuthorOpt = None,
    supersedes: SupersedesOpt = None,
    ledger: LedgerOpt = DEFAULT_LEDGER,
) -> None:
    """Propose an exclusion."""
    data: dict[str, object] = {
        "cause": cause.value,
        "start": start,
        "end": end,
        "announced_at": announced_at,
        "note": note,
    }
    if evidence is not None:
        with opened(ledger):  # report an unreadable file the same way as any refusal
            data |= hash_evidence(evidence, "exclusion")
    subject = subject_for(ledger, supersedes, AUTO_EXCLUSION)
    record = Record(
        Kind.EXCLUSION_ADD,
        subject,
        data,
        client=client,
        site=site,
        service=service,
        author=author,
        supersedes=supersedes,
    )
    record_one(ledger, record, lambda r: f"record #{r.id}: exclusion {r.subject} proposed ({cause.value})")


@app.command("accept")
def accept_command(key: Key, note: Note = None, author: AuthorOpt = None, ledger: LedgerOpt = DEFAULT_LEDGER) -> None:
    """Accept a proposed (or disputed) exclusion: it is applied from now on."""
    record_one(ledger, Record(Kind.EXCLUSION_ACCEPT, key, {"note": note}, author=author))


@app.command("dispute")
def dispute_command(key: Key, note: Note = None, author: AuthorOpt = None, ledger: LedgerOpt = DEFAULT_LEDGER) -> None:
    """Dispute a proposed exclusion: it stays on record, listed, not applied."""
    record_one(ledger, Record(Kind.EXCLUSION_DISPUTE, key, {"note": note}, author=author))


@app.command("list")
def list_command(
    client: Annotated[str | None, typer.Option("--client")] = None, ledger: LedgerOpt = DEFAULT_LEDGER
) -> None:
    """Exclusions as the ledger folds them, JSON lines."""
    with opened(ledger) as book:
        view = fold_all(book.records(client=client, kinds=["exclusion"]))
    for x in view.exclusions:
        line = {
            "key": x.key,
            "status": x.status.value,
            "cause": x.cause.value,
            "scope": x.scope,
            "client": x.client,
            "site": x.site,
            "service": x.service,
            "start": iso(x.start),
            "end": iso(x.end),
            "evidence": x.evidence_path,
            "evidence_sha256": x.evidence_sha256,
            "author": x.author,
            "records": x.record_ids,
        }
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
