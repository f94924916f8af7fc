"""The hall's calendar: public holidays, 调休 working days and special closures.

Weekly opening hours (``OpeningHours``) say when a service is open in an ordinary week; the
calendar says which days are not ordinary. The hall config carries one, and the central
platform may push another (a signed ``calendar`` message, so a city updates every hall at
once); the calendar in effect is the two together (:meth:`HallCalendar.merged`).

Rules, in this order, for a service on a day:

1. a holiday (whole hall) or a closure naming the service or the whole hall: closed;
2. a 调休 working day follows the hours of the weekday it stands for (``as_weekday``,
   Monday by default): the service is open on it if it is open on that weekday, with its
   normal daily periods;
3. any other day: the service's weekly hours.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from agent.config import Service

#: How far ahead the next opening is looked for (a year and a day: every holiday fits).
NEXT_OPENING_DAYS = 366
MAX_SPAN_DAYS = 366


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DaySpan(_Strict):
    """One day or a range of days (both ends included), with a name to show."""

    start: dt.date
    end: dt.date | None = Field(default=None, description="last day; default: start")
    name_zh: str = Field(default="", max_length=40)
    name_en: str = Field(default="", max_length=80)

    @model_validator(mode="after")
    def _ends_after_start(self) -> DaySpan:
        if self.last < self.start:
            raise ValueError(f"{self.start} .. {self.end}: ends before it starts")
        if (self.last - self.start).days >= MAX_SPAN_DAYS:
            raise ValueError(f"{self.start} .. {self.end}: longer than {MAX_SPAN_DAYS} days")
        return self

    @property
    def last(self) -> dt.date:
        return self.end or self.start

    def days(self) -> Iterator[dt.date]:
        day = self.start
        while day <= self.last:
            yield day
            day += dt.timedelta(days=1)


class Closure(DaySpan):
    """A special closing (e.g. a system upgrade): the whole hall, or only some services."""

    services: list[str] = Field(default_factory=list, description="empty: the whole hall")


class WorkingDay(_Strict):
    """A 调休 working day: a weekend day (or any day) worked with a weekday's hours."""

    date: dt.date
    as_weekday: int = Field(default=1, ge=1, le=7, description="whose hours apply; 1=Monday")

    @model_validator(mode="before")
    @classmethod
    def _plain_date(cls, value: Any) -> Any:
        """``- 2026-10-10`` in YAML is short for ``- {date: 2026-10-10}``."""
        if isinstance(value, (dt.date, str)):
            return {"date": value}
        return value


class HallCalendar(_Strict):
    holidays: list[DaySpan] = Field(default_factory=list)
    working_days: list[WorkingDay] = Field(default_factory=list)
    closures: list[Closure] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_day_both_ways(self) -> HallCalendar:
        worked = {w.date for w in self.working_days}
        if len(worked) != len(self.working_days):
            raise ValueError("working_days: a date is listed twice")
        clash = sorted(worked & self._hall_closed.keys())
        if clash:
            raise ValueError(f"{clash[0]} is both a working day and a holiday or hall closure")
        return self

    def merged(self, other: HallCalendar) -> HallCalendar:
        """This calendar and ``other`` together (the hall file's and central's)."""
        if not other.holidays and not other.working_days and not other.closures:
            return self
        worked = {w.date for w in other.working_days}
        return HallCalendar(
            holidays=[*self.holidays, *other.holidays],
            # central's entry for a date wins over the file's
            working_days=[
                *(w for w in self.working_days if w.date not in worked),
                *other.working_days,
            ],
            closures=[*self.closures, *other.closures],
        )

    def service_codes(self) -> set[str]:
        return {code for closure in self.closures for code in closure.services}

    # ---- looking up a day ------------------------------------------------------------------
    @cached_property
    def _hall_closed(self) -> dict[dt.date, DaySpan]:
        spans: Iterable[DaySpan] = [
            *self.holidays,
            *(c for c in self.closures if not c.services),
        ]
        return {day: span for span in spans for day in span.days()}

    @cached_property
    def _service_closed(self) -> dict[tuple[str, dt.date], Closure]:
        return {
            (code, day): closure
            for closure in self.closures
            for code in closure.services
            for day in closure.days()
        }

    @cached_property
    def _working(self) -> dict[dt.date, int]:
        return {w.date: w.as_weekday for w in self.working_days}

    def closed_by(self, service: str, day: dt.date) -> DaySpan | None:
        """The holiday or closure that closes ``service`` on ``day``, if any."""
        return self._hall_closed.get(day) or self._service_closed.get((service, day))

    def weekday(self, day: dt.date) -> int:
        """Whose weekly hours apply on ``day`` (1=Monday): its own, or a working day's."""
        return self._working.get(day) or day.isoweekday()

    def is_open(self, service: Service, local: dt.datetime) -> bool:
        """Is ``service`` open at ``local`` (hall time)? Runs on every ticket issued."""
        day = local.date()
        if self._hall_closed and day in self._hall_closed:
            return False
        if self._service_closed and (service.code, day) in self._service_closed:
            return False
        weekday = self._working.get(day) if self._working else None
        if weekday is not None and weekday != local.isoweekday():
            # The same time on a day of the weekday it stands for: that day's hours.
            local = local + dt.timedelta(days=weekday - local.isoweekday())
        return service.hours.is_open(local)

    def next_opening(
        self, service: Service, now: dt.datetime, days: int = NEXT_OPENING_DAYS
    ) -> dt.datetime | None:
        """When ``service`` opens next (``now`` if it is open); None within ``days`` days."""
        if self.is_open(service, now):
            return now
        today = now.date()
        starts = sorted(start for start, _end in service.hours.spans)
        for offset in range(days + 1):
            day = today + dt.timedelta(days=offset)
            if self.closed_by(service.code, day) or (
                self.weekday(day) not in service.hours.weekdays
            ):
                continue
            for start in starts:
                moment = dt.datetime.combine(day, start, tzinfo=now.tzinfo)
                if moment > now:
                    return moment
        return None
