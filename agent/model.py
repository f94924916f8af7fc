"""Plain data of a hall's queue: tickets, windows, events. No behaviour beyond conversion."""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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

    def as_row(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def as_tuple(self) -> tuple[Any, ...]:
        return _window_values(self)


WINDOW_FIELDS = tuple(f.name for f in dataclasses.fields(WindowState))
_window_values = operator.attrgetter(*WINDOW_FIELDS)


@dataclass(frozen=True)
class Event:
    """A fact appended to the log; ``(node_id, seq)`` is unique and seq only grows per node."""

    node_id: str
    seq: int
    type: str
    business_date: str
    at: str  # hall clock: never goes backwards
    wall_time: str  # the machine's clock when it happened, for offset analysis
    payload: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Fact:
    """An event before the store has given it a seq."""

    type: str
    payload: dict[str, Any]


_last_iso: tuple[dt.datetime | None, str] = (None, "")


def iso(moment: dt.datetime) -> str:
    """ISO 8601 with microseconds. A command formats its moment several times (event time,
    payload times, business date) and ``isoformat`` costs microseconds, so the last result
    is kept; the kept datetime stays referenced, so an identity match cannot be a new object."""
    global _last_iso
    last, text = _last_iso
    if moment is not last:
        text = moment.isoformat(timespec="microseconds")
        _last_iso = (moment, text)
    return text


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)
