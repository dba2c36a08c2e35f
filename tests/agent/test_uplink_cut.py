"""Fault test: the uplink to the store cut for real while a site outage happens, then restored.

Two namespaces made by this test, inside 10.252.0.0/16 (blackholed first, so a cut link never leaks):
- `vigie-fu-site` (10.252.1.2): the customer site the edge agent pings;
- `vigie-fu-store` (10.252.2.2): a victoria-metrics of this test, the agent's InfluxDB-v2 write target.
The agent (`vigie agent run`, a real process) ships through influxdb-client to http://10.252.2.2:8428.
The uplink is cut with `ip link set down` on the store's side of its veth; during the cut the site's link
is cut too (a real outage); then the site comes back, then the uplink. Every probe slot from the first to
the last sample must be in VM exactly once, and the outage interval (its `vigie_outage` point and the two
state changes) exactly once.

Time scale (documented, honest): the cut is real but lasts `VIGIE_FAULT_UPLINK_CUT_S` seconds (default 30)
with probes every 1 s — as many samples per probe as a 5-minute cut at a 10-s production interval.
`VIGIE_FAULT_UPLINK_CUT_S=600` runs the full 10-minute cut.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.agent_harness import probe_points_in_spool, spool_records, start_agent, wait_for, write_config

pytestmark = pytest.mark.lab

PREFIX = "10.252.0.0/16"
SITE_NS, STORE_NS = "vigie-fu-site", "vigie-fu-store"
SITE, STORE = "10.252.1.2", "10.252.2.2"
VM = f"http://{STORE}:8428"
CUT_S = float(os.environ.get("VIGIE_FAULT_UPLINK_CUT_S", "30"))


def ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True, timeout=10)


def link(ns: str, root_if: str, net: int) -> None:
    ip("netns", "add", ns)
    ip("link", "add", root_if, "type", "veth", "peer", "name", "up0", "netns", ns)
    ip("addr", "add", f"10.252.{net}.1/30", "dev", root_if)
    ip("link", "set", root_if, "up")
    ip("-n", ns, "addr", "add", f"10.252.{net}.2/30", "dev", "up0")
    ip("-n", ns, "link", "set", "lo", "up")
    ip("-n", ns, "link", "set", "up0", "up")
    ip("-n", ns, "route", "replace", "default", "via", f"10.252.{net}.1")


def set_link(ns: str, net: int, up: bool) -> None:
    ip("-n", ns, "link", "set", "up0", "up" if up else "down")
    if up:  # taking the link down deleted the routes through it
        ip("-n", ns, "route", "replace", "default", "via", f"10.252.{net}.1")


@pytest.fixture
def namespaces(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    vm = shutil.which("victoria-metrics")
    if vm is None:
        pytest.skip("victoria-metrics not installed")
    ip("route", "replace", "blackhole", PREFIX)  # first: nothing leaves through the default route
    for ns, dev in ((SITE_NS, "vfu-site"), (STORE_NS, "vfu-store")):
        ip("netns", "del", ns, check=False)
        ip("link", "del", dev, check=False)
    link(SITE_NS, "vfu-site", 1)
    link(STORE_NS, "vfu-store", 2)
    log = (tmp_path / "vm.log").open("ab")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", STORE_NS, vm, f"-storageDataPath={tmp_path / 'vm'}", f"-httpListenAddr={STORE}:8428",
         "-retentionPeriod=5y", "-search.latencyOffset=0s", "-loggerLevel=WARN",
         # read-back freshness: series created during the drain (a failed sample's `reason` tag makes a new
         # series) must show in the export at once, not after VM's tag-filter cache expires
         "-search.disableCache",
         # InfluxDB's point identity: a point written again (same series and timestamp) replaces itself.
         # A batch whose acknowledgement was lost in the cut is sent again (at-least-once); InfluxDB keeps
         # one point, and so does VM with deduplication on.
         "-dedup.minScrapeInterval=1ms"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(lambda: _healthy(), 30, "victoria-metrics in its namespace")
        yield proc
    finally:
        proc.terminate()  # by PID
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        for ns, dev in ((SITE_NS, "vfu-site"), (STORE_NS, "vfu-store")):
            ip("netns", "del", ns, check=False)
            ip("link", "del", dev, check=False)
        ip("route", "del", "blackhole", PREFIX, check=False)


def _healthy() -> bool:
    try:
        return urllib.request.urlopen(f"{VM}/health", timeout=1).status == 200
    except (OSError, urllib.error.URLError):
        return False


def export(match: str) -> list[dict[str, Any]]:
    urllib.request.urlopen(f"{VM}/internal/force_flush", timeout=10).read()
    url = f"{VM}/api/v1/export?" + urllib.parse.urlencode({"match[]": match})
    with urllib.request.urlopen(url, timeout=30) as r:
        return [json.loads(line) for line in r.read().decode().splitlines() if line.strip()]


def inventory(agent_id: str, tmp: Path) -> dict[str, Any]:
    icmp = {"kind": "icmp", "interval_s": 1, "config": {"count": 1, "timeout_s": 0.4, "socket": "raw"}}
    return {
        "version": 1,
        "agent": {
            "id": agent_id,
            "heartbeat_interval_s": 1,
            "spool": {"path": str(tmp / "spool.db")},
            "store": {
                "kind": "influxdb",
                "url": VM,
                "token": {"env": "VIGIE_TEST_TOKEN"},
                "batch_size": 200,
                "flush_interval_s": 0.2,
                "timeout_s": 2,
                "max_backoff_s": 2,
            },
            "metrics": {"listen": None},
        },
        "clients": [
            {
                "id": "acme",
                "sites": [
                    {
                        "id": "lyon",
                        "services": [
                            {
                                "id": f"net-{agent_id}",
                                "contract": "internet",
                                "monthly_fee_eur": 100,
                                "qualification": {"down_after": 2, "up_after": 2, "microcut_s": 3},
                                "devices": [{"name": f"cpe{i}", "address": SITE, "probes": [icmp]} for i in range(3)],
                            }
                        ],
                    }
                ],
            }
        ],
    }


def test_uplink_cut_during_a_site_outage_every_sample_and_the_outage_arrive_once(
    tmp_path: Path, namespaces: subprocess.Popen[bytes]
) -> None:
    agent_id = f"uplink-{uuid.uuid4().hex[:8]}"
    config = write_config(tmp_path / "inv.yaml", inventory(agent_id, tmp_path))
    agent = start_agent(config)
    spool = tmp_path / "spool.db"
    try:
        wait_for(lambda: len(export(f'vigie_probe_ok{{agent="{agent_id}"}}')) == 3, 30, "first samples in VM")
        wait_for(
            lambda: any(s["metric"].get("state") == "up" for s in export(f'vigie_state_code{{agent="{agent_id}"}}')),
            20,
            "the service qualified up",
        )
        set_link(STORE_NS, 2, up=False)  # the uplink to the store: cut
        cut_at = time.monotonic()
        time.sleep(min(5.0, CUT_S / 4))
        set_link(SITE_NS, 1, up=False)  # a real site outage while the uplink is down
        time.sleep(8)
        set_link(SITE_NS, 1, up=True)
        time.sleep(max(0.0, CUT_S - (time.monotonic() - cut_at)))
        pending = probe_points_in_spool(spool)
        held = sum(map(len, pending.values()))
        assert held >= 3 * (CUT_S - 2), f"the spool holds the cut's samples ({held})"
        assert any(r.measurement == "vigie_outage" for r in spool_records(spool)), "the outage waits in the spool"
        set_link(STORE_NS, 2, up=True)  # restored
        wait_for(lambda: sum(map(len, probe_points_in_spool(spool).values())) <= 3, 60, "the spool to drain")
        time.sleep(2)
    finally:
        assert agent.stop() == 0, agent.text()
    assert "store unavailable" in agent.text()  # the shipper saw the cut and retried

    left = probe_points_in_spool(spool)
    # Everything of this agent, filtered here: VM 1.79's export by metric name missed the series created
    # during the drain (seen in this test), selecting by the agent tag alone does not.
    everything = export(f'{{agent="{agent_id}"}}')
    (tmp_path / "vm-export.json").write_text(json.dumps(everything))

    def named(name: str) -> list[dict[str, Any]]:
        return [s for s in everything if s["metric"]["__name__"] == name]

    # one series per probe and reason tag (a failed sample carries its reason): group them by probe
    in_vm: dict[str, list[int]] = {}
    failed: dict[str, int] = {}
    for s in named("vigie_probe_ok"):
        probe = s["metric"]["probe"]
        in_vm.setdefault(probe, []).extend(s["timestamps"])
        failed[probe] = failed.get(probe, 0) + sum(1 for v in s["values"] if v == 0)
    assert len(in_vm) == 3
    for probe, stamps in in_vm.items():
        times = sorted(stamps + left.get(probe, []))
        dups = [t for t, n in Counter(times).items() if n > 1]
        counts = Counter(stamps)
        assert dups == [], f"{probe}: duplicates {[(t, counts[t], left.get(probe, []).count(t)) for t in dups]}"
        holes = [t for t in range(times[0], times[-1] + 1, 1000) if t not in set(times)]
        assert holes == [], f"{probe}: {len(holes)} samples lost: {[(t - times[0]) // 1000 for t in holes]}"
        assert (times[-1] - times[0]) / 1000 >= CUT_S
        assert 6 <= failed[probe] <= 10, f"{probe}: the site outage's failed samples ({failed[probe]})"

    outages = named("vigie_outage_duration_s")
    assert len(outages) == 1 and len(outages[0]["timestamps"]) == 1, outages  # the outage, once
    assert outages[0]["metric"]["class"] == "outage"
    assert 6 <= outages[0]["values"][0] <= 10
    states = named("vigie_state_code")
    by_state = {s["metric"]["state"]: s["timestamps"] for s in states}
    assert len(by_state["down"]) == 1  # the down change, once
    assert by_state["down"][0] == outages[0]["timestamps"][0]
    assert len([t for t in by_state["up"] if t > by_state["down"][0]]) == 1  # and its end, once
