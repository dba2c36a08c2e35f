"""Edge role: grid schedule, scheduled-time stamps, failures as data, qualification as samples arrive."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from agent.clock import FakeClock, SystemClock
from agent.config import ProbeSpec, parse_inventory
from agent.edge import Edge, GridTrigger, ScheduledExecutor, ServiceQualifier, qualify_window
from agent.metrics import AgentMetrics
from agent.spool import MemorySpool
from agent.store import schema
from collectors.base import ProbeResult
from sla.qualify import qualify_probe

T0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)

INVENTORY = """
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
              - name: cpe
                address: 192.0.2.1
                probes: [{kind: icmp, interval_s: 10}]
              - name: slow
                address: 192.0.2.2
                probes: [{kind: icmp, interval_s: 10, timeout_s: 0.2}]
"""

REPO = Path(__file__).resolve().parents[2]


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def qualifier() -> ServiceQualifier:
    return ServiceQualifier(
        ids={"client": "c", "site": "s", "service": "svc", "agent": "a"},
        intervals={"icmp": 10},
        down_after=3,
        up_after=2,
        microcut_s=60,
    )


def feed(q: ServiceQualifier, pattern: str, start: int = 0) -> list[schema.Record]:
    out = []
    for i, c in enumerate(pattern):
        out += q.observe("icmp", start + 10 * i, c == "U")
    return out


def test_the_grid_trigger_keeps_its_grid_whatever_the_jitter() -> None:
    trigger = GridTrigger(10, jitter_s=4, phase_s=3)
    fire = trigger.get_next_fire_time(None, at(0))
    slots = []
    for _ in range(50):
        slots.append(trigger.slot(fire))
        assert 0 <= (fire - trigger.slot(fire)).total_seconds() < 4
        fire = trigger.get_next_fire_time(fire, fire)
    assert all((b - a).total_seconds() == 10 for a, b in itertools.pairwise(slots))
    assert slots[0] == at(3)


def test_a_service_goes_down_at_the_first_failure_of_the_qualifying_run() -> None:
    q = qualifier()
    changes = feed(q, "UUUDDDDDUU")
    states = [(c.tag("state"), c.time_ms // 1000) for c in changes if c.measurement == schema.STATE]
    assert states == [("up", 0), ("down", 30), ("up", 80)]
    outages = [c for c in changes if c.measurement == schema.OUTAGE]
    assert [(o.time_ms // 1000, o.field("duration_s"), o.tag("class")) for o in outages] == [(30, 50, "microcut")]


def test_fewer_failures_than_down_after_change_nothing() -> None:
    q = qualifier()
    changes = feed(q, "UUDDUDDUUU")
    assert [c.tag("state") for c in changes] == ["up"]


def test_a_long_outage_is_an_outage_not_a_microcut() -> None:
    changes = feed(qualifier(), "UU" + "D" * 12 + "UU")
    outage = next(c for c in changes if c.measurement == schema.OUTAGE)
    assert outage.tag("class") == "outage" and outage.field("duration_s") == 120


def test_silence_longer_than_three_intervals_is_unknown_then_up_again() -> None:
    q = qualifier()
    changes = feed(q, "UUU") + feed(q, "UUU", start=200)
    assert [(c.tag("state"), c.time_ms // 1000) for c in changes] == [("up", 0), ("unknown", 30), ("up", 200)]


def test_the_qualifier_state_survives_a_restart() -> None:
    q = qualifier()
    feed(q, "UUDD")
    again = qualifier()
    again.restore(q.dump())
    changes = feed(again, "D", start=40)  # the third failure in a row, after a restart
    assert [(c.tag("state"), c.time_ms // 1000) for c in changes] == [("down", 20)]


class Scripted:
    """A collector seam: answers from a script, can hang or raise."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.calls: list[datetime] = []

    async def collect(self, target: str, scheduled_at: datetime) -> ProbeResult:
        self.calls.append(scheduled_at)
        if self.behaviour == "hang":
            await asyncio.sleep(3600)
        if self.behaviour == "raise":
            raise RuntimeError("bug in a collector")
        return ProbeResult(kind="icmp", target=target, scheduled_at=scheduled_at, ok=True, values={"rtt_avg_ms": 1.2})


