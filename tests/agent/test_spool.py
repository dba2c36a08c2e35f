"""The spool: a batch leaves only when acknowledged; the full policy is applied and counted. One suite, both
spools (memory and SQLite WAL)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.spool import MemorySpool, Spool, SpoolMigrationError, SqliteSpool
from agent.store import schema
from agent.store.schema import Kind, Record
from agent.store.sqlite import SqliteStore

IDS = {"client": "c", "site": "s", "service": "svc", "agent": "a1", "device": "cpe", "kind": "icmp", "target": "x"}


def samples(n: int, probes: int = 1, ok: bool = True, start: int = 0) -> list[Record]:
    return [
        schema.sample(
            ids={**IDS, "probe": f"icmp-{p}"},
            ok=ok,
            reason=None if ok else "timeout",
            time_ms=(start + i) * 10_000,
            duration_s=0.01,
            values={"rtt_avg_ms": 1.5, "loss": 0.0},
        )
        for i in range(n)
        for p in range(probes)
    ]


def size(r: Record) -> int:
    """What a record counts against `max_bytes`: its line's bytes."""
    return len(r.line().encode())


def state(t: int, s: str) -> Record:
    return schema.state(
        ids={"client": "c", "site": "s", "service": "svc", "agent": "a1"}, state=s, source="edge", time_ms=t
    )


