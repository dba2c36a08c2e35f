"""The central role reads the annotation ledger: its statements carry the ledger's tickets and exclusions,
its `vigie_gtr` points are the tickets' clocks at now, and the ledger's windows land in the store.

Real ledger file (SQLite, hash-chained), real embedded store, and the lab's InfluxDB 1.6.7 for the same
records read back in InfluxQL. The clock is a `FakeClock` (a Thursday afternoon in Paris, business hours).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent import lab
from agent.central import Central, case_for, statement_fields
from agent.clock import FakeClock
from agent.config import ConfigError, Inventory, parse_inventory
from agent.ledger import Kind, Ledger, Record
from agent.metrics import AgentMetrics
from agent.store import schema
from agent.store.influx import InfluxQL, InfluxReader
from agent.store.sqlite import SqliteStore
from sla.calendars import Month
from sla.model import Cause, Channel, Exclusion, Freeze, Ticket
from sla.statement import compute
from tests.influx_support import influx_db

__all__ = ["influx_db"]

INVENTORY = """
version: 1
agent:
  id: central-1
  central: {ledger: ledger.sqlite}
clients:
  - id: acme
    sites:
      - id: acme-lyon
        agent: edge-lyon
        services:
          - id: acme-lyon-internet
            contract: internet
            monthly_fee_eur: 450.00
            policy: {count_unnotified: true}
            devices:
              - name: cpe
                address: 192.0.2.1
                probes: [{kind: icmp, interval_s: 30}]
