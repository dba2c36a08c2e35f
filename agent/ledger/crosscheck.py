"""The ledger against the measurements: what people recorded that the measured outages do not bear out.

For one service instance and one month, `findings_for` returns `Finding`s, each naming the ledger subject
(ticket reference, `X<n>`, `M<n>`) and its record ids:

- `maintenance_outside_window`: an outage overlapping an announced maintenance window began before it or
  overran it (`convert.check_maintenance`; STD 4.1.1: the part outside the window counts);
- `restored_while_down`: a ticket's restoration was notified while a measured outage was still going on;
- `restored_late`: the restoration was notified more than `RESTORE_LATE_S` after the service came back
  (the end of the last outage measured during the ticket's life);
- `ticket_without_outage`: no measured outage within `AROUND_S` of the ticket's life (opening to
  restoration, or to the opening alone while it is not restored);
- `exclusion_without_outage`: an exclusion (whatever its status) whose interval overlaps no measured outage;
- `overlapping_tickets`: two tickets of the service instance, of the same kind, whose lives overlap (opening
  to restoration, or to the month's end while not restored). Each ticket earns its own GTR penalty
  (sla/gtr.py), so two tickets for one incident — typically our `VIGIE-…` ticket and the provider's, recorded
  with `vigie ticket open` instead of attached with `vigie ticket reference` (VGA 5.7: one incident, one
  ticket, one unique id) — ask twice for it. One finding per pair, its subject `<first> + <second>` (the
  first opened first), its records both tickets', its period the two lives' overlap.

A freeze outside its ticket's life (opening → notified restoration) needs no check here: the ledger refuses
it when it is recorded (records.apply_ticket, VGA 5.8).

The outages are the statement's (sla.statement.compute: measured, in epoch seconds); records are those of
the service instance that touch the month (a day of margin, as `convert.slice_for`). Findings are facts to
look at, not corrections: the claim lists them and computes as before.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from agent.ledger.convert import MARGIN_S, LedgerView, ServiceRef, check_maintenance
from agent.ledger.records import ExclusionState, MaintenanceState, TicketState
from sla.calendars import epoch, from_epoch
from sla.model import Outage
from sla.statement import Statement

RESTORE_LATE_S = 3600  # a restoration notified more than an hour after the service came back is flagged
AROUND_S = 3600  # an outage within an hour of a ticket's life is "around it"


class FindingKind(enum.StrEnum):
    MAINTENANCE_OUTSIDE_WINDOW = "maintenance_outside_window"
    RESTORED_WHILE_DOWN = "restored_while_down"
    RESTORED_LATE = "restored_late"
    TICKET_WITHOUT_OUTAGE = "ticket_without_outage"
    EXCLUSION_WITHOUT_OUTAGE = "exclusion_without_outage"
    OVERLAPPING_TICKETS = "overlapping_tickets"


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    subject: str  # the ledger subject: ticket reference, X<n>, M<n>; `<ref> + <ref>` for two tickets
    record_ids: tuple[int, ...]
    record_start: datetime  # what the record says: the window, the exclusion, the ticket's life
    record_end: datetime | None  # None: a ticket not restored
    outage: tuple[datetime, datetime] | None  # the measured outage concerned, if any
    message: str


def _records(ids: Sequence[int]) -> str:
    return ", ".join(f"#{i}" for i in ids) or "not stored"


def _overlapping(outages: Sequence[Outage], start: int, end: int) -> list[Outage]:
    return [o for o in outages if epoch(o.start) < end and start < epoch(o.end)]


def _ticket_findings(t: TicketState, outages: Sequence[Outage]) -> list[Finding]:
    opened = epoch(t.opened_at)
    restored = None if t.restored_at is None else epoch(t.restored_at)
    where = f"ticket {t.ref} (records {_records(t.record_ids)})"

    def finding(kind: FindingKind, outage: Outage | None, message: str) -> Finding:
        span = None if outage is None else (outage.start, outage.end)
        return Finding(kind, t.ref, tuple(t.record_ids), t.opened_at, t.restored_at, span, f"{where}: {message}")

    life = _overlapping(outages, opened - AROUND_S, (restored or opened) + AROUND_S)
    if not life:
        return [
            finding(
                FindingKind.TICKET_WITHOUT_OUTAGE,
                None,
                f"no outage measured from {from_epoch(opened - AROUND_S).isoformat()} to "
                f"{from_epoch((restored or opened) + AROUND_S).isoformat()} (the ticket's life ± {AROUND_S // 60} min)",
            )
        ]
    if restored is None:
        return []
    down = _overlapping(life, restored, restored + 1)
    if down:
        return [
            finding(
                FindingKind.RESTORED_WHILE_DOWN,
                down[0],
                f"restoration notified at {from_epoch(restored).isoformat()} while the measurements show the "
                f"service down until {down[0].end.isoformat()}",
            )
        ]
    back = max((o for o in life if epoch(o.end) <= restored), key=lambda o: o.end, default=None)
    if back is not None and restored - epoch(back.end) > RESTORE_LATE_S:
        return [
            finding(
                FindingKind.RESTORED_LATE,
                back,
                f"restoration notified at {from_epoch(restored).isoformat()}, "
                f"{(restored - epoch(back.end)) // 60} min after the service came back "
                f"({back.end.isoformat()})",
            )
        ]
    return []


def _overlapping_tickets(tickets: Sequence[TicketState], month_end: datetime) -> list[Finding]:
    """Each pair of tickets of the same kind whose lives overlap, the first opened first (see the module)."""

    def life_end(t: TicketState) -> datetime:
        return t.restored_at or max(month_end, t.opened_at)

    ordered = sorted(tickets, key=lambda t: (t.opened_at, t.ref))
    findings: list[Finding] = []
    for i, first in enumerate(ordered):
        for second in ordered[i + 1 :]:
            if second.kind is not first.kind or not second.opened_at < life_end(first):
                continue
            end = min(first.restored_at or month_end, second.restored_at or month_end)
            retractions = "; ".join(
                f"vigie ledger retract {n} --reason 'provider ticket of {first.ref}'"
                for n in reversed(second.record_ids)
            )  # latest first: the ledger refuses to retract a ticket's opening while later records stand on it
            findings.append(
                Finding(
                    FindingKind.OVERLAPPING_TICKETS,
                    f"{first.ref} + {second.ref}",
                    (*first.record_ids, *second.record_ids),
                    second.opened_at,
                    None if first.restored_at is None and second.restored_at is None else end,
                    None,
                    f"tickets {first.ref} (records {_records(first.record_ids)}) and {second.ref} (records "
                    f"{_records(second.record_ids)}) overlap from {second.opened_at.isoformat()}: each earns its own "
                    f"GTR penalty, so one incident would be claimed twice. If {second.ref} is the provider's ticket "
                    f"for the incident of {first.ref}, retract its records ({retractions}) and attach its "
                    f"reference: vigie ticket reference {first.ref} {second.ref}",
                )
            )
    return findings


def findings_for(view: LedgerView, ref: ServiceRef, statement: Statement) -> tuple[Finding, ...]:
    """Every finding on the records of one service instance for the statement's month (see the module)."""
    month = statement.month
    lo, hi = month.start - MARGIN_S, month.end + MARGIN_S
    outages = [Outage(from_epoch(o.start), from_epoch(o.end)) for o in statement.outages]

    def touches(start: datetime, end: datetime | None) -> bool:
        return epoch(start) < hi and (end is None or epoch(end) > lo)

    def scoped(r: MaintenanceState | ExclusionState) -> bool:
        return ref.contains(r.client, r.site, r.service) and touches(r.start, r.end)

    findings: list[Finding] = []
    for m in filter(scoped, view.maintenances):
        findings += [
            Finding(
                FindingKind.MAINTENANCE_OUTSIDE_WINDOW,
                m.key,
                tuple(m.record_ids),
                m.start,
                m.end,
                (f.outage_start, f.outage_end),
                f"{f.message} (records {_records(m.record_ids)})",
            )
            for f in check_maintenance([m], outages)
        ]
    tickets = [
        t
        for t in view.tickets
        if ref.contains(t.client or ref.client, None, t.service) and touches(t.opened_at, t.restored_at)
    ]
    for t in tickets:
        findings += _ticket_findings(t, outages)
    findings += _overlapping_tickets(tickets, from_epoch(month.end))
    for x in view.exclusions:
        if scoped(x) and not _overlapping(outages, epoch(x.start), epoch(x.end)):
            findings.append(
                Finding(
                    FindingKind.EXCLUSION_WITHOUT_OUTAGE,
                    x.key,
                    tuple(x.record_ids),
                    x.start,
                    x.end,
                    None,
                    f"exclusion {x.key} (records {_records(x.record_ids)}, {x.status.value}): no outage measured "
                    f"from {x.start.isoformat()} to {x.end.isoformat()}",
                )
            )
    return tuple(findings)
