"""`vigie config check FILE`: validate an inventory, print every error with its path and line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.config import ConfigError, load_inventory

app = typer.Typer(help="Inventory files: check before deploying.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Inventory files."""


@app.command("check")
def check(file: Annotated[Path, typer.Argument(help="inventory YAML")]) -> None:
    """Validate FILE; exit 1 and list every problem as FILE:LINE: path: message."""
    try:
        loaded = load_inventory(file)
    except ConfigError as exc:
        for line in exc.errors:
            typer.echo(line, err=True)
        typer.echo(f"{file}: {len(exc.errors)} error(s)", err=True)
        raise typer.Exit(1) from None
    inv = loaded.inventory
    services = sum(1 for _ in inv.services())
    probes = sum(1 for _ in inv.probes())
    typer.echo(
        f"{file}: ok — agent {inv.agent.id}, {len(inv.clients)} client(s), {services} service(s), {probes} probe(s)"
    )
