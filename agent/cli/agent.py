"""`vigie agent run CONFIG [--role edge|central]`: the long-running agent (systemd: agent/systemd/)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from agent.config import ConfigError, Role
from agent.inputs import InputError

app = typer.Typer(help="The agent runtime: edge (on site) or central (NOC).", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """The agent runtime."""


@app.command("run")
def run(
    config: Annotated[Path, typer.Argument(help="inventory YAML (see `vigie config check`)")],
    role: Annotated[Role, typer.Option("--role", help="edge: poll the sites; central: NOC watch + statements")] = (
        Role.EDGE
    ),
) -> None:
    """Run until SIGTERM/SIGINT; SIGHUP reloads CONFIG (a bad config is refused, the running one kept)."""
    from agent.runtime import AgentRuntime
    from agent.spool import SpoolMigrationError, SpoolVersionError

    try:
        runtime = AgentRuntime(config, role)
    except ConfigError as exc:
        for line in exc.errors:
            typer.echo(line, err=True)
        raise typer.Exit(1) from None
    try:
        asyncio.run(runtime.run())
    except (SpoolVersionError, SpoolMigrationError, InputError) as exc:  # the file (spool, store) is left as it was
        typer.echo(f"vigie agent: {exc}", err=True)
        raise typer.Exit(1) from None
