"""The `vigie` command. Each command group lives in its own module and is registered here."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="vigie",
    help="Vigie: network SLA monitoring and GTR measurement, contract penalties from real measurements.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

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
    ("influx", "influx"),
    ("lab", "lab"),
]

for _module, _name in _GROUPS:
    _group = importlib.import_module(f"agent.cli.{_module}")
    app.add_typer(_group.app, name=_name)


def main() -> None:
    app()
