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
from agent.model import Fact, Priority, Ticket, TicketState, WindowStatus, iso, parse_time
from agent.node import DeviceKind
from agent.state import HallState

TERMINAL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


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
        if ticket.state is not TicketState.WAITING:
            return 0
        ahead = sum(
            1
            for t in state.priority_waiting
            if t != ticket.id and state.tickets[t].service == ticket.service
        )
        if ticket.priority is not Priority.NONE:
            return 0
        for ticket_id in state.waiting_in(ticket.service):
            if ticket_id == ticket.id:
                break
            ahead += 1
        return ahead

    def estimated_wait_minutes(self, state: HallState, ticket: Ticket) -> int:
        """People ahead × rolling average service time, shared by the windows serving it."""
        service = self.config.service(ticket.service)
        assert service is not None
        average = state.average_service_minutes(ticket.service) or service.default_service_minutes
        open_windows = [
            n
            for n in self.config.windows_serving(ticket.service)
            if state.windows[n].status is WindowStatus.OPEN
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
        local_day = now.astimezone(self.config.zone).date().isoformat()
        if entry is None or entry["slot_start"][:10] != local_day:
            raise errors.UnknownAppointment(
                "no appointment today for this code", code=cmd.code[:64]
            )
        if entry.get("ticket_id"):
            number = state.tickets[entry["ticket_id"]].number
            raise errors.AppointmentUsed(
                f"this appointment is already checked in as {number}", number=number
            )
        appointment = c.Appointment(
            cmd.code, parse_time(entry["slot_start"]), parse_time(entry["slot_end"])
        )
        issue = c.IssueTicket(
            entry["service"], citizen=cmd.citizen, appointment=appointment, channel="appointment"
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
            facts.append(self._no_show(current, "skipped", now))
        ticket = self.next_for_window(state, cmd.window, now)
        if ticket is None:
            raise errors.NobodyWaiting(
                f"nobody is waiting for window {cmd.window}", window=cmd.window
            )
        facts.append(ticket_fact("TicketCalled", ticket, now, window=cmd.window))
        return facts

    def _no_show(self, ticket: Ticket, reason: str, now: dt.datetime) -> Fact:
        return ticket_fact("TicketNoShow", ticket, now, window=ticket.window, reason=reason)

    def _Recall(self, state: HallState, cmd: c.Recall, now: dt.datetime) -> list[Fact]:
        ticket = self._current(state, cmd.window, TicketState.CALLED)
        if ticket.recalls >= self.config.no_show.max_recalls:
            return [self._no_show(ticket, "recalls", now)]
        return [
            ticket_fact(
                "TicketRecalled", ticket, now, window=cmd.window, recalls=ticket.recalls + 1
            )
        ]

    def _MarkNoShow(self, state: HallState, cmd: c.MarkNoShow, now: dt.datetime) -> list[Fact]:
        ticket = self._current(state, cmd.window, TicketState.CALLED)
        return [self._no_show(ticket, "staff", now)]

    def _StartService(self, state: HallState, cmd: c.StartService, now: dt.datetime) -> list[Fact]:
        ticket = self._current(state, cmd.window, TicketState.CALLED)
        return [ticket_fact("ServiceStarted", ticket, now, window=cmd.window)]

    def _FinishService(
        self, state: HallState, cmd: c.FinishService, now: dt.datetime
    ) -> list[Fact]:
        ticket = self._current(state, cmd.window, TicketState.SERVING)
        facts = [ticket_fact("ServiceFinished", ticket, now, window=cmd.window)]
        bundle = self.config.bundle(ticket.bundle) if ticket.bundle else None
        if bundle is not None and ticket.bundle_leg is not None:
            following = bundle.after(ticket.bundle_leg)
            if following is not None:
                facts.append(self._next_leg("BundleLegQueued", ticket, following, now, cmd.window))
        return facts

    def _next_leg(
        self, type_: str, ticket: Ticket, to_service: str, now: dt.datetime, window: int
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
        )

    def _MarkAssisted(self, state: HallState, cmd: c.MarkAssisted, now: dt.datetime) -> list[Fact]:
        if cmd.mode not in ("assisted", "proxy"):
            raise errors.DomainError(f"mode is assisted or proxy, not {cmd.mode!r}")
        staff = cmd.staff_id.strip()
        if not staff or len(staff) > 32 or not staff.isprintable():
            raise errors.DomainError("staff id: 1 to 32 printable characters")
        ticket = self._current(state, cmd.window, TicketState.CALLED, TicketState.SERVING)
        return [
            ticket_fact(
                "TicketAssisted", ticket, now, window=cmd.window, mode=cmd.mode, assist_staff=staff
            )
        ]

    def _Transfer(self, state: HallState, cmd: c.Transfer, now: dt.datetime) -> list[Fact]:
        ticket = self._current(state, cmd.window, TicketState.SERVING, TicketState.CALLED)
        if self.config.service(cmd.to_service) is None:
            raise errors.UnknownService(
                f"there is no service {cmd.to_service!r}", service=cmd.to_service
            )
        if cmd.to_service == ticket.service:
            raise errors.InvalidTransition(
                f"ticket {ticket.number} is already in {cmd.to_service}", number=ticket.number
            )
        return [self._next_leg("TicketTransferred", ticket, cmd.to_service, now, cmd.window)]

    def _PauseWindow(self, state: HallState, cmd: c.PauseWindow, now: dt.datetime) -> list[Fact]:
        window = self._window(state, cmd.window)
        if window.status is WindowStatus.PAUSED:
            raise errors.WindowPaused(f"window {cmd.window} is already paused", window=cmd.window)
        if window.current is not None:
            current = state.tickets[window.current]
            raise errors.WindowBusy(
                f"window {cmd.window} still has {current.number}", number=current.number
            )
        return [Fact("WindowPaused", {"window": cmd.window, "at": iso(now)})]

    def _ResumeWindow(self, state: HallState, cmd: c.ResumeWindow, now: dt.datetime) -> list[Fact]:
        window = self._window(state, cmd.window)
        if window.status is WindowStatus.OPEN:
            raise errors.InvalidTransition(f"window {cmd.window} is not paused", window=cmd.window)
        return [Fact("WindowResumed", {"window": cmd.window, "at": iso(now)})]

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
        if cmd.score not in (1, 2, 3, 4, 5):
            raise errors.DomainError(f"score must be 1..5, not {cmd.score}", score=cmd.score)
        window = self._window(state, cmd.window)
        if cmd.number is not None:
            ticket = self._ticket(state, cmd.number)
        elif window.last_finished is not None:
            ticket = state.tickets[window.last_finished]
        else:
            raise errors.NoCurrentTicket(
                f"window {cmd.window} has finished no ticket to rate", window=cmd.window
            )
        if ticket.state is not TicketState.DONE:
            raise errors.InvalidTransition(
                f"ticket {ticket.number} is {ticket.state.value}; only finished tickets are rated",
                number=ticket.number,
            )
        if ticket.score is not None:
            raise errors.AlreadyRated(
                f"ticket {ticket.number} is already rated", number=ticket.number
            )
        rated = ticket_fact("EvaluationRecorded", ticket, now, window=cmd.window, score=cmd.score)
        return [rated, *bad_rating_alarm(self.config, ticket, cmd.window, cmd.score, now)]

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
                facts.append(self._no_show(ticket, "timeout", now))
        return facts + alarm_changes(self.config, state, now)
