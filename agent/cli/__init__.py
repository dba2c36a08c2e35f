"""The `vigie` command. Each command group lives in its own module and is registered here."""

from __future__ import annotations

import importlib
import sys

import typer

# (module under agent.cli, command group name). One line per group.
_GROUPS: list[tuple[str, str]] = [
    ("sla", "sla"),
    ("config", "config"),
    ("agent", "agent"),
    ("probe", "probe"),
    ("profiles", "profiles"),
    ("ticket", "ticket"),
    ("exclusion", "exclusion"),
    ("maintenance", "maintenance"),
    ("ledger", "ledger"),
    ("claims", "claims"),
    ("notify", "notify"),
    ("influx", "influx"),
    ("lab", "lab"),
]


def build(only: str | None = None) -> typer.Typer:
    """The CLI with every command group, or with `only` that one: `vigie agent run` imports the agent's
    modules and nothing else (the claims group alone pulls in ReportLab and its fonts)."""
    cli = typer.Typer(
        name="vigie",
        help="Vigie: network SLA monitoring and GTR measurement, contract penalties from real measurements.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    for module, name in _GROUPS:
        if only is None or name == only:
            group = importlib.import_module(f"agent.cli.{module}")
            cli.add_typer(group.app, name=name)
    return cli


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # `from agent.cli import app`: the whole CLI, built once
        global _app
        if _app is None:
            _app = build()
        return _app
    raise AttributeError(name)


_app: typer.Typer | None = None


def main() -> None:
    first = sys.argv[1] if len(sys.argv) > 1 else None
    build(first if first in {name for _, name in _GROUPS} else None)()