@pytest.fixture(params=["memory", "sqlite"])
def make_spool(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    opened: list[Spool] = []

    def make(max_bytes: int = 1 << 30) -> Spool:
        spool: Spool = (
            MemorySpool(max_bytes) if request.param == "memory" else SqliteSpool(tmp_path / "s.db", max_bytes)
        )
        opened.append(spool)
        return spool

    yield make
    for s in opened:
        s.close()


def test_a_batch_leaves_only_when_acknowledged(make_spool) -> None:  # type: ignore[no-untyped-def]
    spool = make_spool()
    spool.put(samples(10))
    batch = spool.begin(4)
    assert len(batch) == 4 and spool.pending() == 10
    second = spool.begin(4)  # in flight records are not handed out twice
    assert set(batch.seqs).isdisjoint(second.seqs)
    records = batch.records  # read from the spool on demand: before `end` removes them
    spool.end(batch, accepted=[0, 1], rejected=[2])
    assert spool.pending() == 7
    assert spool.stats.accepted == 2 and spool.stats.rejected == 1
    assert spool.quarantined() == [records[2]]  # rejected for good, yet kept: nothing measured is lost
    spool.end(second, accepted=[], rejected=[])  # nothing acknowledged: all four come back
    again = spool.begin(100)
    assert len(again) == 7
    assert again.records[0] == records[3]  # the oldest first


def test_a_batch_with_a_gap_acknowledges_only_its_own_records(make_spool) -> None:  # type: ignore[no-untyped-def]
    spool = make_spool()
    spool.put(samples(10))
    first, second = spool.begin(4), spool.begin(4)
    spool.end(first, [], [])  # the store did not take it: its records come back, oldest first
    third = spool.begin(6)  # the four of `first`, then two after `second`: the rows of `second` in between
    assert third.seqs[:4] == first.seqs and min(third.seqs[4:]) > max(second.seqs) and len(third) == 6
    kept = [r.key for r in second.records]
    spool.end(third, accepted=range(6), rejected=[])
    assert spool.pending() == 4  # `second` is still in flight and still spooled
    spool.end(second, [], [])
    assert [r.key for r in spool.begin(10).records] == kept


def test_the_same_point_is_spooled_once(make_spool) -> None:  # type: ignore[no-untyped-def]
    spool = make_spool()
    spool.put(samples(5))
    spool.put(samples(5))
    assert spool.pending() == 5
    assert spool.stats.duplicates_ignored == 5


def test_when_full_old_successful_samples_are_downsampled_and_states_kept(make_spool) -> None:  # type: ignore[no-untyped-def]
    one = size(samples(1)[0])
    spool = make_spool(max_bytes=100 * one)
    spool.put([state(0, "down")])
    spool.put(samples(60, probes=2, ok=True))  # 120 samples > 100
    assert spool.size_bytes() <= spool.max_bytes
    assert spool.stats.downsampled > 0
    kept = spool.begin(10_000).records
    assert sum(r.kind is Kind.STATE for r in kept) == 1
    # the recent half is untouched: the last 30 scheduled slots of each probe are all there
    for p in ("icmp-0", "icmp-1"):
        times = sorted(r.time_ms for r in kept if r.tag("probe") == p)
        assert times[-30:] == [i * 10_000 for i in range(30, 60)]


def test_failed_samples_are_thinned_only_after_successful_ones(make_spool) -> None:  # type: ignore[no-untyped-def]
    one = size(samples(1)[0])
    spool = make_spool(max_bytes=90 * one)
    spool.put(samples(20, ok=False) + samples(80, ok=True, start=20))
    kept = spool.begin(10_000).records
    assert sum(not r.field("ok") for r in kept) == 20


def test_interface_rows_are_thinned_as_successful_samples_before_failed_ones(make_spool) -> None:  # type: ignore[no-untyped-def]
    """A table row (vigie_interface) has no `ok` field: it comes out of a successful poll and is thinned with
    the successful samples, so the failed samples (the evidence of an outage) are kept longer."""
    rows = [
        schema.make(
            schema.INTERFACE,
            {**IDS, "ifname": "ge-0/0/0"},
            {"oper_up": 1, "admin_up": 1, "in_bps": 1e6},
            (20 + i) * 10_000,
        )
        for i in range(80)
    ]
    one = max(size(samples(1, ok=False)[0]), size(rows[0]))
    spool = make_spool(max_bytes=90 * one)
    spool.put(samples(20, ok=False) + rows)
    assert spool.stats.downsampled > 0
    kept = spool.begin(10_000).records
    assert sum(r.field("ok") is False for r in kept) == 20
    assert 0 < sum(r.measurement == schema.INTERFACE for r in kept) < 80


def test_states_are_never_dropped_the_overflow_is_counted(make_spool) -> None:  # type: ignore[no-untyped-def]
    spool = make_spool(max_bytes=64 * 1024)
    states = [state(i * 1000, "down" if i % 2 else "up") for i in range(2000)]
    spool.put(states)
    assert spool.pending() == 2000
    assert spool.stats.over_limit >= 1


def test_with_no_sample_left_to_thin_the_oldest_half_of_heartbeats_goes(make_spool) -> None:  # type: ignore[no-untyped-def]
    """The full policy's last step: heartbeats (liveness only) go oldest first, half at a time, never one in
    flight; state intervals stay even over the limit."""
    beats = [
        schema.heartbeat(agent="a1", role="edge", seq=i, uptime_s=i, spool_records=0, time_ms=i * 1000)
        for i in range(40)
    ]
    one = size(beats[0])
    spool = make_spool(max_bytes=30 * one)
    spool.put(beats[:10])
    flying = spool.begin(2)  # the two oldest are being shipped: not droppable
    spool.put([*beats[10:], state(0, "down")])
    kept = spool.begin(10_000).records + flying.records
    assert spool.stats.dropped_heartbeats == 40 - len(kept) + 1 > 0
    assert spool.size_bytes() <= spool.max_bytes
    assert sum(r.kind is Kind.STATE for r in kept) == 1
    seqs = sorted(int(r.field("seq")) for r in kept if r.kind is Kind.HEARTBEAT)
    dropped = sorted(set(range(40)) - set(seqs))
    assert seqs[:2] == [0, 1]  # in flight
    assert dropped == list(range(2, 2 + len(dropped)))  # then the oldest first
    assert spool.size_bytes() == sum(size(r) for r in kept)  # the bytes freed were counted exactly


def test_one_services_state_intervals_equal_the_views_and_are_read_by_index(tmp_path: Path) -> None:
    """Interleaved services and sources: each service's intervals (closed by its own next change, the last one
    open) are exactly the `state_intervals` view's rows for it, and the read does not scan other services."""
    store = SqliteStore(tmp_path / "v.db")
    rng = random.Random(7)
    records = [
        schema.state(
            ids={"client": "c", "site": "s", "service": f"svc{rng.randrange(5)}", "agent": "a1"},
            state=rng.choice(["up", "down", "unknown"]),
            source=rng.choice(["edge", "central"]),
            time_ms=t * 1000,
        )
        for t in range(400)
    ]
    store.write(records)
    for service in (f"svc{i}" for i in range(5)):
        for source in ("edge", "central"):
            for until in (None, 150_000, 399_000):
                view = store.db.execute(
                    "SELECT state, start_ms, end_ms, cause FROM state_intervals WHERE service = ? AND source = ? "
                    "AND (? IS NULL OR start_ms < ?) ORDER BY start_ms",
                    (service, source, until, until),
                ).fetchall()
                got = store.state_intervals(service, source, until_ms=until)
                assert [(i.state, i.start_ms, i.end_ms, i.cause) for i in got] == view
            assert store.state_intervals(service, source)[-1].end_ms is None  # the last change is still open
    plan = store.db.execute(
        "EXPLAIN QUERY PLAN SELECT time_ms FROM points WHERE measurement = 'vigie_state' "
        "AND json_extract(tags, '$.service') = 'svc1' AND json_extract(tags, '$.source') = 'edge'"
    ).fetchall()
    assert any("states_by_service" in str(row) for row in plan), plan
    store.close()


def test_the_sqlite_spool_survives_a_reopen_with_its_counters(tmp_path: Path) -> None:
    spool = SqliteSpool(tmp_path / "s.db", 1 << 20)
    spool.put(samples(10))
    spool.end(spool.begin(3), accepted=[0, 1, 2], rejected=[])
    spool.begin(5)  # in flight when the process dies: comes back after the restart
    spool.close()
    again = SqliteSpool(tmp_path / "s.db", 1 << 20)
    assert again.pending() == 7
    assert again.stats.accepted == 3
    assert len(again.begin(100)) == 7
    assert again.size_bytes() == sum(size(r) for r in samples(10)[3:])


def test_the_embedded_store_is_idempotent_and_derives_state_intervals(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "v.db")
    store.write(samples(10))
    store.write(samples(10))
    assert store.count(schema.PROBE) == 10
    store.write([state(1000, "up"), state(5000, "down"), state(9000, "up")])
    store.write([state(5000, "down")])
    intervals = store.state_intervals("svc")
    assert [(i.state, i.start_ms, i.end_ms) for i in intervals] == [
        ("up", 1000, 5000),
        ("down", 5000, 9000),
        ("up", 9000, None),
    ]


def test_line_protocol_escapes_tags_and_types_fields() -> None:
    r = schema.make(schema.PROBE, {"site": "Lyon HQ,1", "probe": "a=b"}, {"ok": True, "n": 3, "x": 1.5}, 1234)
    assert r.line() == "vigie_probe,probe=a\\=b,site=Lyon\\ HQ\\,1 n=3i,ok=true,x=1.5 1234"
    assert Record.from_json(r.to_json()) == r
    assert Record.from_line(r.line()) == r


def test_a_batch_carries_each_records_line_protocol(make_spool) -> None:  # type: ignore[no-untyped-def]
    spool = make_spool()
    spool.put([*samples(3), state(5000, "down")])
    batch = spool.begin(10)
    assert batch.lines == tuple(r.line() for r in [*samples(3), state(5000, "down")])
    assert batch.records == (*samples(3), state(5000, "down"))  # decoded on demand, the same records
    part = batch.part(1, 3)
    assert (part.lines, part.records, part.seqs) == (batch.lines[1:3], batch.records[1:3], batch.seqs[1:3])


# Format 3 (the previous version's): a JSON payload next to the line, an index on (kind, seq).
_V3_SPOOL = """
CREATE TABLE series (sid INTEGER PRIMARY KEY, series TEXT NOT NULL UNIQUE);
CREATE TABLE spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, sid INTEGER NOT NULL REFERENCES series (sid), time_ms INTEGER NOT NULL,
    kind TEXT NOT NULL, ok INTEGER, size INTEGER NOT NULL, payload TEXT NOT NULL, line TEXT, UNIQUE (sid, time_ms)
);
CREATE INDEX spool_by_kind ON spool (kind, seq);
CREATE TABLE quarantine (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE edge_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
PRAGMA user_version = 3;
"""


def test_a_spool_of_format_3_is_migrated_in_place_and_keeps_its_promises(tmp_path: Path) -> None:
    import sqlite3

    from agent.spool import SPOOL_VERSION

    iface = schema.make(schema.INTERFACE, {**IDS, "ifname": "ge-0/0/0 \\x,y=z"}, {"oper_up": 1, "in_bps": 1e6}, 5)
    old = [*samples(6, probes=2), state(7000, "down"), iface]
    db = sqlite3.connect(tmp_path / "s.db")
    db.executescript(_V3_SPOOL)
    for r in old:
        db.execute("INSERT OR IGNORE INTO series (series) VALUES (?)", (r.series,))
        db.execute(
            "INSERT INTO spool (sid, time_ms, kind, ok, size, payload, line) "
            "SELECT sid, ?, ?, ?, ?, ?, ? FROM series WHERE series = ?",
            (r.time_ms, r.kind.value, int(r.poll_ok) if r.kind is Kind.SAMPLE else None, len(r.to_json()),
             r.to_json(), None if r is old[1] else r.line(), r.series),  # one row left without its line
        )  # fmt: skip
    last = db.execute("SELECT max(seq) FROM spool").fetchone()[0]
    db.execute("DELETE FROM spool WHERE seq = ?", (last,))  # acknowledged before the upgrade: seq not reused
    rejected = samples(1, start=99)[0]
    db.execute("INSERT INTO quarantine VALUES (1000, ?, ?)", (rejected.key, rejected.to_json()))
    db.execute("INSERT INTO counters VALUES ('accepted', 12), ('downsampled', 3)")
    db.execute("INSERT INTO edge_state VALUES ('icmp-0', 'down')")
    db.commit()
    db.close()
    kept = old[:-1]

    spool = SqliteSpool(tmp_path / "s.db", 1 << 20)
    assert spool.db.execute("PRAGMA user_version").fetchone()[0] == SPOOL_VERSION == 4
    columns = {row[1] for row in spool.db.execute("PRAGMA table_info(spool)")}
    assert "payload" not in columns and "line" in columns
    indexes = {row[1] for row in spool.db.execute("PRAGMA index_list(spool)")}
    assert "spool_by_kind" not in indexes
    assert spool.pending() == len(kept) and spool.size_bytes() == sum(size(r) for r in kept)
    assert (spool.stats.accepted, spool.stats.downsampled) == (12, 3)
    assert spool.edge_state() == {"icmp-0": "down"}
    assert spool.quarantined() == [rejected]  # still readable as a record
    spool.put([old[0], old[-1], *samples(1, start=50)])  # the first is spooled already; the last was acknowledged
    assert spool.stats.duplicates_ignored == 1
    batch = spool.begin(100)
    assert batch.lines == tuple(r.line() for r in [*kept, old[-1], *samples(1, start=50)])
    assert batch.records == (*kept, old[-1], *samples(1, start=50))
    assert min(batch.seqs[len(kept) :]) > last  # seqs are never reused
    spool.end(batch, accepted=list(range(1, len(batch))), rejected=[0])
    assert spool.pending() == 0 and spool.quarantined() == [old[0], rejected]  # by seq
    spool.close()
    again = SqliteSpool(tmp_path / "s.db", 1 << 20)  # format 4 opens as is
    assert again.quarantined() == [old[0], rejected] and again.stats.accepted == 12 + len(batch) - 1
    again.close()


def test_a_failed_migration_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    import sqlite3

    r = samples(1)[0]
    db = sqlite3.connect(tmp_path / "s.db")
    db.executescript(_V3_SPOOL)
    db.execute("INSERT INTO series (series) VALUES (?)", (r.series,))
    db.execute("INSERT INTO spool (sid, time_ms, kind, ok, size, payload) VALUES (1, 0, 'sample', 1, 1, 'not json')")
    db.commit()
    db.close()
    with pytest.raises(
        SpoolMigrationError, match=r"s\.db: cannot convert .* format 3 to 4: .*'not json'.* left as it was"
    ):
        SqliteSpool(tmp_path / "s.db", 1 << 20)
    db = sqlite3.connect(tmp_path / "s.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    assert db.execute("SELECT payload FROM spool").fetchall() == [("not json",)]
    db.close()


# The spool's on-disk format before `line` (what an agent of the previous version leaves behind).
_OLD_SPOOL = """
CREATE TABLE spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
                    series TEXT NOT NULL, ok INTEGER, size INTEGER NOT NULL, payload TEXT NOT NULL);
CREATE INDEX spool_by_kind ON spool (kind, seq);
CREATE TABLE quarantine (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE edge_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def test_a_spool_of_the_previous_format_is_migrated_and_shipped(tmp_path: Path) -> None:
    import sqlite3

    old = samples(5)
    db = sqlite3.connect(tmp_path / "s.db")
    db.executescript(_OLD_SPOOL)
    db.executemany(
        "INSERT INTO spool (key, kind, series, ok, size, payload) VALUES (?, ?, ?, ?, ?, ?)",
        [(r.key, r.kind.value, r.series, 1, len(r.to_json()), r.to_json()) for r in old],
    )
    db.execute("DELETE FROM spool WHERE seq = 5")  # acknowledged before the upgrade: its seq is not reused
    db.commit()
    db.close()
    spool = SqliteSpool(tmp_path / "s.db", 1 << 20)
    assert spool.size_bytes() == sum(size(r) for r in old[:4])  # sizes now count the lines' bytes
    spool.put([*samples(2, start=10), old[0]])  # old[0] is already spooled: ignored
    assert spool.stats.duplicates_ignored == 1
    batch = spool.begin(100)
    assert batch.lines == tuple(r.line() for r in [*old[:4], *samples(2, start=10)])
    assert batch.seqs[4] > 5
    spool.end(batch, accepted=list(range(1, len(batch))), rejected=[0])
    assert spool.pending() == 0 and spool.quarantined() == [old[0]]
    spool.close()


def test_a_spool_of_a_newer_format_is_refused_clearly(tmp_path: Path) -> None:
    import sqlite3

    from agent.spool import SPOOL_VERSION, SpoolVersionError

    db = sqlite3.connect(tmp_path / "s.db")
    db.execute(f"PRAGMA user_version = {SPOOL_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(SpoolVersionError, match="newer Vigie"):
        SqliteSpool(tmp_path / "s.db", 1 << 20)


def test_vigie_agent_run_on_an_unreadable_spool_says_why_and_exits_1(tmp_path: Path) -> None:
    """`vigie agent run` prints the spool's refusal (no traceback) and leaves the file as it was."""
    import sqlite3
    import subprocess
    import sys

    from agent.spool import SPOOL_VERSION
    from tests.agent.agent_harness import inventory, write_config

    db = sqlite3.connect(tmp_path / "spool.db")
    db.execute(f"PRAGMA user_version = {SPOOL_VERSION + 1}")
    db.commit()
    db.close()
    config = write_config(tmp_path / "inventory.yaml", inventory("edge-1", tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", "from agent.cli import main; main()", "agent", "run", str(config)],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert f"spool.db: spool format {SPOOL_VERSION + 1} was written by a newer Vigie" in done.stderr
    assert "Traceback" not in done.stderr
    db = sqlite3.connect(tmp_path / "spool.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SPOOL_VERSION + 1
    db.close()
