"""Import ledger records from YAML or CSV, all or nothing (one transaction; the first refusal aborts it).

YAML (grouped, the way people write it)::

    tickets:
      - ref: T-2211                       # the reference the ticket is opened under (ours: VIGIE-…)
        provider_ref: TT-48213            # optional: the provider's own reference (VGA 5.7)
        client: acme
        site: lyon
        service: acme-lyon-fibre
        channel: phone                    # phone | email | portal
        kind: repair                      # repair | equipment_replacement
        opened_at: 2026-11-18T14:10:00+01:00
        confirmed_in_writing_at: 2026-11-18T14:25:00+01:00
        freezes: [{start: …, end: …, reason: site_access_pending}]
        restored_at: 2026-11-18T16:50:00+01:00
        cause: null                       # an exclusion cause if the incident was excusable
    exclusions:
      - {client: acme, site: lyon, service: acme-lyon-fibre, cause: power_cut, start: …, end: …,
         evidence: ups.log, note: …, author: …, status: accepted}   # status: proposed (default) | accepted | disputed
    maintenances:
      - {client: acme, site: lyon, received_at: …, start: …, end: …, reference: MNT-0412}

CSV (one event a row, the CLI's vocabulary): header ``kind,subject,client,site,service,author,<fields>``
where kind is a record kind (``ticket.open``, ``ticket.reference``, ``ticket.freeze``, ``exclusion.add``,
``maintenance.add``, …) and the other columns are that kind's fields (``opened_at``, ``channel``,
``provider_ref``, ``start``, ``end``, ``reason``, ``received_at``, ``cause``, ``evidence``, ``note``…); empty
cells are absent. A ticket row's subject is the reference the ticket was opened under. Exclusion and maintenance rows
may leave ``subject`` empty (numbered by the store); ``exclusion.accept`` rows name it.

Evidence paths are relative to the imported file; the file is hashed (SHA-256) when imported.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.inputs import InputError, UniqueKeyLoader, load_yaml, read_text, year_problem
from agent.ledger.records import Kind, LedgerError, Record
from agent.ledger.store import AUTO_EXCLUSION, AUTO_MAINTENANCE, FOLLOW, MAX_RECORD_ID

_TIMES = (
    "opened_at",
    "confirmed_at",
    "confirmed_in_writing_at",
    "restored_at",
    "start",
    "end",
    "at",
    "received_at",
    "announced_at",
)


def hash_evidence(path: Path, where: str) -> dict[str, str]:
    """The evidence file, by absolute path and SHA-256 (CGV 22: keep it so its integrity can be shown)."""
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise LedgerError(f"{where}: evidence: {path}: cannot read ({exc.strerror})") from None
    return {"evidence_path": str(path.resolve()), "evidence_sha256": digest}


def _text(value: Any) -> Any:
    """YAML turns ISO times into datetimes and dates; the ledger keeps text (naive times stay detectable)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _scope(item: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if item.get(k) in (None, "") else str(item[k])) for k in ("client", "site", "service")}


def records_from_yaml(path: Path) -> list[Record]:
    try:
        raw = load_yaml(read_text(path), str(path), UniqueKeyLoader) or {}
    except InputError as exc:
        raise LedgerError(str(exc)) from None
    if not isinstance(raw, dict):
        raise LedgerError(f"{path}: expected a mapping with tickets:, exclusions:, maintenances:")
    unknown = set(raw) - {"tickets", "exclusions", "maintenances"}
    if unknown:
        raise LedgerError(
            f"{path}: {sorted(unknown)[0]}: unknown section; expected tickets | exclusions | maintenances"
        )
    return list(_yaml_records(raw, path))


