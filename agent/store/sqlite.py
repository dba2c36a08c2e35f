"""The embedded store: one SQLite file in WAL mode, the default when no InfluxDB is configured.

It mirrors InfluxDB's data model so both stores behave alike: one `points` table keyed by the point's
identity (measurement + tag set + timestamp); writing a point again replaces it with itself, so replays
never duplicate. Typed views give the tables the runtime reads:

- `samples`       — probe runs (vigie_probe): probe id, time, ok, reason, fields;
- `state_changes` — qualified state changes (vigie_state) per service and source (edge | central);
- `state_intervals` — the same as half-open intervals [start, end) (end NULL while open);
- `outages`       — closed down periods with their class (outage | microcut);
- `heartbeats`    — agent heartbeats;
- `statements`    — the statement figures written back by the central role;
- `exclusions`    — the ledger's exclusions and maintenance windows written by the central role;
- `gtr_clocks`    — the tickets' GTR clocks written by the central role at each recomputation.

Several processes may open the same file (edge and central on one host): WAL lets readers run beside the
one writer; `busy_timeout` absorbs short lock waits.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from agent.inputs import InputError, foreign_sqlite
from agent.store.schema import EXCLUSION, GTR, HEARTBEAT, OUTAGE, PROBE, STATE, STATEMENT, Record, make

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS points (
    measurement TEXT NOT NULL,
    series      TEXT NOT NULL,
    time_ms     INTEGER NOT NULL,
    tags        TEXT NOT NULL,
    fields      TEXT NOT NULL,
    PRIMARY KEY (series, time_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS points_by_measurement ON points (measurement, time_ms);
-- One probe's samples without scanning every sample: the same expression as the `samples` view's probe_id.
CREATE INDEX IF NOT EXISTS samples_by_probe ON points (
    (json_extract(tags, '$.client') || '/' || json_extract(tags, '$.site') || '/'
     || json_extract(tags, '$.service') || '/' || json_extract(tags, '$.probe')), time_ms
) WHERE measurement = '{PROBE}';

-- One service's state changes without scanning every service's (the central role reads them per service).
CREATE INDEX IF NOT EXISTS states_by_service ON points (
    json_extract(tags, '$.service'), json_extract(tags, '$.source'), time_ms
) WHERE measurement = '{STATE}';

CREATE VIEW IF NOT EXISTS samples AS
    SELECT json_extract(tags, '$.client') || '/' || json_extract(tags, '$.site') || '/'
           || json_extract(tags, '$.service') || '/' || json_extract(tags, '$.probe') AS probe_id,
           time_ms, json_extract(fields, '$.ok') AS ok, json_extract(tags, '$.reason') AS reason, tags, fields
    FROM points WHERE measurement = '{PROBE}';
CREATE VIEW IF NOT EXISTS state_changes AS
    SELECT json_extract(tags, '$.service') AS service, json_extract(tags, '$.source') AS source,
           json_extract(tags, '$.state') AS state, json_extract(tags, '$.cause') AS cause, time_ms, tags
    FROM points WHERE measurement = '{STATE}';
CREATE VIEW IF NOT EXISTS state_intervals AS
    SELECT service, source, state, cause, time_ms AS start_ms,
           LEAD(time_ms) OVER (PARTITION BY service, source ORDER BY time_ms) AS end_ms
    FROM state_changes;
CREATE VIEW IF NOT EXISTS outages AS
    SELECT json_extract(tags, '$.service') AS service, json_extract(tags, '$.class') AS class,
           time_ms AS start_ms, json_extract(fields, '$.end_s') * 1000 AS end_ms, tags
    FROM points WHERE measurement = '{OUTAGE}';
CREATE VIEW IF NOT EXISTS heartbeats AS
    SELECT json_extract(tags, '$.agent') AS agent, json_extract(tags, '$.role') AS role, time_ms, fields
    FROM points WHERE measurement = '{HEARTBEAT}';
CREATE VIEW IF NOT EXISTS statements AS
    SELECT json_extract(tags, '$.service') AS service, json_extract(tags, '$.month') AS month, time_ms, fields
    FROM points WHERE measurement = '{STATEMENT}';
CREATE VIEW IF NOT EXISTS exclusions AS
    SELECT json_extract(tags, '$.ref') AS ref, json_extract(tags, '$.state') AS state, time_ms AS start_ms,
           json_extract(fields, '$.end_s') * 1000 AS end_ms, json_extract(fields, '$.current') AS current, tags,
           fields
    FROM points WHERE measurement = '{EXCLUSION}';
CREATE VIEW IF NOT EXISTS gtr_clocks AS
    SELECT json_extract(tags, '$.service') AS service, json_extract(tags, '$.ticket') AS ticket, time_ms, tags,
           fields
    FROM points WHERE measurement = '{GTR}';
"""


