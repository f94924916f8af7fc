"""Alarms for the hall: thresholds in the hall config become ``AlarmRaised`` and
``AlarmCleared`` events.

The engine asks :func:`alarm_changes` on every ``Tick``: an alarm is raised once when its
condition starts to hold and cleared once when it stops (the raised alarms are part of the
folded state, so nothing repeats every tick, and a replay rebuilds them). A bad rating
raises its alarm with the rating itself and is cleared after ``bad_rating_minutes``.
Alarms belong to their business day: a new day starts with none.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.model import Fact, Ticket, TicketState, WindowStatus, iso, parse_time
from agent.ratings import BAD_LEVELS

if TYPE_CHECKING:
    from agent.config import HallConfig
    from agent.state import HallState

AlarmKind = Literal["waiting_count", "longest_wait", "window_idle", "bad_rating"]
ALL_SERVICES = "*"


class AlarmRules(BaseModel):
    """``alarms:`` in hall.yaml; every threshold is off unless set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    waiting_count: dict[str, int] = Field(
        default_factory=dict,
        description="service code (or '*' for every service) -> alarm at this many waiting",
    )
    longest_wait_minutes: float | None = Field(
        default=None, gt=0, le=1440, description="someone has waited this long since issue"
    )
    idle_window_minutes: float | None = Field(
        default=None, gt=0, le=1440, description="an open window calls nobody while people wait"
    )
    bad_rating_minutes: float | None = Field(
        default=None, gt=0, le=1440, description="a rating of level 1-2 alarms for this long"
    )
    on_display: list[AlarmKind] = Field(
        default_factory=list, description="kinds of alarm the hall display shows too"
    )

    def unknown_services(self, known: set[str]) -> list[str]:
        return sorted(code for code in self.waiting_count if code not in known | {ALL_SERVICES})

    @property
    def any(self) -> bool:
        return bool(
            self.waiting_count
            or self.longest_wait_minutes
            or self.idle_window_minutes
            or self.bad_rating_minutes
        )


def _minutes(since: dt.datetime, now: dt.datetime) -> float:
    return (now - since).total_seconds() / 60


def _oldest_waiting(state: HallState, services: list[str]) -> Ticket | None:
    """The ticket waiting longest (since issue) in any of ``services``."""
    candidates = [state.tickets[t] for t in state.priority_waiting]
    candidates = [t for t in candidates if t.service in services]
    candidates += [
        state.tickets[first] for code in services if (first := state.first_waiting(code))
    ]
    waiting = [t for t in candidates if t.state is TicketState.WAITING]
    return min(waiting, key=lambda t: t.issued_at, default=None)


def holding(config: HallConfig, state: HallState, now: dt.datetime) -> dict[str, dict[str, Any]]:
    """The alarms whose condition holds now (bad ratings aside): key -> details."""
    rules = config.alarms
    found: dict[str, dict[str, Any]] = {}
    for service in config.services:
        code = service.code
        limit = rules.waiting_count.get(code, rules.waiting_count.get(ALL_SERVICES))
        if limit is not None and (waiting := state.waiting_count(code)) >= limit:
            found[f"waiting_count:{code}"] = {
                "kind": "waiting_count",
                "service": code,
                "value": waiting,
                "threshold": limit,
            }
        if rules.longest_wait_minutes is not None:
            oldest = _oldest_waiting(state, [code])
            waited = _minutes(parse_time(oldest.issued_at), now) if oldest else 0.0
            if oldest is not None and waited >= rules.longest_wait_minutes:
                found[f"longest_wait:{code}"] = {
                    "kind": "longest_wait",
                    "service": code,
                    "number": oldest.number,
                    "value": round(waited, 1),
                    "threshold": rules.longest_wait_minutes,
                }
    if rules.idle_window_minutes is not None:
        # In a hall with a staff list, a window nobody is signed in at is closed, not idle.
        staffed = bool(config.staff.members or state.staff_roster)
        for window in config.windows:
            live = state.windows.get(window.number)
            if live is None or live.status is not WindowStatus.OPEN or live.current is not None:
                continue
            if staffed and live.staff is None:
                continue
            oldest = _oldest_waiting(state, window.services)
            if oldest is None:
                continue
            since = parse_time(oldest.issued_at)
            if (free := state.window_free_at.get(window.number)) is not None:
                since = max(since, parse_time(free))
            idle = _minutes(since, now)
            if idle >= rules.idle_window_minutes:
                found[f"window_idle:{window.number}"] = {
                    "kind": "window_idle",
                    "window": window.number,
                    "value": round(idle, 1),
                    "threshold": rules.idle_window_minutes,
                }
    return found


def alarm_changes(config: HallConfig, state: HallState, now: dt.datetime) -> list[Fact]:
    """Clear the raised alarms that no longer hold, raise the new ones."""
    rules = config.alarms
    if not state.alarms and not rules.any:
        return []
    now_text = iso(now)
    held = holding(config, state, now)
    facts = []
    for key, alarm in state.alarms.items():
        if alarm["kind"] == "bad_rating":
            limit = rules.bad_rating_minutes
            ended = limit is None or _minutes(parse_time(alarm["at"]), now) >= limit
        else:
            ended = key not in held
        if ended:
            cleared = {k: alarm.get(k) for k in ("kind", "service", "window")}
            facts.append(Fact("AlarmCleared", {"alarm": key, **cleared, "at": now_text}))
    for key, details in held.items():
        if key not in state.alarms:
            facts.append(Fact("AlarmRaised", {"alarm": key, **details, "at": now_text}))
    return facts


def bad_rating_alarm(
    config: HallConfig, ticket: Ticket, window: int, score: int, now: dt.datetime
) -> list[Fact]:
    """The alarm a rating of level 1-2 raises at its window, when the hall asks for it."""
    if config.alarms.bad_rating_minutes is None or score not in BAD_LEVELS:
        return []
    details = {
        "alarm": f"bad_rating:{ticket.number}",
        "kind": "bad_rating",
        "service": ticket.service,
        "window": window,
        "number": ticket.number,
        "value": score,
        "threshold": BAD_LEVELS[-1],
    }
    return [
        Fact("AlarmRaised", {"alarm": f"bad_rating:{ticket.number}", **details, "at": iso(now)})
    ]
