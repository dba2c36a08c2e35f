"""`vigie lab run` (the live lab behind `make run`) and `vigie lab outage SITE --for 10m`.

See agent/lab.py for what runs and how it is stopped.
"""

from __future__ import annotations

import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from agent.clock import SystemClock

app = typer.Typer(help="The live lab: simulated customer sites watched by an edge agent and the NOC.")


@app.callback()
def _group() -> None:
    """The live lab."""


def _duration(text: str | None) -> float | None:
    from agent.lab import parse_duration

    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _fmt_state(state: str | None) -> str:
    colour = {"up": "green", "down": "bold red", "unknown": "yellow"}.get(state or "", "dim")
    return f"[{colour}]{(state or 'waiting').upper()}[/]"


def render(rows: list[Any], now: datetime, started: float, mode: str) -> Any:
    from rich.table import Table

    elapsed = int(time.monotonic() - started)
    table = Table(
        title=f"Vigie live lab ({mode}) — {now.astimezone().strftime('%Y-%m-%d %H:%M:%S %Z')} — running {elapsed}s",
        caption="cut a site: vigie lab outage SITE --for 10m   ·   stop: Ctrl-C",
        expand=False,
    )
    for col in ("client/site", "service", "edge", "NOC view", "outages (month)", "availability", "budget", "GTR"):
        table.add_column(col)
    for r in rows:
        since = ""
        if r.edge_since_ms is not None:
            since = f" {_ago(now, r.edge_since_ms)}"
        site = f"{r.client}/{r.site}"
        if r.cut_until is not None:
            site += f"\n[red]link cut, {max(0, int(r.cut_until - now.timestamp()))}s left[/]"
        noc = _fmt_state(r.noc_state) + (f" ({r.noc_cause})" if r.noc_cause else "")
        outages = f"{r.outages} ({r.down_s}s)" + (f" +{r.microcuts} microcut" if r.microcuts else "")
        avail = "-" if r.availability_pct is None else f"{r.availability_pct:.5f} %"
        if r.measured_pct is not None and r.measured_pct != r.availability_pct:
            # The contract counts notified outages only (STD x.1.1); show what the probes saw as well.
            avail += f"\n[dim]measured {r.measured_pct:.5f} %[/]"
        budget = "-" if r.budget_min is None else f"{r.budget_min:.0f} min"
        table.add_row(
            site, f"{r.service}\n{r.contract}", _fmt_state(r.edge_state) + since, noc, outages, avail, budget, r.gtr
        )
    return table


def _ago(now: datetime, t_ms: int) -> str:
    seconds = max(0, int(now.timestamp() - t_ms / 1000))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def hms(t: datetime) -> str:
    return t.astimezone().strftime("%H:%M:%S")


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


