"""vigie_interface / vigie_vm: the table rows of a probe run as points (agent/store/tables.py), from the rows'
shape to real SNMP agents: snmpsim's growing counters through the edge into InfluxDB 1.6.7, the lab's
net-snmp in its namespace (traffic we send, then a cut link), ESXi VM tables (synthetic and recorded)."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lab_support import LabEndpoints, ns_exec, require_shared_fixtures

from agent.clock import FakeClock
from agent.config import parse_inventory
from agent.edge import Edge
from agent.metrics import AgentMetrics
from agent.spool import SqliteSpool
from agent.store import schema
from agent.store.influx import InfluxQL
from agent.store.schema import Record
from agent.store.sqlite import SqliteStore
from agent.store.tables import INTERFACE_FIELDS, VM_FIELDS, table_records
from collectors.snmp import SnmpCollector
from tests.collectors.test_snmp import cut_peer, snmpd_v3, v2c
from tests.influx_support import influx_db

__all__ = ["cut_peer", "influx_db"]

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
IDS = {"client": "acme", "site": "lyon", "service": "net", "agent": "edge-1", "device": "sw1",
       "probe": "snmp-sw1", "kind": "snmp", "target": "192.0.2.9"}  # fmt: skip


def by_tag(records: list[Record], measurement: str, tag: str) -> dict[str, Record]:
    return {str(r.tag(tag)): r for r in records if r.measurement == measurement}


# --- rows → points (no network) -------------------------------------------------------------------------------


def interfaces(*rows: dict[str, Any]) -> dict[str, Any]:
    return {
        "groups": {"system": {"sysName": "sw1"}, "interfaces": {"rows": {str(i + 1): r for i, r in enumerate(rows)}}}
    }


def test_an_interface_row_becomes_one_typed_point_with_the_device_tags() -> None:
    row = {"ifName": "Gi0/1", "ifDescr": "GigabitEthernet0/1", "ifOperStatus": "up", "ifAdminStatus": "up",
           "ifHCInOctets": 10**12, "ifHCInOctets_rate": 125_000.0, "ifHCOutOctets_rate": 250_000,
           "ifInErrors_rate": 0.5, "ifOutErrors_rate": 0.0, "ifInDiscards_rate": 0.0, "ifOutDiscards_rate": 2.0,
           "ifHighSpeed": 1000}  # fmt: skip
    [point] = table_records(IDS, interfaces(row), 1_700_000_000_000)
    assert point.measurement == schema.INTERFACE and point.time_ms == 1_700_000_000_000
    assert dict(point.tags) == {"client": "acme", "site": "lyon", "service": "net", "agent": "edge-1",
                                "device": "sw1", "ifname": "Gi0/1"}  # fmt: skip
    assert dict(point.fields) == {"oper_up": 1, "admin_up": 1, "in_bps": 1e6, "out_bps": 2e6, "in_errors_ps": 0.5,
                                  "out_errors_ps": 0.0, "in_discards_ps": 0.0, "out_discards_ps": 2.0,
                                  "speed_bps": 1e9}  # fmt: skip
    for name, value in point.fields:  # one type per field, forever: ints stay ints even from a float input
        assert type(value) is INTERFACE_FIELDS[name], name
    assert point.line().count("i,") + point.line().count("i ") == 2  # oper_up, admin_up as integers


def test_no_rate_gives_no_throughput_field_and_the_64bit_rate_wins() -> None:
    first_poll = {"ifName": "wan", "ifOperStatus": "lowerLayerDown", "ifAdminStatus": "up",
                  "ifHCInOctets_rate": None, "ifHCOutOctets_rate": None}  # fmt: skip
    both = {"ifName": "lan", "ifOperStatus": "up", "ifHCInOctets_rate": 10.0, "ifInOctets_rate": 99.0,
            "ifHCOutOctets_rate": None, "ifOutOctets_rate": 7.0}  # fmt: skip
    points = by_tag(table_records(IDS, interfaces(first_poll, both), 0), schema.INTERFACE, "ifname")
    assert dict(points["wan"].fields) == {"oper_up": 0, "admin_up": 1}  # never a zero rate invented
    assert points["lan"].field("in_bps") == 80.0  # ifHC* preferred
    assert points["lan"].field("out_bps") == 56.0  # 32-bit rate when the 64-bit one is missing


def test_the_ifname_tag_falls_back_to_ifdescr_then_the_index() -> None:
    rows = interfaces({"ifDescr": "eth0", "ifOperStatus": "up"}, {"ifName": "", "ifOperStatus": "down"})
    assert sorted(by_tag(table_records(IDS, rows, 0), schema.INTERFACE, "ifname")) == ["2", "eth0"]


def test_rows_of_other_tables_and_values_without_tables_give_no_point() -> None:
    storage = {"groups": {"host_storage": {"rows": {"1": {"hrStorageDescr": "/", "hrStorageSize": 10}}}}}
    empty_row = interfaces({"ifName": "x", "ifOperStatus": None, "ifAdminStatus": None})
    for values in ({"rtt_avg_ms": 1.0, "loss_ratio": 0.0}, {}, storage, empty_row, {"groups": {"g": {"rows": 3}}}):
        assert table_records(IDS, values, 0) == [], values


def test_vm_rows_in_both_spellings_of_the_power_state() -> None:
    vms = {"1": {"vmwVmDisplayName": "db", "vmwVmState": "poweredOn", "vmwVmGuestState": "running",
                 "vmwVmCpus": 4, "vmwVmMemSize": 8192},
           "2": {"vmwVmDisplayName": "db", "vmwVmState": "powered off", "vmwVmGuestState": "not running"},
           "3": {"vmwVmState": "suspended"}}  # fmt: skip
    points = by_tag(table_records(IDS, {"groups": {"vmware_vms": {"rows": vms}}}, 0), schema.VM, "vmid")
    assert {k: dict(p.tags)["vm"] for k, p in points.items()} == {"1": "db", "2": "db", "3": "3"}
    assert dict(points["1"].fields) == {"power_on": 1, "guest_running": 1, "vcpus": 4, "mem_bytes": 8192 * 2**20}
    assert dict(points["2"].fields) == {"power_on": 0, "guest_running": 0}
    assert dict(points["3"].fields) == {"power_on": 0}
    assert all(type(v) is VM_FIELDS[k] for p in points.values() for k, v in p.fields)


# --- real SNMP agents (lab) ----------------------------------------------------------------------------------

SNMPSIM_INVENTORY = """
agent: {id: edge-1}
clients:
  - id: acme
    sites:
      - id: lyon
        services:
          - id: net
            contract: internet
            monthly_fee_eur: 100
            qualification: {down_after: 3, up_after: 2, microcut_s: 60}
            devices:
              - name: srv
                address: 127.0.0.1
                platform: linux_netsnmp
                credentials:
                  snmp: {version: "2c", community: {env: VIGIE_TEST_COMMUNITY}, port: 1161, timeout_s: 1.0,
                         retries: 0}
                probes: [{kind: snmp, interval_s: 60, config: {groups: [system, interfaces]}}]
