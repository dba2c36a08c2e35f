"""The ledger's SQLite table: append-only by construction (triggers refuse UPDATE and DELETE) and
tamper-evident (each record carries the SHA-256 of the previous record's hash and its own content, so an
edit made behind SQLite's back breaks `verify()`; CGV 22 asks the parties to keep their exchanges "de
manière à en garantir l'intégrité").

It is its own table, `ledger_records`, so it can live in its own file or beside the embedded store's tables
in the same file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.clock import Clock
from agent.inputs import foreign_sqlite
from agent.ledger.convert import fold_all
from agent.ledger.records import Kind, LedgerError, Record, check_ticket_names, validate_subject

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_records (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    client      TEXT,
    site        TEXT,
    service     TEXT,
    author      TEXT,
    recorded_at TEXT NOT NULL,
    data        TEXT NOT NULL,
    supersedes  INTEGER REFERENCES ledger_records(id),
    chain       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_records_subject ON ledger_records(subject);
CREATE INDEX IF NOT EXISTS ledger_records_client ON ledger_records(client);
CREATE TRIGGER IF NOT EXISTS ledger_records_no_update BEFORE UPDATE ON ledger_records
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only: a correction is a new record that supersedes the old one');
END;
CREATE TRIGGER IF NOT EXISTS ledger_records_no_delete BEFORE DELETE ON ledger_records
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only: retract a record with a new record, never delete it');
END;
"""

GENESIS = "0" * 64
STORE_TABLE = "points"  # the embedded store's table (agent/store/sqlite.py), beside which a ledger may live
# subjects numbered by the store: `X<n>` / `M<n>`, n being the id the record gets
AUTO_EXCLUSION = "X?"
AUTO_MAINTENANCE = "M?"
FOLLOW = "^"  # in append_many: the subject of the previous record (an imported exclusion's status)
_COLUMNS = "id, kind, subject, client, site, service, author, recorded_at, data, supersedes, chain"


