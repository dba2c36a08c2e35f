"""The Grafana dashboards: generated from code (the committed JSON is what grafana/generate.py writes),
fixed unique uids, a `datasource` variable, InfluxQL targets only — and every panel query, with Grafana's
macros expanded, runs on the lab's real InfluxDB 1.6.7 over data written by the product and returns the
expected series (the SLA month panel shows the availability `sla.statement.compute` gives for the month)."""

from __future__ import annotations

import asyncio
import json
import re
import runpy
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.central import Central, case_for
from agent.clock import FakeClock
from agent.config import parse_inventory
from agent.metrics import AgentMetrics
from agent.store import schema, tables
from agent.store.influx import InfluxQL, Series
from agent.store.sqlite import SqliteStore
from collectors.snmp import SnmpCollector
from sla.statement import compute
from tests.agent.test_influx_read import INVENTORY, MONTH, NOW, _dataset
from tests.collectors.test_snmp import v2c
from tests.influx_support import influx_db

__all__ = ["influx_db"]

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "grafana"
GENERATOR = runpy.run_path(str(GRAFANA / "generate.py"))


def _dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))}


def _targets(d: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(p["title"], t) for p in d["panels"] for t in p.get("targets", [])]


def test_committed_json_is_what_the_generator_writes() -> None:
    rendered = GENERATOR["render"]()
    committed = {p.name: p.read_text() for p in (GRAFANA / "dashboards").glob("*.json")}
    assert rendered == committed, "run `python grafana/generate.py` and commit grafana/dashboards/"


def test_uids_fixed_unique_and_the_datasource_variable() -> None:
    dashboards = _dashboards()
    uids = [d["uid"] for d in dashboards.values()]
    assert len(uids) == len(set(uids)) == 5
    assert set(uids) == {"vigie-fleet", "vigie-site", "vigie-sla-month", "vigie-gtr", "vigie-agents"}
    provisioned = (GRAFANA / "provisioning" / "datasources" / "vigie.yaml").read_text()
    assert "uid: vigie-influxdb" in provisioned
    for name, d in dashboards.items():
        ds = [v for v in d["templating"]["list"] if v["type"] == "datasource"]
        assert [(v["name"], v["query"], v["current"]["value"]) for v in ds] == [
            ("datasource", "influxdb", "vigie-influxdb")
        ], name
        for title, t in _targets(d):
            assert t["datasource"] == {"type": "influxdb", "uid": "${datasource}"}, (name, title)
            assert t["rawQuery"] is True and t["query"].startswith("SELECT "), (name, title)
        for v in d["templating"]["list"]:
            if v["type"] == "query":
                assert v["datasource"]["uid"] == "${datasource}"
    for p in (GRAFANA / "provisioning" / "dashboards").glob("*.yaml"):
        assert "/var/lib/grafana/dashboards/vigie" in p.read_text()


MEASUREMENT_NAMES = ("PROBE", "STATE", "OUTAGE", "HEARTBEAT", "STATEMENT", "GTR", "EXCLUSION", "INTERFACE", "VM")


def test_dashboards_use_the_schema_names() -> None:
    assert [GENERATOR[n] for n in MEASUREMENT_NAMES] == [getattr(schema, n) for n in MEASUREMENT_NAMES]
    assert {GENERATOR[n] for n in MEASUREMENT_NAMES} == set(schema.MEASUREMENTS)
    fields = {*schema.STATEMENT_FIELDS, *schema.HEARTBEAT_FIELDS, *schema.GTR_FIELDS, *schema.STATE_FIELDS}
    fields |= {*schema.OUTAGE_FIELDS, "ok", "duration_s", "rtt_avg_ms", "loss_ratio"}  # icmp collector values
    fields |= {*schema.EXCLUSION_FIELDS, *tables.INTERFACE_FIELDS, *tables.VM_FIELDS}
    tags = {*schema.PROBE_TAGS, *schema.STATE_TAGS, *schema.OUTAGE_TAGS, *schema.HEARTBEAT_TAGS}
    tags |= {*schema.STATEMENT_TAGS, *schema.GTR_TAGS, *schema.EXCLUSION_TAGS, *tables.INTERFACE_TAGS, *tables.VM_TAGS}
    for d in _dashboards().values():
        for _, t in _targets(d):
            names = set(re.findall(r'"([a-z_]+)"', t["query"]))
            measurements = {n for n in names if n.startswith("vigie_")}
            assert measurements <= set(schema.MEASUREMENTS)
            # every quoted identifier is a tag, a field, a measurement or an alias made in the query
            aliases = set(re.findall(r'AS "([a-z_]+)"', t["query"])) | {"last"}
            assert names - measurements - aliases <= fields | tags, t["query"]


