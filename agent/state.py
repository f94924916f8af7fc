"""The queue state of one business day, built only by folding events.

``HallState.apply`` is the single place where an event changes state; the store writes its
tables from the state after each apply, and replaying the log through the same function
rebuilds the same tables (invariant 4).
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Collection
from typing import NamedTuple

from agent.model import Event, Priority, Ticket, TicketState, WindowState, WindowStatus, parse_time

ROLLING_SERVICE_TIMES = 20

#: Events whose effect outlives their business day (folded from the whole log on reload).
STICKY_EVENTS = (
    "DeviceStatusChanged",
    "AppointmentsLoaded",
    "NoticePublished",
    "HallConfigApplied",
    "CalendarApplied",
    "StaffRosterLoaded",
)


class Touched(NamedTuple):
    """What an event changed, so the store rewrites just those rows."""

    tickets: Collection[str] = ()
    windows: Collection[int] = ()
    evaluation: str | None = None
    device: str | None = None
    appointments: Collection[str] = ()


class HallState:
    def __init__(self, business_date: str, windows: list[int]) -> None:
        self.business_date = business_date
        self.window_numbers = list(windows)
        self.tickets: dict[str, Ticket] = {}
        self.by_number: dict[str, str] = {}  # number -> id of its latest leg
        self.windows = {n: WindowState(n, business_date) for n in windows}
        self.counters: dict[str, int] = {}  # service -> last number issued today
        self.calls = 0  # calls made today (recalls excluded)
        # waiting tickets without priority, per service, ordered by (issued_at, number)
        self._waiting: dict[str, list[tuple[str, str, str]]] = {}
        self.priority_waiting: set[str] = set()
        self.citizen_issued: dict[tuple[str, str], int] = {}  # (hash, service) -> count today
        # (hash, service) -> ids of that citizen's waiting tickets there (one, but for transfers)
        self.citizen_waiting: dict[tuple[str, str], set[str]] = {}
        self.service_times: dict[str, deque[float]] = {}
        self.window_free_at: dict[int, str] = {}  # when each window last became free today
        self.alarms: dict[str, dict] = {}  # raised and not cleared: alarm key -> AlarmRaised
        self.rating_cases: dict[str, str] = {}  # ticket id -> 办件编号 its rating will carry
        # sticky: survive the start of a new business day
        self.devices: dict[str, tuple[str, str | None]] = {}
        self.device_since: dict[str, str] = {}  # device -> hall time of its last change
        self.device_where: dict[str, dict] = {}  # device -> {"kind", "window"} when reported
        # device -> its last DeviceProfileApplied (profile, version, outcome, reason, at);
        # carried to the next day, but not sticky: a restart on a later day starts empty
        self.device_profiles: dict[str, dict] = {}
        self.appointments: dict[str, dict] = {}  # code -> roster entry + "ticket_id"
        self.notices: dict[str, dict] = {}
        self.config_version = 0
        self.config_payload: dict | None = None
        self.calendar_version = 0
        self.calendar_payload: dict | None = None  # the calendar pushed by central
        self.staff_roster_version = 0
        self.staff_roster: dict[str, dict] = {}  # staff id -> {id, name, windows} from central
        self.last_called: list[str] = []  # ticket ids, most recent last
        self.near_turn: set[str] = set()  # ids of today's tickets told their turn is near

    # ---- reading -------------------------------------------------------------------------
    def waiting_in(self, service: str) -> list[str]:
        """Ids of non-priority waiting tickets of a service, in issue order."""
        return [entry[2] for entry in self._waiting.get(service, [])]

    def first_waiting(self, service: str) -> str | None:
        entries = self._waiting.get(service)
        return entries[0][2] if entries else None

    def waiting_count(self, service: str) -> int:
        priority = sum(1 for t in self.priority_waiting if self.tickets[t].service == service)
        return len(self._waiting.get(service, [])) + priority

    def people_ahead(self, ticket: Ticket) -> int:
        """Waiting tickets of the same service that will be called before this one (a
        ticket with priority is next: 0). Central computes a phone's progress with it too."""
        if ticket.state is not TicketState.WAITING or ticket.priority is not Priority.NONE:
            return 0
        ahead = sum(1 for t in self.priority_waiting if self.tickets[t].service == ticket.service)
        for ticket_id in self.waiting_in(ticket.service):
            if ticket_id == ticket.id:
                break
            ahead += 1
        return ahead

    def ticket_by_number(self, number: str) -> Ticket | None:
        ticket_id = self.by_number.get(number)
        return self.tickets[ticket_id] if ticket_id else None

    def average_service_minutes(self, service: str) -> float | None:
        times = self.service_times.get(service)
        return sum(times) / len(times) / 60 if times else None

    # ---- folding -------------------------------------------------------------------------
    def apply(self, event: Event) -> Touched:
        if event.business_date > self.business_date and event.type not in STICKY_EVENTS:
            self.start_day(event.business_date)
        handler = _HANDLERS.get(event.type)
        if handler is None:
            return Touched()  # events for other parts (e.g. config applied) leave the queue alone
        touched: Touched = handler(self, event.payload)
        return touched

    def start_day(self, business_date: str) -> None:
        """A new business day: the queue starts empty; sticky facts (devices, appointment
        rosters, notices, the applied config) carry over."""
        fresh = HallState(business_date, self.window_numbers)
        for sticky in (
            "devices",
            "device_since",
            "device_where",
            "device_profiles",
            "notices",
            "config_version",
            "config_payload",
            "calendar_version",
            "calendar_payload",
            "staff_roster_version",
            "staff_roster",
        ):
            setattr(fresh, sticky, getattr(self, sticky))
        # A check-in's ticket belongs to its day: the roster carries over without it (as a
        # fold of the log sees it: only today's TicketIssued events are folded).
        fresh.appointments = {
            code: {**entry, "ticket_id": None} for code, entry in self.appointments.items()
        }
        self.__dict__.update(fresh.__dict__)

    def _add_waiting(self, ticket: Ticket) -> None:
        if ticket.citizen_hash:
            key = (ticket.citizen_hash, ticket.service)
            self.citizen_waiting.setdefault(key, set()).add(ticket.id)
        if ticket.priority is not Priority.NONE:
            self.priority_waiting.add(ticket.id)
        else:
            entries = self._waiting.setdefault(ticket.service, [])
            bisect.insort(entries, (ticket.issued_at, ticket.number, ticket.id))

    def _remove_waiting(self, ticket: Ticket) -> None:
        if ticket.citizen_hash:
            citizen = (ticket.citizen_hash, ticket.service)
            held = self.citizen_waiting.get(citizen, set())
            held.discard(ticket.id)
            if not held:
                self.citizen_waiting.pop(citizen, None)
        if ticket.id in self.priority_waiting:
            self.priority_waiting.discard(ticket.id)
            return
        entries = self._waiting.get(ticket.service, [])
        key = (ticket.issued_at, ticket.number, ticket.id)
        index = bisect.bisect_left(entries, key)
        if index < len(entries) and entries[index] == key:
            del entries[index]

    def _on_TicketIssued(self, p: dict) -> Touched:
        ticket = Ticket.from_row(p["ticket"])
        self.tickets[ticket.id] = ticket
        self.by_number[ticket.number] = ticket.id
        self.counters[ticket.service] = p["counter"]
        if ticket.citizen_hash:
            key = (ticket.citizen_hash, ticket.service)
            self.citizen_issued[key] = self.citizen_issued.get(key, 0) + 1
        self._add_waiting(ticket)
        if ticket.appointment_code in self.appointments:
            self.appointments[ticket.appointment_code]["ticket_id"] = ticket.id
            return Touched(tickets=(ticket.id,), appointments=(ticket.appointment_code,))
        return Touched(tickets=(ticket.id,))

    def _on_TicketCalled(self, p: dict) -> Touched:
        ticket = self.tickets[p["ticket_id"]]
        if ticket.state is TicketState.WAITING:
            self._remove_waiting(ticket)
        self.calls += 1
        ticket.state = TicketState.CALLED
        ticket.window = p["window"]
        ticket.called_at = p["at"]
        ticket.recalls = 0
        ticket.call_index = self.calls
        self.windows[p["window"]].current = ticket.id
        self.last_called.append(ticket.id)
        del self.last_called[:-20]
        return Touched(tickets=(ticket.id,), windows=(p["window"],))

    def _on_TicketRecalled(self, p: dict) -> Touched:
        ticket = self.tickets[p["ticket_id"]]
        ticket.recalls += 1
        ticket.called_at = p["at"]
        self.last_called.append(ticket.id)
        del self.last_called[:-20]
        return Touched(tickets=(ticket.id,))

    def _on_TicketNoShow(self, p: dict) -> Touched:
        ticket = self.tickets[p["ticket_id"]]
        ticket.state = TicketState.NO_SHOW
        ticket.no_show_call_index = self.calls
        window = self.windows[ticket.window] if ticket.window else None
        if window and window.current == ticket.id:
            window.current = None
            self.window_free_at[window.number] = p["at"]
        return Touched(tickets=(ticket.id,), windows=(window.number,) if window else ())

    def _on_ServiceStarted(self, p: dict) -> Touched:
        ticket = self.tickets[p["ticket_id"]]
        ticket.state = TicketState.SERVING
        ticket.started_at = p["at"]
        return Touched(tickets=(ticket.id,))

    def _on_ServiceFinished(self, p: dict) -> Touched:
        ticket = self.tickets[p["ticket_id"]]
        ticket.state = TicketState.DONE
        ticket.finished_at = p["at"]
        if ticket.started_at:
            seconds = (parse_time(p["at"]) - parse_time(ticket.started_at)).total_seconds()
            times = self.service_times.setdefault(
                ticket.service, deque(maxlen=ROLLING_SERVICE_TIMES)
            )
            times.append(max(0.0, seconds))
        window = self.windows[p["window"]]
        window.current = None
        window.last_finished = ticket.id
        self.window_free_at[window.number] = p["at"]
        return Touched(tickets=(ticket.id,), windows=(window.number,))

    def _on_TicketTransferred(self, p: dict) -> Touched:
        old = self.tickets[p["ticket_id"]]
        old.state = TicketState.TRANSFERRED
        old.finished_at = p["at"]
        # A transfer in a bundle is a detour: the leg it was on carries on elsewhere.
        new = self._new_leg(old, p, "transfer", old.bundle_leg)
        window = self.windows[p["window"]]
        window.current = None
        self.window_free_at[window.number] = p["at"]
        return Touched(tickets=(old.id, new.id), windows=(window.number,))

    def _on_BundleLegQueued(self, p: dict) -> Touched:
        """A bundle leg was finished (ServiceFinished just before): on to the next service."""
        old = self.tickets[p["ticket_id"]]
        assert old.bundle_leg is not None
        new = self._new_leg(old, p, "bundle", old.bundle_leg + 1)
        return Touched(tickets=(new.id,))

    def _new_leg(self, old: Ticket, p: dict, channel: str, bundle_leg: int | None) -> Ticket:
        """The same number waiting in ``p["to_service"]``, with the original issue time."""
        new = Ticket(
            id=p["new_ticket_id"],
            number=old.number,
            service=p["to_service"],
            business_date=old.business_date,
            issued_at=old.issued_at,
            priority=old.priority,
            leg=old.leg + 1,
            previous_id=old.id,
            appointment_code=old.appointment_code,
            slot_start=old.slot_start,
            slot_end=old.slot_end,
            citizen_hash=old.citizen_hash,
            citizen_name=old.citizen_name,
            channel=channel,
            bundle=old.bundle,
            bundle_leg=bundle_leg,
        )
        self.tickets[new.id] = new
        self.by_number[new.number] = new.id
        self._add_waiting(new)
        return new

    def _on_TicketAssisted(self, p: dict) -> Touched:
        ticket = self.tickets[p["ticket_id"]]
        ticket.assist = p["mode"]
        ticket.assist_staff = p["assist_staff"]
        return Touched(tickets=(ticket.id,))

    def _on_TicketReactivated(self, p: dict) -> Touched:
        ticket = self.tickets[p["ticket_id"]]
        ticket.state = TicketState.WAITING
        ticket.window = None
        ticket.no_show_call_index = None
        self._add_waiting(ticket)
        return Touched(tickets=(ticket.id,))

    def _on_TicketNearTurn(self, p: dict) -> Touched:
        self.near_turn.add(p["ticket_id"])
        return Touched()

    def _on_TicketCancelled(self, p: dict) -> Touched:
        ticket = self.tickets[p["ticket_id"]]
        if ticket.state is TicketState.WAITING:
            self._remove_waiting(ticket)
        ticket.state = TicketState.CANCELLED
        return Touched(tickets=(ticket.id,))

    def _on_WindowPaused(self, p: dict) -> Touched:
        window = self.windows[p["window"]]
        window.status = WindowStatus.PAUSED
        window.pause_reason = p.get("reason")  # (pauses logged before reasons carry none)
        return Touched(windows=(p["window"],))

    def _on_WindowResumed(self, p: dict) -> Touched:
        window = self.windows[p["window"]]
        window.status = WindowStatus.OPEN
        window.pause_reason = None
        self.window_free_at[p["window"]] = p["at"]
        return Touched(windows=(p["window"],))

    def _on_StaffSignedIn(self, p: dict) -> Touched:
        self.windows[p["window"]].staff = p["staff_id"]
        self.window_free_at[p["window"]] = p["at"]
        return Touched(windows=(p["window"],))

    def _on_StaffSignedOut(self, p: dict) -> Touched:
        """Nobody at the window: it cannot call, and the next one to sign in finds it open."""
        window = self.windows[p["window"]]
        window.staff = None
        window.status = WindowStatus.OPEN
        window.pause_reason = None
        return Touched(windows=(p["window"],))

    def _on_StaffRosterLoaded(self, p: dict) -> Touched:
        self.staff_roster_version = p["version"]
        self.staff_roster = {m["id"]: dict(m) for m in p["members"]}
        return Touched()

    def _on_EvaluationRecorded(self, p: dict) -> Touched:
        ticket = self.tickets[p["ticket_id"]]
        ticket.score = p["score"]
        return Touched(tickets=(ticket.id,), evaluation=ticket.id)

    def _on_RatingRequested(self, p: dict) -> Touched:
        self.rating_cases[p["ticket_id"]] = p["case"]
        return Touched()

    def _on_AlarmRaised(self, p: dict) -> Touched:
        self.alarms[p["alarm"]] = dict(p)
        return Touched()

    def _on_AlarmCleared(self, p: dict) -> Touched:
        self.alarms.pop(p["alarm"], None)
        return Touched()

    def _on_DeviceStatusChanged(self, p: dict) -> Touched:
        self.devices[p["device"]] = (p["status"], p.get("reason"))
        if p.get("at"):
            self.device_since[p["device"]] = p["at"]
        if p.get("kind"):  # events before kind/window were carried have neither
            self.device_where[p["device"]] = {"kind": p["kind"], "window": p.get("window")}
        return Touched(device=p["device"])

    def _on_DeviceProfileApplied(self, p: dict) -> Touched:
        self.device_profiles[p["device"]] = {k: v for k, v in p.items() if k != "device"}
        return Touched()

    def _on_AppointmentsLoaded(self, p: dict) -> Touched:
        loaded = []
        for entry in p["entries"]:
            known = self.appointments.get(entry["code"])
            if known is None or known.get("ticket_id") is None:
                self.appointments[entry["code"]] = {**entry, "ticket_id": None}
                loaded.append(entry["code"])
        return Touched(appointments=loaded)

    def _on_NumberingResumed(self, p: dict) -> Touched:
        for service, counter in p["counters"].items():
            self.counters[service] = max(self.counters.get(service, 0), counter)
        return Touched()

    def _on_BusinessDayCorrected(self, p: dict) -> Touched:
        """Back to the real day (agent/daycorrection.py): the day starts again from what the
        event carries; the wrongly dated events before it are not folded into it."""
        self.start_day(p["to_date"])
        self.counters.update(p["counters"])
        for hashed, service, count in p["citizen_issued"]:
            self.citizen_issued[(hashed, service)] = count
        appointments = []
        for row in p["tickets"]:
            ticket = Ticket.from_row(row)
            self.tickets[ticket.id] = ticket
            self.by_number[ticket.number] = ticket.id
            if ticket.state is TicketState.WAITING:
                self._add_waiting(ticket)
            if ticket.appointment_code in self.appointments:
                self.appointments[ticket.appointment_code]["ticket_id"] = ticket.id
                appointments.append(ticket.appointment_code)
        return Touched(
            tickets=list(self.tickets), windows=list(self.windows), appointments=appointments
        )

    def _on_NoticePublished(self, p: dict) -> Touched:
        self.notices[p["notice_id"]] = dict(p)
        return Touched()

    def _on_CalendarApplied(self, p: dict) -> Touched:
        self.calendar_version = p["version"]
        self.calendar_payload = p["calendar"]
        return Touched()

    def _on_HallConfigApplied(self, p: dict) -> Touched:
        self.config_version = p["version"]
        self.config_payload = p["config"]
        self.window_numbers = [w["number"] for w in p["config"]["windows"]]
        for number in self.window_numbers:
            self.windows.setdefault(number, WindowState(number, self.business_date))
        for number in [n for n in self.windows if n not in self.window_numbers]:
            del self.windows[number]
        return Touched()


#: Event type -> the HallState method that folds it (``_on_<type>``).
_HANDLERS = {
    name.removeprefix("_on_"): function
    for name, function in vars(HallState).items()
    if name.startswith("_on_")
}
