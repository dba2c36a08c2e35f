"""GTR and restoration clocks (VGA art. 5.2–5.8; STD art. x (b)).

Theory of operation
-------------------
A ticket's clock is a small state machine, folded over the ticket's events in time order:

    RUNNING --ClockFrozen--> FROZEN --ClockResumed--> RUNNING
    RUNNING / FROZEN --ServiceRestored--> STOPPED

`TRANSITIONS` is the whole machine; an event that is not in the table for the current state raises
`GtrTransitionError` and changes nothing. The fold yields the intervals during which the clock ran;
their measure on the ticket's calendar (Heures Ouvrées or wall clock) is the elapsed time. There are no
timers: the same events give the same figure, whenever they are folded.

Which events a ticket produces is the contract's part:
- start (VGA 5.5 / 5.7): the ticket time, provided the client confirmed a phone call in writing within
  30 minutes; a later confirmation moves the start to it; a never-confirmed call earns no penalty;
- freezes (VGA 5.8): from the provider's request for site access to access obtained; for STD repairs
  also the excluded periods of non-cooperation and refused access (STD x.1.4);
- stop (VGA 5.5 / 5.9): the provider's notification of restoration.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sla.calendars import Clock, HolidayCalendar, epoch, windows
from sla.intervals import IntervalSet, intersect, measure, normalize
from sla.model import Exclusion, Ticket, TicketKind
from sla.profiles import STD_TARGETS, VGA_BRACKETS, VGA_TARGETS, GtrTarget, Regime

CONFIRMATION_DELAY = timedelta(minutes=30)  # VGA 5.7 "dans les trente (30) minutes après l'appel"
SECONDS_PER_HOUR = Decimal(3600)


class GtrState(enum.Enum):
    RUNNING = "running"
    FROZEN = "frozen"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ClockFrozen:
    at: int


@dataclass(frozen=True)
class ClockResumed:
    at: int


@dataclass(frozen=True)
class ServiceRestored:
    at: int


GtrEvent = ClockFrozen | ClockResumed | ServiceRestored

TRANSITIONS: dict[GtrState, dict[type[GtrEvent], GtrState]] = {
    GtrState.RUNNING: {ClockFrozen: GtrState.FROZEN, ServiceRestored: GtrState.STOPPED},
    GtrState.FROZEN: {ClockResumed: GtrState.RUNNING, ServiceRestored: GtrState.STOPPED},
    GtrState.STOPPED: {},
}


class GtrTransitionError(ValueError):
    """An event that the clock's current state does not accept."""


@dataclass
class GtrClock:
    """A ticket's clock: started at `start`, fed events in time order."""

    start: int
    state: GtrState = GtrState.RUNNING

    def __post_init__(self) -> None:
        self.last_event_at: int = self.start
        self.running: IntervalSet = []

    def apply(self, event: GtrEvent) -> None:
        target = TRANSITIONS[self.state].get(type(event))
        if target is None:
            raise GtrTransitionError(f"{type(event).__name__} is not allowed while the clock is {self.state.value}")
        if event.at < self.last_event_at:
            raise GtrTransitionError(f"{type(event).__name__} at {event.at} is before the clock's last event")
        if self.state is GtrState.RUNNING:
            self.running.append((self.last_event_at, event.at))
        self.state, self.last_event_at = target, event.at


def running_intervals(start: int, stop: int, frozen: IntervalSet) -> IntervalSet:
    """Fold the freeze/resume/restore events of `[start, stop)` through the state machine."""
    clock = GtrClock(start)
    for freeze_start, freeze_end in frozen:
        if freeze_end <= start or freeze_start >= stop:
            continue
        clock.apply(ClockFrozen(max(freeze_start, start)))
        if freeze_end < stop:
            clock.apply(ClockResumed(freeze_end))
    clock.apply(ServiceRestored(stop))  # every event above falls before `stop`
    return normalize(clock.running)


