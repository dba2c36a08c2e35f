"""Every measurement of the schema, written by the shipper's influxdb-client sink to the lab's real
victoria-metrics (/api/v2/write), comes back through VM's export API with the same tags, fields (as
`measurement_field` metrics, booleans as 1/0) and millisecond timestamps; the same line protocol loaded
into influxdb 1.6.7 reads back identically through InfluxQL."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from agent.clock import FakeClock
from agent.config import InfluxStoreConfig
from agent.shipper import InfluxSink, Outcome
from agent.store import schema
from agent.store.influx import InfluxQL, InfluxReader
from agent.store.schema import Record
from agent.store.sqlite import SqliteStore
from tests.agent.agent_harness import vm_export
from tests.agent.test_influx_read import INVENTORY, NOW, _dataset
from tests.influx_support import influx_db

__all__ = ["influx_db"]

pytestmark = pytest.mark.lab


def _records(tag: str) -> list[Record]:
    """The read test's dataset plus probe samples and a statement, every point tagged client=`tag`."""
    from agent.config import parse_inventory

    out = []
    for r in _dataset(parse_inventory(INVENTORY)):
        tags = dict(r.tags)
        if "client" in tags or r.measurement == schema.HEARTBEAT:
            tags["client"] = tag
        out.append(schema.make(r.measurement, tags, dict(r.fields), r.time_ms))
    ids = {"client": tag, "site": "s1", "service": "svc1", "agent": "edge-1", "device": "cpe", "probe": "cpe-icmp",
           "kind": "icmp", "target": "192.0.2.1"}  # fmt: skip
    t0 = schema.ms(NOW) - 3_600_000
    for i in range(120):
        ok = i % 17 != 0
        values = {"rtt_ms": 1.25 + i / 100, "loss_pct": 0.0 if ok else 100.0}
        reason = None if ok else "timeout"
        out.append(
            schema.sample(ids=ids, ok=ok, reason=reason, time_ms=t0 + 30_000 * i, duration_s=0.002, values=values)
        )
    out.append(schema.statement(
        ids={"client": tag, "site": "s1", "service": "svc1", "contract": "internet", "month": "2025-11"},
        fields={"availability_pct": 99.9, "tier_pct": 0.0, "credit_eur": 0.0, "budget_min": 12.5,
                "next_tier_pct": 5.0, "objective_met": True},
        time_ms=schema.ms(NOW),
    ))  # fmt: skip
    return out


def _g(value: float) -> float:
    """VM keeps about 12 significant digits (2.2199999999999998 comes back as 2.22)."""
    return float(f"{float(value):.10g}")


def _expected_vm(records: list[Record]) -> set[tuple[str, tuple[tuple[str, str], ...], int, float]]:
    out = set()
    for r in records:
        for name, value in r.fields:
            out.add((f"{r.measurement}_{name}", r.tags, r.time_ms, _g(value)))
    return out


def test_shipper_writes_reach_victoria_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_TEST_TOKEN", "anything")
    tag = f"rt-{uuid.uuid4().hex[:10]}"
    records = _records(tag)
    config = InfluxStoreConfig.model_validate(
        {"kind": "influxdb", "url": "http://127.0.0.1:8428", "token": {"env": "VIGIE_TEST_TOKEN"}}
    )
    sink = InfluxSink(config, FakeClock(NOW))
    try:
        result = asyncio.run(sink.send(records))
    finally:
        sink.close()
    assert result.outcome is Outcome.ACCEPTED, result
    got = set()
    for series in vm_export(f'{{__name__=~"vigie_.*", client="{tag}"}}'):
        metric = dict(series["metric"])
        name = metric.pop("__name__")
        labels = tuple(sorted(metric.items()))
        for t, v in zip(series["timestamps"], series["values"], strict=True):
            got.add((name, labels, int(t), _g(v)))
    assert got == _expected_vm(records)


def test_line_protocol_reads_back_from_influxdb(influx_db: InfluxQL, tmp_path: Path) -> None:
    records = _records("rt")
    influx_db.write(records)
    sqlite = SqliteStore(tmp_path / "v.db")
    sqlite.write(records)
    reader = InfluxReader(influx_db)
    assert reader.count() == sqlite.count() == len(records)
    assert reader.sample_times("rt/s1/svc1/cpe-icmp") == sqlite.sample_times("rt/s1/svc1/cpe-icmp")
    assert reader.latest_statement("svc1") == sqlite.latest_statement("svc1")
    # every field keeps its type: SELECT * gives back the exact values written
    rows = [r for s in influx_db.query("SELECT * FROM vigie_probe")[0] for r in s.rows()]
    back = {
        schema.make(schema.PROBE, {k: row.get(k) for k in schema.PROBE_TAGS},
                    {k: v for k, v in row.items() if k not in schema.PROBE_TAGS and k != "time" and v is not None},
                    int(row["time"]))
        for row in rows
    }  # fmt: skip
    assert back == {r for r in records if r.measurement == schema.PROBE}
