"""The engine's inputs: frozen dataclasses, timezone-aware datetimes, Decimal money.

Everything the engine computes is a function of these values and of a contract profile; nothing here
reads a clock, a file or the network.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


class Cause(enum.StrEnum):
    """Exclusion causes (sla-semantics §4), from STD 4.1.4 and VGA 5.1 / 5.6 / 5.8."""

    PLANNED_MAINTENANCE = "planned_maintenance"
    POWER_CUT = "power_cut"
    CUSTOMER_FAULT = "customer_fault"
    EQUIPMENT_NOT_SUPPLIED = "equipment_not_supplied"
    THIRD_PARTY_OPERATOR = "third_party_operator"
    FORCE_MAJEURE = "force_majeure"
    CAPACITY_EXCEEDED = "capacity_exceeded"
    CUSTOMER_NON_COOPERATION = "customer_non_cooperation"
    ACCESS_REFUSED = "access_refused"
    SITE_ACCESS_PENDING = "site_access_pending"

    @property
    def is_excusable(self) -> bool:
        """An Evénement Excusable or excluded period. `site_access_pending` only freezes a VGA clock
        (VGA 5.8) and excuses nothing."""
        return self is not Cause.SITE_ACCESS_PENDING

    @property
    def freezes_std_repair(self) -> bool:
        """STD 4.1.4: periods of non-cooperation or refused access are not counted."""
        return self in (Cause.CUSTOMER_NON_COOPERATION, Cause.ACCESS_REFUSED)


class TicketKind(enum.StrEnum):
    REPAIR = "repair"
    EQUIPMENT_REPLACEMENT = "equipment_replacement"


class Channel(enum.StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    PORTAL = "portal"

    @property
    def is_written(self) -> bool:
        return self is not Channel.PHONE


class AccessType(enum.StrEnum):
    ANALOG = "analog"
    ISDN_T0 = "isdn_t0"


class GtrOption(enum.StrEnum):
    STANDARD = "standard"
    BUSINESS_6H = "6h_business"
    ROUND_THE_CLOCK_6H = "6h_24x7"


class Window(enum.StrEnum):
    COVERAGE = "coverage"
    ALL_HOURS = "all_hours"


class Denominator(enum.StrEnum):
    CALENDAR_MONTH = "calendar_month"
    COVERAGE_WINDOW = "coverage_window"


class UnknownAs(enum.StrEnum):
    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Policy:
    """Every ambiguity decided by sla-semantics.md, switchable per contract; printed in every report."""

    window: Window = Window.COVERAGE
    denominator: Denominator = Denominator.CALENDAR_MONTH
    count_unnotified: bool = False
    boundary_99_5: int = 3
    unknown_as: UnknownAs = UnknownAs.AVAILABLE
    holidays_subdivision: str | None = None
    extra_closed_days: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.boundary_99_5 not in (3, 5):
            raise ValueError(f"boundary_99_5: {self.boundary_99_5!r} is not 3 or 5")


@dataclass(frozen=True)
class Qualification:
    """How probe samples become outages (sla-semantics §5)."""

    down_after: int = 3
    up_after: int = 2
    microcut_s: int = 60
    interval_s: int | None = None
    quorum: int | None = None  # None: all probes (of each group) must fail

    def __post_init__(self) -> None:
        for name in ("down_after", "up_after"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: {getattr(self, name)} must be at least 1")
        if self.microcut_s < 0:
            raise ValueError(f"microcut_s: {self.microcut_s} must not be negative")
        if self.interval_s is not None and self.interval_s < 1:
            raise ValueError(f"interval_s: {self.interval_s} must be at least 1")
        if self.quorum is not None and self.quorum < 1:
            raise ValueError(f"quorum: {self.quorum} must be 'all' or at least 1")


@dataclass(frozen=True)
class Service:
    """One service instance (a service of a client at a site), as billed."""

    id: str
    contract: str
    monthly_fee_eur: Decimal
    in_service_from: date | None = None
    in_service_until: date | None = None
    access_type: AccessType | None = None
    gtr_option: GtrOption | None = None
    probation_until: date | None = None


@dataclass(frozen=True)
class Outage:
    """A qualified interval of total unavailability ("absence totale du service")."""

    start: datetime
    end: datetime
    notified_at: datetime | None = None


@dataclass(frozen=True)
class Exclusion:
    """An excusable event or excluded period (STD 4.1.4, VGA 5.1 / 5.6)."""

    cause: Cause
    start: datetime
    end: datetime
    announced_at: datetime | None = None
    note: str | None = None
    evidence: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class Freeze:
    start: datetime
    end: datetime
    reason: str | None = None


@dataclass(frozen=True)
class Ticket:
    id: str
    opened_at: datetime
    kind: TicketKind = TicketKind.REPAIR
    channel: Channel = Channel.EMAIL
    confirmed_in_writing_at: datetime | None = None
    restored_at: datetime | None = None
    cause: Cause | None = None
    freezes: tuple[Freeze, ...] = ()


@dataclass(frozen=True)
class Sample:
    """One probe sample: `(time, probe, ok)` (sla-semantics §5)."""

    time: datetime
    probe: str
    ok: bool
