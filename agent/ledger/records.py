"""The annotation ledger's records and their fold: what people add to the measurements.

Theory of operation
-------------------
The ledger is a list of immutable records, appended one at a time, never changed nor deleted. Each record
is an event about one *subject*: a ticket (the reference it was opened under: the provider's, or ours,
`VIGIE-…`, for the incident notifications Vigie sends), an exclusion (`X<n>`), a maintenance
announcement (`M<n>`) or a monthly claim (`<client>/<month>`). The current state of a subject is the fold
of its *effective* records:

- a correction is a new record with `supersedes = <id>`: it takes the superseded record's place in the
  fold (so correcting the opening time of a ticket is judged as if it had been right from the start), and
  the superseded record stays in the history;
- `retract` supersedes a record with nothing (the record was a mistake); history keeps both.

A record is accepted only if the fold of the subject *with* it succeeds: every refusal is a `LedgerError`
whose message names the subject, the record and the offending value, and nothing is written.

A ticket opened under our reference gets the provider's own reference later (`ticket.reference`, VGA 5.7:
the provider's ticket is "référencé par un identifiant unique"): it is folded into the ticket's state, and
`check_ticket_names` keeps one name for one ticket across subjects (a provider reference attached to two
tickets, or to a ticket while it is another ticket's own reference, is refused).

State machines are tables (house style 5): `EXCLUSION_TRANSITIONS` (proposed → accepted / disputed, so the
provider and the customer can disagree on record) and `CLAIM_TRANSITIONS` (drafted → sent → acknowledged →
credited, contract-terms C5).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from sla.model import Cause, Channel, TicketKind

E = TypeVar("E", bound=enum.Enum)


class LedgerError(ValueError):
    """A record the ledger refuses; the message says which record, which value and why."""


class Kind(enum.StrEnum):
    TICKET_OPEN = "ticket.open"
    TICKET_CONFIRM = "ticket.confirm"
    TICKET_FREEZE = "ticket.freeze"
    TICKET_RESUME = "ticket.resume"
    TICKET_RESTORE = "ticket.restore"
    TICKET_REFERENCE = "ticket.reference"
    EXCLUSION_ADD = "exclusion.add"
    EXCLUSION_ACCEPT = "exclusion.accept"
    EXCLUSION_DISPUTE = "exclusion.dispute"
    MAINTENANCE_ADD = "maintenance.add"
    CLAIM_DRAFTED = "claim.drafted"
    CLAIM_SENT = "claim.sent"
    CLAIM_ACKNOWLEDGED = "claim.acknowledged"
    CLAIM_CREDITED = "claim.credited"
    RETRACT = "retract"

    @property
    def family(self) -> str:
        return self.value.split(".")[0]


@dataclass(frozen=True)
class Record:
    """One ledger record. `data` holds the kind's fields, times as ISO 8601 text with an offset."""

    kind: Kind
    subject: str
    data: dict[str, Any]
    client: str | None = None
    site: str | None = None
    service: str | None = None
    author: str | None = None
    supersedes: int | None = None
    id: int | None = None  # None until stored
    recorded_at: datetime | None = None

    @property
    def label(self) -> str:
        return f"record #{self.id}" if self.id is not None else "new record"


# --- parsing helpers: messages name the field and the value ---------------------------------------------


def aware(value: Any, field_name: str, where: str) -> datetime:
    """An ISO 8601 time with a UTC offset (a naive time is an input error, sla-semantics §1)."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise LedgerError(f"{where}: {field_name}: {value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise LedgerError(f"{where}: {field_name}: {value} has no UTC offset (e.g. +02:00)")
    return moment


def aware_span(d: dict[str, Any], where: str) -> tuple[datetime, datetime]:
    """The record's `start` and `end`, half-open and not empty."""
    start, end = aware(d.get("start"), "start", where), aware(d.get("end"), "end", where)
    if end <= start:
        raise LedgerError(f"{where}: end: {iso(end)} is not after start {iso(start)}")
    return start, end


def optional_aware(value: Any, field_name: str, where: str) -> datetime | None:
    return None if value in (None, "") else aware(value, field_name, where)


