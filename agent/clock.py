"""The one place that reads the wall clock (house style 3: time is an argument).

Everything else receives a `Clock`: `now()` is timezone-aware UTC wall time (sample stamps, heartbeats),
`monotonic()` measures durations (probe latency, back-off, heartbeat silence) and never jumps when NTP
steps the wall clock. Tests use `FakeClock`, which moves only when told to.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)  # noqa: TID251 - the one allowed reader of the wall clock

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock for tests: `advance()` moves both readings, `step()` moves only the wall clock (an NTP step)."""

    def __init__(self, start: datetime, monotonic: float = 1000.0) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._mono = monotonic

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go backwards; use step() for a wall-clock step")
        self._now += timedelta(seconds=seconds)
        self._mono += seconds

    def step(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