@app.command("run")
def run(
    duration: Annotated[
        str | None,
        typer.Option(
            "--duration", help="stop after this long (90s, 10m, 1h); default: until Ctrl-C on a terminal, 60s otherwise"
        ),
    ] = None,
    lab_dir: Annotated[
        Path | None, typer.Option("--dir", help="lab files, logs and the store (default /tmp/vigie-live-lab-UID)")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="auto | netns (root) | loopback")] = "auto",
    every: Annotated[
        str | None, typer.Option("--every", help="without a terminal: print a snapshot this often (default 10s)")
    ] = None,
    demo: Annotated[
        str | None,
        typer.Option(
            "--demo",
            help="SITE:AT:FOR — cut SITE's link AT after start FOR long (e.g. lyon:15s:20s); "
            "default without a terminal: lyon:15s:20s",
        ),
    ] = None,
    live: Annotated[
        bool | None, typer.Option("--live/--snapshots", help="rich Live view (default: on a terminal)")
    ] = None,
) -> None:
    """Start the live lab and watch it; everything started is stopped by PID on exit."""
    import os

    from rich.console import Console
    from rich.live import Live

    from agent.lab import Lab, LabError, cut, default_dir, events_since, parse_duration, snapshot
    from agent.store.sqlite import SqliteStore

    tty = sys.stdout.isatty()
    use_live = tty if live is None else live
    limit = _duration(duration) if duration is not None else (None if tty else 60.0)
    snap_every = _duration(every) if every is not None else None
    snap_every = 10.0 if snap_every is None else snap_every
    if demo is None and not tty:
        demo = "lyon:15s:20s"
    demo_plan: tuple[str, float, float] | None = None
    if demo and demo != "none":
        try:
            demo_site, at, length = demo.split(":")
            demo_plan = (demo_site, parse_duration(at), parse_duration(length))
        except ValueError:
            raise typer.BadParameter(f"--demo {demo!r}: expected SITE:AT:FOR, e.g. lyon:15s:20s") from None
    chosen = mode if mode != "auto" else ("netns" if os.geteuid() == 0 else "loopback")
    if chosen not in ("netns", "loopback"):
        raise typer.BadParameter(f"--mode {mode!r}: expected auto | netns | loopback")
    directory = lab_dir or default_dir()
    console = Console(highlight=False, width=None if tty else 160)
    clock = SystemClock()
    lab = Lab(directory, chosen, clock)  # type: ignore[arg-type]
    old = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    started = time.monotonic()
    start_ms = int(clock.now().timestamp() * 1000)
    reason = "duration reached"
    store: SqliteStore | None = None
    try:
        console.print(f"[bold]Vigie live lab[/] starting ({chosen} mode) in {directory} …")
        try:
            lab.start()
        except LabError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from None
        console.print(
            f"started: {len(lab.sites)} sites, edge agent PID {lab.procs['edge'].pid}, "
            f"central PID {lab.procs['central'].pid}; store {directory / 'store.db'}"
        )
        for site in lab.sites:
            where = (
                f"netns {site.ns} at {site.address}" if site.ns else f"{site.snmp_kind} on 127.0.0.1:{site.snmp_port}"
            )
            console.print(f"  site {site.spec.client}/{site.spec.site}: {where}, SNMP agent PID {site.snmp_pid}")
        console.print(
            "cut a site for real:  .venv/bin/vigie lab outage lyon --for 2m"
            + (f" --dir {directory}" if lab_dir else "")
            + ("" if limit is None else f"   (stops by itself after {limit:.0f}s)")
        )
        store = SqliteStore(directory / "store.db")
        seen: set[tuple[int, str]] = set()
        demo_done = demo_plan is None
        last_snap = 0.0

        def tick() -> list[str]:
            nonlocal demo_done
            lines = []
            elapsed = time.monotonic() - started
            now = clock.now()
            if not demo_done and demo_plan is not None and elapsed >= demo_plan[1]:
                demo_done = True
                how = cut(directory, demo_plan[0], demo_plan[2], clock)
                lines.append(f"{hms(now)} LAB: {demo_plan[0]} link cut for {demo_plan[2]:.0f}s ({how})")
            for site in lab.due_restores():
                lines.append(f"{hms(now)} LAB: {site} link restored")
            for name in ("edge", "central"):
                proc = lab.procs[name]
                if proc.poll() is not None and (name, proc.pid) not in dead:
                    dead.add((name, proc.pid))
                    lines.append(f"{hms(now)} LAB: the {name} agent (PID {proc.pid}) exited with {proc.returncode}")
            assert store is not None
            for t, text in events_since(store, start_ms):
                if (t, text) not in seen:
                    seen.add((t, text))
                    stamp = datetime.fromtimestamp(t / 1000, UTC).astimezone().strftime("%H:%M:%S")
                    lines.append(f"{stamp} {text}")
            return lines

        dead: set[tuple[str, int]] = set()
        if use_live:
            with Live(console=console, refresh_per_second=2, transient=False) as view:
                while limit is None or time.monotonic() - started < limit:
                    for line in tick():
                        view.console.print(line)
                    view.update(render(snapshot(store, clock.now(), lab.cuts()), clock.now(), started, chosen))
                    time.sleep(0.5)
        else:
            while limit is None or time.monotonic() - started < limit:
                for line in tick():
                    console.print(line)
                if time.monotonic() - last_snap >= snap_every:
                    last_snap = time.monotonic()
                    console.print(render(snapshot(store, clock.now(), lab.cuts()), clock.now(), started, chosen))
                sys.stdout.flush()
                time.sleep(0.5)
    except KeyboardInterrupt:
        reason = "Ctrl-C"
    except _Stop as exc:
        reason = str(exc)
    finally:
        for signum in old:  # a second Ctrl-C must not interrupt the cleanup
            signal.signal(signum, signal.SIG_IGN)
        try:
            final = None
            if store is not None:
                final = render(snapshot(store, clock.now(), lab.cuts()), clock.now(), started, chosen)
            console.print(f"stopping ({reason}): every process by its PID …")
            lab.stop()
            if store is not None:
                store.close()
            if final is not None:
                console.print(final)
            console.print(f"stopped. Logs and the store are kept in {directory}")
        finally:
            for signum, handler in old.items():
                signal.signal(signum, handler)


@app.command("outage")
def outage(
    site: Annotated[str, typer.Argument(help="site id, e.g. lyon")],
    length: Annotated[str, typer.Option("--for", help="how long: 90s, 10m, 1h")] = "10m",
    lab_dir: Annotated[Path | None, typer.Option("--dir", help="the running lab's directory")] = None,
) -> None:
    """Cut SITE's link for real (netns: `ip link set down`; loopback: SIGSTOP its SNMP agent)."""
    from agent.lab import LabError, cut, default_dir

    seconds = _duration(length)
    assert seconds is not None
    try:
        how = cut(lab_dir or default_dir(), site, seconds)
    except LabError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{site}: link cut for {seconds:.0f}s ({how}); the lab restores it when the time is up")