"""


@pytest.mark.lab
async def test_the_edge_writes_interface_points_with_rates_that_influxdb_returns(
    lab: LabEndpoints, influx_db: InfluxQL, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VIGIE_TEST_COMMUNITY", "linux_netsnmp-normal")
    spool = SqliteSpool(tmp_path / "spool.db", 1 << 30)  # the product's spool takes the new points as samples
    edge = Edge(parse_inventory(SNMPSIM_INVENTORY), spool, FakeClock(T0), AgentMetrics())
    [probe_id] = edge.probes
    first = await edge.run_probe(probe_id, T0)
    await asyncio.sleep(1.0)
    second = await edge.run_probe(probe_id, T0 + timedelta(seconds=60))
    assert first[0].measurement == second[0].measurement == schema.PROBE and second[0].field("ok") is True
    before, after = (by_tag(r, schema.INTERFACE, "ifname") for r in (first, second))
    assert before and set(before) == set(after)
    assert all(p.field("in_bps") is None for p in before.values())  # one poll: no rate yet
    up = [p for p in after.values() if p.field("oper_up") == 1]
    down = [p for p in after.values() if p.field("oper_up") == 0]
    assert up and down
    # snmpsim grows ifHCInOctets of up interfaces by 12 500 octets/s (100 kbit/s); down ones stay still
    assert all(p.field("in_bps") == pytest.approx(100_000, rel=0.15) for p in up)
    assert all(p.field("in_bps") == 0 for p in down)
    assert all(p.time_ms == second[0].time_ms for p in after.values())  # the sample's slot
    assert spool.pending() == len(first) + len(second)
    spool.close()

    influx_db.write(first + second)
    sqlite = SqliteStore(tmp_path / "v.db")
    sqlite.write(first + second)
    assert sqlite.count(schema.INTERFACE) == len(before) + len(after)
    [series] = influx_db.query(
        f'SELECT "in_bps", "oper_up" FROM "{schema.INTERFACE}" WHERE "device" = \'srv\' GROUP BY "ifname"'
    )
    got = {s.tags["ifname"]: [r["in_bps"] for r in s.rows()] for s in series}
    assert got == {name: [None, p.field("in_bps")] for name, p in after.items()}


def send_udp(host: str, octets: int) -> int:
    """Send `octets` of UDP payload to the discard port of `host` (nothing listens: the agent counts them in)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(octets // 1000):
            s.sendto(b"\x00" * 1000, (host, 9))
    return octets // 1000 * 1000


POLL_IN_NS = """
import asyncio, datetime, json, sys
from agent.store.tables import table_records
from collectors.base import SecretSource
from collectors.snmp import SnmpCollector, SnmpConfig
cfg = SnmpConfig(user="vigie", auth_key=SecretSource.parse("vigie-auth-key"),
                 priv_key=SecretSource.parse("vigie-priv-key"), timeout_s=1, retries=1,
                 platform="linux_netsnmp", groups=("interfaces",))
r = asyncio.run(SnmpCollector(cfg).collect("10.250.0.2", datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)))
print(json.dumps({"ok": r.ok, "points": [p.to_json() for p in table_records(json.loads(sys.argv[1]), r.values, 0)]}))
"""


def veth_point_from_inside(lab: LabEndpoints) -> Record:
    out = json.loads(ns_exec(sys.executable, "-c", POLL_IN_NS, json.dumps(IDS)).stdout.strip().splitlines()[-1])
    assert out["ok"], out
    return by_tag([Record.from_json(p) for p in out["points"]], schema.INTERFACE, "ifname")[lab.ns_if]


@pytest.mark.lab
async def test_net_snmp_throughput_of_traffic_we_send_then_oper_down_after_a_link_cut(
    lab: LabEndpoints, request: pytest.FixtureRequest
) -> None:
    collector = SnmpCollector(snmpd_v3(lab, lab.snmpd_ns, platform="linux_netsnmp", groups=("interfaces",)))
    start = time.monotonic()
    first = await collector.collect(lab.ns_host, T0)
    first_done = time.monotonic()
    sent = send_udp(lab.ns_host, 2_000_000)
    await asyncio.sleep(6.5)  # past snmpd's ifTable cache (~5 s), so the second poll reads fresh counters
    second_start = time.monotonic()
    second = await collector.collect(lab.ns_host, T0 + timedelta(seconds=60))
    end = time.monotonic()
    assert first.ok and second.ok, (first.detail, second.detail)
    veth = by_tag(table_records(IDS, second.values, 0), schema.INTERFACE, "ifname")[lab.ns_if]
    assert (veth.field("oper_up"), veth.field("admin_up")) == (1, 1)
    in_bps = veth.field("in_bps")
    assert isinstance(in_bps, float)
    # every octet we sent arrived between the two polls (plus headers and the SNMP requests themselves)
    assert 8 * sent / (end - start) <= in_bps <= 8 * (sent * 1.1 + 100_000) / (second_start - first_done)
    assert veth.field("out_bps") is not None and veth.field("in_errors_ps") == 0

    request.getfixturevalue("cut_peer")
    for _ in range(40):  # snmpd's ifTable cache (~5 s) delays the down state
        cut = veth_point_from_inside(lab)
        if cut.field("oper_up") == 0:
            break
        await asyncio.sleep(0.5)
    assert (cut.field("oper_up"), cut.field("admin_up")) == (0, 1)


def vm_points(records: list[Record]) -> dict[str, Record]:
    return by_tag(records, schema.VM, "vmid")


@pytest.mark.lab
async def test_vm_points_from_the_esxi_profile_fixture(lab: LabEndpoints) -> None:
    cfg = v2c("vmware_esxi-normal", platform="vmware_esxi", groups=("system", "vmware_vms"))
    result = await SnmpCollector(cfg).collect("127.0.0.1", T0)
    assert result.ok, result.detail
    vms = vm_points(table_records(IDS, result.values, schema.ms(T0)))
    assert {k: (p.tag("vm"), dict(p.fields)) for k, p in vms.items()} == {
        "1": ("vmwVmDisplayName 1", {"power_on": 1, "guest_running": 1, "vcpus": 8, "mem_bytes": 8.0 * 2**20}),
        "2": ("vmwVmDisplayName 2", {"power_on": 0, "guest_running": 0, "vcpus": 9, "mem_bytes": 9.0 * 2**20}),
    }


@pytest.mark.lab
async def test_vm_points_from_a_real_esxi_recording(lab: LabEndpoints) -> None:
    recording = require_shared_fixtures() / "snmprec" / "vmware-esxi.snmprec"
    state_col = "1.3.6.1.4.1.6876.2.1.1.6."
    states = {
        line.split("|")[0][len(state_col) :]: line.split("|")[2]
        for line in recording.read_text().splitlines()
        if line.startswith(state_col)
    }
    result = await SnmpCollector(v2c("vmware-esxi", platform="vmware_esxi", groups=("vmware_vms",))).collect(
        "127.0.0.1", T0
    )
    assert result.ok, result.detail
    vms = vm_points(table_records(IDS, result.values, 0))
    assert set(vms) == set(states)  # one point per VM, even where anonymised names repeat
    assert len({p.tag("vm") for p in vms.values()}) < len(vms)
    assert {k: p.field("power_on") for k, p in vms.items()} == {k: int(s == "powered on") for k, s in states.items()}
    assert 0 < sum(p.field("power_on") or 0 for p in vms.values()) < len(vms)
