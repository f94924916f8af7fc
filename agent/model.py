"""Plain data of a hall's queue: tickets, windows, events. No behaviour beyond conversion."""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple


class TicketState(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    TRANSFERRED = "transferred"
    CANCELLED = "cancelled"


#: States a ticket never leaves (except no-show, which a late citizen can reactivate).
FINAL_STATES = frozenset({TicketState.DONE, TicketState.CANCELLED, TicketState.TRANSFERRED})


class Priority(StrEnum):
    NONE = "none"
    APPOINTMENT = "appointment"
    ELDERLY = "elderly"
    STAFF = "staff"


class WindowStatus(StrEnum):
    OPEN = "open"
    PAUSED = "paused"


@dataclass
class Ticket:
    """One ticket leg: a number for one service.

    A transfer ends this leg as ``transferred`` and opens a new leg with the same number in
    the next service (one ticket for the whole visit), keeping the original issue time.
    """

    id: str
    number: str
    service: str
    business_date: str
    issued_at: str
    state: TicketState = TicketState.WAITING
    priority: Priority = Priority.NONE
    leg: int = 1
    previous_id: str | None = None
    appointment_code: str | None = None
    slot_start: str | None = None
    slot_end: str | None = None
    citizen_hash: str | None = None
    citizen_name: str | None = None  # masked, e.g. 张*
    channel: str = "button"
    window: int | None = None
    called_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    recalls: int = 0
    call_index: int = 0
    no_show_call_index: int | None = None
    score: int | None = None
    # (later columns: the tickets table gains them at the end, in this order)
    bundle: str | None = None  # a "one thing" bundle's code
    bundle_leg: int | None = None  # which of the bundle's services, from 1
    assist: str | None = None  # assisted (帮办) | proxy (代办)
    assist_staff: str | None = None  # the assisting staff member's id

    def as_row(self) -> dict[str, Any]:
        return dict(zip(TICKET_FIELDS, self.as_tuple(), strict=True))

    def as_tuple(self) -> tuple[Any, ...]:
        return _ticket_values(self)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Ticket:
        """From a stored row or an event payload (which may leave out default fields)."""
        ticket = cls(**row)
        ticket.state = _STATES[ticket.state]
        ticket.priority = _PRIORITIES[ticket.priority]
        return ticket


TICKET_FIELDS = tuple(f.name for f in dataclasses.fields(Ticket))
# By value (a dict hit; calling the enum class costs a microsecond on the command path).
_STATES = {s.value: s for s in TicketState}
_PRIORITIES = {p.value: p for p in Priority}
_ticket_values = operator.attrgetter(*TICKET_FIELDS)


@dataclass
class WindowState:
    number: int
    business_date: str
    status: WindowStatus = WindowStatus.OPEN
    current: str | None = None  # ticket id called or being served here
    last_finished: str | None = None  # for the evaluation after finishing
    staff: str | None = None  # the member of staff signed in here (工号)
    pause_reason: str | None = None  # while paused: a code of hall.yaml staff.pause_reasons

    def as_row(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def as_tuple(self) -> tuple[Any, ...]:
        return _window_values(self)


WINDOW_FIELDS = tuple(f.name for f in dataclasses.fields(WindowState))
_window_values = operator.attrgetter(*WINDOW_FIELDS)


class Event(NamedTuple):
    """A fact appended to the log; ``(node_id, seq)`` is unique and seq only grows per node.

    (Named tuples, like Fact: immutable, and built several times per command for a fraction
    of a frozen dataclass's cost.)"""

    node_id: str
    seq: int
    type: str
    business_date: str
    at: str  # hall clock: never goes backwards
    wall_time: str  # the machine's clock when it happened, for offset analysis
    payload: dict[str, Any]
    chain: str = ""  # "<algorithm>:<hex>" linking it to the event before (agent/chain.py)

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


class Fact(NamedTuple):
    """An event before the store has given it a seq."""

    type: str
    payload: dict[str, Any]


_last_iso: tuple[dt.datetime | None, str] = (None, "")
_PAIRS = tuple(f"{i:02d}" for i in range(100))
# (year, month, day, utc offset) -> ("YYYY-MM-DDT", "+HH:MM"): what isoformat would write
_DAY_PARTS: dict[tuple[int, int, int, dt.timedelta | None], tuple[str, str]] = {}


def iso(moment: dt.datetime) -> str:
    """``moment.isoformat(timespec="microseconds")``, cheaply: it runs a few times per command.

    CPython formats datetimes printf-style (~17,000 instructions a call); here the date and
    the offset come from a small table filled by isoformat itself, the time from two-digit
    strings. The last result is also kept: a command formats one moment several times (the
    kept datetime stays referenced, so an identity match cannot be a new object).
    """
    global _last_iso
    last, text = _last_iso
    if moment is last:
        return text
    key = (moment.year, moment.month, moment.day, moment.utcoffset())
    parts = _DAY_PARTS.get(key)
    if parts is None:
        if len(_DAY_PARTS) > 256:
            _DAY_PARTS.clear()
        full = moment.isoformat(timespec="microseconds")
        parts = _DAY_PARTS[key] = (full[:11], full[26:])
    us, p = moment.microsecond, _PAIRS
    text = (
        f"{parts[0]}{p[moment.hour]}:{p[moment.minute]}:{p[moment.second]}"
        f".{p[us // 10000]}{p[us // 100 % 100]}{p[us % 100]}{parts[1]}"
    )
    _last_iso = (moment, text)
    return text


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)
