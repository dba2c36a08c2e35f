"""The durable spool between the edge and the store (Telegraf's buffer, made durable).

`put(records)` appends; `begin(n)` hands out the oldest `n` records not already in flight as a `Batch`;
`end(batch, accepted, rejected)` removes the records the store acknowledged and moves those it rejected for
good to the quarantine (kept, counted, never resent); everything else goes back to the spool. Nothing leaves
before `end`, so a crash
between sending and acknowledging sends the batch again: delivery is at-least-once, and since a record is a
point whose identity is fixed (agent/store/schema.py), a replay overwrites the point with itself.

Bounded size: `max_bytes` of line protocol (the UTF-8 bytes of the spooled records' lines, what the spool
would POST uncompressed). When a `put` makes the spool exceed it, the full policy runs, in this order,
until the spool fits — each step counted:
1. downsample old successful samples: in the older half of the spooled samples, every second successful
   sample of each probe is removed (`downsampled`; interface and VM rows count as successful samples);
   repeated while it frees space;
2. then old failed samples the same way (`downsampled`);
3. then the older half of heartbeats (`dropped_heartbeats`);
4. state changes, outages and statements are never dropped: the spool stays over its limit and
   `over_limit` counts it (and the agent logs an error).
The SLA figures come from the state changes and outages, which the edge qualifies before spooling, so
downsampling thins the evidence of raw samples but never changes an outage.

A row is the record's line protocol (rendered once, at `put`) and the few columns the spool itself needs
(series id, timestamp, kind, `ok`, size): a batch is POSTed as stored, and where a `Record` is needed (the
embedded store: `Batch.records`; the quarantine) it is parsed back from its line (`Record.from_line`, the
exact inverse of `Record.line`). No index on the kind: the full policy, which runs once per quarter of the
spool refilled, scans the table rather than every put and acknowledgement updating an index. Format 4
(`SPOOL_VERSION`); spools of older formats are converted on open (`_convert`).

`SqliteSpool` is the durable one (SQLite WAL, synchronous=FULL: a put survives kill -9 and power loss);
`MemorySpool` has the same behaviour, for unit tests. One test suite runs against both.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

from agent.store.schema import Kind, Record
from agent.store.sqlite import connect


@dataclass(frozen=True)
class Batch:
    """Records handed out by `begin`: their line protocol (`lines`, what a line-protocol store takes as is)
    and, only when something asks for them, the records (`records`: parsed from the lines)."""

    id: int
    seqs: tuple[int, ...]
    lines: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.seqs)

    @cached_property
    def records(self) -> tuple[Record, ...]:
        return tuple(Record.from_line(line) for line in self.lines)

    def part(self, start: int, stop: int) -> Batch:
        """Records `start:stop` of this batch (a 413 splits it); same id."""
        return Batch(self.id, self.seqs[start:stop], self.lines[start:stop])


@dataclass
class SpoolStats:
    accepted: int = 0
    rejected: int = 0
    downsampled: int = 0
    dropped_heartbeats: int = 0
    over_limit: int = 0
    duplicates_ignored: int = 0


class Spool(Protocol):
    stats: SpoolStats
    max_bytes: int

    def put(self, records: Sequence[Record], edge_state: Mapping[str, str] | None = None) -> None: ...

    def edge_state(self) -> dict[str, str]: ...

    def begin(self, batch_size: int) -> Batch: ...

    def end(self, batch: Batch, accepted: Sequence[int], rejected: Sequence[int]) -> None: ...

    def quarantined(self) -> list[Record]:
        """What the store rejected for good, kept for an operator to fix and replay."""
        ...

    def pending(self) -> int: ...

    def size_bytes(self) -> int: ...

    def close(self) -> None: ...


@dataclass
class _Row:
    seq: int
    record: Record
    line: str
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = len(self.line.encode())


# The on-disk format's version (PRAGMA user_version). 0: before versioning — a row's identity was its key
# text (`series time_ms`, UNIQUE), it held the record as a JSON payload and had no line. 3: the identity is
# (series id, time_ms), the series text stored once in `series` (a 16-byte index entry instead of a
# ~200-byte one: acknowledging a batch deletes from a far smaller index), and `line` holds the record's line
# protocol next to the payload. 4: no payload — the line is the record (`Record.from_line` parses it back),
# `size` counts the line's bytes, the quarantine keeps lines too, and no index on kind (the full policy scans
# the table; see docs/store.md). An older spool is converted on open, in one transaction; a spool written by
# a newer version is refused with a clear error rather than misread.
SPOOL_VERSION = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    sid     INTEGER PRIMARY KEY,
    series  TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS spool (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    sid     INTEGER NOT NULL REFERENCES series (sid),
    time_ms INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    ok      INTEGER,
    size    INTEGER NOT NULL,  -- bytes of `line` (UTF-8)
    line    TEXT NOT NULL,
    UNIQUE (sid, time_ms)
);
-- Records the store rejected for good (400/422: e.g. a field type conflict): kept, never resent, so an
-- operator can fix the schema and replay them; nothing measured is lost.
CREATE TABLE IF NOT EXISTS quarantine (
    seq     INTEGER PRIMARY KEY,
    key     TEXT NOT NULL,
    line    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS edge_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SpoolVersionError(RuntimeError):
    """The spool file was written by a newer Vigie (its format is unknown to this one)."""


def _rows_where(seqs: Sequence[int]) -> tuple[str, tuple[int | str, ...]]:
    """A WHERE clause selecting the spool rows `seqs`: a rowid range when they are all of one (the usual
    batch: consecutive rows, nothing else in between), else a JSON list."""
    lo, hi = min(seqs), max(seqs)
    if hi - lo + 1 == len(set(seqs)):  # seqs filling [lo, hi]: exactly the rows of that range
        return "seq BETWEEN ? AND ?", (lo, hi)
    return "seq IN (SELECT value FROM json_each(?))", (json.dumps(list(seqs)),)


class SpoolMigrationError(RuntimeError):
    """A spool of an older format could not be converted (the file is left as it was)."""


class _LineOfPayload:
    """The line of a record spooled as JSON by an older format (SQL function of the migration); remembers
    the payload it could not read, since SQLite reports only that a user-defined function raised."""

    def __init__(self) -> None:
        self.failed: tuple[str, Exception] | None = None

    def __call__(self, payload: str) -> str:
        try:
            return Record.from_json(payload).line()
        except Exception as exc:
            self.failed = (payload, exc)
            raise


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {str(row[1]) for row in db.execute(f"PRAGMA table_info({table})")}


class SqliteSpool:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.db = connect(path)
        self._migrate()
        self._inflight: set[int] = set()
        self._handed = 0  # every spooled row up to this seq is in flight: `begin` reads after it
        self._batch_ids = itertools.count(1)
        self._bytes = int(self.db.execute("SELECT coalesce(sum(size), 0) FROM spool").fetchone()[0])
        self.stats = SpoolStats(**{n: v for n, v in self.db.execute("SELECT name, value FROM counters")})
        self._saved = dict(vars(self.stats))

    def _migrate(self) -> None:
        version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        if version > SPOOL_VERSION:
            self.db.close()
            raise SpoolVersionError(
                f"{self.path}: spool format {version} was written by a newer Vigie (this one reads up to "
                f"{SPOOL_VERSION}); ship it with that version, or move the file away to start a new spool"
            )
        columns = _columns(self.db, "spool")
        if columns and "payload" in columns:  # format 0 or 3: converted to 4 in one transaction
            line_of_payload = _LineOfPayload()
            try:
                self._convert(columns, _columns(self.db, "quarantine"), line_of_payload)
            except BaseException as exc:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")  # the file stays as it was
                self.db.close()
                if line_of_payload.failed is None:
                    raise
                payload, error = line_of_payload.failed
                raise SpoolMigrationError(
                    f"{self.path}: cannot convert this spool from format {version} to {SPOOL_VERSION}: a row's "
                    f"record is unreadable ({error}): {payload[:120]!r}; the file is left as it was"
                ) from exc
        self.db.executescript(_SCHEMA)
        if version < SPOOL_VERSION:
            self.db.execute(f"PRAGMA user_version = {SPOOL_VERSION}")
        self._sids: dict[str, int] = {}

    def _convert(self, columns: set[str], quarantine: set[str], line_of_payload: _LineOfPayload) -> None:
        """A spool of format 0 or 3 to format 4: the rows keep their seqs (and the sequence its high-water
        mark: seqs are never reused), a row without a line (format 0) gets it rendered from its payload, the
        quarantine's payloads become lines."""
        self.db.create_function("vigie_line", 1, line_of_payload, deterministic=True)
        line = "coalesce(o.line, vigie_line(o.payload))" if "line" in columns else "vigie_line(o.payload)"
        if "sid" in columns:  # format 3: the series table is kept as is
            source, series = "spool_old o", ""
            sid, time_ms = "o.sid", "o.time_ms"
        else:  # format 0: a series table built from the rows' series text, the time taken from the key
            source = "spool_old o JOIN series s ON s.series = o.series"
            series = "INSERT OR IGNORE INTO series (series) SELECT series FROM spool_old ORDER BY seq;"
            sid, time_ms = "s.sid", "CAST(substr(o.key, length(o.series) + 2) AS INTEGER)"
        if "payload" in quarantine:
            quarantine_old = "ALTER TABLE quarantine RENAME TO quarantine_old;"
            quarantine_new = """INSERT INTO quarantine (seq, key, line)
                SELECT seq, key, vigie_line(payload) FROM quarantine_old ORDER BY seq;
                DROP TABLE quarantine_old;"""
        else:
            quarantine_old = quarantine_new = ""
        self.db.executescript(
            f"""BEGIN IMMEDIATE;
            ALTER TABLE spool RENAME TO spool_old;
            DROP INDEX IF EXISTS spool_by_kind;
            {quarantine_old}
            {_SCHEMA}
            {series}
            INSERT INTO spool (seq, sid, time_ms, kind, ok, size, line)
                SELECT o.seq, {sid}, {time_ms}, o.kind, o.ok, length(CAST({line} AS BLOB)), {line}
                FROM {source} ORDER BY o.seq;
            {quarantine_new}
            DELETE FROM sqlite_sequence WHERE name = 'spool';
            UPDATE sqlite_sequence SET name = 'spool' WHERE name = 'spool_old';  -- seqs never reused
            DROP TABLE spool_old;
            PRAGMA user_version = {SPOOL_VERSION};
            COMMIT;"""
        )

    def _sid(self, series: str) -> int:
        """The id of a series (inside the caller's transaction); ids are never reused."""
        sid = self._sids.get(series)
        if sid is None:
            self.db.execute("INSERT OR IGNORE INTO series (series) VALUES (?)", (series,))
            sid = self._sids[series] = int(
                self.db.execute("SELECT sid FROM series WHERE series = ?", (series,)).fetchone()[0]
            )
        return sid

    def close(self) -> None:
        self.db.close()

    def put(self, records: Sequence[Record], edge_state: Mapping[str, str] | None = None) -> None:
        """Append records (and the edge qualifier's state, in the same transaction: both or neither)."""
        rows = []
        for r in records:
            sample = r.kind is Kind.SAMPLE
            rows.append((r.series, r.time_ms, r.kind.value, int(r.poll_ok) if sample else None, r.line()))
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for series, time_ms, kind, ok, line in rows:
                size = len(line.encode())
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO spool (sid, time_ms, kind, ok, size, line) VALUES (?, ?, ?, ?, ?, ?)",
                    (self._sid(series), time_ms, kind, ok, size, line),
                )
                if cur.rowcount == 1:
                    self._bytes += size
                else:
                    self.stats.duplicates_ignored += 1
            if self._bytes > self.max_bytes:
                self._apply_full_policy()
            if edge_state:
                self.db.executemany("INSERT OR REPLACE INTO edge_state VALUES (?, ?)", list(edge_state.items()))
            self._save_counters()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            self._bytes = int(self.db.execute("SELECT coalesce(sum(size), 0) FROM spool").fetchone()[0])
            self._saved = dict(self.db.execute("SELECT name, value FROM counters"))
            self._sids.clear()  # ids given in the rolled-back transaction are gone
            raise

    def edge_state(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.db.execute("SELECT key, value FROM edge_state")}

    def quarantined(self) -> list[Record]:
        return [Record.from_line(x) for (x,) in self.db.execute("SELECT line FROM quarantine ORDER BY seq")]

    def begin(self, batch_size: int) -> Batch:
        inflight = self._not_inflight(after=self._handed)  # rows given back below later batches still in flight
        rows = self.db.execute(
            f"SELECT seq, line FROM spool WHERE seq > ? AND seq NOT IN ({inflight}) ORDER BY seq LIMIT ?",
            (self._handed, batch_size),
        ).fetchall()
        if not rows:
            return Batch(next(self._batch_ids), (), ())
        seqs, lines = zip(*rows, strict=True)
        self._handed = seqs[-1]
        self._inflight.update(seqs)
        return Batch(next(self._batch_ids), seqs, lines)

    def end(self, batch: Batch, accepted: Sequence[int], rejected: Sequence[int]) -> None:
        done = [batch.seqs[i] for i in (*accepted, *rejected)]
        # An acknowledgement lost in a power cut only sends its batch again (at-least-once, and a replayed
        # point overwrites itself): it is committed without waiting for the disk; the next put's FULL
        # commit syncs it with the rest of the write-ahead log.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if rejected:
                where, args = _rows_where([batch.seqs[i] for i in rejected])
                self.db.execute(
                    "INSERT OR REPLACE INTO quarantine (seq, key, line) "
                    f"SELECT seq, series || ' ' || time_ms, line FROM spool JOIN series USING (sid) WHERE {where}",
                    args,
                )
            if done:  # one statement for the whole batch (a row-by-row delete dominated replays)
                where, args = _rows_where(done)
                freed = self.db.execute(f"SELECT coalesce(sum(size), 0) FROM spool WHERE {where}", args).fetchone()
                self.db.execute(f"DELETE FROM spool WHERE {where}", args)
                self._bytes -= int(freed[0])
            self.stats.accepted += len(accepted)
            self.stats.rejected += len(rejected)
            self._save_counters()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            self._saved = dict(self.db.execute("SELECT name, value FROM counters"))
            done = []  # nothing left the spool
            raise
        finally:
            self.db.execute("PRAGMA synchronous=FULL")
            self._inflight.difference_update(batch.seqs)
            back = set(batch.seqs).difference(done)
            if back:  # given back to the spool: handed out again from the oldest
                self._handed = min(self._handed, min(back) - 1)

    def pending(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM spool").fetchone()[0])

    def size_bytes(self) -> int:
        return self._bytes

    def _save_counters(self) -> None:
        """Write the counters that changed (inside the caller's transaction; most puts change none)."""
        changed = [(k, v) for k, v in vars(self.stats).items() if self._saved.get(k) != v]
        if changed:
            self.db.executemany("INSERT OR REPLACE INTO counters VALUES (?, ?)", changed)
            self._saved.update(changed)

    # --- full policy ------------------------------------------------------------------------------------

    def _apply_full_policy(self) -> None:
        for ok in (1, 0):
            while self._bytes > self.max_bytes:
                freed = self._thin_samples(ok)
                if not freed:
                    break
        if self._bytes > self.max_bytes:
            self._drop_old_heartbeats()
        if self._bytes > self.max_bytes:
            self.stats.over_limit += 1

    def _not_inflight(self, after: int = 0) -> str:
        """The seqs in flight (above `after`), for a `NOT IN (...)`."""
        return ",".join(str(s) for s in self._inflight if s > after) or "-1"  # `NOT IN (NULL)` matches nothing

    def _thin_samples(self, ok: int) -> int:
        count = int(self.db.execute("SELECT count(*) FROM spool WHERE kind = 'sample'").fetchone()[0])
        if count < 2:
            return 0
        median = self.db.execute(
            "SELECT seq FROM spool WHERE kind = 'sample' ORDER BY seq LIMIT 1 OFFSET ?", (count // 2,)
        ).fetchone()[0]
        thinned = self._delete(
            f"""SELECT seq FROM (
                    SELECT seq, ok, ROW_NUMBER() OVER (PARTITION BY sid ORDER BY seq) AS n
                    FROM spool WHERE kind = 'sample' AND seq < ? AND seq NOT IN ({self._not_inflight()}))
                WHERE ok = ? AND n % 2 = 0""",
            (median, ok),
        )
        self.stats.downsampled += thinned
        return thinned

    def _drop_old_heartbeats(self) -> None:
        heartbeats = f"FROM spool WHERE kind = 'heartbeat' AND seq NOT IN ({self._not_inflight()})"
        count = int(self.db.execute(f"SELECT count(*) {heartbeats}").fetchone()[0])
        if count:
            self.stats.dropped_heartbeats += self._delete(
                f"SELECT seq {heartbeats} ORDER BY seq LIMIT ?", (max(1, count // 2),)
            )

    def _delete(self, victims: str, args: tuple[int, ...]) -> int:
        """Delete the rows whose seqs `victims` selects, in one statement (250 k row-by-row deletes took 1 s of
        the 2.3 s a full 1 M-row spool's thinning blocked for), and recount the bytes left, in the same
        transaction."""
        deleted = int(self.db.execute(f"DELETE FROM spool WHERE seq IN ({victims})", args).rowcount)
        self._bytes = int(self.db.execute("SELECT coalesce(sum(size), 0) FROM spool").fetchone()[0])
        return deleted


class MemorySpool:
    """The same behaviour in memory (unit tests; lost on exit)."""

    def __init__(self, max_bytes: int = 1 << 30) -> None:
        self.max_bytes = max_bytes
        self.stats = SpoolStats()
        self._rows: dict[int, _Row] = {}
        self._quarantine: list[Record] = []
        self._keys: set[str] = set()
        self._seq = itertools.count(1)
        self._batch_ids = itertools.count(1)
        self._inflight: set[int] = set()
        self._edge_state: dict[str, str] = {}

    def close(self) -> None:
        pass

    def edge_state(self) -> dict[str, str]:
        return dict(self._edge_state)

    def put(self, records: Sequence[Record], edge_state: Mapping[str, str] | None = None) -> None:
        self._edge_state.update(edge_state or {})
        for r in records:
            if r.key in self._keys:
                self.stats.duplicates_ignored += 1
                continue
            seq = next(self._seq)
            self._rows[seq] = _Row(seq, r, r.line())
            self._keys.add(r.key)
        if self.size_bytes() > self.max_bytes:
            for ok in (True, False):
                while self.size_bytes() > self.max_bytes and self._thin(ok):
                    pass
            if self.size_bytes() > self.max_bytes:
                beats = [
                    s for s, r in self._rows.items() if r.record.kind is Kind.HEARTBEAT and s not in self._inflight
                ]
                for s in beats[: max(1, len(beats) // 2)] if beats else []:
                    self._drop(s)
                    self.stats.dropped_heartbeats += 1
            if self.size_bytes() > self.max_bytes:
                self.stats.over_limit += 1

    def _thin(self, ok: bool) -> int:
        samples = [s for s, r in self._rows.items() if r.record.kind is Kind.SAMPLE]
        if len(samples) < 2:
            return 0
        median = samples[len(samples) // 2]
        seen: dict[str, int] = {}
        victims = []
        for s in samples:
            if s >= median:
                break
            if s in self._inflight:
                continue
            rec = self._rows[s].record
            seen[rec.series] = n = seen.get(rec.series, 0) + 1
            if n % 2 == 0 and rec.poll_ok is ok:
                victims.append(s)
        for s in victims:
            self._drop(s)
        self.stats.downsampled += len(victims)
        return len(victims)

    def _drop(self, seq: int) -> None:
        row = self._rows.pop(seq)
        self._keys.discard(row.record.key)

    def begin(self, batch_size: int) -> Batch:
        seqs = tuple(itertools.islice((s for s in self._rows if s not in self._inflight), batch_size))
        self._inflight.update(seqs)
        return Batch(next(self._batch_ids), seqs, tuple(self._rows[s].line for s in seqs))

    def quarantined(self) -> list[Record]:
        return list(self._quarantine)

    def end(self, batch: Batch, accepted: Sequence[int], rejected: Sequence[int]) -> None:
        self._quarantine.extend(self._rows[batch.seqs[i]].record for i in rejected if batch.seqs[i] in self._rows)
        for i in (*accepted, *rejected):
            if batch.seqs[i] in self._rows:
                self._drop(batch.seqs[i])
        self.stats.accepted += len(accepted)
        self.stats.rejected += len(rejected)
        self._inflight.difference_update(batch.seqs)

    def pending(self) -> int:
        return len(self._rows)

    def size_bytes(self) -> int:
        return sum(r.size for r in self._rows.values())


def open_spool(path: Path | None, max_bytes: int) -> Spool:
    return MemorySpool(max_bytes) if path is None else SqliteSpool(path, max_bytes)