def make_edge(behaviours: dict[str, str]) -> tuple[Edge, MemorySpool, dict[str, Scripted]]:
    made: dict[str, Scripted] = {}

    def factory(spec: ProbeSpec) -> Any:
        made[spec.device.name] = Scripted(behaviours[spec.device.name])
        return made[spec.device.name]

    spool = MemorySpool()
    edge = Edge(parse_inventory(INVENTORY), spool, FakeClock(T0), AgentMetrics(), factory)
    return edge, spool, made


async def test_samples_are_stamped_with_their_slot_not_the_run_time() -> None:
    edge, _spool, made = make_edge({"cpe": "ok", "slow": "ok"})
    probe_id = "acme/lyon/net/icmp-cpe"
    trigger = edge.probes[probe_id].trigger
    fire = trigger.get_next_fire_time(None, T0) + timedelta(seconds=0.7)  # jittered
    records = await edge.run_probe(probe_id, fire)
    assert records[0].time_ms == int(trigger.slot(fire).timestamp() * 1000)
    assert made["cpe"].calls == [trigger.slot(fire)]
    assert records[0].field("rtt_avg_ms") == 1.2 and records[0].field("ok") is True


async def test_a_run_cancelled_by_the_agent_stopping_is_not_logged_as_a_job_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler = AsyncIOScheduler(executors={"default": ScheduledExecutor()}, timezone="UTC")
    started = asyncio.Event()

    async def hung_probe(scheduled_at: datetime | None = None) -> None:
        started.set()
        await asyncio.sleep(3600)

    scheduler.add_job(hung_probe, "date", run_date=SystemClock().now())
    scheduler.start()
    await asyncio.wait_for(started.wait(), 10)
    with caplog.at_level(logging.DEBUG):
        scheduler.shutdown(wait=False)  # as the runtime stops: the run in flight is cancelled
        await asyncio.sleep(0.1)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_hung_device_times_out_into_a_failed_sample_without_delaying_the_others() -> None:
    edge, _spool, _ = make_edge({"cpe": "ok", "slow": "hang"})
    loop = asyncio.get_running_loop()
    started = loop.time()
    slow, fast = await asyncio.gather(
        edge.run_probe("acme/lyon/net/icmp-slow", T0), edge.run_probe("acme/lyon/net/icmp-cpe", T0)
    )
    assert loop.time() - started < 1.0
    assert slow[0].field("ok") is False and slow[0].tag("reason") == "timeout"
    assert fast[0].field("ok") is True


async def test_an_exception_in_a_collector_is_a_failed_sample() -> None:
    edge, spool, _ = make_edge({"cpe": "raise", "slow": "ok"})
    records = await edge.run_probe("acme/lyon/net/icmp-cpe", T0)
    assert records[0].field("ok") is False and records[0].tag("reason") == "internal_error"
    assert spool.pending() >= 1