@dataclass(frozen=True)
class TicketResult:
    id: str
    kind: str
    clock: Clock
    target_hours: Decimal
    start: int
    stop: int
    elapsed_hours: Decimal
    frozen_hours: Decimal
    breached: bool
    penalty_pct: Decimal
    flags: tuple[str, ...]


def target_for(regime: Regime, ticket: Ticket, access_type: str | None, gtr_option: str | None) -> GtrTarget:
    if regime is Regime.VGA:
        target = VGA_TARGETS.get((access_type or "", gtr_option or ""))
        if target is None:
            raise ValueError(f"VGA GTR option {gtr_option!r} is not offered on access type {access_type!r}")
        return target
    return STD_TARGETS[ticket.kind.value]


def vga_penalty_pct(elapsed_hours: Decimal) -> Decimal:
    """VGA 5.2: 6 < TR ≤ 8 → 2 %, 8 < TR ≤ 12 → 5 %, TR > 12 → 10 %; TR = 6 exactly → 0."""
    for above, pct in VGA_BRACKETS:
        if elapsed_hours > above:
            return pct
    return Decimal(0)


def evaluate_ticket(
    ticket: Ticket,
    *,
    regime: Regime,
    target: GtrTarget,
    month_end: int,
    calendar: HolidayCalendar,
    exclusions: Sequence[Exclusion] = (),
    outages: Sequence[tuple[int, int]] = (),
) -> TicketResult:
    flags: list[str] = []
    opened = epoch(ticket.opened_at)
    start = opened
    penalty_allowed = target.penalised
    if regime is Regime.VGA and not ticket.channel.is_written:
        confirmed = ticket.confirmed_in_writing_at
        if confirmed is None:
            flags.append("unconfirmed")  # VGA 5.7: no written confirmation, no penalty
            penalty_allowed = False
        elif confirmed - ticket.opened_at > CONFIRMATION_DELAY:
            flags.append("late_confirmation")  # VGA 5.7: the clock starts at the written confirmation
            start = epoch(confirmed)
    if ticket.restored_at is None:
        flags.append("open")
        stop = max(month_end, start)
        penalty_allowed = False
    else:
        stop = max(epoch(ticket.restored_at), start)
        if any(s <= stop < e for s, e in outages):
            flags.append("restored_while_down")  # probes still saw the outage when restoration was notified
    if ticket.cause is not None and ticket.cause.is_excusable:
        flags.append("excusable")  # VGA 5.6 / STD x.1.4: an excusable event earns no penalty
        penalty_allowed = False

    frozen = normalize((epoch(f.start), epoch(f.end)) for f in ticket.freezes)
    if regime is Regime.STD and ticket.kind is TicketKind.REPAIR:
        # STD x.1.4: periods of non-cooperation or refused access are not counted.
        frozen = normalize(frozen + [(epoch(x.start), epoch(x.end)) for x in exclusions if x.cause.freezes_std_repair])
    open_time = windows(target.clock, start, stop, calendar)
    elapsed = measure(intersect(running_intervals(start, stop, frozen), open_time))
    frozen_on_clock = measure(intersect(intersect(frozen, [(start, stop)]), open_time))
    elapsed_hours = Decimal(elapsed) / SECONDS_PER_HOUR
    penalty = vga_penalty_pct(elapsed_hours) if penalty_allowed else Decimal(0)
    return TicketResult(
        id=ticket.id,
        kind=ticket.kind.value,
        clock=target.clock,
        target_hours=target.hours,
        start=start,
        stop=stop,
        elapsed_hours=elapsed_hours,
        frozen_hours=Decimal(frozen_on_clock) / SECONDS_PER_HOUR,
        breached=elapsed_hours > target.hours,
        penalty_pct=penalty,
        flags=tuple(flags),
    )


def ho_availability_pct(outage_seconds: int, open_seconds: int) -> Decimal:
    """VGA 5.3: 1 − interruption HO / HO of the period, as a percentage."""
    if open_seconds == 0:
        return Decimal(100)
    return (1 - Decimal(outage_seconds) / Decimal(open_seconds)) * 100