def test_docker_compose_is_valid() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker compose CLI is not installed here (the compose file is for users with Docker)")
    out = subprocess.run(
        [docker, "compose", "-f", str(GRAFANA / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "VIGIE_INFLUX_TOKEN": "x"},
    )
    assert out.returncode == 0, out.stderr


# --- every panel query against InfluxDB 1.6.7 ---------------------------------------------------------------

FROM = NOW - timedelta(days=3)


def expand(query: str, month: str = str(MONTH)) -> str:
    """Grafana's macros and the variables at their defaults (All), for the dashboard range [FROM, NOW]."""
    q = query.replace("$timeFilter", f"time >= {schema.ms(FROM)}ms AND time <= {schema.ms(NOW)}ms")
    q = q.replace("$__interval", "1h").replace("${__to:date:YYYY-MM}", month).replace("${__to}", str(schema.ms(NOW)))
    q = q.replace("'$month'", f"'{month}'")
    return re.sub(r"/\^\$[a-z]+\$/", "/^.*$/", q)


@pytest.fixture
def loaded(influx_db: InfluxQL, tmp_path: Path) -> tuple[InfluxQL, Any, SqliteStore]:
    """The read test's edge data, the central role's statements and NOC view over it (computed by the
    product from the embedded store), probe samples, heartbeats with ship counters and GTR clocks."""
    inventory = parse_inventory(INVENTORY)
    records = _dataset(inventory)
    sqlite = SqliteStore(tmp_path / "v.db")
    sqlite.write(records)
    central = Central(inventory, sqlite, FakeClock(NOW), AgentMetrics())
    records += central.statements() + central.watch()
    ids = {"client": "acme", "site": "acme-lyon", "service": "acme-lyon-internet", "agent": "edge-lyon",
           "device": "cpe", "probe": "cpe-icmp", "kind": "icmp", "target": "192.0.2.1"}  # fmt: skip
    for i in range(240):
        t = schema.ms(NOW - timedelta(seconds=30 * i))
        ok = i % 40 != 0
        values = {"rtt_avg_ms": 2.0 + (i % 5), "loss_ratio": 0.0} if ok else {"loss_ratio": 1.0}
        records.append(schema.sample(ids=ids, ok=ok, reason=None if ok else "timeout", time_ms=t, duration_s=0.01,
                                     values=values))  # fmt: skip
    for i in range(10):
        records.append(schema.heartbeat(agent="edge-lyon", role="edge", seq=100 + i, uptime_s=3000.0 + 30 * i,
                                        spool_records=7, time_ms=schema.ms(NOW - timedelta(seconds=30 * (10 - i))),
                                        ship_errors=2, ship_rejected=1))  # fmt: skip
    oids = {k: ids[k] for k in ("client", "site", "service", "agent")}
    for hours, seconds in ((30, 45), (10, 1800)):
        start = schema.ms(NOW - timedelta(hours=hours))
        records.append(schema.outage(ids=oids, start_ms=start, end_ms=start + seconds * 1000, microcut=seconds < 60))
    svc = {"client": "acme", "site": "acme-lyon", "service": "acme-lyon-vga"}
    records.append(schema.gtr(ids=svc, ticket="T-1", clock="6h_business", status="running", freeze_reason=None,
                              elapsed_s=4 * 3600, target_s=6 * 3600, frozen_s=0, time_ms=schema.ms(NOW)))  # fmt: skip
    records.append(schema.gtr(ids=svc, ticket="T-2", clock="6h_business", status="frozen",
                              freeze_reason="customer_access_refused", elapsed_s=3600, target_s=6 * 3600,
                              frozen_s=1800, time_ms=schema.ms(NOW - timedelta(minutes=2))))  # fmt: skip
    records.append(schema.gtr(ids=svc, ticket="T-0", clock="6h_business", status="stopped", freeze_reason=None,
                              elapsed_s=7 * 3600, target_s=6 * 3600, frozen_s=0,
                              time_ms=schema.ms(NOW - timedelta(days=1))))  # fmt: skip
    records += asyncio.run(_interface_and_vm_points(ids))
    start = schema.ms(NOW - timedelta(hours=5))
    records.append(schema.exclusion(scope={"client": "acme", "site": "acme-lyon"}, ref="X1", kind="exclusion",
                                    cause="customer_power", state="accepted", start_ms=start,
                                    end_ms=start + 3_600_000, current=True))  # fmt: skip
    sqlite.write(records)
    influx_db.write(records)
    return influx_db, inventory, sqlite


async def _interface_and_vm_points(ids: dict[str, str]) -> list[schema.Record]:
    """Two polls of snmpsim's Linux host (rates: 100 kbit/s in on up interfaces) and one of its ESXi host,
    made into points by the product (agent/store/tables.py) at NOW − 60 s and NOW."""
    linux = SnmpCollector(v2c("linux_netsnmp-normal", platform="linux_netsnmp", groups=("system", "interfaces")))
    out = tables.table_records(ids, (await linux.collect("127.0.0.1", NOW)).values, schema.ms(NOW) - 60_000)
    await asyncio.sleep(1.0)
    out += tables.table_records(ids, (await linux.collect("127.0.0.1", NOW)).values, schema.ms(NOW))
    esxi = SnmpCollector(v2c("vmware_esxi-normal", platform="vmware_esxi", groups=("system", "vmware_vms")))
    return out + tables.table_records({**ids, "device": "esx1"}, (await esxi.collect("127.0.0.1", NOW)).values,
                                      schema.ms(NOW))  # fmt: skip


def _rows(series: list[Series]) -> list[dict[str, Any]]:
    return [r for s in series for r in s.rows()]


def test_every_panel_query_returns_series(loaded: Any) -> None:
    client, _, _ = loaded
    ran = 0
    for name, d in _dashboards().items():
        for v in d["templating"]["list"]:
            if v["type"] == "query":
                result = client.query(expand(v["query"]))
                assert result and result[0], (name, v["name"], "variable has no values")
        for title, t in _targets(d):
            result = client.query(expand(t["query"]))
            assert result and _rows(result[0]), (name, title, expand(t["query"]))
            ran += 1
    assert ran >= 27


def _panel(uid: str, title: str) -> str:
    d = next(d for d in _dashboards().values() if d["uid"] == uid)
    return next(t["query"] for p in d["panels"] if p["title"] == title for t in p["targets"])


def test_sla_month_panel_shows_the_computed_statement(loaded: Any) -> None:
    client, inventory, sqlite = loaded
    rows = _rows(client.query(expand(_panel("vigie-sla-month", "Availability, tier and credits per service")))[0])
    by_service = {r["service"]: r for r in rows}
    assert set(by_service) == {s.id for _, _, s in inventory.services()}
    for _, _, service in inventory.services():
        intervals = sqlite.state_intervals(service.id, "edge", until_ms=schema.ms(NOW))
        st = compute(case_for(service, MONTH, intervals, NOW))
        row = by_service[service.id]
        assert row["availability_net_pct"] == float(st.availability_pct)
        assert row["availability_gross_pct"] == float(st.gross_availability_pct)
        assert row["tier_pct"] == float(st.tier_pct)
        assert row["credit_eur"] == float(st.total_credit_eur)
    total = _rows(client.query(expand(_panel("vigie-sla-month", "Credits at stake (EUR)")))[0])[0]["sum"]
    assert total == pytest.approx(sum(r["credit_eur"] for r in rows))


def test_fleet_gtr_and_agent_panels_show_the_expected_values(loaded: Any) -> None:
    client, _, _ = loaded
    q = client.query
    # NOC view: acme-paris's agent is silent (unknown); acme-lyon-internet is down now
    assert _rows(q(expand(_panel("vigie-fleet", "Services down now")))[0])[0]["count"] == 1
    assert _rows(q(expand(_panel("vigie-fleet", "Services unknown (agent silent)")))[0])[0]["count"] == 1
    fleet = _rows(q(expand(_panel("vigie-fleet", "Sites by state (NOC view)")))[0])
    assert {r["service"]: r["state"] for r in fleet} == {
        "acme-lyon-internet": 0,
        "acme-lyon-vga": 1,
        "acme-paris-internet": -1,
    }
    running = _rows(q(expand(_panel("vigie-gtr", "Running clocks — time to breach")))[0])
    assert [(r["ticket"], r["time_to_breach_s"]) for r in running] == [("T-1", 7200.0)]
    frozen = _rows(q(expand(_panel("vigie-gtr", "Frozen clocks and why")))[0])
    assert [(r["ticket"], r["freeze_reason"]) for r in frozen] == [("T-2", "customer_access_refused")]
    beats = _rows(q(expand(_panel("vigie-agents", "Last heartbeat per agent")))[0])
    assert {(r["agent"], r["seq"], r["spool_records"]) for r in beats} == {("edge-lyon", 109, 7), ("edge-paris", 1, 0)}
    errors = _rows(q(expand(_panel("vigie-agents", "Shipping errors and rejected points (since agent start)")))[0])
    assert {(r["errors"], r["rejected"]) for r in errors if r["errors"] is not None} == {(2, 1)}


def test_site_panels_show_interfaces_vms_and_exclusions(loaded: Any) -> None:
    client, _, sqlite = loaded
    q = client.query
    points = {p.tag("ifname"): p for p in sqlite_points(sqlite, schema.INTERFACE) if p.time_ms == schema.ms(NOW)}
    now = _rows(q(expand(_panel("vigie-site", "Interfaces now (oper down first)")))[0])
    assert {r["ifname"]: (r["oper_up"], r["in_bps"]) for r in now} == {
        name: (p.field("oper_up"), p.field("in_bps")) for name, p in points.items()
    }
    assert {r["oper_up"] for r in now} == {0, 1}
    throughput = q(expand(_panel("vigie-site", "Interface throughput")))[0]
    means = {s.tags["ifname"]: [r["in"] for r in s.rows() if r["in"] is not None] for s in throughput}
    for name, p in points.items():  # the hour's mean of one rate: the rate
        assert means[name] == [pytest.approx(100_000 if p.field("oper_up") else 0, rel=0.15, abs=1)], name
    status = q(expand(_panel("vigie-site", "Interface status (oper)")))[0]
    assert {s.tags["ifname"]: [r["last"] for r in s.rows()][-1] for s in status} == {
        name: p.field("oper_up") for name, p in points.items()
    }
    vms = _rows(q(expand(_panel("vigie-site", "VMs now")))[0])
    assert sorted((r["vm"], r["power_on"], r["guest_running"], r["vcpus"]) for r in vms) == [
        ("vmwVmDisplayName 1", 1, 1, 8),
        ("vmwVmDisplayName 2", 0, 0, 9),
    ]
    excl = _rows(q(expand(_panel("vigie-site", "Exclusions and maintenance windows (ledger)")))[0])
    assert [(r["ref"], r["state"], r["duration_s"]) for r in excl] == [("X1", "accepted", 3600)]


def sqlite_points(sqlite: SqliteStore, measurement: str) -> list[schema.Record]:
    rows = sqlite.db.execute("SELECT tags, fields, time_ms FROM points WHERE measurement = ?", (measurement,))
    return [schema.make(measurement, json.loads(t), json.loads(f), ms) for t, f, ms in rows]