def _entries(value: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The mappings of a list (a section, a ticket's freezes), each with where it is, times as text; anything
    else is refused by its place rather than failing on `.items()` further down."""
    if value is None:
        return
    if not isinstance(value, list):
        raise LedgerError(f"{where}: expected a list of mappings, not {value!r}")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise LedgerError(f"{where}[{i}]: expected a mapping (key: value, …), not {item!r}")
        yield f"{where}[{i}]", {k: _text(v) for k, v in item.items()}


def _yaml_records(raw: dict[str, Any], path: Path) -> Iterator[Record]:
    for where, t in _entries(raw.get("tickets"), f"{path}: tickets"):
        known = {"ref", "client", "site", "service", "channel", "kind", "opened_at", "confirmed_in_writing_at"}
        known |= {"provider_ref", "freezes", "restored_at", "cause", "author"}
        if extra := set(t) - known:
            raise LedgerError(f"{where}: {sorted(extra)[0]}: unknown key; expected one of {', '.join(sorted(known))}")
        if not t.get("ref"):
            raise LedgerError(f"{where}: ref: the ticket's reference (the provider's, or ours) is required")
        ref, author = str(t["ref"]), t.get("author")
        yield Record(
            Kind.TICKET_OPEN,
            ref,
            {"opened_at": t.get("opened_at"), "channel": t.get("channel"), "kind": t.get("kind", "repair")},
            author=author,
            **_scope(t),
        )
        if "provider_ref" in t:  # present but blank: the ledger refuses it, naming the value
            provider_ref = None if t["provider_ref"] is None else str(t["provider_ref"])
            yield Record(Kind.TICKET_REFERENCE, ref, {"provider_ref": provider_ref}, author=author)
        if t.get("confirmed_in_writing_at"):
            yield Record(Kind.TICKET_CONFIRM, ref, {"confirmed_at": t["confirmed_in_writing_at"]}, author=author)
        for _, f in _entries(t.get("freezes"), f"{where}.freezes"):
            yield Record(
                Kind.TICKET_FREEZE,
                ref,
                {"start": f.get("start"), "end": f.get("end"), "reason": f.get("reason")},
                author=author,
            )
        if t.get("restored_at"):
            yield Record(
                Kind.TICKET_RESTORE, ref, {"restored_at": t["restored_at"], "cause": t.get("cause")}, author=author
            )
    for where, x in _entries(raw.get("exclusions"), f"{path}: exclusions"):
        data = {k: x.get(k) for k in ("cause", "start", "end", "announced_at", "note")}
        if x.get("evidence"):
            data |= hash_evidence(path.parent / str(x["evidence"]), where)
        status = x.get("status", "proposed")
        if status not in ("proposed", "accepted", "disputed"):
            raise LedgerError(f"{where}: status: {status!r} is not one of proposed | accepted | disputed")
        # the subject is numbered when stored; follow-up records refer to it through `_follow`
        yield Record(Kind.EXCLUSION_ADD, AUTO_EXCLUSION, data, author=x.get("author"), **_scope(x))
        if status != "proposed":
            kind = Kind.EXCLUSION_ACCEPT if status == "accepted" else Kind.EXCLUSION_DISPUTE
            yield Record(kind, FOLLOW, {"note": None}, author=x.get("author"))
    for _, x in _entries(raw.get("maintenances"), f"{path}: maintenances"):
        data = {k: x.get(k) for k in ("received_at", "start", "end", "reference", "note")}
        yield Record(Kind.MAINTENANCE_ADD, AUTO_MAINTENANCE, data, author=x.get("author"), **_scope(x))


def _record_id(text: str, where: str) -> int:
    if not text.isdigit() or int(text) > MAX_RECORD_ID:
        raise LedgerError(f"{where}: {text!r} is not a record number")
    return int(text)


def records_from_csv(path: Path) -> list[Record]:
    try:
        rows = list(csv.DictReader(io.StringIO(read_text(path), newline="")))
    except InputError as exc:
        raise LedgerError(str(exc)) from None
    out: list[Record] = []
    for n, row in enumerate(rows, start=2):
        where = f"{path}:{n}"
        row = {k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip() != ""}
        try:
            kind = Kind(row.pop("kind", ""))
        except ValueError:
            raise LedgerError(f"{where}: kind: expected one of {' | '.join(k.value for k in Kind)}") from None
        subject = row.pop("subject", "")
        if not subject:
            if kind is Kind.EXCLUSION_ADD:
                subject = AUTO_EXCLUSION
            elif kind is Kind.MAINTENANCE_ADD:
                subject = AUTO_MAINTENANCE
            else:
                raise LedgerError(f"{where}: subject: required for {kind.value}")
        scope = _scope(row)
        for k in ("client", "site", "service"):
            row.pop(k, None)
        author = row.pop("author", None)
        supersedes = _record_id(row.pop("supersedes"), f"{where}: supersedes") if "supersedes" in row else None
        if "evidence" in row:
            row |= hash_evidence(path.parent / row.pop("evidence"), where)
        out.append(Record(kind, subject, row, author=author, supersedes=supersedes, **scope))
    return out


def load_records(path: Path) -> list[Record]:
    if path.suffix.lower() == ".csv":
        records = records_from_csv(path)
    elif path.suffix.lower() in (".yaml", ".yml"):
        records = records_from_yaml(path)
    else:
        raise LedgerError(f"{path}: expected a .yaml, .yml or .csv file")
    for r in records:  # the years the CLI's time options accept (agent.inputs.year_problem), before any is stored
        for name in _TIMES:
            try:
                moment = datetime.fromisoformat(str(r.data.get(name)))
            except ValueError:
                continue  # absent, or no ISO time: the record's own check names it
            problem = year_problem(moment)
            if problem is not None:
                raise LedgerError(f"{path}: {r.kind.value} {r.subject}: {name}: {problem}")
    return records
