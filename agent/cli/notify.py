"""`vigie notify run CONFIG`: one pass of the scheduled notifications (agent/notify_schedule.py).

The central role runs the same pass at each recomputation; this command runs it once — from cron on a
host without the central role, or to catch up — reading the store the way `vigie claims build
--inventory` does. Each message goes once: run it as often as you like.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from agent.claims.build import ClaimError
from agent.claims.store_source import open_reader
from agent.clock import Clock, FakeClock, SystemClock
from agent.config import ConfigError, load_inventory
from agent.ledger import LedgerError
from agent.notify_schedule import Notifier
from agent.store.influx import InfluxError
from collectors.base import Misconfigured

app = typer.Typer(help="Notifications: incidents, written confirmations, claim reminders.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Scheduled notifications."""


@app.command("run")
def run_command(
    config: Annotated[Path, typer.Argument(help="inventory YAML with a notifications: section")],
    store: Annotated[
        str | None, typer.Option("--store", help="embedded:PATH (default: the inventory's agent.store).")
    ] = None,
    database: Annotated[
        str | None, typer.Option("--database", help="With an InfluxDB store: InfluxQL database (default: bucket).")
    ] = None,
    now: Annotated[
        str | None, typer.Option("--now", help="Run as of this ISO time with its offset (catching up, tests).")
    ] = None,
) -> None:
    """Draft or send what is due; print one line per message; exit 1 if a message could not be sent."""
    try:
        loaded = load_inventory(config)
    except ConfigError as exc:
        for line in exc.errors:
            typer.echo(line, err=True)
        raise typer.Exit(1) from None
    inventory = loaded.inventory
    if inventory.notifications is None:
        typer.echo(f"error: {config}: no notifications: section", err=True)
        raise typer.Exit(1)
    try:
        clock: Clock = SystemClock() if now is None else FakeClock(datetime.fromisoformat(now))
        ledger = loaded.resolve(inventory.agent.central.ledger)
        with (
            open_reader(loaded, store, database) as reader,
            Notifier(inventory, inventory.notifications, reader, clock, ledger) as job,
        ):
            outcomes = job.run()
    except (ClaimError, InfluxError, LedgerError, Misconfigured, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for o in outcomes:
        typer.echo(f"{o.key}: {o.status} {o.detail}".rstrip())
    failed = sum(o.status == "failed" for o in outcomes)
    typer.echo(f"{len(outcomes)} message(s) handled, {failed} failed")
    if failed:
        raise typer.Exit(1)
