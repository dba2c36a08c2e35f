"""`vigie profiles list|show|check [--dir DIR]`: see and validate the device profiles (bundled, plus a user
directory that adds or overrides platforms)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from device_profiles import ProfileError, ResolvedProfile, load_profiles

app = typer.Typer(help="Device profiles: OIDs and CLI commands per platform.", no_args_is_help=True)

DirOption = Annotated[
    Path | None, typer.Option("--dir", "-d", help="user profile directory (adds or overrides platforms)")
]


@app.callback()
def _group() -> None:
    """Device profiles."""


def _load(directory: Path | None) -> dict[str, ResolvedProfile]:
    try:
        return load_profiles(directory)
    except ProfileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command("list")
def list_(directory: DirOption = None) -> None:
    """One line per platform: vendor, OID groups, CLI commands, file."""
    table = Table(show_header=True, header_style="bold")
    for col in ("platform", "vendor", "snmp groups", "cli commands", "source"):
        table.add_column(col)
    for name, rp in sorted(_load(directory).items()):
        cli = rp.profile.cli
        commands = ", ".join(cli.commands) if cli is not None else ""
        table.add_row(name, rp.profile.vendor, ", ".join(rp.groups), commands, rp.source)
    Console(width=200).print(table)


@app.command("show")
def show(
    platform: Annotated[str, typer.Argument(help="platform name, as in `vigie profiles list`")],
    directory: DirOption = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """Every OID group of PLATFORM (numeric OID, name, type) and its CLI commands."""
    profiles = _load(directory)
    if platform not in profiles:
        typer.echo(f"error: unknown platform {platform!r}; known: {', '.join(sorted(profiles))}", err=True)
        raise typer.Exit(1)
    rp = profiles[platform]
    if fmt == "json":
        data = rp.profile.model_dump(mode="json")
        data["resolved_groups"] = {g: grp.model_dump(mode="json") for g, grp in rp.groups.items()}
        data["source"] = rp.source
        typer.echo(json.dumps(data, indent=2))
        return
    console = Console(width=200)
    console.print(f"[bold]{platform}[/bold] — {rp.profile.description} ({rp.source})")
    for gname, group in rp.groups.items():
        table = Table(title=f"{gname}: {group.description}", show_header=True, header_style="bold")
        for col in ("kind", "name", "oid", "type"):
            table.add_column(col)
        for spec in group.scalars:
            table.add_row("get", spec.name, spec.oid, spec.type.value + (" (rate)" if spec.rate else ""))
        for spec in group.columns:
            table.add_row("walk", spec.name, spec.oid, spec.type.value + (" (rate)" if spec.rate else ""))
        console.print(table)
    if rp.profile.cli is not None:
        for cname, command in rp.profile.cli.commands.items():
            console.print(f"cli {cname}: {command.command!r} → {command.template}", markup=False)


@app.command("check")
def check(directory: DirOption = None) -> None:
    """Validate the bundled profiles and DIR's; exit 1 with the file and key of the first problem."""
    profiles = _load(directory)
    overridden = sorted(
        n for n, rp in profiles.items() if directory is not None and rp.source.startswith(str(directory))
    )
    groups = sum(len(rp.groups) for rp in profiles.values())
    typer.echo(
        f"ok: {len(profiles)} profiles, {groups} OID groups"
        + (f"; from {directory}: {', '.join(overridden)}" if overridden else "")
    )