def _canonical(r: Record) -> str:
    return json.dumps(
        {
            "kind": r.kind.value,
            "subject": r.subject,
            "client": r.client,
            "site": r.site,
            "service": r.service,
            "author": r.author,
            "recorded_at": r.recorded_at.isoformat() if r.recorded_at else None,
            "data": r.data,
            "supersedes": r.supersedes,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def chain_hash(previous: str, r: Record) -> str:
    return hashlib.sha256((previous + _canonical(r)).encode("utf-8")).hexdigest()


def _row(row: Sequence[Any]) -> Record:
    return Record(
        id=row[0],
        kind=Kind(row[1]),
        subject=row[2],
        client=row[3],
        site=row[4],
        service=row[5],
        author=row[6],
        recorded_at=datetime.fromisoformat(row[7]),
        data=json.loads(row[8]),
        supersedes=row[9],
    )


# The largest record number SQLite can hold (INTEGER is 64-bit signed); a larger one is no record, not an overflow.
MAX_RECORD_ID = 2**63 - 1


class Ledger:
    """Append records, read them back. Every append validates the subject's whole history first."""

    def __init__(self, path: Path | str, clock: Clock) -> None:
        self.path = Path(path)
        self.clock = clock
        # A file that is not ours is refused untouched: connecting would write the schema into it, and
        # `verify` would then call a truncated (empty) or mistaken file an intact ledger. The embedded
        # store's file may hold the ledger too (module docstring).
        problem = foreign_sqlite(self.path, ("ledger_records", STORE_TABLE), empty_ok=False)
        if problem is not None:
            raise LedgerError(f"{self.path}: cannot open the ledger: {problem} (the file is left untouched)")
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.executescript(SCHEMA)
        except sqlite3.Error as exc:  # a directory, a file that is not SQLite, a missing parent directory
            if db is not None:
                db.close()
            raise LedgerError(f"{self.path}: cannot open the ledger: {exc}") from None
        self._db = db

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")

    def append(self, record: Record) -> Record:
        """Validate `record` against its subject's history and store it; returns it with id and time."""
        return self.append_many([record])[0]

    def append_many(self, records: Sequence[Record]) -> list[Record]:
        """Append records in one transaction: all of them or, at the first refusal, none."""
        stored: list[Record] = []
        with self._write() as db:
            for record in records:
                if record.subject == FOLLOW:
                    if not stored:
                        raise LedgerError(f"{record.kind.value}: no previous record to follow")
                    record = replace(record, subject=stored[-1].subject)
                stored.append(self._append(db, record))
        return stored

    def _append(self, db: sqlite3.Connection, record: Record) -> Record:
        if not record.subject:
            raise LedgerError(f"{record.kind.value}: a record needs a subject")
        if record.subject in (AUTO_EXCLUSION, AUTO_MAINTENANCE):
            row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'ledger_records'").fetchone()
            record = replace(record, subject=f"{record.subject[0]}{(row[0] if row else 0) + 1}")
        history = self._subject(db, record.subject)
        if record.kind is not Kind.RETRACT and record.kind.family != "claim":
            # later records of a subject inherit its scope (a ticket's service, an exclusion's client, …)
            first = next((r for r in history if r.kind is not Kind.RETRACT), None)
            if first is not None and record.client is None and record.service is None:
                record = replace(record, client=first.client, site=first.site, service=first.service)
        if record.kind is Kind.RETRACT and record.supersedes is None:
            raise LedgerError(f"{record.subject}: a retraction names the record it retracts")
        validate_subject(history, record)
        if record.kind in (Kind.TICKET_OPEN, Kind.TICKET_REFERENCE):
            # a ticket's names are unique across subjects, which its own history cannot tell
            name = record.data.get("provider_ref") if record.kind is Kind.TICKET_REFERENCE else record.subject
            others = [t for t in fold_all(self.tickets_naming(str(name or ""))).tickets if t.ref != record.subject]
            check_ticket_names(record, others)
        record = replace(record, recorded_at=self.clock.now())
        last = db.execute("SELECT chain FROM ledger_records ORDER BY id DESC LIMIT 1").fetchone()
        chain = chain_hash(last[0] if last else GENESIS, record)
        cursor = db.execute(
            "INSERT INTO ledger_records (kind, subject, client, site, service, author, recorded_at, data, "
            "supersedes, chain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.kind.value,
                record.subject,
                record.client,
                record.site,
                record.service,
                record.author,
                record.recorded_at.isoformat() if record.recorded_at else None,
                json.dumps(record.data, sort_keys=True, ensure_ascii=False),
                record.supersedes,
                chain,
            ),
        )
        return replace(record, id=cursor.lastrowid)

    def get(self, record_id: int) -> Record | None:
        if not 0 < record_id <= MAX_RECORD_ID:
            return None
        row = self._db.execute(f"SELECT {_COLUMNS} FROM ledger_records WHERE id = ?", (record_id,)).fetchone()
        return None if row is None else _row(row)

    def _subject(self, db: sqlite3.Connection, subject: str) -> list[Record]:
        rows = db.execute(f"SELECT {_COLUMNS} FROM ledger_records WHERE subject = ? ORDER BY id", (subject,))
        return [_row(r) for r in rows]

    def tickets_naming(self, name: str) -> list[Record]:
        """Every record of the subjects that may bear `name`: the ticket opened under it, and the tickets whose
        provider reference contains it (a superset: `check_ticket_names` compares the folded, stripped names).
        Folding these, not the whole ledger, keeps each ticket opening as cheap in a long ledger or an import
        of many tickets as in a new one (and finding a ticket by either name: agent.cli.ledger.ticket_subject)."""
        rows = self._db.execute(
            f"""SELECT {_COLUMNS} FROM ledger_records WHERE subject IN (
                    SELECT ? UNION SELECT subject FROM ledger_records
                    WHERE kind = ? AND instr(json_extract(data, '$.provider_ref'), ?) > 0)
                ORDER BY id""",
            (name, Kind.TICKET_REFERENCE.value, name),
        )
        return [_row(r) for r in rows]

    def subject(self, subject: str) -> list[Record]:
        return self._subject(self._db, subject)

    def records(self, *, client: str | None = None, kinds: Sequence[str] | None = None) -> list[Record]:
        """All records (of a client, of some kind families), in insertion order."""
        sql, args = f"SELECT {_COLUMNS} FROM ledger_records", []
        where = []
        if client is not None:
            where.append("(client = ? OR client IS NULL)")
            args.append(client)
        if kinds:
            where.append("(" + " OR ".join("kind LIKE ?" for _ in kinds) + " OR kind = 'retract')")
            args.extend(f"{k}.%" for k in kinds)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_row(r) for r in self._db.execute(sql + " ORDER BY id", args)]

    def verify(self) -> list[str]:
        """Recompute the hash chain; returns one problem per broken record (empty: intact)."""
        problems: list[str] = []
        previous = GENESIS
        for row in self._db.execute(f"SELECT {_COLUMNS} FROM ledger_records ORDER BY id"):
            record = _row(row)
            expected = chain_hash(previous, record)
            if expected != row[10]:
                problems.append(f"record #{record.id}: content does not match its hash (changed after it was written)")
            previous = row[10]
        return problems
