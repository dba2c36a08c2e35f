"""From the ledger to the engine: the tickets and exclusions of one service instance for one month.

Which records apply to a service instance `(client, site, service)`:
- tickets recorded for that service;
- exclusions whose scope contains it (a client-wide exclusion applies to every service of the client, a
  site-wide one to every service of the site) and whose state is in `states` (accepted only, by default:
  a proposed or disputed exclusion is listed in the claim, not applied);
- maintenance announcements whose scope contains it, as `planned_maintenance` exclusions announced at the
  time the notice was received (STD 4.1.1 "hors périodes de maintenance programmées").

Every `LedgerSlice` carries the ids of the records it used, so a statement says which records it was built
from, and the provider's references of its tickets (VGA 5.7), for the claim's ticket rows.

`find_ticket` finds a ticket by either of its names: the reference it was opened under, or the provider's
reference attached to it later (`ticket.reference`).

`windows_of` lists every version of every exclusion and maintenance window the ledger ever showed (each
state it went through, each superseded version), the current one flagged: what the outage timeline draws.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from agent.ledger.records import (
    EXCLUSION_TRANSITIONS,
    ExclusionState,
    ExclusionStatus,
    Kind,
    LedgerError,
    MaintenanceState,
    Record,
    TicketState,
    effective,
    family_of,
    fold_exclusion,
    fold_maintenance,
    fold_ticket,
)
from sla.calendars import Month, epoch, from_epoch
from sla.model import Cause, Exclusion, Freeze, Outage, Ticket
from sla.statement import Case

MARGIN_S = 86_400  # records a day beyond the month edges matter (notification of an outage crossing the edge)


@dataclass(frozen=True)
class ServiceRef:
    client: str
    site: str
    service: str

    def contains(self, client: str | None, site: str | None, service: str | None) -> bool:
        return (
            client == self.client
            and (site is None or site == self.site)
            and (service is None or service == self.service)
        )


@dataclass(frozen=True)
class LedgerSlice:
    tickets: tuple[Ticket, ...]
    exclusions: tuple[Exclusion, ...]
    record_ids: tuple[int, ...]
    pending_exclusions: tuple[ExclusionState, ...]  # proposed or disputed: listed, not applied
    open_freezes: tuple[str, ...]  # tickets whose freeze has no end yet (it runs to the month end)
    provider_refs: tuple[tuple[str, str], ...] = ()  # (ticket reference, the provider's reference)


@dataclass(frozen=True)
class LedgerView:
    tickets: tuple[TicketState, ...]
    exclusions: tuple[ExclusionState, ...]
    maintenances: tuple[MaintenanceState, ...]


def fold_all(records: Iterable[Record]) -> LedgerView:
    """Fold every subject (records in insertion order)."""
    by_subject: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        by_subject[r.subject].append(r)
    tickets, exclusions, maintenances = [], [], []
    for subject_records in by_subject.values():
        live = effective(subject_records)
        if not live:
            continue
        family = live[0].kind.family
        if family == "ticket" and (t := fold_ticket(live)) is not None:
            tickets.append(t)
        elif family == "exclusion" and (x := fold_exclusion(live)) is not None:
            exclusions.append(x)
        elif family == "maintenance" and (m := fold_maintenance(live)) is not None:
            maintenances.append(m)
    return LedgerView(tuple(tickets), tuple(exclusions), tuple(maintenances))


def find_ticket(view: LedgerView, name: str) -> TicketState | None:
    """The ticket opened under `name`, else the one `name` is the provider's reference of (the ledger keeps
    both kinds of names unique: records.check_ticket_names)."""
    return next((t for t in view.tickets if t.ref == name), None) or next(
        (t for t in view.tickets if t.provider_ref == name), None
    )


def slice_for(
    view: LedgerView,
    ref: ServiceRef,
    month: Month,
    states: Sequence[ExclusionStatus] = (ExclusionStatus.ACCEPTED,),
) -> LedgerSlice:
    lo, hi = month.start - MARGIN_S, month.end + MARGIN_S
    month_end = from_epoch(month.end)
    ids: list[int] = []
    tickets: list[Ticket] = []
    open_freezes: list[str] = []
    refs = {t.ref: t.provider_ref for t in view.tickets if t.provider_ref is not None}

    def touches(start: datetime, end: datetime | None) -> bool:
        return epoch(start) < hi and (end is None or epoch(end) > lo)

    for t in view.tickets:
        if t.service != ref.service or (t.client is not None and t.client != ref.client):
            continue
        if not touches(t.opened_at, t.restored_at):
            continue
        freezes = []
        for f in t.freezes:
            end = f.end
            if end is None:
                # still frozen: the freeze runs to the end of the month evaluated (or the restoration)
                end = t.restored_at or max(month_end, f.start)
                open_freezes.append(t.ref)
            if end > f.start:
                freezes.append(Freeze(start=f.start, end=end, reason=f.reason))
        tickets.append(
            Ticket(
                id=t.ref,
                opened_at=t.opened_at,
                kind=t.kind,
                channel=t.channel,
                confirmed_in_writing_at=t.confirmed_in_writing_at,
                restored_at=t.restored_at,
                cause=t.cause,
                freezes=tuple(freezes),
            )
        )
        ids.extend(t.record_ids)
    exclusions: list[Exclusion] = []
    pending: list[ExclusionState] = []
    for x in view.exclusions:
        if not ref.contains(x.client, x.site, x.service) or not touches(x.start, x.end):
            continue
        if x.status not in states:
            pending.append(x)
            continue
        exclusions.append(
            Exclusion(
                cause=x.cause,
                start=x.start,
                end=x.end,
                announced_at=x.announced_at,
                note=x.note,
                evidence=None if x.evidence_path is None else f"{x.evidence_path} sha256:{x.evidence_sha256}",
                author=x.author,
            )
        )
        ids.extend(x.record_ids)
    for m in view.maintenances:
        if not ref.contains(m.client, m.site, m.service) or not touches(m.start, m.end):
            continue
        exclusions.append(
            Exclusion(
                cause=Cause.PLANNED_MAINTENANCE,
                start=m.start,
                end=m.end,
                announced_at=m.received_at,
                note=" — ".join(p for p in (m.reference, m.note) if p) or None,
                author=None,
            )
        )
        ids.extend(m.record_ids)
    return LedgerSlice(
        tickets=tuple(tickets),
        exclusions=tuple(exclusions),
        record_ids=tuple(sorted(set(ids))),
        pending_exclusions=tuple(pending),
        open_freezes=tuple(open_freezes),
        provider_refs=tuple((t.id, refs[t.id]) for t in tickets if t.id in refs),
    )


def with_ledger(case: Case, ledger_slice: LedgerSlice) -> Case:
    """The case with the ledger's tickets and exclusions added. A ticket id present in both is refused:
    the ledger and the case file would contradict each other."""
    clash = {t.id for t in case.tickets} & {t.id for t in ledger_slice.tickets}
    if clash:
        raise LedgerError(
            f"ticket {sorted(clash)[0]}: present both in the case file and in the ledger; keep one source"
        )
    return replace(
        case,
        tickets=case.tickets + ledger_slice.tickets,
        exclusions=case.exclusions + ledger_slice.exclusions,
    )


MAINTENANCE_STATE = "announced"  # a maintenance notice has no proposed / accepted states: it applies


@dataclass(frozen=True)
class LedgerWindow:
    """One version of an exclusion or maintenance window: its scope, cause, span and state."""

    ref: str
    kind: str  # exclusion | maintenance
    client: str | None
    site: str | None
    service: str | None
    cause: str
    state: str  # an ExclusionStatus, or `announced` for a maintenance notice
    start: datetime
    end: datetime
    current: bool  # False: an earlier state, or a superseded or retracted version


def windows_of(records: Iterable[Record]) -> list[LedgerWindow]:
    """Every (version, state) an exclusion or maintenance subject went through, in the records' order, each
    subject's current one last (a later version with the same scope, cause, state and start is the same
    window: the current one replaces it)."""
    by_subject: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        by_subject[r.subject].append(r)
    out: list[LedgerWindow] = []
    for subject_records in by_subject.values():
        family = family_of(subject_records)
        if family == "exclusion":
            kinds = {r.kind for r in subject_records}
            reached = {to.value for table in EXCLUSION_TRANSITIONS.values() for k, to in table.items() if k in kinds}
            states = [ExclusionStatus.PROPOSED.value, *sorted(reached)]
            versions: list[ExclusionState | MaintenanceState | None]
            versions = [fold_exclusion([r]) for r in subject_records if r.kind is Kind.EXCLUSION_ADD]
            current: ExclusionState | MaintenanceState | None = fold_exclusion(effective(subject_records))
        elif family == "maintenance":
            states = [MAINTENANCE_STATE]
            versions = [fold_maintenance([r]) for r in subject_records if r.kind is Kind.MAINTENANCE_ADD]
            current = fold_maintenance(effective(subject_records))
        else:
            continue
        out.extend(_window(v, state, current=False) for v in versions if v is not None for state in states)
        if current is not None:
            out.append(_window(current, _state_of(current), current=True))
    return out


def _state_of(x: ExclusionState | MaintenanceState) -> str:
    return x.status.value if isinstance(x, ExclusionState) else MAINTENANCE_STATE


def _window(x: ExclusionState | MaintenanceState, state: str, *, current: bool) -> LedgerWindow:
    if isinstance(x, ExclusionState):
        kind, cause = "exclusion", x.cause.value
    else:
        kind, cause = "maintenance", Cause.PLANNED_MAINTENANCE.value
    return LedgerWindow(
        ref=x.key,
        kind=kind,
        client=x.client,
        site=x.site,
        service=x.service,
        cause=cause,
        state=state,
        start=x.start,
        end=x.end,
        current=current,
    )


@dataclass(frozen=True)
class MaintenanceFinding:
    key: str
    outage_start: datetime
    outage_end: datetime
    message: str


def check_maintenance(maintenances: Iterable[MaintenanceState], outages: Iterable[Outage]) -> list[MaintenanceFinding]:
    """Check announced windows against the outage timeline: an outage that overlaps a window but starts
    before it or ends after it is partly unannounced (STD 4.1.1: the overrun counts)."""
    findings: list[MaintenanceFinding] = []
    outages = list(outages)
    for m in maintenances:
        for o in outages:
            if not (o.start < m.end and m.start < o.end):
                continue
            if o.start < m.start:
                minutes = (m.start - o.start).total_seconds() / 60
                findings.append(
                    MaintenanceFinding(
                        m.key,
                        o.start,
                        o.end,
                        f"maintenance {m.key}: outage began {minutes:.0f} min before the announced window "
                        f"({m.start.isoformat()}); that part counts",
                    )
                )
            if o.end > m.end:
                minutes = (o.end - m.end).total_seconds() / 60
                findings.append(
                    MaintenanceFinding(
                        m.key,
                        o.start,
                        o.end,
                        f"maintenance {m.key}: outage overran the announced window by {minutes:.0f} min "
                        f"(window ended {m.end.isoformat()}, service back {o.end.isoformat()}); the overrun counts",
                    )
                )
    return findings