def connect(path: Path) -> sqlite3.Connection:
    """A WAL-mode connection: durable on commit against a process crash (kill -9) and a power loss."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=30000")
    return db


@dataclass(frozen=True)
class Interval:
    state: str
    start_ms: int
    end_ms: int | None
    cause: str | None


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        # Never write the schema into a file that is not ours (a path pointing at the wrong file). An empty
        # file is a new store, as SQLite sees it (an agent stopped between creating the file and writing it).
        problem = foreign_sqlite(path, ("points", "ledger_records"), empty_ok=True)
        if problem is not None:
            raise InputError(f"{path}: cannot open the store: {problem} (the file is left untouched)")
        self.db = connect(path)
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def write(self, records: Iterable[Record]) -> int:
        """Write points idempotently (same identity → replaced by itself); one transaction. Returns the count."""
        rows = [
            (r.measurement, r.series, r.time_ms, json.dumps(dict(r.tags)), json.dumps(dict(r.fields))) for r in records
        ]
        with self._transaction():
            self.db.executemany("INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?)", rows)
        return len(rows)

    def _transaction(self) -> _Tx:
        return _Tx(self.db)

    # --- reads used by the central role and the tests ---------------------------------------------------

    def count(self, measurement: str | None = None) -> int:
        if measurement is None:
            return int(self.db.execute("SELECT count(*) FROM points").fetchone()[0])
        return int(self.db.execute("SELECT count(*) FROM points WHERE measurement = ?", (measurement,)).fetchone()[0])

    def sample_times(self, probe_id: str) -> list[int]:
        rows = self.db.execute("SELECT time_ms FROM samples WHERE probe_id = ? ORDER BY time_ms", (probe_id,))
        return [int(r[0]) for r in rows]

    def state_intervals(self, service: str, source: str = "edge", until_ms: int | None = None) -> list[Interval]:
        # The `state_intervals` view's window runs over every service before its WHERE applies (one call
        # scanned the whole store); here the window runs over this service's changes only, read by index.
        rows = self.db.execute(
            f"""SELECT state, start_ms, end_ms, cause FROM (
                    SELECT json_extract(tags, '$.state') AS state, time_ms AS start_ms,
                           LEAD(time_ms) OVER (ORDER BY time_ms) AS end_ms, json_extract(tags, '$.cause') AS cause
                    FROM points WHERE measurement = '{STATE}' AND json_extract(tags, '$.service') = ?1
                                  AND json_extract(tags, '$.source') = ?2)
                WHERE ?3 IS NULL OR start_ms < ?3 ORDER BY start_ms""",
            (service, source, until_ms),
        )
        return [Interval(r[0], int(r[1]), None if r[2] is None else int(r[2]), r[3]) for r in rows]

    def last_heartbeats(self) -> dict[str, int]:
        rows = self.db.execute("SELECT agent, max(time_ms) FROM heartbeats GROUP BY agent")
        return {str(a): int(t) for a, t in rows}

    def latest_statement(self, service: str) -> dict[str, float] | None:
        row = self.db.execute(
            "SELECT fields FROM statements WHERE service = ? ORDER BY time_ms DESC LIMIT 1", (service,)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def exclusions(self, *, current: bool = True) -> list[Record]:
        """The `vigie_exclusion` points (only the records' current versions by default), by start then ref."""
        rows = self.db.execute(
            "SELECT tags, fields, start_ms FROM exclusions WHERE (? = 0 OR current) ORDER BY start_ms, ref, state",
            (int(current),),
        )
        return [_point(EXCLUSION, t, f, int(ms)) for t, f, ms in rows]

    def latest_gtr(self, service: str) -> list[Record]:
        """The service's GTR clocks of the central role's latest recomputation (one point per ticket)."""
        rows = self.db.execute(
            "SELECT tags, fields, time_ms FROM gtr_clocks WHERE service = ?1 "
            "AND time_ms = (SELECT max(time_ms) FROM gtr_clocks WHERE service = ?1) ORDER BY ticket",
            (service,),
        )
        return [_point(GTR, t, f, int(ms)) for t, f, ms in rows]


def _point(measurement: str, tags: str, fields: str, time_ms: int) -> Record:
    return make(measurement, json.loads(tags), json.loads(fields), time_ms)


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
