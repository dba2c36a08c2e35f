"""The three calendars of the contract, never merged (sla-semantics §1), in Europe/Paris with DST.

- coverage: Monday–Friday 09:00–17:00, not a holiday — STD art. 4.1.1 "période de couverture du Service
  du lundi ou vendredi [read: au vendredi], de 9 heures à 17 heures (hors jours fériés …)".
- heures ouvrées (HO): 08:30–17:30 on Jours Ouvrés — CGV art. 2 and CP preamble "Heures Ouvrées";
  used by the 6 h / 72 h clocks and by VGA GTR/GTD (VGA art. 5.2, 5.3).
- wall clock: 24 h a day, every day — VGA art. 5.2 "GTR 24h/24, 7j/7".

Jour Ouvré (CGV art. 2): "Tout jour à l'exception du samedi, du dimanche et de tout autre jour férié ou
chômé en France métropolitaine": the 11 national holidays from `holidays`, plus the Alsace-Moselle days
when a subdivision is set (policy `holidays_subdivision`) and operator-added closed days ("chômé",
policy `extra_closed_days`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sla.intervals import Interval, IntervalSet

PARIS = ZoneInfo("Europe/Paris")


class Clock(enum.StrEnum):
    """Which calendar a measure runs on."""

    COVERAGE = "coverage"
    BUSINESS_HOURS = "business_hours"
    WALL_CLOCK = "wall_clock"


# Daily windows in Paris wall-clock time, per calendar.
_DAILY_WINDOW: dict[Clock, tuple[time, time]] = {
    Clock.COVERAGE: (time(9, 0), time(17, 0)),  # STD art. 4.1.1
    Clock.BUSINESS_HOURS: (time(8, 30), time(17, 30)),  # CGV art. 2 "Heures Ouvrées"
}


@dataclass(frozen=True)
class HolidayCalendar:
    """Which days are not Jours Ouvrés."""

    subdivision: str | None = None
    extra_closed_days: frozenset[date] = field(default_factory=frozenset)

    def is_jour_ouvre(self, day: date) -> bool:
        """CGV art. 2: not Saturday, not Sunday, not a holiday or closed day."""
        if day.weekday() >= 5 or day in self.extra_closed_days:
            return False
        return day not in _french_holidays(self.subdivision, day.year)

    def holiday_name(self, day: date) -> str | None:
        name = _french_holidays(self.subdivision, day.year).get(day)
        if name is None and day in self.extra_closed_days:
            return "jour chômé"
        return name

    def nth_jour_ouvre_after(self, day: date, n: int) -> date:
        """The n-th Jour Ouvré strictly after `day`."""
        count = 0
        while count < n:
            day += timedelta(days=1)
            if self.is_jour_ouvre(day):
                count += 1
        return day


@lru_cache(maxsize=256)
def _french_holidays(subdivision: str | None, year: int) -> dict[date, str]:
    # sla-semantics §1: the 11 national public holidays; subdivision 57 / 6AE adds Good Friday and 26 Dec.
    import holidays  # imported when first needed: ~4 MB resident that an edge agent never uses

    return dict(holidays.country_holidays("FR", subdiv=subdivision, years=year, language="fr").items())


def check_subdivision(subdivision: str) -> None:
    """Raises ValueError naming the valid subdivisions when `holidays` does not know this one."""
    import holidays

    valid = holidays.list_supported_countries()["FR"]
    if subdivision not in valid:
        raise ValueError(f"unknown French holiday subdivision {subdivision!r}; expected one of {', '.join(valid)}")


def epoch(moment: datetime) -> int:
    """Integer seconds since the epoch of a timezone-aware datetime (naive datetimes are refused)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no UTC offset")
    return int(moment.timestamp())


def local_midnight(day: date) -> int:
    """The start of a Paris calendar day, in epoch seconds (DST-aware)."""
    return epoch(datetime.combine(day, time(0, 0), tzinfo=PARIS))


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=PARIS)


def local_date(seconds: int) -> date:
    return from_epoch(seconds).date()


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in Europe/Paris ("mois calendaire", STD 4.1.2)."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        try:
            year, month = (int(part) for part in text.split("-"))
            first = date(year, month, 1)
        except ValueError:
            raise ValueError(f"{text!r} is not a month; expected YYYY-MM") from None
        return cls(first.year, first.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @property
    def start(self) -> int:
        return local_midnight(self.first_day)

    @property
    def end(self) -> int:
        return local_midnight(self.next().first_day)


def windows(clock: Clock, start: int, end: int, calendar: HolidayCalendar) -> IntervalSet:
    """The calendar's open time inside `[start, end)`, as an interval set (a fresh list: callers may keep it)."""
    if end <= start:
        return []
    if clock is Clock.WALL_CLOCK:
        return [(start, end)]
    return list(_windows(clock, start, end, calendar))


@lru_cache(maxsize=1024)
def _windows(clock: Clock, start: int, end: int, calendar: HolidayCalendar) -> tuple[Interval, ...]:
    # Cached: every service instance of a month asks for the same month's coverage and HO windows.
    out: IntervalSet = []
    day = local_date(start) - timedelta(days=1)
    last = local_date(end - 1)
    while day <= last:
        for ws, we in _day_window(clock, day, calendar):
            s, e = max(ws, start), min(we, end)
            if s < e:
                out.append((s, e))
        day += timedelta(days=1)
    return tuple(out)


@lru_cache(maxsize=8192)
def _day_window(clock: Clock, day: date, calendar: HolidayCalendar) -> tuple[tuple[int, int], ...]:
    if not calendar.is_jour_ouvre(day):
        return ()
    opens, closes = _DAILY_WINDOW[clock]
    return (
        (
            epoch(datetime.combine(day, opens, tzinfo=PARIS)),
            epoch(datetime.combine(day, closes, tzinfo=PARIS)),
        ),
    )
