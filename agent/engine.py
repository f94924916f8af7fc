"""The hall's queue rules: a command and the current state in, facts out.

``decide`` never changes state and never touches the store; the store applies the facts it
returns in one transaction. Every refusal is a ``DomainError`` with a clear message.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any, get_args

from agent import commands as c
from agent import errors
from agent.alarms import alarm_changes, bad_rating_alarm
from agent.bundles import Bundle
from agent.calendar import HallCalendar
from agent.config import HallConfig, Service
from agent.model import (
    Event,
    Fact,
    Priority,
    Ticket,
    TicketState,
    WindowStatus,
    iso,
    parse_time,
)
from agent.node import DeviceKind
from agent.ratings import BAD_LEVELS, CASE_PATTERN, CHANNELS, LEVELS, recorded_reasons
from agent.state import HallState

TERMINAL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_CASE = re.compile(CASE_PATTERN)


def _checked_case(case: str | None) -> str | None:
    """A 办件编号 as the business system gave it, or a refusal naming what is wrong."""
    if case is not None and not _CASE.fullmatch(case):
        raise errors.DomainError("a case number (办件编号) is 1-64 letters, digits or _./:-")
    return case


#: A device as the hub records it: its own id, or ``<terminal>/<device>`` for a terminal's.
DEVICE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}(/[A-Za-z0-9_.-]{1,64})?")
MAX_PROFILE_REASON = 256


def ticket_fact(type_: str, ticket: Ticket, now: dt.datetime, **extra: Any) -> Fact:
    """A fact about one ticket: who (id, number, service, masked name), when, plus details."""
    payload = {
        "ticket_id": ticket.id,
        "number": ticket.number,
        "service": ticket.service,
        "citizen_name": ticket.citizen_name,
        "at": iso(now),
    }
    return Fact(type_, payload | extra)


#: Events after which a service's queue has moved (the payload field naming that service):
#: its first waiting tickets may now be near their turn.
QUEUE_MOVES = {
    "TicketCalled": "service",
    "TicketCancelled": "service",
    "TicketReactivated": "service",
    "TicketTransferred": "to_service",
    "BundleLegQueued": "to_service",
}


class QueueEngine:
    def __init__(self, config: HallConfig) -> None:
        self.config = config
        self._handlers: dict[type, Callable[..., list[Fact]]] = {}
        self._calendar: tuple[int, HallCalendar] = (0, config.calendar)

    # ---- helpers -------------------------------------------------------------------------
    def _window(self, state: HallState, number: int) -> Any:
        if self.config.window(number) is None or number not in state.windows:
            raise errors.UnknownWindow(f"there is no window {number}", window=number)
        return state.windows[number]

    def _current(self, state: HallState, number: int, *allowed: TicketState) -> Ticket:
        window = self._window(state, number)
        if window.current is None:
            raise errors.NoCurrentTicket(f"window {number} has no current ticket", window=number)
        ticket = state.tickets[window.current]
        if ticket.state not in allowed:
            wanted = " or ".join(s.value for s in allowed)
            raise errors.InvalidTransition(
                f"ticket {ticket.number} is {ticket.state.value}, not {wanted}",
                number=ticket.number,
                state=ticket.state.value,
            )
        return ticket

    def priority_applies(self, ticket: Ticket, now: dt.datetime) -> bool:
        if ticket.priority is Priority.APPOINTMENT:
            assert ticket.slot_start and ticket.slot_end
            grace = dt.timedelta(minutes=self.config.priority.appointment_grace_minutes)
            start, end = parse_time(ticket.slot_start), parse_time(ticket.slot_end)
            return start - grace <= now <= end + grace
        return ticket.priority is not Priority.NONE

    def calendar(self, state: HallState) -> HallCalendar:
        """The calendar in effect: the hall config's and the last one pushed by central."""
        version, calendar = self._calendar
        if version != state.calendar_version:
            pushed = HallCalendar.model_validate(state.calendar_payload or {})
            calendar = self.config.calendar.merged(pushed)
            self._calendar = (state.calendar_version, calendar)
        return calendar

    def next_opening(
        self, state: HallState, service: Service, now: dt.datetime
    ) -> dt.datetime | None:
        """When ``service`` next opens (``now`` if open), by its hours and the calendar."""
        return self.calendar(state).next_opening(service, now.astimezone(self.config.zone))

    def _check_open(self, state: HallState, service: Service, now: dt.datetime) -> None:
        local = now.astimezone(self.config.zone)
        if self.calendar(state).is_open(service, local):
            return
        opens = self.next_opening(state, service, local)
        when = f"; it opens next at {iso(opens)}" if opens else ""
        raise errors.ServiceClosed(
            f"{service.name_en} is not open now{when}",
            service=service.code,
            opens_at=iso(opens) if opens else None,
        )

    def window_services(self, number: int) -> list[str]:
        window = self.config.window(number)
        if window is None:
            raise errors.UnknownWindow(f"there is no window {number}", window=number)
        return window.services

    def call_order_key(
        self, ticket: Ticket, services: list[str], now: dt.datetime
    ) -> tuple[int, int, str, str]:
        """Green channel first, then the window's service order, then issue time."""
        first = 0 if self.priority_applies(ticket, now) else 1
        return (first, services.index(ticket.service), ticket.issued_at, ticket.number)

    # ---- staff ---------------------------------------------------------------------------
    def staff_members(self, state: HallState) -> dict[str, dict[str, Any]]:
        """Who may sign in: hall.yaml's staff, then central's roster (which wins per id)."""
        members = {m.id: m.model_dump(mode="json") for m in self.config.staff.members}
        return members | state.staff_roster

    def staffed(self, state: HallState) -> bool:
        """A hall with a staff list calls only with someone signed in at the window."""
        return bool(self.config.staff.members or state.staff_roster)

    def sign_out_time(self) -> dt.time | None:
        """When everyone still signed in is signed out: ``staff.sign_out_at``, else the end
        of the latest opening period of any service (None for a hall open round the clock)."""
        rule = self.config.staff.sign_out_time()
        if rule is not None:
            return rule
        end = max(span[1] for s in self.config.services for span in s.hours.spans)
        return None if end == dt.time.max else end

    def _day_ended(self, now: dt.datetime) -> bool:
        end = self.sign_out_time()
        return end is not None and now.astimezone(self.config.zone).time() >= end

    def _staff_at(self, state: HallState, number: int) -> dict[str, Any]:
        """``{"staff_id": id}`` for the window's events; refuses an unstaffed window of a
        staffed hall (``{}`` in a hall without a staff list)."""
        window = self._window(state, number)
        if window.staff is not None:
            return {"staff_id": window.staff}
        if self.staffed(state):
            raise errors.NotSignedIn(
                f"nobody is signed in at window {number}: sign in first", window=number
            )
        return {}

    def next_for_window(self, state: HallState, number: int, now: dt.datetime) -> Ticket | None:
        """The ticket the window calls next: only the head of each service's waiting line
        and the (few) green-channel tickets can win, so only those are compared."""
        services = self.window_services(number)
        candidates = [
            state.tickets[t] for t in state.priority_waiting if state.tickets[t].service in services
        ]
        candidates += [
            state.tickets[first]
            for code in services
            if (first := state.first_waiting(code)) is not None
        ]
        if not candidates:
            return None
        return min(candidates, key=lambda t: self.call_order_key(t, services, now))

    def people_ahead(self, state: HallState, ticket: Ticket) -> int:
        """Waiting tickets of the same service that will be called before this one."""
        return state.people_ahead(ticket)

    def near_turn(self, state: HallState, events: list[Event], now: dt.datetime) -> list[Fact]:
        """One ``TicketNearTurn`` for each waiting ticket that, after ``events`` moved its
        queue, has at most ``near_turn_ahead`` people ahead for the first time. A ticket
        issued that near the front gets it at the next move of its queue."""
        limit = self.config.near_turn_ahead
        if limit is None:
            return []
        services = {e.payload[QUEUE_MOVES[e.type]] for e in events if e.type in QUEUE_MOVES}
        facts = []
        for service in sorted(services):
            priority = [t for t in state.priority_waiting if state.tickets[t].service == service]
            front = state.waiting_in(service)[: max(0, limit + 1 - len(priority))]
            for ticket_id in sorted(priority) + front:
                ticket = state.tickets[ticket_id]
                ahead = self.people_ahead(state, ticket)
                if ticket_id not in state.near_turn and ahead <= limit:
                    facts.append(ticket_fact("TicketNearTurn", ticket, now, ahead=ahead))
        return facts

    def estimated_wait_minutes(self, state: HallState, ticket: Ticket) -> int:
        """People ahead × rolling average service time, shared by the windows serving it."""
        service = self.config.service(ticket.service)
        assert service is not None
        average = state.average_service_minutes(ticket.service) or service.default_service_minutes
        staffed = self.staffed(state)
        open_windows = [
            n
            for n in self.config.windows_serving(ticket.service)
            if state.windows[n].status is WindowStatus.OPEN
            and (state.windows[n].staff is not None or not staffed)
        ]
        return round(self.people_ahead(state, ticket) * average / max(1, len(open_windows)))

    # ---- deciding ------------------------------------------------------------------------
    def decide(self, state: HallState, command: c.Command, now: dt.datetime) -> list[Fact]:
        kind = type(command)
        handler = self._handlers.get(kind)
        if handler is None:  # one lookup by name per command type, then a dict hit
            handler = self._handlers[kind] = getattr(self, f"_{kind.__name__}")
        facts: list[Fact] = handler(state, command, now)
        return facts

    def _IssueTicket(self, state: HallState, cmd: c.IssueTicket, now: dt.datetime) -> list[Fact]:
        bundle = self._bundle_for(cmd) if cmd.bundle is not None else None
        service = self.config.service(bundle.services[0] if bundle else cmd.service)
        if service is None:
            raise errors.UnknownService(f"there is no service {cmd.service!r}", service=cmd.service)
        if cmd.appointment is None and bundle is None:
            self._check_open(state, service, now)
        elif cmd.appointment is None and bundle is not None:
            for code in bundle.services:
                leg_service = self.config.service(code)
                assert leg_service is not None  # (the config validates bundle services)
                self._check_open(state, leg_service, now)
        issued = state.counters.get(service.code, 0)
        if issued >= service.daily_cap:
            raise errors.DailyCapReached(
                f"today's numbers for {service.name_en} are all taken ({service.daily_cap})",
                service=service.code,
            )
        citizen = cmd.citizen
        if citizen is not None:
            held = state.citizen_waiting.get((citizen.citizen_hash, service.code))
            if held:
                ticket = min((state.tickets[t] for t in held), key=lambda t: t.issued_at)
                raise errors.AlreadyWaiting(
                    f"this citizen already holds {ticket.number}, still waiting",
                    number=ticket.number,
                )
            taken = state.citizen_issued.get((citizen.citizen_hash, service.code), 0)
            if taken >= service.per_citizen_daily_limit:
                raise errors.CitizenLimitReached(
                    f"this citizen has taken {taken} tickets for {service.name_en} today",
                    limit=service.per_citizen_daily_limit,
                )
        number = f"{service.prefix}{issued + 1:03d}"
        # The payload holds the new ticket's fields that differ from the defaults of Ticket.
        row: dict[str, Any] = {
            "id": f"{state.business_date}/{number}/1",
            "number": number,
            "service": service.code,
            "business_date": state.business_date,
            "issued_at": iso(now),
            "priority": self._priority_for(cmd, now).value,
            "channel": cmd.channel,
        }
        if cmd.appointment is not None:
            row["appointment_code"] = cmd.appointment.code
            row["slot_start"] = iso(cmd.appointment.slot_start)
            row["slot_end"] = iso(cmd.appointment.slot_end)
        if bundle is not None:
            row["bundle"] = bundle.code
            row["bundle_leg"] = 1
        if citizen is not None:
            row["citizen_hash"] = citizen.citizen_hash
            if citizen.masked_name:
                row["citizen_name"] = citizen.masked_name
        return [Fact("TicketIssued", {"ticket": row, "counter": issued + 1})]

    def _bundle_for(self, cmd: c.IssueTicket) -> Bundle:
        assert cmd.bundle is not None
        bundle = self.config.bundle(cmd.bundle)
        if bundle is None:
            raise errors.UnknownService(f"there is no bundle {cmd.bundle!r}", service=cmd.bundle)
        if cmd.service not in ("", bundle.services[0]):
            raise errors.DomainError(
                f"bundle {bundle.code!r} starts with {bundle.services[0]!r}, not {cmd.service!r}"
            )
        return bundle

    def _CheckIn(self, state: HallState, cmd: c.CheckIn, now: dt.datetime) -> list[Fact]:
        entry = state.appointments.get(cmd.code)
        if entry is None or entry["slot_start"][:10] != self._local_day(now):
            raise errors.UnknownAppointment(
                "no appointment today for this code", code=cmd.code[:64]
            )
        if entry.get("ticket_id"):
            number = state.tickets[entry["ticket_id"]].number
            raise errors.AppointmentUsed(
                f"this appointment is already checked in as {number}", number=number
            )
        return self._check_in(state, cmd.code, entry, cmd.citizen, now)

    def _CheckInByCard(
        self, state: HallState, cmd: c.CheckInByCard, now: dt.datetime
    ) -> list[Fact]:
        """Check in today's booking of the swiped card's citizen: refused when there is none
        today (another day's booking carries another day's hash, so it never matches), when
        it is checked in already, or when its slot and grace minutes are over."""
        booking = self.booking_for_card(state, cmd.citizen.citizen_hash, now)
        if booking is None:
            raise errors.UnknownAppointment("no appointment today for this ID card")
        code, status = booking
        entry = state.appointments[code]
        if status == "used":
            number = state.tickets[entry["ticket_id"]].number
            raise errors.AppointmentUsed(
                f"this appointment is already checked in as {number}", number=number
            )
        if status == "expired":
            raise errors.AppointmentExpired(
                f"the appointment's slot ended at {entry['slot_end'][11:16]}",
                slot_end=entry["slot_end"][11:16],
            )
        return self._check_in(state, code, entry, cmd.citizen, now)

    def booking_for_card(
        self, state: HallState, citizen_hash: str, now: dt.datetime
    ) -> tuple[str, str] | None:
        """``(code, status)`` of today's booking whose roster hash is ``citizen_hash``:
        status ``open``, ``used`` or ``expired``; an open one first, then the earliest."""
        day = self._local_day(now)
        grace = dt.timedelta(minutes=self.config.priority.appointment_grace_minutes)
        found = []
        for code, entry in state.appointments.items():
            if entry.get("citizen_hash") != citizen_hash or entry["slot_start"][:10] != day:
                continue
            if entry.get("ticket_id"):
                status = "used"
            elif now > parse_time(entry["slot_end"]) + grace:
                status = "expired"
            else:
                status = "open"
            found.append((status != "open", entry["slot_start"], code, status))
        if not found:
            return None
        _, _, code, status = min(found)
        return code, status

    def _local_day(self, now: dt.datetime) -> str:
        return now.astimezone(self.config.zone).date().isoformat()

    def _check_in(
        self, state: HallState, code: str, entry: dict, citizen: c.Citizen | None, now: dt.datetime
    ) -> list[Fact]:
        appointment = c.Appointment(
            code, parse_time(entry["slot_start"]), parse_time(entry["slot_end"])
        )
        issue = c.IssueTicket(
            entry["service"], citizen=citizen, appointment=appointment, channel="appointment"
        )
        facts = self._IssueTicket(state, issue, now)
        if not facts[0].payload["ticket"].get("citizen_name") and entry.get("citizen_name"):
            facts[0].payload["ticket"]["citizen_name"] = entry["citizen_name"]
        return facts

    def _LoadAppointments(
        self, state: HallState, cmd: c.LoadAppointments, now: dt.datetime
    ) -> list[Fact]:
        entries = []
        for entry in cmd.entries:
            if self.config.service(entry.service) is None:
                raise errors.UnknownService(
                    f"appointment {entry.code[:16]}: no service {entry.service!r}",
                    service=entry.service,
                )
            if entry.slot_end <= entry.slot_start:
                raise errors.DomainError(f"appointment {entry.code[:16]}: slot ends before start")
            entries.append(
                {
                    "code": entry.code,
                    "service": entry.service,
                    "slot_start": iso(entry.slot_start.astimezone(self.config.zone)),
                    "slot_end": iso(entry.slot_end.astimezone(self.config.zone)),
                    "citizen_name": entry.citizen_name,
                    # (only where central sent one: older rosters' events stay as they were)
                    **({"citizen_hash": entry.citizen_hash} if entry.citizen_hash else {}),
                }
            )
        return [Fact("AppointmentsLoaded", {"roster_id": cmd.roster_id, "entries": entries})]

    def _PublishNotice(
        self, state: HallState, cmd: c.PublishNotice, now: dt.datetime
    ) -> list[Fact]:
        expires = iso(cmd.expires_at.astimezone(self.config.zone)) if cmd.expires_at else None
        return [
            Fact(
                "NoticePublished",
                {
                    "notice_id": cmd.notice_id,
                    "text_zh": cmd.text_zh,
                    "text_en": cmd.text_en,
                    "expires_at": expires,
                    "at": iso(now),
                },
            )
        ]

    def _ApplyHallConfig(
        self, state: HallState, cmd: c.ApplyHallConfig, now: dt.datetime
    ) -> list[Fact]:
        if cmd.config.hall_id != self.config.hall_id:
            raise errors.StaleConfig(
                f"config is for hall {cmd.config.hall_id!r}, this is {self.config.hall_id!r}"
            )
        if cmd.version <= state.config_version:
            raise errors.StaleConfig(
                f"config version {cmd.version} is not newer than {state.config_version}",
                version=cmd.version,
            )
        gone = {s.code for s in self.config.services} - {s.code for s in cmd.config.services}
        holding = sorted(
            t.number
            for t in state.tickets.values()
            if t.service in gone
            and t.state in (TicketState.WAITING, TicketState.CALLED, TicketState.SERVING)
        )
        if holding:
            raise errors.ServiceInUse(
                f"config removes service(s) {sorted(gone)} while {holding[:5]} are still in the "
                "queue; apply it after they are served or transferred",
                numbers=holding,
            )
        kept = {w.number for w in cmd.config.windows}
        for number, window in state.windows.items():
            if number not in kept and window.current is not None:
                raise errors.WindowBusy(
                    f"config removes window {number}, which still has a ticket", window=number
                )
        payload = cmd.config.model_dump(mode="json")
        return [
            Fact("HallConfigApplied", {"version": cmd.version, "config": payload, "at": iso(now)})
        ]

    def _ApplyCalendar(
        self, state: HallState, cmd: c.ApplyCalendar, now: dt.datetime
    ) -> list[Fact]:
        if cmd.version <= state.calendar_version:
            raise errors.StaleConfig(
                f"calendar version {cmd.version} is not newer than {state.calendar_version}",
                version=cmd.version,
            )
        unknown = sorted(cmd.calendar.service_codes() - {s.code for s in self.config.services})
        if unknown:
            raise errors.UnknownService(
                f"calendar closes unknown service(s) {unknown}", service=unknown[0]
            )
        try:
            self.config.calendar.merged(cmd.calendar)
        except ValueError as exc:  # a day both worked and closed, across the two calendars
            raise errors.DomainError(f"calendar conflicts with the hall config's: {exc}") from exc
        payload = cmd.calendar.model_dump(mode="json")
        return [
            Fact("CalendarApplied", {"version": cmd.version, "calendar": payload, "at": iso(now)})
        ]

    def _priority_for(self, cmd: c.IssueTicket, now: dt.datetime) -> Priority:
        if cmd.appointment is not None:
            return Priority.APPOINTMENT
        if cmd.citizen is not None and cmd.citizen.elderly:
            return Priority.ELDERLY
        return Priority.STAFF if cmd.staff_priority else Priority.NONE

    def _CallNext(self, state: HallState, cmd: c.CallNext, now: dt.datetime) -> list[Fact]:
        window = self._window(state, cmd.window)
        staff = self._staff_at(state, cmd.window)
        if window.status is WindowStatus.PAUSED:
            raise errors.WindowPaused(f"window {cmd.window} is paused", window=cmd.window)
        facts: list[Fact] = []
        if window.current is not None:
            current = state.tickets[window.current]
            if current.state is TicketState.SERVING:
                raise errors.WindowBusy(
                    f"window {cmd.window} is serving {current.number}: finish or transfer first",
                    number=current.number,
                )
            # A called citizen who never came: calling the next one marks the no-show.
            facts.append(self._no_show(current, "skipped", now, staff))
        ticket = self.next_for_window(state, cmd.window, now)
        if ticket is None:
            raise errors.NobodyWaiting(
                f"nobody is waiting for window {cmd.window}", window=cmd.window
            )
        facts.append(ticket_fact("TicketCalled", ticket, now, window=cmd.window, **staff))
        return facts

    def _no_show(
        self, ticket: Ticket, reason: str, now: dt.datetime, staff: dict[str, Any]
    ) -> Fact:
        return ticket_fact(
            "TicketNoShow", ticket, now, window=ticket.window, reason=reason, **staff
        )

    def _Recall(self, state: HallState, cmd: c.Recall, now: dt.datetime) -> list[Fact]:
        staff = self._staff_at(state, cmd.window)
        ticket = self._current(state, cmd.window, TicketState.CALLED)
        if ticket.recalls >= self.config.no_show.max_recalls:
            return [self._no_show(ticket, "recalls", now, staff)]
        return [
            ticket_fact(
                "TicketRecalled",
                ticket,
                now,
                window=cmd.window,
                recalls=ticket.recalls + 1,
                **staff,
            )
        ]

    def _MarkNoShow(self, state: HallState, cmd: c.MarkNoShow, now: dt.datetime) -> list[Fact]:
        staff = self._staff_at(state, cmd.window)
        ticket = self._current(state, cmd.window, TicketState.CALLED)
        return [self._no_show(ticket, "staff", now, staff)]

    def _StartService(self, state: HallState, cmd: c.StartService, now: dt.datetime) -> list[Fact]:
        staff = self._staff_at(state, cmd.window)
        ticket = self._current(state, cmd.window, TicketState.CALLED)
        return [ticket_fact("ServiceStarted", ticket, now, window=cmd.window, **staff)]

    def _FinishService(
        self, state: HallState, cmd: c.FinishService, now: dt.datetime
    ) -> list[Fact]:
        staff = self._staff_at(state, cmd.window)
        ticket = self._current(state, cmd.window, TicketState.SERVING)
        facts = [ticket_fact("ServiceFinished", ticket, now, window=cmd.window, **staff)]
        bundle = self.config.bundle(ticket.bundle) if ticket.bundle else None
        if bundle is not None and ticket.bundle_leg is not None:
            following = bundle.after(ticket.bundle_leg)
            if following is not None:
                facts.append(
                    self._next_leg("BundleLegQueued", ticket, following, now, cmd.window, staff)
                )
        return facts

    def _next_leg(
        self,
        type_: str,
        ticket: Ticket,
        to_service: str,
        now: dt.datetime,
        window: int,
        staff: dict[str, Any],
    ) -> Fact:
        """The ticket joins ``to_service``'s queue as a new leg with the same number."""
        return ticket_fact(
            type_,
            ticket,
            now,
            window=window,
            new_ticket_id=f"{ticket.business_date}/{ticket.number}/{ticket.leg + 1}",
            from_service=ticket.service,
            to_service=to_service,
            **staff,
        )

    def _MarkAssisted(self, state: HallState, cmd: c.MarkAssisted, now: dt.datetime) -> list[Fact]:
        if cmd.mode not in ("assisted", "proxy"):
            raise errors.DomainError(f"mode is assisted or proxy, not {cmd.mode!r}")
        staff = cmd.staff_id.strip()
        if not staff or len(staff) > 32 or not staff.isprintable():
            raise errors.DomainError("staff id: 1 to 32 printable characters")
        signed_in = self._staff_at(state, cmd.window)
        ticket = self._current(state, cmd.window, TicketState.CALLED, TicketState.SERVING)
        return [
            ticket_fact(
                "TicketAssisted",
                ticket,
                now,
                window=cmd.window,
                mode=cmd.mode,
                assist_staff=staff,
                **signed_in,
            )
        ]

    def _Transfer(self, state: HallState, cmd: c.Transfer, now: dt.datetime) -> list[Fact]:
        staff = self._staff_at(state, cmd.window)
        ticket = self._current(state, cmd.window, TicketState.SERVING, TicketState.CALLED)
        if self.config.service(cmd.to_service) is None:
            raise errors.UnknownService(
                f"there is no service {cmd.to_service!r}", service=cmd.to_service
            )
        if cmd.to_service == ticket.service:
            raise errors.InvalidTransition(
                f"ticket {ticket.number} is already in {cmd.to_service}", number=ticket.number
            )
        return [self._next_leg("TicketTransferred", ticket, cmd.to_service, now, cmd.window, staff)]

    def _PauseWindow(self, state: HallState, cmd: c.PauseWindow, now: dt.datetime) -> list[Fact]:
        window = self._window(state, cmd.window)
        staff = self._staff_at(state, cmd.window)
        if self.config.staff.pause_reason(cmd.reason) is None:
            codes = [r.code for r in self.config.staff.pause_reasons]
            raise errors.UnknownPauseReason(
                f"pause reason {cmd.reason[:32]!r} is not one of {codes}", reason=cmd.reason[:32]
            )
        if window.status is WindowStatus.PAUSED:
            raise errors.WindowPaused(f"window {cmd.window} is already paused", window=cmd.window)
        if window.current is not None:
            current = state.tickets[window.current]
            raise errors.WindowBusy(
                f"window {cmd.window} still has {current.number}", number=current.number
            )
        payload = {"window": cmd.window, "reason": cmd.reason, **staff, "at": iso(now)}
        return [Fact("WindowPaused", payload)]

    def _ResumeWindow(self, state: HallState, cmd: c.ResumeWindow, now: dt.datetime) -> list[Fact]:
        window = self._window(state, cmd.window)
        staff = self._staff_at(state, cmd.window)
        if window.status is WindowStatus.OPEN:
            raise errors.InvalidTransition(f"window {cmd.window} is not paused", window=cmd.window)
        return [Fact("WindowResumed", {"window": cmd.window, **staff, "at": iso(now)})]

    def _signed_out(self, window: int, staff: str, reason: str, now: dt.datetime) -> Fact:
        payload = {"window": window, "staff_id": staff, "reason": reason, "at": iso(now)}
        return Fact("StaffSignedOut", payload)

    def _SignIn(self, state: HallState, cmd: c.SignIn, now: dt.datetime) -> list[Fact]:
        if cmd.pin is not None or cmd.card is not None or cmd.method not in ("pin", "card"):
            raise errors.DomainError("a sign-in is checked by the hub before it runs")
        window = self._window(state, cmd.window)
        member = self.staff_members(state).get(cmd.staff_id)
        if member is None:
            raise errors.UnknownStaff(
                f"no member of staff {cmd.staff_id[:32]!r}", staff_id=cmd.staff_id[:32]
            )
        if member["windows"] and cmd.window not in member["windows"]:
            raise errors.StaffNotAllowed(
                f"{cmd.staff_id} signs in at window(s) {list(member['windows'])}, not {cmd.window}",
                staff_id=cmd.staff_id,
                window=cmd.window,
            )
        if self._day_ended(now):
            raise errors.DayEnded(
                f"the business day ended at {self.sign_out_time():%H:%M}: sign-in is closed"
            )
        if window.staff == cmd.staff_id:
            raise errors.InvalidTransition(
                f"{cmd.staff_id} is already signed in at window {cmd.window}", window=cmd.window
            )
        facts = []
        # Whoever is signed in here, and this member at another window, are signed out,
        # unless they still hold a ticket (finish or transfer it first).
        for other in state.windows.values():
            if other.staff is None or (other.number != cmd.window and other.staff != cmd.staff_id):
                continue
            if other.current is not None:
                number = state.tickets[other.current].number
                raise errors.WindowBusy(
                    f"{other.staff} still has {number} at window {other.number}: finish or "
                    "transfer it first",
                    number=number,
                    window=other.number,
                )
            why = "replaced" if other.number == cmd.window else "moved"
            facts.append(self._signed_out(other.number, other.staff, why, now))
        payload = {
            "window": cmd.window,
            "staff_id": cmd.staff_id,
            "method": cmd.method,
            "at": iso(now),
        }
        return [*facts, Fact("StaffSignedIn", payload)]

    def _SignOut(self, state: HallState, cmd: c.SignOut, now: dt.datetime) -> list[Fact]:
        window = self._window(state, cmd.window)
        if window.staff is None:
            raise errors.NotSignedIn(f"nobody is signed in at window {cmd.window}")
        if window.current is not None:
            number = state.tickets[window.current].number
            raise errors.WindowBusy(
                f"window {cmd.window} still has {number}: finish or transfer it first",
                number=number,
            )
        return [self._signed_out(cmd.window, window.staff, "staff", now)]

    def _LoadStaffRoster(
        self, state: HallState, cmd: c.LoadStaffRoster, now: dt.datetime
    ) -> list[Fact]:
        if cmd.version <= state.staff_roster_version:
            raise errors.StaleConfig(
                f"staff roster version {cmd.version} is not newer than "
                f"{state.staff_roster_version}",
                version=cmd.version,
            )
        numbers = {w.number for w in self.config.windows}
        members = []
        for member in cmd.members:
            unknown = sorted(set(member.windows) - numbers)
            if unknown:
                raise errors.UnknownWindow(
                    f"roster: {member.id} names unknown window(s) {unknown}", window=unknown[0]
                )
            members.append({"id": member.id, "name": member.name, "windows": list(member.windows)})
        payload = {"version": cmd.version, "members": members, "at": iso(now)}
        return [Fact("StaffRosterLoaded", payload)]

    def _ticket(self, state: HallState, number: str) -> Ticket:
        ticket = state.ticket_by_number(number.upper())
        if ticket is None:
            raise errors.UnknownTicket(f"no ticket {number} today", number=number)
        return ticket

    def _Reactivate(self, state: HallState, cmd: c.Reactivate, now: dt.datetime) -> list[Fact]:
        ticket = self._ticket(state, cmd.number)
        if ticket.state is not TicketState.NO_SHOW:
            raise errors.InvalidTransition(
                f"ticket {ticket.number} is {ticket.state.value}, not no_show",
                number=ticket.number,
            )
        assert ticket.no_show_call_index is not None
        later_calls = state.calls - ticket.no_show_call_index
        limit = self.config.no_show.reactivate_within_calls
        if later_calls > limit:
            raise errors.ReactivationExpired(
                f"ticket {ticket.number} missed its turn {later_calls} calls ago (limit {limit})",
                number=ticket.number,
            )
        return [ticket_fact("TicketReactivated", ticket, now)]

    def _CancelTicket(self, state: HallState, cmd: c.CancelTicket, now: dt.datetime) -> list[Fact]:
        ticket = self._ticket(state, cmd.number)
        if ticket.state not in (TicketState.WAITING, TicketState.NO_SHOW):
            raise errors.InvalidTransition(
                f"ticket {ticket.number} is {ticket.state.value}; only waiting tickets cancel",
                number=ticket.number,
            )
        return [ticket_fact("TicketCancelled", ticket, now)]

    def _RecordEvaluation(
        self, state: HallState, cmd: c.RecordEvaluation, now: dt.datetime
    ) -> list[Fact]:
        if cmd.score not in LEVELS:
            raise errors.DomainError(f"score must be 1..5, not {cmd.score}", score=cmd.score)
        if cmd.channel not in CHANNELS:
            raise errors.DomainError(f"unknown rating channel {cmd.channel!r}")
        indicators = self.config.rating_indicators
        try:
            reasons = recorded_reasons(cmd.score, tuple(cmd.reasons), indicators)
        except ValueError as exc:
            raise errors.DomainError(str(exc), score=cmd.score) from None
        case = _checked_case(cmd.case)
        window = self._window(state, cmd.window)
        if cmd.number is not None:
            ticket = self._ticket(state, cmd.number)
        elif window.last_finished is not None:
            ticket = state.tickets[window.last_finished]
        else:
            raise errors.NoCurrentTicket(
                f"window {cmd.window} has finished no ticket to rate", window=cmd.window
            )
        self._rateable(ticket)
        if ticket.window != cmd.window:  # a window rates only what it served
            raise errors.DomainError(
                f"{ticket.number} was served at window {ticket.window}, not {cmd.window}",
                window=cmd.window,
            )
        service = self.config.service(ticket.service)
        rated = ticket_fact(
            "EvaluationRecorded",
            ticket,
            now,
            window=cmd.window,
            score=cmd.score,
            reasons=reasons,
            indicators_version=indicators.version if cmd.score in BAD_LEVELS else None,
            channel=cmd.channel,
            case=case or state.rating_cases.get(ticket.id),
            item_code=service.item_code if service else None,
            # the member of staff signed in at the window (None in a hall without a staff list)
            staff_id=window.staff,
        )
        return [rated, *bad_rating_alarm(self.config, ticket, cmd.window, cmd.score, now)]

    def _RequestRating(
        self, state: HallState, cmd: c.RequestRating, now: dt.datetime
    ) -> list[Fact]:
        case = _checked_case(cmd.case)
        window = self._window(state, cmd.window)
        current = state.tickets.get(window.current) if window.current else None
        if current is not None and current.state is TicketState.SERVING:
            ticket, ask = current, False  # asked when the service finishes
        elif window.last_finished is not None:
            ticket, ask = state.tickets[window.last_finished], True
            self._rateable(ticket)
        else:
            raise errors.NoCurrentTicket(
                f"window {cmd.window} serves no ticket to rate", window=cmd.window
            )
        return [ticket_fact("RatingRequested", ticket, now, window=cmd.window, case=case, ask=ask)]

    @staticmethod
    def _rateable(ticket: Ticket) -> None:
        if ticket.state is not TicketState.DONE:
            raise errors.InvalidTransition(
                f"ticket {ticket.number} is {ticket.state.value}; only finished tickets are rated",
                number=ticket.number,
            )
        if ticket.score is not None:
            raise errors.AlreadyRated(
                f"ticket {ticket.number} is already rated", number=ticket.number
            )

    def _DeviceStatusChanged(
        self, state: HallState, cmd: c.DeviceStatusChanged, now: dt.datetime
    ) -> list[Fact]:
        if cmd.status not in ("online", "offline", "fault"):
            raise errors.DomainError(f"unknown device status {cmd.status!r}")
        if cmd.kind is not None and cmd.kind not in get_args(DeviceKind):
            raise errors.DomainError(f"unknown device kind {cmd.kind!r}")
        if cmd.window is not None and cmd.window < 1:
            raise errors.DomainError(f"device window {cmd.window}: a window number is 1 or more")
        where = {"kind": cmd.kind, "window": cmd.window}
        if state.devices.get(cmd.device) == (cmd.status, cmd.reason) and (
            cmd.kind is None or state.device_where.get(cmd.device) == where
        ):
            return []
        payload: dict[str, Any] = {"device": cmd.device, "status": cmd.status, "reason": cmd.reason}
        if cmd.kind is not None:  # older terminals send neither: their rows keep no kind
            payload["kind"] = cmd.kind
        if cmd.window is not None:
            payload["window"] = cmd.window
        return [Fact("DeviceStatusChanged", {**payload, "at": iso(now)})]

    def _DeviceProfileApplied(
        self, state: HallState, cmd: c.DeviceProfileApplied, now: dt.datetime
    ) -> list[Fact]:
        if cmd.outcome not in ("applied", "rolled_back"):
            raise errors.DomainError(f"unknown profile outcome {cmd.outcome!r}")
        if not (
            DEVICE_NAME.fullmatch(cmd.device)
            and TERMINAL_NAME.fullmatch(cmd.profile)
            and 1 <= cmd.version <= 2**63 - 1
            and (cmd.reason is None or len(cmd.reason) <= MAX_PROFILE_REASON)
        ):
            raise errors.DomainError("a device profile outcome with impossible values")
        payload = {
            "device": cmd.device,
            "profile": cmd.profile,
            "version": cmd.version,
            "outcome": cmd.outcome,
            "reason": cmd.reason,
            "at": iso(now),
        }
        return [Fact("DeviceProfileApplied", payload)]

    def _ReportAdminPinLockout(
        self, state: HallState, cmd: c.ReportAdminPinLockout, now: dt.datetime
    ) -> list[Fact]:
        if not (
            TERMINAL_NAME.fullmatch(cmd.terminal)
            and 0 < cmd.failures <= 1000
            and 0 < cmd.locked_for_s <= 86400
        ):
            raise errors.DomainError("a PIN lockout report with impossible values")
        payload = {
            "terminal": cmd.terminal,
            "failures": cmd.failures,
            "locked_for_s": cmd.locked_for_s,
            "at": iso(now),
        }
        return [Fact("AdminPinLockedOut", payload)]

    def _ReportStaffLockout(
        self, state: HallState, cmd: c.ReportStaffLockout, now: dt.datetime
    ) -> list[Fact]:
        payload = {
            "window": cmd.window,
            "staff_id": cmd.staff_id,
            "locked_for_s": cmd.locked_for_s,
            "at": iso(now),
        }
        return [Fact("StaffSignInLockedOut", payload)]

    def _ResumeNumbering(
        self, state: HallState, cmd: c.ResumeNumbering, now: dt.datetime
    ) -> list[Fact]:
        counters = {
            service.code: state.counters.get(service.code, 0) + cmd.offsets.get(service.code, 0)
            for service in self.config.services
        }
        return [
            Fact("NumberingResumed", {"counters": counters, "reason": cmd.reason, "at": iso(now)})
        ]

    def _Tick(self, state: HallState, cmd: c.Tick, now: dt.datetime) -> list[Fact]:
        limit = dt.timedelta(minutes=self.config.no_show.auto_minutes)
        facts = []
        for window in state.windows.values():
            if window.current is None:
                continue
            ticket = state.tickets[window.current]
            called = ticket.called_at
            if ticket.state is TicketState.CALLED and called and now - parse_time(called) >= limit:
                staff = {"staff_id": window.staff} if window.staff else {}
                facts.append(self._no_show(ticket, "timeout", now, staff))
        if self._day_ended(now):
            facts += [
                self._signed_out(window.number, window.staff, "day_end", now)
                for window in state.windows.values()
                if window.staff is not None and window.current is None
            ]
        return facts + alarm_changes(self.config, state, now)
