"""A compact way to write a month of contract facts, so that tests read like the contract.

at("2026-10-14 10:00")                → 2026-10-14T10:00:00+02:00 (Europe/Paris wall clock)
down("2026-10-14 10:00", "11:00")      → a notified outage of one hour
samples("2025-03-03 08:00", "UUUDDDUU", step=60, probe="icmp")
statement(month="2026-10", outages=[...], exclusions=[...], tickets=[...], **service_or_policy)
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from sla.calendars import PARIS, Month, epoch
from sla.model import (
    AccessType,
    Cause,
    Channel,
    Denominator,
    Exclusion,
    Freeze,
    GtrOption,
    Outage,
    Policy,
    Qualification,
    Service,
    Ticket,
    TicketKind,
    UnknownAs,
    Window,
)
from sla.statement import Case, ProbeSamples, Statement, compute, to_json

_SERVICE_KEYS = {
    "contract",
    "monthly_fee_eur",
    "in_service_from",
    "in_service_until",
    "access_type",
    "gtr_option",
    "probation_until",
}
_POLICY_KEYS = set(Policy.__dataclass_fields__)


def at(text: str) -> datetime:
    """A Paris wall-clock time ("2026-10-14 10:00"); an ISO string with an offset is taken as is."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=PARIS)


def _end(start: str, end: str) -> datetime:
    """`end` may be a bare "HH:MM[:SS]" on the start's day."""
    return at(f"{start[:10]} {end}") if len(end) <= 8 else at(end)


def down(start: str, end: str, notified: bool = True) -> Outage:
    s = at(start)
    return Outage(start=s, end=_end(start, end), notified_at=s if notified else None)


def excluded(cause: str, start: str, end: str, announced: str | None = None) -> Exclusion:
    return Exclusion(
        cause=Cause(cause), start=at(start), end=_end(start, end), announced_at=at(announced) if announced else None
    )


def ticket(
    opened: str,
    restored: str | None,
    *,
    id: str = "T-1",
    channel: str = "email",
    confirmed: str | None = None,
    kind: str = "repair",
    cause: str | None = None,
    freezes: tuple[tuple[str, str], ...] = (),
) -> Ticket:
    return Ticket(
        id=id,
        opened_at=at(opened),
        restored_at=at(restored) if restored else None,
        channel=Channel(channel),
        confirmed_in_writing_at=at(confirmed) if confirmed else None,
        kind=TicketKind(kind),
        cause=Cause(cause) if cause else None,
        freezes=tuple(Freeze(start=at(s), end=at(e), reason="site_access_pending") for s, e in freezes),
    )


def samples(start: str, pattern: str, *, step: int = 60, probe: str = "icmp") -> ProbeSamples:
    """One sample per character: U = ok, D = failed, '.' = no sample (a gap)."""
    t0 = epoch(at(start))
    kept = [(t0 + i * step, c == "U") for i, c in enumerate(pattern) if c in "UD"]
    return ProbeSamples(
        probe=probe,
        times=np.array([t for t, _ in kept], dtype=np.int64),
        ok=np.array([o for _, o in kept], dtype=np.bool_),
    )


def statement(month: str = "2026-10", **kw: Any) -> Statement:
    service_kw = {k: kw.pop(k) for k in list(kw) if k in _SERVICE_KEYS}
    policy_kw = {k: kw.pop(k) for k in list(kw) if k in _POLICY_KEYS}
    service_kw.setdefault("contract", "internet")
    service_kw["monthly_fee_eur"] = Decimal(str(service_kw.get("monthly_fee_eur", "1000.00")))
    for key in ("in_service_from", "in_service_until", "probation_until"):
        if isinstance(service_kw.get(key), str):
            service_kw[key] = date.fromisoformat(service_kw[key])
    if "access_type" in service_kw:
        service_kw["access_type"] = AccessType(service_kw["access_type"])
    if "gtr_option" in service_kw:
        service_kw["gtr_option"] = GtrOption(service_kw["gtr_option"])
    for key, kind in (("window", Window), ("denominator", Denominator), ("unknown_as", UnknownAs)):
        if key in policy_kw:
            policy_kw[key] = kind(policy_kw[key])
    if "extra_closed_days" in policy_kw:
        policy_kw["extra_closed_days"] = frozenset(date.fromisoformat(d) for d in policy_kw["extra_closed_days"])
    qualification = kw.pop("qualification", Qualification())
    probe_samples = kw.pop("samples", None)
    case = Case(
        month=Month.parse(month),
        service=Service(id=kw.pop("id", "svc"), **service_kw),
        policy=Policy(**policy_kw),
        qualification=qualification,
        outages=tuple(kw.pop("outages", ())),
        samples=tuple(probe_samples) if probe_samples is not None else None,
        exclusions=tuple(kw.pop("exclusions", ())),
        tickets=tuple(kw.pop("tickets", ())),
    )
    assert not kw, f"unknown statement() keys: {sorted(kw)}"
    return compute(case)


def figures(month: str = "2026-10", **kw: Any) -> dict[str, Any]:
    """The JSON output of `vigie sla compute` for these facts."""
    return to_json(statement(month, **kw))
