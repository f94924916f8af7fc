"""Taking back a business day opened by a wrong clock (docs/operator.md, "The hall clock").

A clock a few days ahead at start (within ``clock.max_gap_days``, no central to say
otherwise) opens that future day. When the operator then gives the right time, the store
appends one ``BusinessDayCorrected`` event, dated the real day, that holds everything the
real day's queue needs from before it: the log is not rewritten, and the real day's fold
starts at this event.

- The wrongly dated tickets move to the real day: ids ``<real day>/<number>/<leg>``, their
  times moved back by the clock's error; those still waiting, called or being served wait
  again in their issue order.
- The real day's own tickets from before the wrong day opened come back too (those still
  open wait again), so the real day's queue knows every number it gave out.
- Numbers stay unique within a service and day: each service's counter carries the larger of
  the two days' counters, and a wrongly dated number the real day had already given out gets
  the next number of its service (``renumbered``, printed for the staff to call out).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from agent.config import HallConfig
from agent.model import Fact, Ticket, TicketState, iso, parse_time
from agent.state import HallState

OPEN_STATES = (TicketState.WAITING, TicketState.CALLED, TicketState.SERVING)


def day_correction(
    config: HallConfig, real: HallState, wrong: HallState, shift: dt.timedelta, at: str
) -> Fact:
    """The ``BusinessDayCorrected`` fact: ``real`` is the real day folded up to the wrong
    day's start, ``wrong`` the wrong day now; ``shift`` (negative) moves its times back."""
    counters = {
        code: max(real.counters.get(code, 0), wrong.counters.get(code, 0))
        for code in {*real.counters, *wrong.counters}
    }
    renumbered = _renumber(config, real, wrong, counters)
    new_ids: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    for ticket in wrong.tickets.values():  # (issue order: dicts keep insertion order)
        number = renumbered.get(ticket.number, ticket.number)
        new_ids[ticket.id] = f"{real.business_date}/{number}/{ticket.leg}"
    for ticket in wrong.tickets.values():
        moved = Ticket.from_row(ticket.as_row())
        moved.id = new_ids[ticket.id]
        moved.number = renumbered.get(ticket.number, ticket.number)
        moved.business_date = real.business_date
        if ticket.previous_id is not None:
            moved.previous_id = new_ids.get(ticket.previous_id, ticket.previous_id)
        moved.issued_at = iso(parse_time(ticket.issued_at) + shift)
        moved.called_at = _moved(ticket.called_at, shift)
        moved.started_at = _moved(ticket.started_at, shift)
        moved.finished_at = _moved(ticket.finished_at, shift)
        rows.append(_reopened(moved).as_row())
    rows += [_reopened(Ticket.from_row(t.as_row())).as_row() for t in real.tickets.values()]
    issued = [[key[0], key[1], count] for key, count in sorted(real.citizen_issued.items())]
    payload = {
        "from_date": wrong.business_date,
        "to_date": real.business_date,
        "shift_s": round(shift.total_seconds(), 3),
        "counters": dict(sorted(counters.items())),
        "renumbered": renumbered,
        "ids": new_ids,
        "tickets": rows,
        "citizen_issued": issued,
        "at": at,
    }
    return Fact("BusinessDayCorrected", payload)


def _renumber(
    config: HallConfig, real: HallState, wrong: HallState, counters: dict[str, int]
) -> dict[str, str]:
    """Wrongly dated numbers the real day already gave out: the next number of their
    service each (``counters`` moves on)."""
    renumbered: dict[str, str] = {}
    for ticket in wrong.tickets.values():
        if ticket.leg != 1 or ticket.number not in real.by_number:
            continue
        service = config.service(ticket.service)
        prefix = service.prefix if service is not None else ticket.number.rstrip("0123456789")
        counters[ticket.service] = counters.get(ticket.service, 0) + 1
        renumbered[ticket.number] = f"{prefix}{counters[ticket.service]:03d}"
    return renumbered


def _reopened(ticket: Ticket) -> Ticket:
    """A ticket left open by the correction waits again (its window has moved on)."""
    if ticket.state in OPEN_STATES:
        ticket.state = TicketState.WAITING
        ticket.window = None
        ticket.called_at = ticket.started_at = None
        ticket.recalls = 0
    return ticket


def _moved(moment: str | None, shift: dt.timedelta) -> str | None:
    return None if moment is None else iso(parse_time(moment) + shift)
