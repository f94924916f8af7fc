"""The hall clock's trust in the machine's clock: a jump is noticed, not written into the log.

Two clocks are read: the wall clock (which a CMOS battery, an operator or a bad NTP server
can set anywhere) and the monotonic clock (which only counts the seconds this process has
run). The rules (docs/operator.md, "The hall clock"):

- While running, the wall clock must move as the monotonic clock does, within
  ``step_tolerance``. A step beyond it, forwards or backwards, is *suspected*: the hall keeps
  time by the monotonic clock from the last trusted reading, and an alarm is logged once.
  When the wall clock comes back into line, it is trusted again by itself.
- At start there is no monotonic reference: a wall clock more than ``max_gap`` past the
  last event, or behind it by more than ``step_tolerance``, is suspected, and no command may
  open a business day until the operator confirms or corrects the clock, or central's time
  does (``ConfirmClock``). A PC switched off for a week's holiday (less than ``max_gap``)
  starts on the right day by itself.
- A confirmed reading (the operator's, or central's clock offset) is trusted; with an offset
  from central the hall keeps central's time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MAX_GAP = dt.timedelta(days=16)
DEFAULT_STEP_TOLERANCE = dt.timedelta(seconds=120)


@dataclass(frozen=True)
class Suspicion:
    """Why the wall clock is not trusted now: ``jump`` (while running) or ``start``."""

    kind: str
    wall: dt.datetime
    reference: dt.datetime | None  # what the hall believes (None: nothing to go by)

    def describe(self) -> str:
        if self.reference is None:
            return f"the machine's clock reads {self.wall.isoformat()}"
        step = (self.wall - self.reference).total_seconds()
        where = "ahead of" if step > 0 else "behind"
        return (
            f"the machine's clock reads {self.wall.isoformat()}, {abs(step):.0f} s {where} "
            f"the hall clock ({self.reference.isoformat()})"
        )


class HallClock:
    """``monotonic`` None: the wall clock given to :meth:`read` is taken as the true passage
    of time (a simulation, a test moving time by hand): only the start rule applies."""

    def __init__(
        self,
        monotonic: Callable[[], float] | None,
        max_gap: dt.timedelta = DEFAULT_MAX_GAP,
        step_tolerance: dt.timedelta = DEFAULT_STEP_TOLERANCE,
    ) -> None:
        self.monotonic = monotonic
        self.max_gap = max_gap
        self.step_tolerance = step_tolerance
        self._tolerance_s = step_tolerance.total_seconds()
        self.offset = dt.timedelta(0)  # central's clock minus the wall clock, once confirmed
        #: the wall clock when it was last confirmed: a clock behind the log is trusted at
        #: start if it was confirmed so (and has moved forward since, by less than max_gap)
        self.confirmed_wall: dt.datetime | None = None
        self._anchor: tuple[dt.datetime, float] | None = None  # a trusted time, its monotonic

    def read(
        self, wall: dt.datetime, last_at: dt.datetime | None
    ) -> tuple[dt.datetime, Suspicion | None]:
        """The hall's time now, and why the wall clock is suspected (None: it is trusted)."""
        # (plain float seconds and no helper calls: this runs on every command)
        mono = wall.timestamp() if self.monotonic is None else self.monotonic()
        corrected = wall + self.offset if self.offset else wall
        if self._anchor is not None:
            anchor, anchor_mono = self._anchor
            elapsed = mono - anchor_mono
            step = (corrected - anchor).total_seconds() - elapsed
            if -self._tolerance_s <= step <= self._tolerance_s:
                self._anchor = (corrected, mono)
                return corrected, None
            expected = anchor + dt.timedelta(seconds=elapsed)
            return expected, Suspicion("jump", corrected, expected)
        confirmed = self.confirmed_wall
        behind_confirmed = confirmed is not None and (
            dt.timedelta(0) <= wall - confirmed <= self.max_gap
        )
        if last_at is not None and (
            corrected - last_at > self.max_gap
            or (last_at - corrected > self.step_tolerance and not behind_confirmed)
        ):
            return last_at, Suspicion("start", corrected, last_at)
        self._anchor = (corrected, mono)
        return corrected, None

    def confirm(self, wall: dt.datetime, reference: dt.datetime | None = None) -> None:
        """Trust this reading: the wall clock, or ``reference`` (central's time) for it."""
        if reference is not None:
            self.offset = reference - wall
        self.confirmed_wall = wall
        self._anchor = (wall + self.offset, self._mono(wall))

    def _mono(self, wall: dt.datetime) -> float:
        return wall.timestamp() if self.monotonic is None else self.monotonic()
