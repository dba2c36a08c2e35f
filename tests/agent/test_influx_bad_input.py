"""Bad input against the real servers of the lab: a field type conflict (influxdb 1.6.7), a server without
the v2 write API (influxdb 1.6.7 answers influxdb-client's writes with 404), an unreachable server: each
ends in an error that says what to run or change."""

from __future__ import annotations

import asyncio
import socket

import pytest

from agent.clock import FakeClock
from agent.config import InfluxStoreConfig
from agent.shipper import InfluxSink, Outcome
from agent.store import schema
from agent.store.influx import InfluxError, InfluxQL, explain_http
from tests.agent.test_influx_read import NOW
from tests.influx_support import influx_db, influxdb_url

__all__ = ["influx_db"]

IDS = {"client": "c", "site": "s", "service": "svc", "agent": "a", "device": "d", "probe": "p", "kind": "icmp"}


@pytest.mark.lab
def test_field_type_conflict_is_explained(influx_db: InfluxQL) -> None:
    good = schema.sample(ids=IDS, ok=True, reason=None, time_ms=schema.ms(NOW), duration_s=0.1, values={"rtt": 1.0})
    influx_db.write([good])
    # the same field with another type (an integer where floats were written): InfluxDB refuses it
    bad = good.line().replace("rtt=1.0", "rtt=1i").replace(str(good.time_ms), str(good.time_ms + 1000))
    with pytest.raises(InfluxError) as err:
        influx_db.write_lines([bad])
    assert err.value.status == 400
    assert "field type conflict" in err.value.message and "new field name" in err.value.hint


@pytest.mark.lab
def test_a_server_without_the_v2_write_api_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    """influxdb 1.6.7 answers /api/v2/write with 404: the hint names the fix (1.8+, bucket/org)."""
    from tests.influx_support import require_influxdb

    url = require_influxdb()
    monkeypatch.setenv("VIGIE_TEST_TOKEN", "x")
    config = InfluxStoreConfig.model_validate({"kind": "influxdb", "url": url, "token": {"env": "VIGIE_TEST_TOKEN"}})
    sink = InfluxSink(config, FakeClock(NOW))
    record = schema.heartbeat(agent="a", role="edge", seq=1, uptime_s=1.0, spool_records=0, time_ms=schema.ms(NOW))
    try:
        result = asyncio.run(sink.send([record]))
    finally:
        sink.close()
    assert result.status == 404
    # the shipper's table (agent/shipper.py): a 404 alerts and keeps the batch in the spool
    assert result.outcome is Outcome.NOT_FOUND
    error = explain_http(404, result.detail, url, "a write")
    assert "store.bucket" in error.hint and "1.8+" in error.hint


def test_unreachable_server_keeps_the_batch_for_a_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("VIGIE_TEST_TOKEN", "x")
    url = f"http://127.0.0.1:{port}"
    config = InfluxStoreConfig.model_validate(
        {"kind": "influxdb", "url": url, "token": {"env": "VIGIE_TEST_TOKEN"}, "timeout_s": 2}
    )
    sink = InfluxSink(config, FakeClock(NOW))
    record = schema.heartbeat(agent="a", role="edge", seq=1, uptime_s=1.0, spool_records=0, time_ms=schema.ms(NOW))
    try:
        result = asyncio.run(sink.send([record]))
    finally:
        sink.close()
    assert result.outcome is Outcome.RETRY  # the spool keeps it
    with pytest.raises(InfluxError) as err, InfluxQL(url, "vigie", timeout_s=2) as client:
        client.query("SHOW DATABASES")
    assert "store.url" in err.value.hint
    assert influxdb_url() != url
