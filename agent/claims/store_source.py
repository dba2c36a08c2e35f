"""Claim items from the store: a month's measurements read back, the inventory's services, the ledger.

`vigie claims build --inventory FILE` uses this instead of case files. For each service of a client in
service during the month, the edge's qualified state intervals are read from the store (the embedded
SQLite file or InfluxDB through InfluxQL: both readers give the same intervals, tests/agent/
test_claims_store.py) up to the month's end plus the engine's edge margin (an outage crossing the month
end keeps its whole duration), and become an `sla` Case exactly as the central role builds its
current-month statements (`agent.central.case_for`). The ledger's tickets and exclusions are applied per
(client, site id, service) as for case files (`agent.claims.sources.claim_item`).

The client's name comes from the inventory, its address and designated contact from `notifications.clients`
when given; a site is shown by its name (else its id).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from agent.central import StoreReader, case_for, silent_since
from agent.claims.build import ClaimError, ClaimItem, ClientInfo
from agent.claims.sources import claim_item
from agent.config import AgentConfig, Client, EmbeddedStoreConfig, InfluxStoreConfig, Inventory, LoadedConfig
from agent.inputs import InputError
from agent.ledger import ServiceRef
from agent.ledger.convert import LedgerView
from agent.store import schema
from sla.calendars import Month, from_epoch
from sla.statement import EDGE_MARGIN_S, in_service_period

SOURCE = "store"


def client_info(inventory: Inventory, client: Client) -> ClientInfo:
    settings = inventory.notifications.clients.get(client.id) if inventory.notifications else None
    return ClientInfo(
        id=client.id,
        name=client.name or client.id,
        address=settings.address if settings else None,
        contact=settings.contact if settings else None,
    )


def month_until(month: Month, now: datetime) -> datetime:
    """How far a month is read: its end and the engine's margin, or now while that is still ahead."""
    return min(now, from_epoch(month.end + EDGE_MARGIN_S))


def store_items(
    client: Client, month: Month, reader: StoreReader, view: LedgerView | None, now: datetime, agent: AgentConfig
) -> list[ClaimItem]:
    """The client's services in service during `month`, one claim item each, from the store. `agent`: the
    inventory's (the default edge agent of a site, the heartbeat timeout)."""
    until = month_until(month, now)
    beats = reader.last_heartbeats()
    items = []
    for site in client.sites:
        for service in site.services:
            try:
                in_service_period(month, service.to_sla())
            except ValueError:
                continue  # not in service that month: nothing to claim, nothing to list
            intervals = reader.state_intervals(service.id, "edge", until_ms=schema.ms(until))
            silent = silent_since(beats, site.agent or agent.id, until, agent.central.heartbeat_timeout_s)
            case = case_for(service, month, intervals, until, silent)
            ref = ServiceRef(client.id, site.id, service.id)
            items.append(claim_item(case, ref, site.name or site.id, view, SOURCE))
    return items


@contextmanager
def open_reader(loaded: LoadedConfig, store: str | None = None, database: str | None = None) -> Iterator[StoreReader]:
    """The store to read: `store` = `embedded:PATH`, else the inventory's `agent.store` (embedded path
    relative to the inventory; InfluxDB through InfluxQL, `database` defaulting to the bucket, as
    `vigie influx check`)."""
    config: EmbeddedStoreConfig | InfluxStoreConfig
    if store is not None:
        kind, sep, path = store.partition(":")
        if kind != "embedded" or not sep or not path:
            raise ClaimError(
                f"--store {store!r}: expected embedded:PATH (InfluxDB is read as the inventory's agent.store says)"
            )
        config, where = EmbeddedStoreConfig(path=Path(path)), Path(path)
    else:
        config = loaded.inventory.agent.store
        where = loaded.resolve(config.path) if isinstance(config, EmbeddedStoreConfig) else Path()
    if isinstance(config, InfluxStoreConfig):
        from agent.store.influx import InfluxQL, InfluxReader

        client = InfluxQL(
            config.url, database or config.bucket, token=config.token.reveal(), timeout_s=config.timeout_s
        )
        try:
            yield InfluxReader(client)
        finally:
            client.close()
        return
    from agent.store.sqlite import SqliteStore

    if not where.is_file():
        raise ClaimError(f"embedded store {where}: no such file")
    if where.stat().st_size == 0:  # read here, never written: an empty file holds no measurement to claim on
        raise ClaimError(f"embedded store {where}: an empty file, no measurements")
    try:
        sqlite = SqliteStore(where)
    except InputError as exc:  # not an SQLite file of ours: named, and left untouched
        raise ClaimError(str(exc)) from None
    try:
        yield sqlite
    finally:
        sqlite.close()
