"""`vigie claims build|verify`: the monthly claim pack of each client (PDF FR + EN, JSON, CSV)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.casefile import CaseFileError, check_month
from agent.claims.build import Claim, ClaimError, annex_digest, build_claim
from agent.claims.render import ClaimFailed, write_claims
from agent.claims.sources import ClientCases, items_for, ledger_view, read_cases_dir, read_manifest
from agent.claims.store_source import client_info, open_reader, store_items
from agent.cli.ledger import opened
from agent.clock import SystemClock
from agent.config import ConfigError, LoadedConfig, load_inventory
from agent.inputs import InputError, read_text, year_problem
from agent.ledger import Kind, LedgerError, Record
from agent.ledger.records import ClaimStatus, effective, fold_claim
from agent.store.influx import InfluxError
from collectors.base import Misconfigured
from sla.calendars import PARIS, Month

app = typer.Typer(help="Monthly SLA claims: letter and annex (PDF, FR and EN), CSV and JSON.", no_args_is_help=True)


# Option checks: a bad value is named with its option before anything is read or written (typer's usage error,
# exit 2), rather than a bare "day is out of range for month" or a traceback further down.
def _month(value: str) -> str:
    try:
        check_month(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


def _day(value: str | None) -> str | None:
    if value is not None:
        try:
            problem = year_problem(date.fromisoformat(value))
        except ValueError as exc:
            raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD ({exc})") from None
        if problem is not None:
            raise typer.BadParameter(problem)
    return value


def _out_dir(value: Path) -> Path:
    if value.exists() and not value.is_dir():
        raise typer.BadParameter(f"{value} is a file, not a directory")
    return value


def _amount(value: str | None) -> str | None:
    if value is not None:
        try:
            amount = Decimal(value)
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite() or amount < 0:
            raise typer.BadParameter(f"{value!r} is not an amount in EUR, e.g. 13.50")
    return value


def _digest(value: str | None) -> str | None:
    if value is not None and re.fullmatch(r"[0-9a-f]{64}", value) is None:
        raise typer.BadParameter(f"{value!r} is not a SHA-256 (64 hex digits, as `vigie claims build` prints it)")
    return value


@app.command("build")
def build_command(
    month: Annotated[str, typer.Option("--month", help="The month claimed, YYYY-MM.", callback=_month)],
    out: Annotated[Path, typer.Option("--out", help="Output directory.", callback=_out_dir)],
    cases: Annotated[
        Path | None, typer.Option("--cases", help="Directory: one sub-directory of case files per client.")
    ] = None,
    manifest: Annotated[
        Path | None, typer.Option("--manifest", help="Claims manifest (YAML): clients → case files.")
    ] = None,
    inventory: Annotated[
        Path | None,
        typer.Option("--inventory", help="Inventory (YAML): read the month from the store, services from here."),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option("--store", help="With --inventory: embedded:PATH (default: the inventory's agent.store)."),
    ] = None,
    database: Annotated[
        str | None, typer.Option("--database", help="With an InfluxDB store: InfluxQL database (default: bucket).")
    ] = None,
    client: Annotated[str | None, typer.Option("--client", help="Only this client.")] = None,
    draft: Annotated[bool, typer.Option("--draft", help="Allow a month still open; every page says DRAFT.")] = False,
    ledger: Annotated[
        Path | None, typer.Option("--ledger", envvar="VIGIE_LEDGER", help="Annotation ledger to apply.")
    ] = None,
    today: Annotated[
        str | None, typer.Option("--today", help="Date of the claim, YYYY-MM-DD (default: today).", callback=_day)
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Processes rendering the PDFs (default: one per core)."),
    ] = None,
) -> None:
    """Build the claims of a month, one pack per client."""
    try:
        the_month = Month.parse(month)
        now = SystemClock().now()
        day = date.fromisoformat(today) if today else now.astimezone(PARIS).date()
        if sum(x is not None for x in (cases, manifest, inventory)) != 1:
            raise ClaimError("give exactly one of --cases DIR, --manifest FILE or --inventory FILE")
        if (store is not None or database is not None) and inventory is None:
            raise ClaimError("--store and --database read the store: they go with --inventory")
        if inventory is not None:
            built = from_store(load_inventory(inventory), the_month, now, day, draft, store, database, ledger, client)
        else:
            built = from_cases(cases, manifest, the_month, day, draft, ledger, client)
    except ConfigError as exc:
        for line in exc.errors:
            typer.echo(line, err=True)
        raise typer.Exit(2) from None
    except (ClaimError, CaseFileError, LedgerError, InfluxError, Misconfigured, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if not built:
        what = "service in service" if inventory is not None else "case file"
        typer.echo(f"error: no {what} for {the_month}", err=True)
        raise typer.Exit(2)
    failed = 0
    for claim, files in write_claims(built, out, jobs):
        if isinstance(files, ClaimFailed):
            failed += 1
            typer.echo(f"error: {claim.client.id} {claim.month}: no claim written: {files.error}", err=True)
            continue
        typer.echo(
            f"{claim.client.id} {claim.month}: {claim.status}, {claim.annex['total_claimed_eur']} EUR, "
            f"sha256 {claim.digest} → {', '.join(p.name for p in files)}"
        )
    if failed:
        typer.echo(f"error: {failed} of {len(built)} claims not written (the others are)", err=True)
        raise typer.Exit(1)


def from_cases(
    cases: Path | None,
    manifest: Path | None,
    month: Month,
    day: date,
    draft: bool,
    ledger: Path | None,
    client: str | None,
) -> list[Claim]:
    """Every client's claim (or `client`'s) from case files: a manifest or a directory, and the ledger."""
    provider = None
    groups: list[ClientCases]
    if manifest is not None:
        provider, groups = read_manifest(manifest)
    else:
        assert cases is not None
        groups = read_cases_dir(cases)
    if client is not None:
        groups = [g for g in groups if g.client.id == client]
        if not groups:
            raise ClaimError(f"--client {client}: no such client")
    built = []
    for group in groups:
        view = ledger_view(ledger, group.client.id)
        items = items_for(group, month, view, strict_month=manifest is not None)
        if items:
            built.append(build_claim(group.client, items, today=day, draft=draft, provider=provider))
    return built


def from_store(
    loaded: LoadedConfig,
    month: Month,
    now: datetime,
    day: date,
    draft: bool,
    store: str | None,
    database: str | None,
    ledger: Path | None,
    client: str | None,
) -> list[Claim]:
    """Every client's claim (or `client`'s) from the store, the inventory and the ledger."""
    inv = loaded.inventory
    clients = [c for c in inv.clients if client is None or c.id == client]
    if not clients:
        raise ClaimError(f"--client {client}: no such client in {loaded.source}")
    built = []
    with open_reader(loaded, store, database) as reader:
        for c in clients:
            items = store_items(c, month, reader, ledger_view(ledger, c.id), now, inv.agent)
            if items:
                built.append(build_claim(client_info(inv, c), items, today=day, draft=draft))
    return built


def _claim_document(file: Path) -> dict[str, Any]:
    """A claim's JSON file as `claims build` writes it, or exit 2 naming the file and what is wrong with it."""
    try:
        document = json.loads(read_text(file))
    except InputError as exc:
        problem = str(exc)
    except json.JSONDecodeError as exc:
        problem = f"{file}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}"
    else:
        if not isinstance(document, dict) or "annex" not in document:
            problem = f"{file}: not a claim's JSON file: no annex (expected the .json that `vigie claims build` writes)"
        elif "annex_sha256" not in document:
            problem = f"{file}: no annex_sha256: nothing to verify the annex against"
        else:
            return document
    typer.echo(f"error: {problem}", err=True)
    raise typer.Exit(2)