def enum_value(cls: type[E], value: Any, field_name: str, where: str) -> E:
    try:
        return cls(value)
    except ValueError:
        expected = " | ".join(str(m.value) for m in cls)
        raise LedgerError(f"{where}: {field_name}: {value!r} is not one of {expected}") from None


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


# --- states ------------------------------------------------------------------------------------------


@dataclass
class FreezeState:
    start: datetime
    end: datetime | None
    reason: str | None
    record_id: int | None


@dataclass
class TicketState:
    ref: str
    client: str | None
    site: str | None
    service: str | None
    kind: TicketKind
    channel: Channel
    opened_at: datetime
    confirmed_in_writing_at: datetime | None = None
    restored_at: datetime | None = None
    cause: Cause | None = None
    freezes: list[FreezeState] = field(default_factory=list)
    record_ids: list[int] = field(default_factory=list)
    provider_ref: str | None = None  # the provider's own ticket reference, when ours was the one opened
    provider_ref_record: int | None = None  # the ticket.reference record that attached it

    def life_end(self) -> datetime | None:
        return self.restored_at


class ExclusionStatus(enum.StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DISPUTED = "disputed"


# proposed → accepted | disputed; a disputed exclusion can still be accepted (the dispute settled). An
# accepted exclusion is final: changing it means a correction (a new record superseding the old one).
EXCLUSION_TRANSITIONS: dict[ExclusionStatus, dict[Kind, ExclusionStatus]] = {
    ExclusionStatus.PROPOSED: {
        Kind.EXCLUSION_ACCEPT: ExclusionStatus.ACCEPTED,
        Kind.EXCLUSION_DISPUTE: ExclusionStatus.DISPUTED,
    },
    ExclusionStatus.DISPUTED: {Kind.EXCLUSION_ACCEPT: ExclusionStatus.ACCEPTED},
    ExclusionStatus.ACCEPTED: {},
}


@dataclass
class ExclusionState:
    key: str
    client: str | None
    site: str | None
    service: str | None
    cause: Cause
    start: datetime
    end: datetime
    announced_at: datetime | None
    evidence_path: str | None
    evidence_sha256: str | None
    note: str | None
    author: str | None
    status: ExclusionStatus = ExclusionStatus.PROPOSED
    history: list[tuple[ExclusionStatus, str | None, str | None]] = field(default_factory=list)  # status, by, note
    record_ids: list[int] = field(default_factory=list)

    @property
    def scope(self) -> str:
        return "service" if self.service else "site" if self.site else "client"


@dataclass
class MaintenanceState:
    key: str
    client: str | None
    site: str | None
    service: str | None
    received_at: datetime
    start: datetime
    end: datetime
    reference: str | None
    note: str | None
    record_ids: list[int] = field(default_factory=list)


class ClaimStatus(enum.StrEnum):
    DRAFTED = "drafted"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    CREDITED = "credited"


# contract-terms C5: "claimed → acknowledged → credited on invoice n°…"; never auto-deducted (CGV 10.5).
CLAIM_TRANSITIONS: dict[ClaimStatus | None, dict[Kind, ClaimStatus]] = {
    None: {Kind.CLAIM_DRAFTED: ClaimStatus.DRAFTED},
    ClaimStatus.DRAFTED: {Kind.CLAIM_DRAFTED: ClaimStatus.DRAFTED, Kind.CLAIM_SENT: ClaimStatus.SENT},
    ClaimStatus.SENT: {Kind.CLAIM_ACKNOWLEDGED: ClaimStatus.ACKNOWLEDGED, Kind.CLAIM_CREDITED: ClaimStatus.CREDITED},
    ClaimStatus.ACKNOWLEDGED: {Kind.CLAIM_CREDITED: ClaimStatus.CREDITED},
    ClaimStatus.CREDITED: {},
}


@dataclass
class ClaimState:
    key: str
    client: str
    month: str
    status: ClaimStatus
    dates: dict[str, date] = field(default_factory=dict)  # status → date
    digest: str | None = None
    amount_eur: str | None = None
    invoice_reference: str | None = None
    record_ids: list[int] = field(default_factory=list)


# --- effective records ----------------------------------------------------------------------------------


def effective(records: Sequence[Record]) -> list[Record]:
    """The records that count, in fold order: a replacement takes the place of the record it supersedes;
    a retraction removes it. `records` are in insertion order (ids increasing)."""
    by_id = {r.id: r for r in records if r.id is not None}
    superseded_by: dict[int, Record] = {}
    for r in records:
        if r.supersedes is not None:
            superseded_by[r.supersedes] = r
    out: list[Record] = []
    for r in records:
        if r.supersedes is not None and r.supersedes in by_id:
            continue  # placed at the root's position below
        current: Record | None = r
        while current is not None and current.id is not None and current.id in superseded_by:
            current = superseded_by[current.id]
        # a candidate (id None) that supersedes `r` replaces it too
        if current is not None and current.kind is not Kind.RETRACT:
            out.append(current)
    # a record superseding an id that is not among `records` (another subject) is refused in `check_supersede`
    return out


def check_supersede(candidate: Record, history: Sequence[Record]) -> None:
    """A correction names a record of the same subject, of the same kind (or retracts it), not already
    superseded."""
    if candidate.supersedes is None:
        return
    target = next((r for r in history if r.id == candidate.supersedes), None)
    where = f"{candidate.subject} ({candidate.label})"
    if target is None:
        raise LedgerError(f"{where}: supersedes #{candidate.supersedes}: no such record for {candidate.subject}")
    if any(r.supersedes == target.id for r in history):
        later = next(r for r in history if r.supersedes == target.id)
        raise LedgerError(
            f"{where}: supersedes #{target.id}: already superseded by record #{later.id}; correct that one instead"
        )
    if candidate.kind is not Kind.RETRACT and candidate.kind is not target.kind:
        raise LedgerError(
            f"{where}: supersedes #{target.id}: a {candidate.kind.value} record cannot replace a "
            f"{target.kind.value} record"
        )
    if target.kind is Kind.RETRACT:
        raise LedgerError(f"{where}: supersedes #{target.id}: a retraction cannot be corrected")


# --- folds --------------------------------------------------------------------------------------------


def fold_ticket(records: Iterable[Record]) -> TicketState | None:
    state: TicketState | None = None
    for r in records:
        state = apply_ticket(state, r)
    return state


def apply_ticket(state: TicketState | None, r: Record) -> TicketState:
    where = f"ticket {r.subject} ({r.label})"
    d = r.data
    if r.kind is Kind.TICKET_OPEN:
        if state is not None:
            raise LedgerError(
                f"{where}: ticket {r.subject} is already open (opened at {iso(state.opened_at)}); "
                "to correct the opening, supersede its record"
            )
        if not r.service:
            raise LedgerError(f"{where}: service: a ticket belongs to one service instance; none given")
        state = TicketState(
            ref=r.subject,
            client=r.client,
            site=r.site,
            service=r.service,
            kind=enum_value(TicketKind, d.get("kind", "repair"), "kind", where),
            channel=enum_value(Channel, d.get("channel"), "channel", where),
            opened_at=aware(d.get("opened_at"), "opened_at", where),
            cause=None if d.get("cause") is None else enum_value(Cause, d["cause"], "cause", where),
        )
        if r.id is not None:
            state.record_ids.append(r.id)
        return state
    if state is None:
        raise LedgerError(f"{where}: no ticket {r.subject} has been opened (vigie ticket open first)")
    opened = state.opened_at
    if r.kind is Kind.TICKET_CONFIRM:
        at = aware(d.get("confirmed_at"), "confirmed_at", where)
        if at < opened:
            raise LedgerError(f"{where}: confirmed_at: {iso(at)} is before the ticket was opened at {iso(opened)}")
        if state.confirmed_in_writing_at is not None:
            raise LedgerError(
                f"{where}: confirmed_at: already confirmed in writing at {iso(state.confirmed_in_writing_at)}; "
                "supersede that record to correct it"
            )
        state.confirmed_in_writing_at = at
    elif r.kind is Kind.TICKET_FREEZE:
        start = aware(d.get("start"), "start", where)
        end = optional_aware(d.get("end"), "end", where)
        _check_in_life(state, start, "start", where)
        if end is not None:
            if end <= start:
                raise LedgerError(f"{where}: end: {iso(end)} is not after start {iso(start)}")
            _check_in_life(state, end, "end", where)
        open_freeze = next((f for f in state.freezes if f.end is None), None)
        if open_freeze is not None:
            raise LedgerError(
                f"{where}: start: {iso(start)}: the freeze from {iso(open_freeze.start)} is still running; "
                "resume it first"
            )
        for f in state.freezes:
            f_end = f.end
            assert f_end is not None
            if start < f_end and (end is None or f.start < end):
                raise LedgerError(
                    f"{where}: start: freeze {iso(start)}–{iso(end) or '…'} overlaps the freeze "
                    f"{iso(f.start)}–{iso(f_end)} (record #{f.record_id})"
                )
        state.freezes.append(FreezeState(start, end, d.get("reason"), r.id))
    elif r.kind is Kind.TICKET_RESUME:
        at = aware(d.get("at"), "at", where)
        open_freeze = next((f for f in state.freezes if f.end is None), None)
        if open_freeze is None:
            raise LedgerError(f"{where}: at: {iso(at)}: the ticket's clock is not frozen; nothing to resume")
        if at <= open_freeze.start:
            raise LedgerError(f"{where}: at: {iso(at)} is not after the freeze started at {iso(open_freeze.start)}")
        _check_in_life(state, at, "at", where)
        open_freeze.end = at
    elif r.kind is Kind.TICKET_RESTORE:
        at = aware(d.get("restored_at"), "restored_at", where)
        if state.restored_at is not None:
            raise LedgerError(
                f"{where}: restored_at: already restored at {iso(state.restored_at)}; supersede that record "
                "to correct it"
            )
        if at <= opened:
            raise LedgerError(f"{where}: restored_at: {iso(at)} is not after the ticket was opened at {iso(opened)}")
        open_freeze = next((f for f in state.freezes if f.end is None), None)
        if open_freeze is not None:
            raise LedgerError(
                f"{where}: restored_at: {iso(at)}: the freeze from {iso(open_freeze.start)} is still running; "
                "resume it first (VGA 5.8: the freeze lasts until physical access is obtained)"
            )
        late = [f for f in state.freezes if f.end is not None and f.end > at]
        if late:
            raise LedgerError(
                f"{where}: restored_at: {iso(at)} is before the end {iso(late[0].end)} of a freeze "
                f"(record #{late[0].record_id})"
            )
        state.restored_at = at
        if d.get("cause") is not None:
            state.cause = enum_value(Cause, d["cause"], "cause", where)
    elif r.kind is Kind.TICKET_REFERENCE:
        provider_ref = str(d.get("provider_ref") or "").strip()
        if not provider_ref:
            raise LedgerError(
                f"{where}: provider_ref: {d.get('provider_ref')!r} is empty; give the provider's reference"
            )
        if state.provider_ref is not None:
            raise LedgerError(
                f"{where}: provider_ref: {provider_ref!r}: ticket {r.subject} already has the provider's reference "
                f"{state.provider_ref!r} (record #{state.provider_ref_record}); a second reference is a correction: "
                f"supersede that record (--supersedes {state.provider_ref_record})"
            )
        state.provider_ref, state.provider_ref_record = provider_ref, r.id
    else:
        raise LedgerError(f"{where}: {r.kind.value} is not a ticket record")
    if r.id is not None:
        state.record_ids.append(r.id)
    return state


def check_ticket_names(candidate: Record, others: Iterable[TicketState]) -> None:
    """One name, one ticket (VGA 5.7: a ticket is referenced by a unique id): a provider reference being
    attached names no other ticket, neither as its provider reference nor as its own; a ticket being opened
    does not take a name that is another ticket's provider reference. `others`: the ledger's tickets but
    the candidate's own."""
    where = f"ticket {candidate.subject} ({candidate.label})"
    if candidate.kind is Kind.TICKET_REFERENCE:
        name = str(candidate.data.get("provider_ref") or "").strip()
        for t in others:
            if t.provider_ref == name:
                raise LedgerError(
                    f"{where}: provider_ref: {name!r} is already the provider's reference of ticket {t.ref} "
                    f"(record #{t.provider_ref_record}); one provider ticket belongs to one ticket"
                )
            if t.ref == name:
                raise LedgerError(
                    f"{where}: provider_ref: {name!r} is already a ticket of its own (records "
                    f"{', '.join(f'#{i}' for i in t.record_ids)}); if it is the same incident, retract its records "
                    f"(vigie ledger retract N, latest first), then attach {name} to {candidate.subject}"
                )
    elif candidate.kind is Kind.TICKET_OPEN:
        for t in others:
            if t.provider_ref == candidate.subject:
                raise LedgerError(
                    f"{where}: {candidate.subject} is the provider's reference of ticket {t.ref} (record "
                    f"#{t.provider_ref_record}): it is that ticket; record on it (the ticket commands accept "
                    f"{candidate.subject}) rather than open a second ticket for the same incident"
                )


def _check_in_life(state: TicketState, moment: datetime, name: str, where: str) -> None:
    """VGA 5.8: a freeze belongs to the ticket's life, from opening to the notified restoration."""
    if moment < state.opened_at:
        raise LedgerError(
            f"{where}: {name}: {iso(moment)} is before the ticket was opened at {iso(state.opened_at)}; "
            "a freeze must lie inside the ticket's life"
        )
    if state.restored_at is not None and moment > state.restored_at:
        raise LedgerError(
            f"{where}: {name}: {iso(moment)} is after the restoration notified at {iso(state.restored_at)}; "
            "a freeze must lie inside the ticket's life"
        )


def fold_exclusion(records: Iterable[Record]) -> ExclusionState | None:
    state: ExclusionState | None = None
    for r in records:
        where = f"exclusion {r.subject} ({r.label})"
        d = r.data
        if r.kind is Kind.EXCLUSION_ADD:
            if state is not None:
                raise LedgerError(f"{where}: exclusion {r.subject} already exists")
            if not r.client:
                raise LedgerError(f"{where}: client: an exclusion's scope needs at least the client")
            if r.service and not r.site:
                raise LedgerError(f"{where}: site: a service-scoped exclusion names its site too")
            cause = enum_value(Cause, d.get("cause"), "cause", where)
            if not cause.is_excusable:
                raise LedgerError(
                    f"{where}: cause: {cause.value} is not an exclusion; it freezes a VGA GTR clock "
                    "(VGA 5.8): record it as a ticket freeze (vigie ticket freeze)"
                )
            start, end = aware_span(d, where)
            announced = optional_aware(d.get("announced_at"), "announced_at", where)
            if cause is Cause.PLANNED_MAINTENANCE and announced is not None and announced >= start:
                raise LedgerError(
                    f"{where}: announced_at: {iso(announced)} is not before the maintenance began at {iso(start)}; "
                    "an unannounced maintenance counts as unavailability (STD 4.1.1)"
                )
            state = ExclusionState(
                key=r.subject,
                client=r.client,
                site=r.site,
                service=r.service,
                cause=cause,
                start=start,
                end=end,
                announced_at=announced,
                evidence_path=d.get("evidence_path"),
                evidence_sha256=d.get("evidence_sha256"),
                note=d.get("note"),
                author=r.author,
            )
            state.history.append((ExclusionStatus.PROPOSED, r.author, d.get("note")))
        else:
            if state is None:
                raise LedgerError(f"{where}: no exclusion {r.subject} has been proposed")
            allowed = EXCLUSION_TRANSITIONS[state.status]
            if r.kind not in allowed:
                verb = r.kind.value.split(".")[1]
                raise LedgerError(
                    f"{where}: cannot {verb} exclusion {r.subject}: it is {state.status.value}"
                    + (
                        "; an accepted exclusion is changed only by a correction (supersede)"
                        if state.status is ExclusionStatus.ACCEPTED
                        else ""
                    )
                )
            state.status = allowed[r.kind]
            state.history.append((state.status, r.author, d.get("note")))
        if r.id is not None:
            state.record_ids.append(r.id)
    return state


def fold_maintenance(records: Iterable[Record]) -> MaintenanceState | None:
    state: MaintenanceState | None = None
    for r in records:
        where = f"maintenance {r.subject} ({r.label})"
        d = r.data
        if r.kind is not Kind.MAINTENANCE_ADD or state is not None:
            raise LedgerError(f"{where}: a maintenance announcement is one record; supersede it to correct it")
        if not r.client:
            raise LedgerError(f"{where}: client: a maintenance announcement's scope needs at least the client")
        received = aware(d.get("received_at"), "received_at", where)
        start, end = aware_span(d, where)
        if received >= start:
            raise LedgerError(
                f"{where}: received_at: {iso(received)} is not before the announced window began at {iso(start)}; "
                "a maintenance announced after it began is not a planned maintenance (STD 4.1.1): its outage "
                "counts. If the provider claims an exclusion, record it with vigie exclusion add."
            )
        state = MaintenanceState(
            key=r.subject,
            client=r.client,
            site=r.site,
            service=r.service,
            received_at=received,
            start=start,
            end=end,
            reference=d.get("reference"),
            note=d.get("note"),
        )
        if r.id is not None:
            state.record_ids.append(r.id)
    return state


def fold_claim(records: Iterable[Record]) -> ClaimState | None:
    state: ClaimState | None = None
    for r in records:
        where = f"claim {r.subject} ({r.label})"
        d = r.data
        current = None if state is None else state.status
        allowed = CLAIM_TRANSITIONS[current]
        if r.kind not in allowed:
            raise LedgerError(
                f"{where}: cannot record {r.kind.value.split('.')[1]}: the claim is "
                f"{current.value if current else 'not drafted yet'}"
            )
        try:
            day = date.fromisoformat(str(d.get("date")))
        except ValueError:
            raise LedgerError(f"{where}: date: {d.get('date')!r} is not a date (YYYY-MM-DD)") from None
        if state is None:
            client, _, month = r.subject.rpartition("/")
            state = ClaimState(key=r.subject, client=client, month=month, status=allowed[r.kind])
        previous = max(state.dates.values(), default=None)
        if previous is not None and day < previous and r.kind is not Kind.CLAIM_DRAFTED:
            raise LedgerError(f"{where}: date: {day} is before the previous step ({previous})")
        state.status = allowed[r.kind]
        state.dates[state.status.value] = day
        if r.kind is Kind.CLAIM_DRAFTED:
            state.digest = d.get("digest", state.digest)
            state.amount_eur = d.get("amount_eur", state.amount_eur)
        if r.kind is Kind.CLAIM_CREDITED:
            if not d.get("invoice_reference"):
                raise LedgerError(f"{where}: invoice_reference: a credit names the invoice that carries it")
            state.invoice_reference = d["invoice_reference"]
        if r.id is not None:
            state.record_ids.append(r.id)
    return state


FOLDS = {
    "ticket": fold_ticket,
    "exclusion": fold_exclusion,
    "maintenance": fold_maintenance,
    "claim": fold_claim,
}


def family_of(records: Sequence[Record]) -> str:
    for r in records:
        if r.kind is not Kind.RETRACT:
            return r.kind.family
    return "retract"


def validate_subject(history: Sequence[Record], candidate: Record) -> None:
    """Refuse `candidate` unless the subject's fold with it succeeds."""
    check_supersede(candidate, history)
    families = {r.kind.family for r in history if r.kind is not Kind.RETRACT}
    if candidate.kind is not Kind.RETRACT and families and candidate.kind.family not in families:
        raise LedgerError(
            f"{candidate.subject} ({candidate.label}): {candidate.subject} is a {families.pop()}, "
            f"not a {candidate.kind.family}"
        )
    records = effective([*history, candidate])
    family = family_of([*history, candidate])
    if family in FOLDS:
        FOLDS[family](records)
