"""The one definition of what Vigie writes: measurements, tags, fields (docs/store.md explains each).

Every writer (edge, central) builds `Record`s through the constructors below; the embedded SQLite store and
the InfluxDB shipper both take `Record`s, and the read path (InfluxQL) and the Grafana dashboards are built
on the names defined here. A `Record` is one InfluxDB point; its identity is the point's identity in
InfluxDB — measurement + tag set + timestamp — so writing it twice overwrites it with itself (idempotent
replays, at-least-once shipping without duplicates in the store).

Rules that keep the schema valid on InfluxDB 1.8+/2.x/3.x and on VictoriaMetrics:
- strings go in tags, never in fields (VictoriaMetrics turns string fields into 0);
- a field keeps one type forever: probe values are always floats, `ok` always a boolean, counters always
  integers (a type change is a 400 "field type conflict" in InfluxDB);
- timestamps are written with millisecond precision (`PRECISION`).
"""

from __future__ import annotations

import enum
import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

PRECISION = "ms"

# measurements
PROBE = "vigie_probe"  # one point per probe run, at its scheduled time
STATE = "vigie_state"  # one point per qualified state change of a service (edge) or its status (central)
OUTAGE = "vigie_outage"  # one point per closed down period, at its start; class outage | microcut
HEARTBEAT = "vigie_heartbeat"  # one point per heartbeat of an agent
STATEMENT = "vigie_statement"  # the current month's figures of a service, recomputed by the central role
GTR = "vigie_gtr"  # one point per ticket's GTR clock at each recomputation (the NOC's GTR board)
EXCLUSION = "vigie_exclusion"  # one point per ledger exclusion / maintenance window (version), at its start
# the tables in a probe's values, one point per row (built by agent/store/tables.py; docs/store.md)
INTERFACE = "vigie_interface"  # one point per interface per SNMP poll: status, throughput, error rates
VM = "vigie_vm"  # one point per virtual machine per poll of a hypervisor: power and guest state

MEASUREMENTS = (PROBE, STATE, OUTAGE, HEARTBEAT, STATEMENT, GTR, EXCLUSION, INTERFACE, VM)

# tags (all strings); the service identity is client/site/service
SERVICE_TAGS = ("client", "site", "service")
PROBE_TAGS = (*SERVICE_TAGS, "agent", "device", "probe", "kind", "target", "reason")
STATE_TAGS = (*SERVICE_TAGS, "agent", "source", "state", "cause")
OUTAGE_TAGS = (*SERVICE_TAGS, "agent", "class")
HEARTBEAT_TAGS = ("agent", "role")
STATEMENT_TAGS = (*SERVICE_TAGS, "contract", "month")
GTR_TAGS = (*SERVICE_TAGS, "ticket", "clock", "status", "freeze_reason")  # status: running | frozen | stopped
# scope tags absent above the record's scope (a client-wide exclusion has no site nor service); `ref` is the
# ledger subject (X12, M3); `kind`: exclusion | maintenance; `state`: EXCLUSION_STATES
EXCLUSION_TAGS = (*SERVICE_TAGS, "ref", "kind", "cause", "state")
EXCLUSION_STATES = ("proposed", "accepted", "disputed", "announced")  # announced: a maintenance notice

