"""What every collector returns and how it fails: a failed probe is data, never an exception."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field


class Reason(str, enum.Enum):
    """Why a probe failed. One value per cause a NOC engineer acts on differently."""

    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    AUTH_FAILED = "auth_failed"
    MISCONFIGURED = "misconfigured"
    PARSE_ERROR = "parse_error"
    REFUSED = "refused"


class CollectorError(Exception):
    """Base of the collector error tree; translated into a `ProbeResult` by the collector itself."""

    reason: ClassVar[Reason]


class Timeout(CollectorError):
    reason = Reason.TIMEOUT


class Unreachable(CollectorError):
    reason = Reason.UNREACHABLE


class AuthFailed(CollectorError):
    reason = Reason.AUTH_FAILED


class Misconfigured(CollectorError):
    reason = Reason.MISCONFIGURED


class ParseError(CollectorError):
    reason = Reason.PARSE_ERROR


class Refused(CollectorError):
    reason = Reason.REFUSED


class ProbeResult(BaseModel):
    """One probe run. `scheduled_at` is the scheduler's time, not the collector's."""

    model_config = ConfigDict(frozen=True)

    kind: str
    target: str
    scheduled_at: datetime
    ok: bool
    reason: Reason | None = None
    detail: str | None = None
    duration_s: float = 0.0
    values: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def failed(
        cls, kind: str, target: str, scheduled_at: datetime, error: CollectorError, duration_s: float = 0.0
    ) -> ProbeResult:
        return cls(
            kind=kind,
            target=target,
            scheduled_at=scheduled_at,
            ok=False,
            reason=error.reason,
            detail=str(error),
            duration_s=duration_s,
        )


class CollectorConfig(BaseModel):
    """Base of every collector's config schema: strict and frozen (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Collector(Protocol):
    """One collector = one module, one class, one config schema, one registry entry."""

    kind: ClassVar[str]
    config_model: ClassVar[type[CollectorConfig]]

    async def collect(self, target: str, scheduled_at: datetime) -> ProbeResult: ...