"""

NOW = datetime(2025, 11, 20, 14, 7, 13, tzinfo=UTC)  # Thursday, 15:07:13 in Paris
MONTH = Month(2025, 11)
SCOPE = {"client": "acme", "site": "acme-lyon", "service": "acme-lyon-internet"}
OUTAGE = (datetime(2025, 11, 18, 10, tzinfo=UTC), datetime(2025, 11, 18, 12, tzinfo=UTC))
EXCLUDED = (datetime(2025, 11, 18, 10, 30, tzinfo=UTC), datetime(2025, 11, 18, 11, 30, tzinfo=UTC))


def _t(text: str) -> str:
    return datetime.fromisoformat(text).isoformat()


def _fill_ledger(path: Path) -> None:
    """T1 open since 09:00 Paris with a resumed freeze (10:00–11:00) and one running since 14:07:13;
    T2 restored this morning; T3 restored three days ago (off the board); an accepted power-cut exclusion
    inside the outage, a proposed one elsewhere, a maintenance notice."""
    clock = FakeClock(NOW - timedelta(days=1))
    with Ledger(path, clock) as book:
        book.append_many(
            [
                Record(
                    Kind.TICKET_OPEN, "T1", {"opened_at": _t("2025-11-20T09:00+01:00"), "channel": "email"}, **SCOPE
                ),
                Record(
                    Kind.TICKET_FREEZE,
                    "T1",
                    {
                        "start": _t("2025-11-20T10:00+01:00"),
                        "end": _t("2025-11-20T11:00+01:00"),
                        "reason": "access_requested",
                    },
                ),
                Record(Kind.TICKET_FREEZE, "T1", {"start": _t("2025-11-20T14:07:13+01:00"), "reason": "site_access"}),
                Record(
                    Kind.TICKET_OPEN, "T2", {"opened_at": _t("2025-11-19T16:00+01:00"), "channel": "email"}, **SCOPE
                ),
                Record(Kind.TICKET_RESTORE, "T2", {"restored_at": _t("2025-11-20T09:30+01:00")}),
                Record(
                    Kind.TICKET_OPEN, "T3", {"opened_at": _t("2025-11-14T09:00+01:00"), "channel": "email"}, **SCOPE
                ),
                Record(Kind.TICKET_RESTORE, "T3", {"restored_at": _t("2025-11-14T11:00+01:00")}),
                Record(
                    Kind.EXCLUSION_ADD,
                    "X1",
                    {"cause": "power_cut", "start": EXCLUDED[0].isoformat(), "end": EXCLUDED[1].isoformat()},
                    **SCOPE,
                ),
                Record(Kind.EXCLUSION_ACCEPT, "X1", {"note": "EDF notice"}),
                Record(
                    Kind.EXCLUSION_ADD,
                    "X2",
                    {"cause": "force_majeure", "start": _t("2025-11-05T08:00Z"), "end": _t("2025-11-05T09:00Z")},
                    client="acme",
                ),
                Record(
                    Kind.MAINTENANCE_ADD,
                    "M1",
                    {
                        "received_at": _t("2025-11-01T10:00Z"),
                        "start": _t("2025-11-12T01:00Z"),
                        "end": _t("2025-11-12T03:00Z"),
                    },
                    client="acme",
                    site="acme-lyon",
                ),
            ]
        )


def _edge_states() -> list[schema.Record]:
    ids = {**SCOPE, "agent": "edge-lyon"}
    ms = schema.ms
    return [
        schema.state(ids=ids, state="up", source="edge", time_ms=ms(datetime(2025, 10, 1, tzinfo=UTC))),
        schema.state(ids=ids, state="down", source="edge", time_ms=ms(OUTAGE[0])),
        schema.state(ids=ids, state="up", source="edge", time_ms=ms(OUTAGE[1])),
    ]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Inventory, SqliteStore, Path]]:
    inventory = parse_inventory(INVENTORY)
    ledger = tmp_path / "ledger.sqlite"
    _fill_ledger(ledger)
    store = SqliteStore(tmp_path / "vigie.db")
    store.write(_edge_states())
    try:
        yield inventory, store, ledger
    finally:
        store.close()


def _gtr(records: list[schema.Record]) -> dict[str, dict[str, Any]]:
    return {
        str(r.tag("ticket")): {"status": r.tag("status"), "reason": r.tag("freeze_reason"), **dict(r.fields)}
        for r in records
        if r.measurement == schema.GTR
    }


EXPECTED_GTR = {
    # 09:00 → 15:07:13 on the business-hours clock, less 10:00–11:00 and 14:07:13–15:07:13 frozen
    "T1": {"status": "frozen", "reason": "site_access", "elapsed_s": 14833.0, "frozen_s": 7200.0},
    # Wed 16:00–17:30 and Thu 08:30–09:30 (the business day starts at 08:30)
    "T2": {"status": "stopped", "reason": None, "elapsed_s": 9000.0, "frozen_s": 0.0},
}


def _check_gtr(points: dict[str, dict[str, Any]]) -> None:
    assert set(points) == set(EXPECTED_GTR)  # T3 was restored days ago: off the board
    for ticket, expected in EXPECTED_GTR.items():
        got = points[ticket]
        assert {k: got[k] for k in expected} == expected, ticket
        assert got["target_s"] == 6 * 3600.0  # STD repair: 6 business hours
        assert got["remaining_s"] == got["target_s"] - got["elapsed_s"]
        assert got["breached"] is False


def test_gtr_points_in_the_embedded_store(setup: tuple[Inventory, SqliteStore, Path]) -> None:
    inventory, store, ledger = setup
    central = Central(inventory, store, FakeClock(NOW), AgentMetrics(), ledger)
    written = central.statements()
    store.write(written)
    _check_gtr(_gtr(written))
    rows = store.db.execute("SELECT tags, fields, time_ms FROM points WHERE measurement = ?", (schema.GTR,))
    _check_gtr(_gtr([schema.make(schema.GTR, json.loads(t), json.loads(f), ms) for t, f, ms in rows]))


def test_the_clock_resumes_and_runs_on(setup: tuple[Inventory, SqliteStore, Path]) -> None:
    inventory, store, ledger = setup
    clock = FakeClock(NOW)
    central = Central(inventory, store, clock, AgentMetrics(), ledger)
    with Ledger(ledger, clock) as book:
        book.append(Record(Kind.TICKET_RESUME, "T1", {"at": _t("2025-11-20T15:37:13+01:00")}))
    clock.advance(3600)  # 16:07:13 Paris: frozen until 15:37:13, running since
    t1 = _gtr(central.statements())["T1"]
    assert (t1["status"], t1["reason"]) == ("running", None)
    assert (t1["elapsed_s"], t1["frozen_s"]) == (14833.0 + 1800, 7200.0 + 1800)


def test_statement_with_the_accepted_exclusion_is_compute_of_the_same_case(
    setup: tuple[Inventory, SqliteStore, Path],
) -> None:
    inventory, store, ledger = setup
    central = Central(inventory, store, FakeClock(NOW), AgentMetrics(), ledger)
    (statement,) = [r for r in central.statements() if r.measurement == schema.STATEMENT]
    _, _, service = next(iter(inventory.services()))
    tickets = (
        Ticket(
            "T1",
            datetime.fromisoformat("2025-11-20T09:00+01:00"),
            channel=Channel.EMAIL,
            freezes=(
                Freeze(
                    datetime.fromisoformat("2025-11-20T10:00+01:00"),
                    datetime.fromisoformat("2025-11-20T11:00+01:00"),
                    "access_requested",
                ),
                Freeze(datetime.fromisoformat("2025-11-20T14:07:13+01:00"), MONTH_END, "site_access"),
            ),
        ),
        Ticket(
            "T2",
            datetime.fromisoformat("2025-11-19T16:00+01:00"),
            channel=Channel.EMAIL,
            restored_at=datetime.fromisoformat("2025-11-20T09:30+01:00"),
        ),
        Ticket(
            "T3",
            datetime.fromisoformat("2025-11-14T09:00+01:00"),
            channel=Channel.EMAIL,
            restored_at=datetime.fromisoformat("2025-11-14T11:00+01:00"),
        ),
    )
    bare = case_for(service, MONTH, store.state_intervals(service.id, "edge", schema.ms(NOW)), NOW)
    maintenance = Exclusion(
        Cause.PLANNED_MAINTENANCE,
        datetime(2025, 11, 12, 1, tzinfo=UTC),
        datetime(2025, 11, 12, 3, tzinfo=UTC),
        announced_at=datetime(2025, 11, 1, 10, tzinfo=UTC),
    )
    power_cut = Exclusion(Cause.POWER_CUT, *EXCLUDED)
    expected = compute(replace(bare, tickets=tickets, exclusions=(power_cut, maintenance)))
    assert dict(statement.fields) == statement_fields(expected, service)
    assert statement.field("excluded_min") == 60.0  # the accepted exclusion's hour of the two-hour outage
    assert statement.field("unavailable_min") == 120.0
    without = compute(replace(bare, tickets=tickets, exclusions=(maintenance,)))
    assert statement.field("availability_pct") != float(without.availability_pct)


MONTH_END = datetime(2025, 11, 30, 23, tzinfo=UTC)  # Paris midnight, 1 December


def _windows(records: list[schema.Record]) -> list[tuple[Any, ...]]:
    return [
        (r.tag("ref"), r.tag("kind"), r.tag("cause"), r.tag("state"), r.tag("service"), r.time_ms, r.field("current"))
        for r in sorted(records, key=lambda r: (r.time_ms, r.tag("ref") or "", r.tag("state") or ""))
    ]


EXPECTED_WINDOWS = [
    ("X2", "exclusion", "force_majeure", "proposed", None, schema.ms(datetime(2025, 11, 5, 8, tzinfo=UTC)), True),
    (
        "M1",
        "maintenance",
        "planned_maintenance",
        "announced",
        None,
        schema.ms(datetime(2025, 11, 12, 1, tzinfo=UTC)),
        True,
    ),
    ("X1", "exclusion", "power_cut", "accepted", "acme-lyon-internet", schema.ms(EXCLUDED[0]), True),
    ("X1", "exclusion", "power_cut", "proposed", "acme-lyon-internet", schema.ms(EXCLUDED[0]), False),
]


def test_exclusion_points_land_in_the_store_and_only_changes_are_rewritten(
    setup: tuple[Inventory, SqliteStore, Path],
) -> None:
    inventory, store, ledger = setup
    clock = FakeClock(NOW)
    central = Central(inventory, store, clock, AgentMetrics(), ledger)
    store.write(central.statements())
    assert _windows(store.exclusions(current=False)) == EXPECTED_WINDOWS
    assert [w[0] for w in _windows(store.exclusions())] == ["X2", "M1", "X1"]
    x1 = next(r for r in store.exclusions() if r.tag("ref") == "X1")
    assert (x1.field("end_s"), x1.field("duration_s")) == (schema.ms(EXCLUDED[1]) // 1000, 3600)
    # nothing changed: no window rewritten; the ledger's X2 accepted: its proposed point is no longer current
    assert [r for r in central.statements() if r.measurement == schema.EXCLUSION] == []
    with Ledger(ledger, clock) as book:
        book.append(Record(Kind.EXCLUSION_ACCEPT, "X2", {}))
        x1_add, x1_accept = book.subject("X1")  # retracted, the acceptance first
        book.append(Record(Kind.RETRACT, "X1", {}, supersedes=x1_accept.id))
        book.append(Record(Kind.RETRACT, "X1", {}, supersedes=x1_add.id))
    changed = [r for r in central.statements() if r.measurement == schema.EXCLUSION]
    store.write(changed)
    assert {(r.tag("ref"), r.tag("state"), r.field("current")) for r in changed} == {
        ("X2", "proposed", False),
        ("X2", "accepted", True),
        ("X1", "accepted", False),  # retracted: no current version left
    }
    assert [(r.tag("ref"), r.tag("state")) for r in store.exclusions()] == [("X2", "accepted"), ("M1", "announced")]


def test_a_missing_ledger_is_an_empty_one(setup: tuple[Inventory, SqliteStore, Path], tmp_path: Path) -> None:
    inventory, store, _ = setup
    missing = tmp_path / "none.sqlite"
    written = Central(inventory, store, FakeClock(NOW), AgentMetrics(), missing).statements()
    assert [r.measurement for r in written] == [schema.STATEMENT]
    assert written[0].field("excluded_min") == 0.0
    assert not missing.exists()


def test_the_ledger_path_defaults_to_the_cli_default() -> None:
    config = INVENTORY.replace("  central: {ledger: ledger.sqlite}\n", "")
    assert parse_inventory(config).agent.central.ledger == Path("vigie-ledger.sqlite")
    with pytest.raises(ConfigError, match="ledgr"):
        parse_inventory(INVENTORY.replace("{ledger: ledger.sqlite}", "{ledgr: ledger.sqlite}"))


@pytest.mark.lab
def test_gtr_and_exclusion_points_in_influxdb(setup: tuple[Inventory, SqliteStore, Path], influx_db: InfluxQL) -> None:
    """The same ledger and edge states in InfluxDB 1.6.7: the central role reading InfluxQL writes the same
    records; written to InfluxDB, the GTR clocks and the windows read back as written."""
    inventory, store, ledger = setup
    influx_db.write(_edge_states())
    reader = InfluxReader(influx_db)
    from_sqlite = Central(inventory, store, FakeClock(NOW), AgentMetrics(), ledger).statements()
    from_influx = Central(inventory, reader, FakeClock(NOW), AgentMetrics(), ledger).statements()
    assert from_influx == from_sqlite
    influx_db.write(from_influx)
    rows = [row for s in influx_db.query(f'SELECT * FROM "{schema.GTR}"')[0] for row in s.rows()]
    tags = [{k: v for k, v in row.items() if k in schema.GTR_TAGS} for row in rows]
    fields = [{k: v for k, v in row.items() if k in schema.GTR_FIELDS} for row in rows]
    _check_gtr(_gtr([schema.make(schema.GTR, t, f, schema.ms(NOW)) for t, f in zip(tags, fields, strict=True)]))
    assert _windows(reader.exclusions(current=False)) == EXPECTED_WINDOWS
    assert reader.count(schema.EXCLUSION) == len(EXPECTED_WINDOWS)


def test_the_lab_opens_and_restores_tickets_the_central_role_clocks(tmp_path: Path) -> None:
    """`vigie lab outage` opens a ticket in the lab's ledger and the restoration closes it (the ledger half
    of `lab.cut` / `lab.restore`); the central role reading that ledger writes the clock, and the live
    view shows the store's latest one."""
    clock = FakeClock(NOW)
    store = SqliteStore(tmp_path / "store.db")
    try:
        central = Central(parse_inventory(INVENTORY), store, clock, AgentMetrics(), tmp_path / lab.LEDGER)
        ref = lab.open_ticket(tmp_path, "lyon", clock)
        clock.advance(600)
        store.write(central.statements())
        assert lab.gtr_clock(store, "acme-lyon-internet") == "running 0:10:00 / 6h"
        assert lab.gtr_clock(store, "bistro-paris-internet") == "no ticket"
        lab.restore_ticket(tmp_path, ref, clock)
        clock.advance(600)
        store.write(central.statements())
        assert lab.gtr_clock(store, "acme-lyon-internet") == "stopped 0:10:00 / 6h"
        (point,) = store.latest_gtr("acme-lyon-internet")
        assert (point.tag("ticket"), point.tag("site"), point.time_ms) == (ref, "acme-lyon", schema.ms(clock.now()))
    finally:
        store.close()
