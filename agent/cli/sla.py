"""`vigie sla compute CASE.yaml [--format json|table] [--policy key=value ...]` (sla-semantics §7)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agent.casefile import CaseFileError, load_case, parse_policy_overrides
from sla.qualify import QualificationError
from sla.statement import compute, to_json

app = typer.Typer(help="Contract figures: availability, tiers, GTR clocks, credits.", no_args_is_help=True)


class Format(StrEnum):
    JSON = "json"
    TABLE = "table"


@app.command("compute")
def compute_command(
    cases: Annotated[list[Path], typer.Argument(help="Case file(s), YAML (sla-semantics §7).")],
    output: Annotated[Format, typer.Option("--format", "-f", help="json for machines, table for people.")] = (
        Format.TABLE
    ),
    policy: Annotated[
        list[str] | None, typer.Option("--policy", "-p", help="Override a policy: key=value (repeatable).")
    ] = None,
) -> None:
    """Evaluate one service instance for one month from each case file."""
    results: list[dict[str, Any]] = []
    try:
        overrides = parse_policy_overrides(policy or [])
        for path in cases:
            results.append(to_json(compute(load_case(path, overrides))))
    except (CaseFileError, QualificationError, ValueError) as exc:
        # Never a partial result: nothing is printed unless every case evaluated.
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if output is Format.JSON:
        text = json.dumps(results[0] if len(results) == 1 else results, indent=2, ensure_ascii=False)
        sys.stdout.write(text + "\n")
        return
    terminal = Console()
    console = Console(width=terminal.width if terminal.is_terminal else 160)
    for result in results:
        render_table(console, result)


def render_table(console: Console, r: dict[str, Any]) -> None:
    profile = r["contract_profile"]
    console.rule(f"[bold]{r['service_id']}[/] — {profile['title']} — {r['month']}")
    figures = Table(show_header=False, box=None, pad_edge=False)
    figures.add_column(style="dim")
    figures.add_column(justify="right")
    figures.add_column(style="dim")
    objective = r["objective_pct"]
    met = {True: "[green]met[/]", False: "[red]missed[/]", None: "no commitment"}[r["objective_met"]]
    rows = [
        (
            "availability (net)",
            f"{r['availability_pct']} %",
            f"objective {objective} %: {met}" if objective else met,
        ),
        ("availability (gross)", f"{r['gross_availability_pct']} %", "no exclusion applied"),
    ]
    if r["shadow"]:
        rows += [
            ("  all hours", f"{r['shadow']['all_hours_pct']} %", "shadow: 24 h window"),
            ("  coverage only", f"{r['shadow']['coverage_only_pct']} %", "shadow: M = coverage minutes"),
            ("  measured", f"{r['shadow']['measured_pct']} %", "shadow: unnotified outages counted"),
        ]
    rows += [
        ("minutes in month", r["minutes_in_month"], "M (in service)"),
        ("window minutes", r["coverage_minutes"], "heures ouvrées" if r["contract"] == "vga" else "coverage"),
        ("unavailable", r["unavailable_minutes"], "min, before exclusions"),
        ("excluded", r["excluded_minutes"], "min"),
        ("counted", r["counted_minutes"], "min: U of the formula"),
        ("unknown", r["unknown_minutes"], f"min; data completeness {r['data_completeness_pct']} %"),
        ("tier", f"{r['tier_pct']} %", f"{r['availability_credit_eur']} EUR"),
        ("GTR penalties", f"{r['gtr_penalty_pct']} %", "raw sum of ticket penalties"),
        (
            "total credit",
            f"{r['total_credit_pct']} %",
            f"[bold]{r['total_credit_eur']} EUR[/]" + ("  (cap applied)" if r["cap_applied"] else ""),
        ),
    ]
    if r["claim_deadline"]:
        rows.append(("claim by", r["claim_alert_date"], f"void after {r['claim_deadline']}"))
    if r["gtd"]:
        g = r["gtd"]
        rows.append(("GTD 6 months", f"{g['availability_pct']} %", f"{g['period']}, objective {g['objective_pct']} %"))
    for row in rows:
        figures.add_row(*row)
    console.print(figures)
    if r["flags"]:
        console.print(f"[yellow]flags:[/] {', '.join(r['flags'])}")
    _list(
        console,
        "Outages",
        ["start", "end", "notified", "in window (min)", "excluded (min)"],
        [
            [
                _t(o["start"]),
                _t(o["end"]),
                "yes" if o["notified"] else "no",
                o["minutes_in_window"],
                o["excluded_minutes"],
            ]
            for o in r["outages"]
        ],
    )
    _list(
        console,
        "Microcuts (never counted)",
        ["start", "end", "seconds"],
        [[_t(m["start"]), _t(m["end"]), str(m["seconds"])] for m in r["microcuts"]],
    )
    _list(
        console,
        "Exclusions",
        ["cause", "start", "end", "applied", "excluded (min)", "why / note"],
        [
            [
                x["cause"],
                _t(x["start"]),
                _t(x["end"]),
                "yes" if x["applied"] else "[red]no[/]",
                x["excluded_minutes"],
                x["why_not"] or x["note"] or "",
            ]
            for x in r["exclusions"]
        ],
    )
    _list(
        console,
        "Tickets",
        [
            "id",
            "clock",
            "target h",
            "start",
            "stop",
            "elapsed h",
            "frozen h",
            "breached",
            "penalty %",
            "flags",
        ],
        [
            [
                t["id"],
                t["clock"],
                t["target_hours"],
                _t(t["start"]),
                _t(t["stop"]),
                t["elapsed_hours"],
                t["frozen_hours"],
                "[red]yes[/]" if t["breached"] else "no",
                t["penalty_pct"],
                ", ".join(t["flags"]),
            ]
            for t in r["tickets"]
        ],
    )
    policy = ", ".join(f"{k}={v}" for k, v in r["policy"].items())
    console.print(f"[dim]policy: {policy}; contract profile version {profile['version']}[/]\n")


def _t(text: str) -> str:
    """Times in tables: Paris wall clock to the minute ("2026-10-14 10:05"); JSON keeps full ISO 8601."""
    return text[:16].replace("T", " ")


def _list(console: Console, title: str, columns: list[str], rows: list[list[str]]) -> None:
    if not rows:
        return
    table = Table(title=f"{title} (Europe/Paris)" if "start" in columns else title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)