# fixed fields and their types (probe values add float fields named after the collector's values)
STATE_CODE = {"up": 1, "down": 0, "unknown": -1}
STATE_FIELDS = {"code": int}
OUTAGE_FIELDS = {"duration_s": int, "end_s": int}
HEARTBEAT_FIELDS = {
    "seq": int,
    "uptime_s": float,
    "spool_records": int,
    "ship_errors": int,  # failed write attempts since the agent started (optional)
    "ship_rejected": int,  # points the store rejected since the agent started (optional)
}
STATEMENT_FIELDS = {
    "availability_pct": float,
    "measured_pct": float,
    "objective_pct": float,
    "unavailable_min": float,
    "excluded_min": float,
    "counted_min": float,
    "unknown_min": float,
    "tier_pct": float,
    "credit_eur": float,
    "budget_min": float,  # minutes of counted downtime left before the next (worse) credit tier
    "next_tier_pct": float,  # the credit of that tier
    "objective_met": bool,
    "gross_pct": float,  # availability before exclusions (the net one is availability_pct)
}
GTR_FIELDS = {
    "elapsed_s": float,  # counted clock time so far (business hours for a business-hours clock)
    "target_s": float,  # the GTR target
    "remaining_s": float,  # target − elapsed: time to breach (negative once breached)
    "frozen_s": float,  # clock time frozen so far (customer-side causes)
    "breached": bool,
}
EXCLUSION_FIELDS = {
    "end_s": int,  # epoch seconds, half-open end
    "duration_s": int,
    "current": bool,  # false: an earlier state or a superseded / retracted version of the record
}


class Kind(enum.StrEnum):
    """What a record is, for the spool's full policy (samples may be downsampled; states never dropped)."""

    SAMPLE = "sample"
    STATE = "state"
    OUTAGE = "outage"
    HEARTBEAT = "heartbeat"
    STATEMENT = "statement"


KIND_OF = {PROBE: Kind.SAMPLE, STATE: Kind.STATE, OUTAGE: Kind.OUTAGE, HEARTBEAT: Kind.HEARTBEAT}
KIND_OF[STATEMENT] = Kind.STATEMENT
KIND_OF[GTR] = Kind.STATEMENT
KIND_OF[EXCLUSION] = Kind.STATEMENT
KIND_OF[INTERFACE] = KIND_OF[VM] = Kind.SAMPLE  # rows of a probe run (no `ok`: the spool never thins them)

FieldValue = float | int | bool


