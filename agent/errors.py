"""One error family for the whole agent.

Every error carries a stable ``code`` (for JSON output, logs and the central platform) and a
``key`` the UI translates; ``str(error)`` is an English sentence for operators and logs.
"""

from __future__ import annotations

from typing import Any


class HallError(Exception):
    """Base of every error the agent reports on purpose."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details

    @property
    def key(self) -> str:
        return f"error.{self.code}"

    def as_dict(self) -> dict[str, Any]:
        return {"error": str(self), "code": self.code, **self.details}


class InternalError(HallError):
    """A bug: reported in one line; its traceback is in the log."""

    code = "internal_error"


class ConfigError(HallError):
    """A config or profile file is invalid: ``file: field: reason``."""

    code = "config_invalid"


class StoreError(HallError):
    """The data dir or the store cannot be used (see :mod:`agent.storage`)."""

    code = "store_error"


class DiskFull(StoreError):
    """No room on the data dir's disk (or below the reserve kept for reporting)."""

    code = "disk_full"


class StoreUnreadable(StoreError):
    """``hall.db`` is not a store this agent can open (damaged, not SQLite, not writable)."""

    code = "store_unreadable"


class DataDirUnusable(StoreError):
    """The data dir is a file, read-only, or otherwise not a folder the agent can use."""

    code = "data_dir_unusable"


class HubAlreadyRunning(HallError):
    """Another process already runs the hub (core, sync, hall LAN) on this data dir."""

    code = "hub_already_running"


class DomainError(HallError):
    """An action the hall's rules do not allow right now."""

    code = "domain_error"


class UnknownService(DomainError):
    code = "unknown_service"


class UnknownWindow(DomainError):
    code = "unknown_window"


class UnknownTicket(DomainError):
    code = "unknown_ticket"


class BadTicketLink(DomainError):
    """A scanned link that is malformed, not signed by this hall's hub, or not today's."""

    code = "bad_ticket_link"


class ServiceClosed(DomainError):
    code = "service_closed"


class DailyCapReached(DomainError):
    code = "daily_cap_reached"


class CitizenLimitReached(DomainError):
    code = "citizen_limit_reached"


class AlreadyWaiting(DomainError):
    code = "already_waiting"


class NobodyWaiting(DomainError):
    code = "nobody_waiting"


class WindowPaused(DomainError):
    code = "window_paused"


class WindowBusy(DomainError):
    code = "window_busy"


class NoCurrentTicket(DomainError):
    code = "no_current_ticket"


class InvalidTransition(DomainError):
    code = "invalid_transition"


class ReactivationExpired(DomainError):
    code = "reactivation_expired"


class UnknownAppointment(DomainError):
    code = "unknown_appointment"


class AppointmentUsed(DomainError):
    code = "appointment_used"


class BadCitizen(DomainError):
    """A citizen hash that is not one (64 lower-case hex digits)."""

    code = "bad_citizen"


class AppointmentExpired(DomainError):
    """The booked slot (and its grace minutes) is over: the citizen takes an ordinary number."""

    code = "appointment_expired"


class ServiceInUse(DomainError):
    code = "service_in_use"


class StaleConfig(DomainError):
    code = "stale_config"


class AlreadyRated(DomainError):
    code = "already_rated"


class NotSignedIn(DomainError):
    """Nobody is signed in at the window (a hall with a staff list calls only when staffed)."""

    code = "not_signed_in"


class UnknownStaff(DomainError):
    code = "unknown_staff"


class StaffNotAllowed(DomainError):
    """The member of staff may not sign in at this window (hall.yaml ``staff.members``)."""

    code = "staff_not_allowed"


class SignInRefused(DomainError):
    """A wrong PIN or an unknown staff card; ``retry_after_s`` says when the next is checked.
    ``staff_id`` (a member the hub knows, for the lockout event) is kept off the details, so
    a refusal never tells a terminal whether a staff number exists."""

    code = "sign_in_refused"
    staff_id: str | None = None


class SignInLocked(DomainError):
    """No PIN is checked for this member of staff or at this window now (too many wrong
    ones); ``retry_after_s`` says when, ``locked_out`` tells a lockout from a short wait."""

    code = "sign_in_locked"


class UnknownPauseReason(DomainError):
    code = "unknown_pause_reason"


class DayEnded(DomainError):
    """Staff sign-in is closed: the hall's business day has ended (``staff.sign_out_at``)."""

    code = "day_ended"


class UnknownCase(DomainError):
    """No rating was asked for or given with this case number (办件编号)."""

    code = "unknown_case"


class DeviceError(HallError):
    """A device failed; ``device`` names it, ``reason`` is a stable short code."""

    code = "device_error"


class StoreDamaged(StoreError):
    """The store does not hold what this node committed: a changed or damaged event, a lost
    tail, a store emptied or replaced. ``seq`` names the first event concerned."""

    code = "store_damaged"


class IdentityMismatch(StoreError):
    """The store belongs to another node or hall than node.yaml / hall.yaml say."""

    code = "identity_mismatch"


class ClockSuspect(StoreError):
    """The machine's clock cannot be trusted to open a new business day by itself."""

    code = "clock_unconfirmed"
