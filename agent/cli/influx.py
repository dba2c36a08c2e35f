"""`vigie influx setup|check CONFIG`: make the InfluxQL read path work on the configured InfluxDB.

- `setup`: InfluxDB 2.x answers InfluxQL (`/query`, what the central role and the Grafana dashboards use)
  only for buckets mapped to a database and retention policy (DBRP); this creates the mapping
  `--database` (default: the bucket's name) / `--rp` (default `autogen`) → `store.bucket`. On 1.x it
  creates the database; on 3.x there is nothing to do. Idempotent: run it again any time.
- `check`: one InfluxQL query through the read path; a failure says what to run or change.

The token needs read and write on the bucket, and for `setup` on 2.x the right to manage DBRP mappings
(an all-access or operator token, once).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.config import ConfigError, InfluxStoreConfig, load_inventory

app = typer.Typer(help="InfluxDB: the InfluxQL read path (DBRP mapping, checks).", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """InfluxDB store."""


def _store(config: Path) -> InfluxStoreConfig:
    try:
        store = load_inventory(config).inventory.agent.store
    except ConfigError as exc:
        for line in exc.errors:
            typer.echo(line, err=True)
        raise typer.Exit(1) from None
    if not isinstance(store, InfluxStoreConfig):
        typer.echo(f"{config}: agent.store is not `kind: influxdb` (the embedded store needs no setup)", err=True)
        raise typer.Exit(1)
    return store


@app.command("setup")
def setup_cmd(
    config: Annotated[Path, typer.Argument(help="inventory YAML with agent.store.kind: influxdb")],
    database: Annotated[str | None, typer.Option(help="InfluxQL database name (default: the bucket)")] = None,
    rp: Annotated[str, typer.Option(help="InfluxQL retention policy name")] = "autogen",
) -> None:
    """Create what InfluxQL reads need (2.x: the DBRP mapping; 1.x: the database)."""
    from agent.store.influx import InfluxError, setup

    store = _store(config)
    try:
        result = setup(
            store.url,
            store.token.reveal(),
            store.org,
            store.bucket,
            database=database,
            retention_policy=rp,
            timeout_s=store.timeout_s,
        )
    except InfluxError as exc:
        typer.echo(f"error: {exc.message}\n  fix: {exc.hint}", err=True)
        raise typer.Exit(1) from None
    extra = f" (bucket {result.bucket_id}, mapping {result.dbrp_id})" if result.bucket_id else ""
    typer.echo(f"InfluxDB {result.version or result.server}: {result.action}: database {result.database!r}{extra}")


@app.command("check")
def check_cmd(
    config: Annotated[Path, typer.Argument(help="inventory YAML with agent.store.kind: influxdb")],
    database: Annotated[str | None, typer.Option(help="InfluxQL database name (default: the bucket)")] = None,
) -> None:
    """Run one InfluxQL read (the last heartbeat of every agent)."""
    from agent.store.influx import InfluxError, InfluxQL, InfluxReader

    store = _store(config)
    client = InfluxQL(store.url, database or store.bucket, token=store.token.reveal(), timeout_s=store.timeout_s)
    try:
        beats = InfluxReader(client).last_heartbeats()
    except InfluxError as exc:
        typer.echo(f"error: {exc.message}\n  fix: {exc.hint}", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()
    typer.echo(f"InfluxQL read ok: {len(beats)} agent(s) with heartbeats")
