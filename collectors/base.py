"""What every collector returns and how it fails: a failed probe is data, never an exception."""

from __future__ import annotations

import enum
import os
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class Reason(enum.StrEnum):
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
        cls,
        kind: str,
        target: str,
        scheduled_at: datetime,
        error: CollectorError,
        duration_s: float = 0.0,
        values: dict[str, Any] | None = None,
    ) -> ProbeResult:
        """A failed probe, with whatever was measured before the failure (a failed probe is data)."""
        return cls(
            kind=kind,
            target=target,
            scheduled_at=scheduled_at,
            ok=False,
            reason=error.reason,
            detail=str(error),
            duration_s=duration_s,
            values=values or {},
        )


class CollectorConfig(BaseModel):
    """Base of every collector's config schema: strict and frozen (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Collector(Protocol):
    """One collector = one module, one class, one config schema, one registry entry."""

    kind: ClassVar[str]
    config_model: ClassVar[type[CollectorConfig]]

    async def collect(self, target: str, scheduled_at: datetime) -> ProbeResult: ...


class SecretSource(BaseModel):
    """Where a secret comes from: an environment variable or a file (a literal only from code, a test or the
    command line). Read when the probe runs, never logged; `str()` never shows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    file: Path | None = None
    value: SecretStr | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretSource:
        if sum(x is not None for x in (self.env, self.file, self.value)) != 1:
            raise ValueError("a secret is given by exactly one of env, file, value")
        return self

    @classmethod
    def parse(cls, text: str) -> SecretSource:
        """`env:NAME`, `file:/path` or a literal (command line convenience)."""
        if text.startswith("env:"):
            return cls(env=text[4:])
        if text.startswith("file:"):
            return cls(file=Path(text[5:]))
        return cls(value=SecretStr(text))

    def reveal(self) -> str:
        if self.value is not None:
            return self.value.get_secret_value()
        if self.env is not None:
            if self.env not in os.environ:
                raise Misconfigured(f"environment variable {self.env} (secret) is not set")
            return os.environ[self.env]
        assert self.file is not None
        try:
            return self.file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise Misconfigured(f"secret file {self.file}: {exc.strerror}") from exc
