"""The agent as a real process: spool full while the store is unreachable, SIGHUP with a hostile config,
the central role marking a silent agent's services unknown."""

from __future__ import annotations

import signal
import socket
import sqlite3
import time
from pathlib import Path

from agent.store.schema import Kind
from tests.agent.agent_harness import (
    influx_store,
    inventory,
    spool_counters,
    spool_records,
    start_agent,
    wait_for,
    write_config,
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once closed: connection refused


def store_count(path: Path, measurement: str, probe: str | None = None) -> int:
    if not path.exists():
        return 0
    db = sqlite3.connect(path)
    try:
        sql = "SELECT count(*) FROM points WHERE measurement = ?"
        args: tuple[str, ...] = (measurement,)
        if probe is not None:
            sql += " AND json_extract(tags, '$.probe') = ?"
            args += (probe,)
        return int(db.execute(sql, args).fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def test_a_full_spool_downsamples_old_samples_keeps_states_and_counts_it(tmp_path: Path) -> None:
    store = influx_store(url=f"http://127.0.0.1:{closed_port()}")
    config = write_config(
        tmp_path / "inv.yaml", inventory("full-1", tmp_path, store=store, probes=20, max_bytes=64 * 1024)
    )
    agent = start_agent(config)
    spool = tmp_path / "spool.db"
    try:
        wait_for(lambda: spool.exists() and spool_counters(spool).get("downsampled", 0) > 0, 60, "downsampling")
        time.sleep(2)
    finally:
        assert agent.stop() == 0, agent.text()
    counters = spool_counters(spool)
    kept = spool_records(spool)
    size = sum(len(r.line().encode()) for r in kept)  # what `max_bytes` counts: the lines' bytes
    assert counters["downsampled"] > 0
    assert size <= 64 * 1024
    states = [r for r in kept if r.kind is Kind.STATE]
    assert states, "the service's state change is still spooled"
    beat = max((r for r in kept if r.kind is Kind.HEARTBEAT), key=lambda r: r.time_ms)
    assert int(beat.field("ship_errors") or 0) > 0 and beat.field("ship_rejected") == 0  # refused, none rejected
    # recent samples are complete: for each probe the newest few slots are consecutive
    for probe in {r.tag("probe") for r in kept if r.kind is Kind.SAMPLE}:
        times = sorted(r.time_ms for r in kept if r.tag("probe") == probe)
        assert times[-3:] == [times[-1] - 2000, times[-1] - 1000, times[-1]]


def test_a_hostile_config_on_sighup_keeps_the_previous_config_running(tmp_path: Path) -> None:
    data = inventory("hup-1", tmp_path, probes=1)
    config = write_config(tmp_path / "inv.yaml", data)
    store = tmp_path / "store.db"
    agent = start_agent(config)
    try:
        wait_for(lambda: store_count(store, "vigie_probe") >= 2, 30, "first samples")
        for hostile in (
            "agent: {id: hup-1\n",  # not YAML
            config.read_text().replace("kind: icmp", "kind: telnet"),
            config.read_text().replace("monthly_fee_eur: 100", "monthly_fee_eur: 100\n            bogus: 1"),
            config.read_text().replace("timeout_s: 0.3", "timeout_s: 0.3, source: {value: secret}"),
            "a: &a [*a, *a]\n",  # recursive alias
        ):
            config.write_text(hostile)
            agent.signal(signal.SIGHUP)
            before = store_count(store, "vigie_probe")
            wait_for(lambda b=before: store_count(store, "vigie_probe") >= b + 2, 20, "sampling goes on")
            assert agent.alive()
        assert agent.text().count("config reload failed; the previous config keeps running") == 5
        # a good config is applied: a second device starts sampling
        write_config(config, inventory("hup-1", tmp_path, probes=2))
        agent.signal(signal.SIGHUP)
        wait_for(lambda: store_count(store, "vigie_probe", "icmp-lo1") >= 2, 20, "the new probe's samples")
    finally:
        assert agent.stop() == 0, agent.text()
    assert "config reloaded" in agent.text()


def test_the_central_role_marks_a_silent_agent_unknown_never_up(tmp_path: Path) -> None:
    edge_cfg = inventory("edge-c", tmp_path, probes=1)
    edge_cfg["clients"][0]["sites"][0]["agent"] = "edge-c"
    central_cfg = inventory("central-c", tmp_path / "c", probes=1)
    central_cfg["agent"]["store"] = edge_cfg["agent"]["store"]  # one embedded store shared on this host
    central_cfg["agent"]["central"] = {"heartbeat_timeout_s": 3, "recompute_interval_s": 2}
    central_cfg["clients"] = edge_cfg["clients"]
    (tmp_path / "c").mkdir()
    edge = start_agent(write_config(tmp_path / "edge.yaml", edge_cfg))
    central = start_agent(write_config(tmp_path / "central.yaml", central_cfg), role="central", log_name="central.log")
    store = tmp_path / "store.db"

    def central_states() -> list[str]:
        db = sqlite3.connect(store)
        try:
            rows = db.execute("SELECT state FROM state_changes WHERE source = 'central' ORDER BY time_ms").fetchall()
            return [r[0] for r in rows]
        except sqlite3.OperationalError:
            return []
        finally:
            db.close()

    try:
        wait_for(lambda: central_states()[-1:] == ["up"], 30, "central sees the site up")
        wait_for(lambda: store_count(store, "vigie_statement") >= 1, 30, "a statement written back")
        edge.kill9()
        wait_for(lambda: central_states()[-1:] == ["unknown"], 30, "central marks the silent agent unknown")
        time.sleep(3)
        assert central_states()[-1] == "unknown"
    finally:
        edge.stop()
        assert central.stop() == 0, central.text()
