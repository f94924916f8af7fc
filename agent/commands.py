"""Every change to a hall is one of these commands; the engine turns it into events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from agent.calendar import HallCalendar
from agent.config import HallConfig


@dataclass(frozen=True)
class Citizen:
    """What the queue may know of a citizen: a keyed hash, a masked name, and whether the
    card makes them elderly (the kiosk decides that from the birth date with
    ``PriorityRules.is_elderly``, so the birth date itself never leaves the kiosk)."""

    citizen_hash: str
    masked_name: str = ""
    elderly: bool = False


@dataclass(frozen=True)
class Appointment:
    code: str
    slot_start: dt.datetime
    slot_end: dt.datetime


@dataclass(frozen=True)
class RosterEntry:
    """One booked appointment: the code in the citizen's QR, the service and the slot."""

    code: str
    service: str
    slot_start: dt.datetime
    slot_end: dt.datetime
    citizen_name: str = ""  # masked
    #: The citizen's hash for the slot's day, which central computes from the ID number with
    #: the hall key (agent/privacy.py): a swiped card finds the booking. Empty: QR code only.
    citizen_hash: str = ""


@dataclass(frozen=True)
class IssueTicket:
    service: str
    staff_priority: bool = False
    citizen: Citizen | None = None
    appointment: Appointment | None = None
    channel: str = "button"  # button | idcard | appointment | cli | staff
    bundle: str | None = None  # a "one thing" bundle; ``service``: its first one, or ""


@dataclass(frozen=True)
class CheckIn:
    """Appointment check-in: the kiosk scanned the code of a booked appointment."""

    code: str
    citizen: Citizen | None = None


@dataclass(frozen=True)
class CheckInByCard:
    """Appointment check-in by ID card: the swiped card's hash for today matches a booking."""

    citizen: Citizen


@dataclass(frozen=True)
class LoadAppointments:
    """A roster of booked appointments (from the central platform), kept for offline check-in."""

    roster_id: str
    entries: tuple[RosterEntry, ...]


@dataclass(frozen=True)
class PublishNotice:
    notice_id: str
    text_zh: str
    text_en: str = ""
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class ApplyHallConfig:
    """A new hall config (already validated and signature-checked by whoever received it)."""

    config: HallConfig
    version: int


@dataclass(frozen=True)
class ApplyCalendar:
    """The calendar pushed by the central platform (validated and signature-checked)."""

    calendar: HallCalendar
    version: int


@dataclass(frozen=True)
class WindowCommand:
    """An action of the staff at one window."""

    window: int


class CallNext(WindowCommand):
    """Call the next citizen (marks a called citizen who never came as no-show)."""


class Recall(WindowCommand):
    """Call the same number again."""


class MarkNoShow(WindowCommand):
    """The called citizen did not come."""


class StartService(WindowCommand):
    """The citizen is at the window: service begins."""


class FinishService(WindowCommand):
    """Service done (办结); the evaluator asks for a rating."""


@dataclass(frozen=True)
class PauseWindow(WindowCommand):
    """The window stops taking calls (暂停服务), for a reason of hall.yaml
    ``staff.pause_reasons``."""

    reason: str


class ResumeWindow(WindowCommand):
    """The window takes calls again."""


@dataclass(frozen=True)
class Transfer(WindowCommand):
    to_service: str


@dataclass(frozen=True)
class MarkAssisted(WindowCommand):
    """The window's current ticket is served with help (帮办, ``assisted``: staff do the
    steps with the citizen) or by proxy (代办, ``proxy``: staff act for the citizen)."""

    mode: str  # assisted | proxy
    staff_id: str  # the assisting staff member (the event calls it ``assist_staff``)


@dataclass(frozen=True)
class SignIn(WindowCommand):
    """A member of staff signs in at a window, by 工号 and PIN or by staff card.

    The hub checks ``pin`` or ``card`` against what it alone holds (agent/staffauth.py) and
    runs the command without them: no PIN or card ever reaches the log. ``method`` is set by
    that check (``pin`` | ``card``); a sign-in that did not pass it is refused."""

    staff_id: str = ""  # empty with a card: the card names its holder
    pin: str | None = field(default=None, repr=False)  # never in a log line or traceback
    card: str | None = field(default=None, repr=False)
    method: str = ""