@app.command("verify")
def verify_command(file: Annotated[Path, typer.Argument(help="A claim's JSON file.")]) -> None:
    """Recompute the annex digest of a claim's JSON file: exits 1 if a figure was changed."""
    document = _claim_document(file)
    digest = annex_digest(document["annex"])
    if digest != document.get("annex_sha256"):
        typer.echo(f"{file}: annex digest {digest} does not match the printed {document.get('annex_sha256')}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{file}: annex intact, sha256 {digest}")


@app.command("track")
def track_command(
    client: Annotated[str, typer.Argument(help="Client id.")],
    month: Annotated[str, typer.Argument(help="Month claimed, YYYY-MM.", callback=_month)],
    step: Annotated[ClaimStatus, typer.Argument(help="drafted | sent | acknowledged | credited")],
    on: Annotated[str, typer.Option("--date", help="Date of the step, YYYY-MM-DD.", callback=_day)],
    invoice: Annotated[str | None, typer.Option("--invoice", help="credited: the invoice carrying the credit.")] = None,
    amount: Annotated[
        str | None, typer.Option("--amount", help="drafted: amount claimed, EUR.", callback=_amount)
    ] = None,
    digest: Annotated[
        str | None, typer.Option("--digest", help="drafted: the annex SHA-256.", callback=_digest)
    ] = None,
    author: Annotated[str | None, typer.Option("--author")] = None,
    ledger: Annotated[Path, typer.Option("--ledger", envvar="VIGIE_LEDGER")] = Path("vigie-ledger.sqlite"),
) -> None:
    """Record a step of a claim's life: drafted → sent → acknowledged → credited (contract-terms C5)."""
    kind = Kind(f"claim.{step.value}")
    data = {"date": on, "invoice_reference": invoice, "amount_eur": amount, "digest": digest}
    with opened(ledger) as book:
        stored = book.append(Record(kind, f"{client}/{Month.parse(month)}", data, client=client, author=author))
        state = fold_claim(effective(book.subject(stored.subject)))
    assert state is not None
    steps = ", ".join(f"{k} {v}" for k, v in state.dates.items())
    typer.echo(f"record #{stored.id}: claim {stored.subject} {state.status.value} ({steps})")