@dataclass(frozen=True)
class Record:
    measurement: str
    tags: tuple[tuple[str, str], ...]  # sorted by key
    fields: tuple[tuple[str, FieldValue], ...]
    time_ms: int

    @property
    def kind(self) -> Kind:
        return KIND_OF[self.measurement]

    @property
    def poll_ok(self) -> bool:
        """For a sample: whether its poll succeeded (`ok`); a table row (interface, VM) has no `ok` field and
        only comes out of a successful poll. The spool thins successful samples first when it is full."""
        return self.field("ok") is not False

    @property
    def series(self) -> str:
        """measurement + tag set, as in InfluxDB's series key."""
        return _series(self.measurement, self.tags)

    @property
    def key(self) -> str:
        """The point's identity: the same key is the same point (a replay overwrites it with itself)."""
        return f"{self.series} {self.time_ms}"

    def tag(self, name: str) -> str | None:
        return dict(self.tags).get(name)

    def field(self, name: str) -> FieldValue | None:
        return dict(self.fields).get(name)

    def line(self) -> str:
        """InfluxDB line protocol, millisecond precision."""
        return f"{self.series} {','.join(f'{_escape_tag(k)}={_field(v)}' for k, v in self.fields)} {self.time_ms}"

    @classmethod
    def from_line(cls, line: str) -> Record:
        """The record of a line rendered by `line()`: its exact inverse (escapes undone, `i` integers,
        `true`/`false` booleans, floats as `repr` wrote them, `inf`/`nan` included). ValueError on a line
        it cannot have written."""
        series, fields, time_ms = _split(line, " ")
        if len(fields) == 0 or not time_ms.lstrip("-").isdigit():
            raise ValueError(f"not a line of ours: {line!r}")
        measurement, tags = _parse_series(series)
        return cls(measurement, tags, tuple(_parse_field(f, line) for f in _split(fields, ",")), int(time_ms))

    def to_json(self) -> str:
        return json.dumps([self.measurement, self.tags, self.fields, self.time_ms], separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Record:
        m, tags, fields, t = json.loads(text)
        return cls(m, tuple((k, v) for k, v in tags), tuple((k, v) for k, v in fields), t)


def make(measurement: str, tags: Mapping[str, str | None], fields: Mapping[str, FieldValue], time_ms: int) -> Record:
    if measurement not in KIND_OF:
        raise ValueError(f"unknown measurement {measurement!r}")
    clean_tags = tuple(sorted((k, str(v)) for k, v in tags.items() if v is not None and str(v) != ""))
    clean_fields = tuple(
        sorted((k, v) for k, v in fields.items() if not (isinstance(v, float) and not math.isfinite(v)))
    )
    if not clean_fields:
        raise ValueError(f"{measurement}: a point needs at least one field")
    return Record(measurement, clean_tags, clean_fields, time_ms)


def ms(t: datetime) -> int:
    if t.tzinfo is None:
        raise ValueError("naive datetime")
    return int(t.timestamp() * 1000)


# --- the writers' constructors ------------------------------------------------------------------------------

_FIELD_NAME = re.compile(r"[^a-z0-9_]+")


def probe_fields(ok: bool, duration_s: float, values: Mapping[str, Any]) -> dict[str, FieldValue]:
    """`ok`, `duration_s`, and every numeric value of the collector as a float (one nested level flattened:
    `{"if": {"in": 3}}` → `if_in`). Lists and strings are not fields (strings belong in tags)."""
    out: dict[str, FieldValue] = {"ok": bool(ok), "duration_s": float(duration_s)}
    for name, value in values.items():
        if isinstance(value, Mapping):
            for sub, v in value.items():
                _numeric(out, f"{name}_{sub}", v)
        else:
            _numeric(out, str(name), value)
    return out


def _numeric(out: dict[str, FieldValue], name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    key = _FIELD_NAME.sub("_", name.lower()).strip("_")
    if key and key not in ("ok", "duration_s"):
        out[key] = float(value)


def sample(
    *, ids: Mapping[str, str], ok: bool, reason: str | None, time_ms: int, duration_s: float, values: Mapping[str, Any]
) -> Record:
    """`ids`: client, site, service, agent, device, probe, kind, target."""
    return make(PROBE, {**ids, "reason": reason}, probe_fields(ok, duration_s, values), time_ms)


def state(*, ids: Mapping[str, str], state: str, source: str, time_ms: int, cause: str | None = None) -> Record:
    return make(STATE, {**ids, "state": state, "source": source, "cause": cause}, {"code": STATE_CODE[state]}, time_ms)


def outage(*, ids: Mapping[str, str], start_ms: int, end_ms: int, microcut: bool) -> Record:
    return make(
        OUTAGE,
        {**ids, "class": "microcut" if microcut else "outage"},
        {"duration_s": (end_ms - start_ms) // 1000, "end_s": end_ms // 1000},
        start_ms,
    )


def heartbeat(
    *,
    agent: str,
    role: str,
    seq: int,
    uptime_s: float,
    spool_records: int,
    time_ms: int,
    ship_errors: int | None = None,
    ship_rejected: int | None = None,
) -> Record:
    fields: dict[str, FieldValue] = {"seq": seq, "uptime_s": float(uptime_s), "spool_records": spool_records}
    if ship_errors is not None:
        fields["ship_errors"] = int(ship_errors)
    if ship_rejected is not None:
        fields["ship_rejected"] = int(ship_rejected)
    return make(HEARTBEAT, {"agent": agent, "role": role}, fields, time_ms)


def statement(*, ids: Mapping[str, str], fields: Mapping[str, FieldValue], time_ms: int) -> Record:
    unknown = set(fields) - set(STATEMENT_FIELDS)
    if unknown:
        raise ValueError(f"{STATEMENT}: unknown fields {sorted(unknown)}")
    return make(STATEMENT, ids, fields, time_ms)


def gtr(
    *,
    ids: Mapping[str, str],
    ticket: str,
    clock: str,
    status: str,
    freeze_reason: str | None,
    elapsed_s: float,
    target_s: float,
    frozen_s: float,
    time_ms: int,
) -> Record:
    """A ticket's GTR clock (`ids`: client, site, service). Tags hold the ticket id and the clock's status;
    a handful of open tickets per site at a time keeps the cardinality low."""
    if status not in ("running", "frozen", "stopped"):
        raise ValueError(f"{GTR}: status {status!r}")
    fields: dict[str, FieldValue] = {
        "elapsed_s": float(elapsed_s),
        "target_s": float(target_s),
        "remaining_s": float(target_s - elapsed_s),
        "frozen_s": float(frozen_s),
        "breached": elapsed_s > target_s,
    }
    tags = {**ids, "ticket": ticket, "clock": clock, "status": status, "freeze_reason": freeze_reason}
    return make(GTR, tags, fields, time_ms)


def exclusion(
    *,
    scope: Mapping[str, str | None],
    ref: str,
    kind: str,
    cause: str,
    state: str,
    start_ms: int,
    end_ms: int,
    current: bool,
) -> Record:
    """A ledger exclusion or maintenance window (`scope`: client, and site / service when narrower), at its
    start. Its identity holds the state, so each state a record went through is its own point: the central
    role rewrites the earlier ones with `current=false` (a timeline shows `current = true` only)."""
    if kind not in ("exclusion", "maintenance"):
        raise ValueError(f"{EXCLUSION}: kind {kind!r} is not exclusion | maintenance")
    if state not in EXCLUSION_STATES:
        raise ValueError(f"{EXCLUSION}: state {state!r} is not one of {' | '.join(EXCLUSION_STATES)}")
    if end_ms <= start_ms:
        raise ValueError(f"{EXCLUSION}: {ref}: end {end_ms} is not after start {start_ms}")
    tags = {**scope, "ref": ref, "kind": kind, "cause": cause, "state": state}
    fields: dict[str, FieldValue] = {
        "end_s": end_ms // 1000,
        "duration_s": (end_ms - start_ms) // 1000,
        "current": current,
    }
    return make(EXCLUSION, tags, fields, start_ms)


# --- line protocol escaping ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def _series(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    """The escaped series key; cached, since every sample of a probe repeats the same tag set (a replay of
    a million spooled samples renders a few hundred distinct series)."""
    return _escape_measurement(measurement) + "".join(f",{_escape_tag(k)}={_escape_tag(v)}" for k, v in tags)


def _escape_measurement(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")


def _escape_tag(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _field(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    return repr(float(value))


# --- line protocol parsing: the inverse of the above (spooled lines back to records) ------------------------

_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_TOKENS = {sep: re.compile(r"\\.|" + re.escape(sep), re.DOTALL) for sep in " ,="}


def _unescape(text: str) -> str:
    return _ESCAPED.sub(r"\1", text) if "\\" in text else text


def _split(text: str, sep: str, maxsplit: int = -1) -> list[str]:
    """`text` split at the unescaped `sep`s (escapes kept: `_unescape` each part)."""
    if "\\" not in text:
        return text.split(sep, maxsplit)
    parts, start = [], 0
    for m in _TOKENS[sep].finditer(text):
        if m.group() == sep:
            parts.append(text[start : m.start()])
            start = m.end()
            if len(parts) == maxsplit:
                break
    parts.append(text[start:])
    return parts


@functools.lru_cache(maxsize=65536)
def _parse_series(series: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """measurement and tags of an escaped series key (cached: a spool's lines repeat a few hundred series)."""
    measurement, *pairs = _split(series, ",")
    tags = []
    for pair in pairs:
        kv = _split(pair, "=", 1)
        if len(kv) != 2:
            raise ValueError(f"not a tag of ours: {pair!r} in {series!r}")
        tags.append((_unescape(kv[0]), _unescape(kv[1])))
    return _unescape(measurement), tuple(tags)


def _parse_field(pair: str, line: str) -> tuple[str, FieldValue]:
    kv = _split(pair, "=", 1)
    if len(kv) != 2:
        raise ValueError(f"not a field of ours: {pair!r} in {line!r}")
    name, text = kv
    value: FieldValue
    if text == "true" or text == "false":
        value = text == "true"
    elif text.endswith("i"):
        value = int(text[:-1])
    else:
        value = float(text)  # ValueError if it is not a float's repr either
    return _unescape(name), value