class SignOut(WindowCommand):
    """The member of staff signed in at a window signs out."""


@dataclass(frozen=True)
class StaffRosterMember:
    """One member of a roster from central: no secret (those stay at the hub)."""

    id: str
    name: str = ""
    windows: tuple[int, ...] = ()


@dataclass(frozen=True)
class LoadStaffRoster:
    """The staff roster central signed (its secrets already kept at the hub)."""

    version: int
    members: tuple[StaffRosterMember, ...]


@dataclass(frozen=True)
class TicketCommand:
    """An action on one of today's tickets, by its number."""

    number: str


class Reactivate(TicketCommand):
    """A late citizen's no-show ticket goes back into the line."""


class CancelTicket(TicketCommand):
    """A waiting or no-show ticket is withdrawn."""


@dataclass(frozen=True)
class RecordEvaluation:
    """A citizen's rating (好差评 level 5 非常满意 … 1 非常不满意) of a finished ticket."""

    window: int
    score: int
    number: str | None = None  # default: the ticket last finished at this window
    reasons: tuple[str, ...] = ()  # for levels 1-2: codes of the hall's indicator list
    channel: str = "evaluator"  # evaluator | qr | kiosk | window (agent/ratings.py)
    case: str | None = None  # 办件编号; default: the one the business system gave


@dataclass(frozen=True)
class RequestRating:
    """The window's business system (受理系统) asks for a rating of its case (办件编号):
    the ticket served at the window, or the one it finished last if not rated yet."""

    window: int
    case: str


@dataclass(frozen=True)
class DeviceStatusChanged:
    device: str
    status: str  # online | offline | fault
    reason: str | None = None
    kind: str | None = None  # printer | idreader | scanner | led | evaluator (node.yaml)
    window: int | None = None  # the window it serves; None: shared (kiosk, one LED bus)


@dataclass(frozen=True)
class DeviceProfileApplied:
    """A device was re-opened with a profile pushed from central: it kept it (``applied``)
    or went back to its last good one (``rolled_back``, with the health check's reason)."""

    device: str
    profile: str  # the profile's name (node.yaml ``profile``, the push's topic)
    version: int  # the push's version
    outcome: str  # applied | rolled_back
    reason: str | None = None


@dataclass(frozen=True)
class ReportAdminPinLockout:
    """A kiosk locked its admin PIN after too many wrong ones: recorded, so central sees it."""

    terminal: str  # the node id of the kiosk
    failures: int
    locked_for_s: int


@dataclass(frozen=True)
class ReportStaffLockout:
    """Wrong PINs or cards locked staff sign-in at a window (and for a member of staff the
    hub knows): recorded, so central sees it. Made by the hub itself, never by a terminal."""

    window: int
    staff_id: str | None
    locked_for_s: int


@dataclass(frozen=True)
class Tick:
    """Time passes: called tickets nobody came for turn into no-shows; alarms rise and clear."""


@dataclass(frozen=True)
class ConfirmClock:
    """Trust the clock again: the operator says the machine's clock is right
    (``source="operator"``), or gives the right time (``correct_to``), or central's clock
    offset is known (``source="central"``, ``offset_s`` = central minus this machine)."""

    source: str = "operator"  # operator | central
    correct_to: dt.datetime | None = None
    offset_s: float | None = None


@dataclass(frozen=True)
class ResumeNumbering:
    """After a store was rebuilt without its tail: today's numbers of each service go on
    ``offsets[service]`` past the last one known, so no number a lost event gave out is
    given again."""

    offsets: dict[str, int]
    reason: str


Command = (
    IssueTicket
    | CheckIn
    | CheckInByCard
    | LoadAppointments
    | PublishNotice
    | ApplyHallConfig
    | ApplyCalendar
    | CallNext
    | Recall
    | MarkNoShow
    | StartService
    | FinishService
    | Transfer
    | MarkAssisted
    | PauseWindow
    | ResumeWindow
    | SignIn
    | SignOut
    | LoadStaffRoster
    | Reactivate
    | CancelTicket
    | RecordEvaluation
    | RequestRating
    | DeviceStatusChanged
    | DeviceProfileApplied
    | ReportAdminPinLockout
    | ReportStaffLockout
    | Tick
    | ConfirmClock
    | ResumeNumbering
)
