"""The InfluxQL read path gives the central role exactly what the embedded store gives it.

The same points (built by the product's schema constructors) go to the embedded SQLite store and, as line
protocol, to the lab's real InfluxDB 1.6.7; the statements computed by `sla.statement.compute` from what
each store reads back must be identical (`to_json`), and so must the central role's written-back records.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from agent.central import Central, case_for
from agent.clock import FakeClock
from agent.config import Inventory, parse_inventory
from agent.metrics import AgentMetrics
from agent.store import schema
from agent.store.influx import InfluxQL, InfluxReader
from agent.store.schema import Record
from agent.store.sqlite import SqliteStore
from sla.calendars import Month
from sla.statement import Case, ProbeSamples, compute, to_json
from tests.influx_support import influx_db

__all__ = ["influx_db"]

pytestmark = pytest.mark.lab

INVENTORY = """
version: 1
agent:
  id: central-1
clients:
  - id: acme
    sites:
      - id: acme-lyon
        agent: edge-lyon
        services:
          - id: acme-lyon-internet
            contract: internet
            monthly_fee_eur: 450.00
            policy: {count_unnotified: true}  # no ledger here: outages count without a ticket
            qualification: {down_after: 3, up_after: 2, microcut_s: 60, interval_s: 30}
            devices:
              - name: cpe
                address: 192.0.2.1
                probes: [{kind: icmp, interval_s: 30}]
          - id: acme-lyon-vga
            contract: vga
            monthly_fee_eur: 120.00
            access_type: analog
            gtr_option: 6h_business
            policy: {count_unnotified: true}
            devices:
              - name: voice
                address: 192.0.2.10
                probes: [{kind: icmp, interval_s: 30}]
      - id: acme-paris
        agent: edge-paris
        services:
          - id: acme-paris-internet
            contract: internet
            monthly_fee_eur: 300.00
            policy: {count_unnotified: true}
            devices:
              - name: cpe
                address: 192.0.2.20
                probes: [{kind: icmp, interval_s: 30}]