def test_the_edge_window_qualifier_matches_sla_qualify_on_random_sample_streams() -> None:
    """`qualify_window` (plain Python, the edge) gives `sla.qualify.qualify_probe`'s timeline (numpy, the
    statements) on 3,000 random streams: runs of failures and successes, gaps, every threshold."""
    rng = random.Random(20260304)
    with_failing = with_gaps = 0
    for _ in range(3000):
        interval = rng.choice((10, 30, 60))
        down_after, up_after = rng.randint(1, 5), rng.randint(1, 5)
        t, samples = rng.randint(0, 10**6), []
        for _ in range(rng.randint(0, 40)):
            samples.append((t, rng.random() < rng.choice((0.2, 0.5, 0.8))))
            gap = rng.random() < 0.1
            t += interval * (rng.randint(3, 8) if gap else 1) + (rng.randint(0, interval // 2) if gap else 0)
        first = samples[0][0] if samples else 0
        period = (first - rng.randint(0, 5 * interval), t + rng.randint(-2 * interval, 5 * interval))
        rule = {"period": period, "down_after": down_after, "up_after": up_after, "interval_s": interval}
        expected = qualify_probe(
            np.array([s[0] for s in samples], dtype=np.int64), np.array([s[1] for s in samples], dtype=np.bool_), **rule
        )
        assert qualify_window(samples, **rule) == expected, (samples, rule)  # type: ignore[arg-type]
        with_failing += bool(expected.failing)
        with_gaps += len(expected.unknown) > 2
    assert with_failing > 1000 and with_gaps > 500  # the streams exercise both rules, not only the trivial case


def test_the_snmp_collector_loads_cryptography_for_its_first_authpriv_poll_only() -> None:
    """An edge without SNMPv3 privacy does without `cryptography` (~6.5 MB resident); the first authPriv
    collector gives it to pysnmp, whose cipher objects made before then encrypt from then on."""
    code = """
import os, sys
from pysnmp.proto.error import StatusInformation
import collectors.snmp as snmp
from pysnmp.proto.secmod.rfc3826.priv import aes
assert "cryptography" not in sys.modules
cipher = aes.Aes()
try:
    cipher.encrypt_data(b"k" * 16, (1, 2, b"\\0" * 8), b"x" * 16)
    raise SystemExit("encrypted without cryptography")
except StatusInformation:
    pass
os.environ["VIGIE_T_KEY"] = "a-long-enough-key"
key, oids = {"env": "VIGIE_T_KEY"}, ["1.3.6.1.2.1.1.3.0"]
v2c = snmp.SnmpConfig.model_validate({"version": "2c", "community": key, "oids": oids})
snmp.SnmpCollector(v2c)._auth()
assert "cryptography" not in sys.modules
v3 = snmp.SnmpConfig.model_validate({"user": "u", "auth_key": key, "priv_key": key, "oids": oids})
snmp.SnmpCollector(v3)._auth()
from pyasn1.type import univ
encrypted, salt = cipher.encrypt_data(univ.OctetString(b"k" * 16), (1, 2, b"\\0" * 8), b"x" * 16)
assert "cryptography" in sys.modules and len(encrypted) == 16, encrypted
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]


WALK_IN_NETNS = """
import asyncio, json, os, shutil, subprocess, sys, tempfile, time
from datetime import UTC, datetime
from pathlib import Path
from agent.lab import stop_pid
from collectors.snmp import SnmpCollector, SnmpConfig

def links(*names):  # veth pairs (the kernel may lack the dummy type): two rows each
    for name in names:
        subprocess.run(["ip", "link", "add", name + "a", "type", "veth", "peer", "name", name + "b"], check=True)

async def rows(collector):
    result = await collector.collect("127.0.0.1", datetime.now(UTC))
    assert result.ok, result
    return sorted(r["ifName"] for r in result.values["groups"]["interfaces"]["rows"].values())

async def main():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    links("v0")
    tmp = Path(tempfile.mkdtemp())
    (tmp / "snmpd.conf").write_text("agentAddress udp:127.0.0.1:16161\\nrocommunity public 127.0.0.1\\n")
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(tmp), "MIBS": "", "MIBDIRS": "/nonexistent"}
    snmpd = subprocess.Popen(["snmpd", "-f", "-Lo", "-C", "-c", str(tmp / "snmpd.conf")], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        os.environ["VIGIE_T_COMMUNITY"] = "public"
        cfg = SnmpConfig.model_validate({"version": "2c", "community": {"env": "VIGIE_T_COMMUNITY"}, "port": 16161,
                                         "platform": "linux_netsnmp", "groups": ["interfaces"], "timeout_s": 1})
        collector = SnmpCollector(cfg)
        deadline = time.monotonic() + 20
        while True:
            try:
                first = await rows(collector)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        hint = dict(collector._walk_rows)
        links("v1", "v2")  # the table grows past what the first GETBULK will ask for
        second = first
        while second == first and time.monotonic() < deadline + 20:  # snmpd caches its ifTable a few s
            await asyncio.sleep(0.5)
            second = await rows(collector)
        print(json.dumps({"first": first, "second": second, "hint": list(hint.values()),
                          "hint_after": list(collector._walk_rows.values())}))
    finally:
        stop_pid(snmpd.pid)
        shutil.rmtree(tmp, ignore_errors=True)

asyncio.run(main())
"""


def test_an_snmp_walk_sized_by_the_last_poll_still_reads_a_table_that_grew(tmp_path: Path) -> None:
    """The SNMP collector's GETBULK asks for as many rows as the table had at the last poll (+1): a table
    that grew since is still read to its end. A real snmpd in a network namespace of this test, whose
    interface table grows from 3 to 7 rows between two polls."""
    netns = f"vigie-walk-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        done = subprocess.run(
            ["ip", "netns", "exec", netns, sys.executable, "-c", WALK_IN_NETNS],
            capture_output=True, text=True, timeout=120, cwd=REPO,
        )  # fmt: skip
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=True)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["first"] == ["lo", "v0a", "v0b"] and seen["hint"] == [3]
    assert seen["second"] == ["lo", "v0a", "v0b", "v1a", "v1b", "v2a", "v2b"] and seen["hint_after"] == [7]
