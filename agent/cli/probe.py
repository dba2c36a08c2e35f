"""`vigie probe KIND TARGET`: run one probe by hand with the agent's own collector code (the NOC's fping,
snmpget and show command in one place). Driven by the `collectors.COLLECTORS` registry: every registered kind
works, with options `-o key=value` validated by that collector's config schema, plus a few common flags.

    vigie probe icmp 10.250.0.2 --count 5
    vigie probe snmp 127.0.0.1 --port 1161 --snmp-version 2c --community public --platform cisco_ios
    vigie probe snmp 10.0.0.1 -o user=noc -o auth_key=env:SNMP_AUTH -o priv_key=file:/etc/vigie/priv --format json

Secrets may be `env:NAME` or `file:/path` (a literal works too, but lands in the shell history).
Exit status: 0 probe ok, 1 probe failed (the result says why), 2 bad options.
"""

from __future__ import annotations

import asyncio
import json
import types
import typing
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from agent.clock import SystemClock
from collectors import COLLECTORS
from collectors.base import CollectorConfig, ProbeResult, SecretSource

app = typer.Typer(
    help="Run one probe by hand and print its result.",
    no_args_is_help=True,
    # a group with arguments: let options come after KIND TARGET, as in `vigie probe icmp HOST --count 5`
    context_settings={"allow_interspersed_args": True},
)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


# common flag → config key (applied only when the collector's schema has that key)
COMMON = {
    "count": "count",
    "timeout": "timeout_s",
    "port": "port",
    "snmp_version": "version",
    "community": "community",
    "user": "user",
    "auth_key": "auth_key",
    "priv_key": "priv_key",
    "platform": "platform",
    "profiles_dir": "profiles_dir",
}


def _annotation_args(annotation: Any) -> tuple[Any, ...]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return typing.get_args(annotation)
    return (annotation,)


def coerce(model: type[BaseModel], key: str, raw: str) -> Any:
    """A command-line string for `key` of `model`: secrets parsed, tuples split on commas, the rest left to
    pydantic's own conversion."""
    field = model.model_fields.get(key)
    if field is None:
        known = ", ".join(sorted(model.model_fields))
        raise typer.BadParameter(f"unknown option {key!r}; this probe knows: {known}", param_hint="-o")
    args = _annotation_args(field.annotation)
    if SecretSource in args:
        return SecretSource.parse(raw)
    if any(typing.get_origin(a) in (tuple, list) for a in args):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def build_config(kind: str, options: list[str], flags: dict[str, Any]) -> CollectorConfig:
    model: type[CollectorConfig] = COLLECTORS[kind].config_model
    data: dict[str, Any] = {}
    for flag, key in COMMON.items():
        value = flags.get(flag)
        if value is None:
            continue
        if key not in model.model_fields:
            raise typer.BadParameter(f"--{flag.replace('_', '-')} does not apply to {kind} probes")
        data[key] = coerce(model, key, str(value))
    for option in options:
        key, sep, raw = option.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected key=value, got {option!r}", param_hint="-o")
        data[key.strip()] = coerce(model, key.strip(), raw)
    return model.model_validate(data)


def _flatten(prefix: str, value: Any, out: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out.append((prefix, value))


def render_table(result: ProbeResult, console: Console) -> None:
    status = "[green]OK[/green]" if result.ok else f"[red]FAILED[/red] ({result.reason})"
    console.print(f"{result.kind} {result.target}: {status} in {result.duration_s * 1000:.1f} ms")
    if result.detail:
        console.print(f"  {result.detail}", markup=False, highlight=False)
    scalars: list[tuple[str, Any]] = []
    tables: list[tuple[str, dict[str, dict[str, Any]]]] = []
    for key, value in result.values.items():
        if key == "groups" and isinstance(value, dict):
            for gname, group in value.items():
                rows = group.get("rows") if isinstance(group, dict) else None
                for k, v in (group or {}).items():
                    if k != "rows":
                        scalars.append((f"{gname}.{k}", v))
                if rows:
                    tables.append((gname, rows))
        else:
            _flatten(key, value, scalars)
    table = Table(show_header=True, header_style="bold")
    table.add_column("value")
    table.add_column("")
    for key, value in scalars:
        table.add_row(key, "" if value is None else str(value))
    console.print(table)
    for gname, rows in tables:
        columns = list(dict.fromkeys(c for row in rows.values() for c in row))
        t = Table(title=gname, show_header=True, header_style="bold")
        t.add_column("index")
        for c in columns:
            t.add_column(c)
        for index, row in rows.items():
            t.add_row(index, *("" if row.get(c) is None else str(row.get(c)) for c in columns))
        console.print(t)


@app.callback(invoke_without_command=True)
def probe(
    kind: Annotated[str, typer.Argument(help=f"probe kind: {', '.join(sorted(COLLECTORS))}")],
    target: Annotated[str, typer.Argument(help="address or host name to probe")],
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="collector option key=value (repeatable)")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="output format")] = Format.TABLE,
    count: Annotated[int | None, typer.Option(help="icmp: echo requests")] = None,
    timeout: Annotated[float | None, typer.Option(help="seconds to wait for an answer")] = None,
    port: Annotated[int | None, typer.Option(help="UDP/TCP port")] = None,
    snmp_version: Annotated[str | None, typer.Option(help="snmp: 3 (default), 2c or 1")] = None,
    community: Annotated[str | None, typer.Option(help="snmp v1/v2c community (env:NAME, file:PATH)")] = None,
    user: Annotated[str | None, typer.Option(help="snmp v3 user")] = None,
    auth_key: Annotated[str | None, typer.Option(help="snmp v3 auth key (env:NAME, file:PATH)")] = None,
    priv_key: Annotated[str | None, typer.Option(help="snmp v3 privacy key (env:NAME, file:PATH)")] = None,
    platform: Annotated[str | None, typer.Option(help="device profile to poll")] = None,
    profiles_dir: Annotated[Path | None, typer.Option(help="user profile directory")] = None,
) -> None:
    """Run one KIND probe against TARGET and print the result (exit 1 when the probe failed)."""
    if kind not in COLLECTORS:
        raise typer.BadParameter(f"unknown probe kind {kind!r}; known: {', '.join(sorted(COLLECTORS))}")
    flags = {
        "count": count,
        "timeout": timeout,
        "port": port,
        "snmp_version": snmp_version,
        "community": community,
        "user": user,
        "auth_key": auth_key,
        "priv_key": priv_key,
        "platform": platform,
        "profiles_dir": profiles_dir,
    }
    try:
        config = build_config(kind, option or [], flags)
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or kind
            typer.echo(f"error: {loc}: {err['msg']}", err=True)
        raise typer.Exit(2) from None
    collector = COLLECTORS[kind](config)
    result: ProbeResult = asyncio.run(collector.collect(target, SystemClock().now()))
    if fmt is Format.JSON:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        console = Console()
        if not console.is_terminal:  # piped or captured: do not squeeze wide interface tables to 80 columns
            console = Console(width=250)
        render_table(result, console)
    raise typer.Exit(0 if result.ok else 1)