"""

NOW = datetime(2025, 11, 20, 14, 7, 13, tzinfo=UTC)
MONTH = Month(2025, 11)


def _ids(client: str, site: str, service: str, agent: str) -> dict[str, str]:
    return {"client": client, "site": site, "service": service, "agent": agent}


def _dataset(inventory: Inventory) -> list[Record]:
    """Edge state changes over seven months (VGA's GTD looks six months back), an outage crossing the
    month start, one still open now, a change after `now`, heartbeats, and one old change far back."""
    rng = random.Random(6)
    out: list[Record] = []
    ms = schema.ms
    for client, site, service in inventory.services():
        ids = _ids(client.id, site.id, service.id, site.agent or "")
        t = NOW - timedelta(days=400)
        out.append(schema.state(ids=ids, state="up", source="edge", time_ms=ms(t)))
        t = NOW - timedelta(days=210)
        while t < NOW - timedelta(hours=3):
            down = t + timedelta(hours=rng.uniform(20, 200), seconds=rng.randrange(60))
            up = down + timedelta(seconds=rng.choice([45, 300, 1800, 7200, 30000]))
            out.append(schema.state(ids=ids, state="down", source="edge", time_ms=ms(down), cause="icmp_loss"))
            out.append(schema.state(ids=ids, state="up", source="edge", time_ms=ms(up)))
            t = up
        # across the month start (Paris midnight is 23:00 UTC on 31 Oct)
        out.append(
            schema.state(ids=ids, state="down", source="edge", time_ms=ms(datetime(2025, 10, 31, 21, tzinfo=UTC)))
        )
        out.append(
            schema.state(ids=ids, state="up", source="edge", time_ms=ms(datetime(2025, 11, 1, 2, 30, tzinfo=UTC)))
        )
        # the central's own view must not leak into the edge's intervals
        out.append(schema.state(ids=ids, state="unknown", source="central", time_ms=ms(NOW - timedelta(hours=5))))
    # open now on the first service; and a change after `now` (a late reader) on the second
    (c, s, first), (c2, s2, second), _ = list(inventory.services())
    out.append(
        schema.state(
            ids=_ids(c.id, s.id, first.id, "edge-lyon"),
            state="down",
            source="edge",
            time_ms=ms(NOW - timedelta(minutes=40)),
        )
    )
    out.append(
        schema.state(
            ids=_ids(c2.id, s2.id, second.id, "edge-lyon"),
            state="down",
            source="edge",
            time_ms=ms(NOW + timedelta(minutes=10)),
        )
    )
    for i in range(20):
        out.append(
            schema.heartbeat(
                agent="edge-lyon",
                role="edge",
                seq=i,
                uptime_s=30.0 * i,
                spool_records=i % 3,
                time_ms=ms(NOW - timedelta(seconds=30 * (20 - i))),
            )
        )
    out.append(
        schema.heartbeat(
            agent="edge-paris",
            role="edge",
            seq=1,
            uptime_s=5.0,
            spool_records=0,
            time_ms=ms(NOW - timedelta(minutes=30)),
        )
    )
    return out


@pytest.fixture
def stores(influx_db: InfluxQL, tmp_path: Path) -> tuple[Inventory, SqliteStore, InfluxReader, list[Record]]:
    inventory = parse_inventory(INVENTORY)
    records = _dataset(inventory)
    sqlite = SqliteStore(tmp_path / "vigie.db")
    sqlite.write(records)
    influx_db.write(records)
    return inventory, sqlite, InfluxReader(influx_db), records


def test_statements_from_influxdb_equal_those_from_the_embedded_store(stores):  # type: ignore[no-untyped-def]
    inventory, sqlite, influx, _ = stores
    until = schema.ms(NOW)
    compared = 0
    for _client, _site, service in inventory.services():
        a = sqlite.state_intervals(service.id, "edge", until_ms=until)
        b = influx.state_intervals(service.id, "edge", until_ms=until)
        # InfluxDB reads a window (plus the state it opens in): its intervals are the tail of SQLite's
        assert b == a[len(a) - len(b) :]
        assert len(b) < len(a)  # the change 400 days back was not read
        st_a = to_json(compute(case_for(service, MONTH, a, NOW)))
        st_b = to_json(compute(case_for(service, MONTH, b, NOW)))
        assert st_a == st_b
        assert st_a["outages"], "the dataset has outages this month"
        assert st_a["availability_pct"] != "100.000"
        compared += 1
    assert compared == 3


def test_central_role_writes_the_same_records_from_either_store(stores):  # type: ignore[no-untyped-def]
    inventory, sqlite, influx, _ = stores
    outs = []
    for reader in (sqlite, influx):
        central = Central(inventory, reader, FakeClock(NOW), AgentMetrics())
        outs.append((central.statements(), central.watch()))
    assert outs[0] == outs[1]
    statements, watch = outs[0]
    assert {r.tag("service") for r in statements} == {s.id for _, _, s in inventory.services()}
    assert any(r.tag("cause") == "agent_silent" for r in watch)  # edge-paris is silent


def test_heartbeats_counts_and_statement_read_back(stores):  # type: ignore[no-untyped-def]
    inventory, sqlite, influx, records = stores
    assert influx.last_heartbeats() == sqlite.last_heartbeats()
    for m in schema.MEASUREMENTS:
        assert influx.count(m) == sqlite.count(m)
    assert influx.count() == sqlite.count() == len(records)
    central = Central(inventory, sqlite, FakeClock(NOW), AgentMetrics())
    written = central.statements()
    sqlite.write(written)
    influx.client.write(written)
    for r in written:
        service = r.tag("service")
        assert service is not None
        assert influx.latest_statement(service) == sqlite.latest_statement(service) == dict(r.fields)


def test_statement_from_samples_equal(influx_db: InfluxQL, tmp_path: Path) -> None:
    """A month of 30-s samples of two probes, qualified by the engine from each store's read-back."""
    inventory = parse_inventory(INVENTORY)
    _, site, service = next(iter(inventory.services()))
    rng = np.random.default_rng(6)
    start = schema.ms(datetime(2025, 10, 31, tzinfo=UTC))
    times = start + np.arange(0, 32 * 86_400, 30, dtype=np.int64) * 1000
    records = []
    probes = ["cpe-icmp", "gw-icmp"]
    outages = [(int(a), int(a + rng.integers(3, 150))) for a in rng.integers(0, times.size - 200, 6)]
    for probe in probes:
        ok = rng.random(times.size) > 0.002
        for a, b in outages:  # a few real outages, seen by both probes
            ok[a:b] = False
        ids = {
            **_ids("acme", site.id, service.id, "edge-lyon"),
            "device": "cpe",
            "probe": probe,
            "kind": "icmp",
            "target": "192.0.2.1",
        }
        for t, o in zip(times.tolist(), ok.tolist(), strict=True):
            records.append(
                schema.sample(
                    ids=ids,
                    ok=o,
                    reason=None if o else "timeout",
                    time_ms=t,
                    duration_s=0.01,
                    values={"rtt_ms": 1.5} if o else {},
                )
            )
    sqlite = SqliteStore(tmp_path / "vigie.db")
    sqlite.write(records)
    influx_db.write(records)
    reader = InfluxReader(influx_db)
    outputs = []
    for read in (
        lambda pid: [
            (int(t), bool(o))
            for t, o in sqlite.db.execute("SELECT time_ms, ok FROM samples WHERE probe_id = ? ORDER BY time_ms", (pid,))
        ],
        reader.samples,
    ):
        samples = []
        for probe in probes:
            rows = read(f"acme/{site.id}/{service.id}/{probe}")
            samples.append(
                ProbeSamples(
                    probe,
                    np.array([t // 1000 for t, _ in rows], dtype=np.int64),
                    np.array([o for _, o in rows], dtype=np.bool_),
                )
            )
        base = case_for(service, MONTH, [], NOW)
        case = Case(
            month=base.month,
            service=base.service,
            policy=base.policy,
            qualification=base.qualification,
            samples=tuple(samples),
        )
        outputs.append(to_json(compute(case)))
    assert outputs[0] == outputs[1]
    assert outputs[0]["outages"]
