"""The `vigie` command. Each command group lives in its own module and is registered here."""

from __future__ import annotations

import importlib
import os
import sys
import traceback

import typer
from typer.exceptions import TyperException

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


# sysexits.h EX_SOFTWARE: an internal software error, told apart from a refused input (1, 2)
EXIT_INTERNAL = 70


def internal_error(exc: Exception) -> int:
    """The last resort for a bug: one line on stderr instead of a traceback a user cannot act on (the
    traceback with VIGIE_DEBUG=1, for the report); returns the exit status."""
    if os.environ.get("VIGIE_DEBUG") == "1":
        traceback.print_exception(exc)
    message = " ".join(str(exc).split())  # one line, whatever the exception's text holds
    print(
        f"error: internal error: {type(exc).__name__}: {message} — please report it "
        "(VIGIE_DEBUG=1 shows the traceback)",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


def main() -> None:
    first = sys.argv[1] if len(sys.argv) > 1 else None
    try:
        build(first if first in {name for _, name in _GROUPS} else None)()
    # typer's own ends (Exit, Abort, usage errors: TyperException) are Exceptions too: they keep their exit and text.
    # SystemExit and KeyboardInterrupt are not Exceptions and pass through untouched.
    except (typer.Exit, typer.Abort, TyperException):
        raise
    except Exception as exc:
        sys.exit(internal_error(exc))
