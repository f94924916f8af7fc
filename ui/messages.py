"""Translated texts for the codes the core and the devices report.

Citizens never see an English exception: every ``HallError.code`` and every device reason
code maps to a sentence here (translated through Qt); unknown codes get a neutral sentence.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication

from agent.errors import HallError


def error_text(code: str, details: dict[str, Any] | None = None) -> str:
    d = details or {}
    number = str(d.get("number", ""))
    texts = {
        "unknown_service": QCoreApplication.translate("Errors", "This service is not offered here"),
        "unknown_window": QCoreApplication.translate("Errors", "There is no such window"),
        "unknown_ticket": QCoreApplication.translate("Errors", "No such ticket today"),
        "service_closed": QCoreApplication.translate(
            "Errors", "This service is not open now; please come back during opening hours"
        ),
        "daily_cap_reached": QCoreApplication.translate(
            "Errors", "Today's numbers are all taken for this service"
        ),
        "citizen_limit_reached": QCoreApplication.translate(
            "Errors", "You have reached today's ticket limit for this service"
        ),
        "already_waiting": QCoreApplication.translate(
            "Errors", "You already hold number {number}; please wait to be called"
        ),
        "nobody_waiting": QCoreApplication.translate("Errors", "Nobody is waiting"),
        "window_paused": QCoreApplication.translate(
            "Errors", "The window is paused; resume service first"
        ),
        "window_busy": QCoreApplication.translate("Errors", "Finish or transfer {number} first"),
        "no_current_ticket": QCoreApplication.translate("Errors", "No ticket at this window"),
        "invalid_transition": QCoreApplication.translate(
            "Errors", "This action is not possible for this ticket now"
        ),
        "reactivation_expired": QCoreApplication.translate(
            "Errors", "Number {number} missed its turn too long ago; please take a new ticket"
        ),
        "unknown_appointment": QCoreApplication.translate(
            "Errors", "No appointment today for this code; please ask at the service desk"
        ),
        "appointment_used": QCoreApplication.translate(
            "Errors", "This appointment is already checked in as {number}"
        ),
        "bad_ticket_link": QCoreApplication.translate(
            "Errors", "This slip is not a ticket of this hall today; please ask at the service desk"
        ),
        "appointment_expired": QCoreApplication.translate(
            "Errors", "Your appointment time has passed; please choose a service for a number"
        ),
        "already_rated": QCoreApplication.translate("Errors", "This ticket is already rated"),
        "stale_config": QCoreApplication.translate("Errors", "The hall settings are out of date"),
        "timeout": QCoreApplication.translate(
            "Errors", "The system is busy; please try again in a moment"
        ),
        "hub_busy": QCoreApplication.translate(
            "Errors", "The system is busy; please try again in a moment"
        ),
        "hub_unreachable": QCoreApplication.translate(
            "Errors", "The hall system cannot be reached; please ask the staff"
        ),
        "disk_full": QCoreApplication.translate(
            "Errors", "No new numbers now: the hall system's disk is full; please ask the staff"
        ),
        "not_signed_in": QCoreApplication.translate(
            "Errors", "Nobody is signed in at this window: sign in first"
        ),
        "unknown_staff": QCoreApplication.translate("Errors", "Wrong staff ID or PIN"),
        "sign_in_refused": QCoreApplication.translate(
            "Errors", "Wrong staff ID, PIN or staff card; try again in {seconds} s"
        ),
        "sign_in_locked": QCoreApplication.translate(
            "Errors", "Too many wrong PINs: sign-in here is locked for {seconds} s"
        ),
        "staff_not_allowed": QCoreApplication.translate(
            "Errors", "You are not on the staff list of this window"
        ),
        "day_ended": QCoreApplication.translate(
            "Errors", "The business day has ended: sign-in is closed"
        ),
        "unknown_pause_reason": QCoreApplication.translate(
            "Errors", "Choose why the window pauses first"
        ),
    }
    text = texts.get(code) or QCoreApplication.translate(
        "Errors", "Sorry, this did not work; please ask the staff"
    )
    seconds = str(d.get("retry_after_s", 1))
    return text.replace("{number}", number).replace("{seconds}", seconds)


def hall_error_text(exc: HallError) -> str:
    return error_text(exc.code, exc.details)


def command_failed_text(exc: HallError | TimeoutError) -> str:
    """Why a command from a screen did not happen: the core refused it (its error code), or
    the core did not answer in time (busy; nothing is known to have changed)."""
    if isinstance(exc, HallError):
        return hall_error_text(exc)
    return error_text("timeout")


def unreachable_text(exc: HallError | TimeoutError | None) -> str:
    """Why a screen shows no live state: the hub cannot be reached (``None`` or
    ``HubUnreachable``), or the core failed to answer a read."""
    if exc is None or (isinstance(exc, HallError) and exc.code == "hub_unreachable"):
        return QCoreApplication.translate(
            "Errors", "Connection to the hall system lost; this screen updates when it is back"
        )
    return command_failed_text(exc)


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a failed command may still have been done: no answer in time (a timeout, or a
    hub that could not be reached) means *unknown*, not *failed*."""
    if isinstance(exc, HallError):
        return exc.code in ("hub_unreachable", "timeout")
    return isinstance(exc, TimeoutError)


def issue_failed_text(exc: BaseException) -> str:
    """Why the kiosk shows no number. When the outcome is unknown the number may exist: the
    citizen asks the staff rather than taking a second one."""
    if outcome_unknown(exc):
        return QCoreApplication.translate(
            "Errors",
            "The hall system did not confirm your number in time. It may have been issued: "
            "please ask the staff before taking another ticket",
        )
    if isinstance(exc, (HallError, TimeoutError)):
        return command_failed_text(exc)
    return error_text("error")


def action_failed_text(exc: BaseException) -> str:
    """Why a window station's action did not happen, or that it may have (unknown outcome)."""
    if outcome_unknown(exc):
        return QCoreApplication.translate(
            "Errors",
            "The hall system did not answer in time; the action may have been done. "
            "Check the screen before trying again",
        )
    if isinstance(exc, (HallError, TimeoutError)):
        return command_failed_text(exc)
    return error_text("error")


def connecting_text() -> str:
    """A screen started before the hall system answered (a terminal whose hub is not up)."""
    return QCoreApplication.translate("Errors", "Connecting to the hall system…")


def action_done_text(command: str, number: str, target: str = "") -> str:
    """What a window station's action did, named by its command class (feedback)."""
    texts = {
        "CallNext": QCoreApplication.translate("Done", "Called {number}"),
        "Recall": QCoreApplication.translate("Done", "Called {number} again"),
        "MarkNoShow": QCoreApplication.translate("Done", "{number} marked as no-show"),
        "StartService": QCoreApplication.translate("Done", "Serving {number}"),
        "FinishService": QCoreApplication.translate("Done", "{number} finished"),
        "Transfer": QCoreApplication.translate("Done", "{number} transferred to {service}"),
        "Reactivate": QCoreApplication.translate("Done", "{number} is back in the queue"),
        "PauseWindow": QCoreApplication.translate("Done", "Window paused"),
        "ResumeWindow": QCoreApplication.translate("Done", "Window open again"),
        "SignIn": QCoreApplication.translate("Done", "Signed in"),
        "SignOut": QCoreApplication.translate("Done", "Signed out"),
    }
    text = texts.get(command) or QCoreApplication.translate("Done", "Done")
    return text.replace("{number}", number).replace("{service}", target)


def service_desk_text() -> str:
    """Where a citizen goes for a number while the kiosk cannot reach the hall system."""
    return QCoreApplication.translate("Kiosk", "Please go to the service desk for a number")


def please_wait_text() -> str:
    """A command is on its way to the hall system (a terminal waiting for the hub)."""
    return QCoreApplication.translate("Errors", "Please wait…")


def device_reason_text(reason: str | None) -> str:
    texts = {
        "paper_out": QCoreApplication.translate("Devices", "out of paper"),
        "paper_near_end": QCoreApplication.translate("Devices", "paper nearly out"),
        "cover_open": QCoreApplication.translate("Devices", "cover open"),
        "cutter_error": QCoreApplication.translate("Devices", "cutter jammed"),
        "offline": QCoreApplication.translate("Devices", "offline"),
        "no_answer": QCoreApplication.translate("Devices", "not answering"),
        "port_gone": QCoreApplication.translate("Devices", "unplugged"),
        "disk_full": QCoreApplication.translate("Devices", "disk full"),
        "port_unavailable": QCoreApplication.translate("Devices", "not connected"),
        "bad_frame": QCoreApplication.translate("Devices", "line errors"),
        "no_printer": QCoreApplication.translate("Devices", "no printer"),
        "sam_not_ready": QCoreApplication.translate("Devices", "card module not ready"),
    }
    if not reason:
        return ""
    return texts.get(reason) or QCoreApplication.translate("Devices", "fault")


def device_status_text(status: str) -> str:
    return {
        "online": QCoreApplication.translate("Devices", "online"),
        "offline": QCoreApplication.translate("Devices", "offline"),
        "fault": QCoreApplication.translate("Devices", "fault"),
    }.get(status, status)


def device_kind_text(kind: str) -> str:
    return {
        "printer": QCoreApplication.translate("Devices", "Ticket printer"),
        "idreader": QCoreApplication.translate("Devices", "ID-card reader"),
        "scanner": QCoreApplication.translate("Devices", "Code scanner"),
        "led": QCoreApplication.translate("Devices", "Window display"),
        "evaluator": QCoreApplication.translate("Devices", "Evaluator"),
        "storage": QCoreApplication.translate("Devices", "Hall system disk"),
    }.get(kind, kind)


def ticket_state_text(state: str | None) -> str:
    return {
        "waiting": QCoreApplication.translate("States", "Waiting"),
        "called": QCoreApplication.translate("States", "Called"),
        "serving": QCoreApplication.translate("States", "Being served"),
        "done": QCoreApplication.translate("States", "Finished"),
        "no_show": QCoreApplication.translate("States", "Missed (no-show)"),
        "transferred": QCoreApplication.translate("States", "Transferred"),
        "cancelled": QCoreApplication.translate("States", "Cancelled"),
    }.get(state or "", "")


def window_status_text(status: str) -> str:
    return {
        "open": QCoreApplication.translate("States", "Open"),
        "paused": QCoreApplication.translate("States", "Paused"),
    }.get(status, status)


def window_state_text(state: str) -> str:
    """A window as the hall display shows it (see ``ui.presenters.display``)."""
    return {
        "calling": QCoreApplication.translate("States", "Calling"),
        "serving": QCoreApplication.translate("States", "Serving"),
        "paused": QCoreApplication.translate("States", "Paused"),
        "closed": QCoreApplication.translate("States", "Closed"),
        "idle": QCoreApplication.translate("States", "Free"),
    }.get(state, state)


def score_text(score: int) -> str:
    return {
        5: QCoreApplication.translate("Rating", "Very satisfied"),
        4: QCoreApplication.translate("Rating", "Satisfied"),
        3: QCoreApplication.translate("Rating", "Fairly satisfied"),
        2: QCoreApplication.translate("Rating", "Dissatisfied"),
        1: QCoreApplication.translate("Rating", "Very dissatisfied"),
    }.get(score, str(score))


def no_reason_text() -> str:
    """A bad rating recorded without a reason (agent.ratings.NO_REASON)."""
    return QCoreApplication.translate("Rating", "no reason given")


def windows_text(windows: list[int]) -> str:
    """``1、2 号窗口`` / ``window 1`` / ``windows 1, 2 or 3`` (inside a sentence)."""
    if not windows:
        return ""
    if len(windows) == 1:
        text = QCoreApplication.translate("Format", "window {windows}")
        return text.replace("{windows}", str(windows[0]))
    joiner = QCoreApplication.translate("Format", ", ")
    last = QCoreApplication.translate("Format", " or ")
    joined = joiner.join(str(w) for w in windows[:-1]) + last + str(windows[-1])
    return QCoreApplication.translate("Format", "windows {windows}").replace("{windows}", joined)


def ahead_text(people_ahead: int, minutes: int) -> str:
    """People ahead and the wait: never "about 0 minutes" (nobody ahead says so)."""
    if people_ahead == 0:
        return QCoreApplication.translate("Format", "You are next; please listen for your number")
    text = QCoreApplication.translate("Format", "{n} people ahead · about {m} min")
    return text.replace("{n}", str(people_ahead)).replace("{m}", str(max(1, minutes)))


def opening_text(opens_at: str | None, today: str) -> str:
    """When a closed service opens next (``opens_at`` in hall time, ``today`` the hall's
    business date): ``今天 13:30 开始办理`` / ``10月8日 08:30 开始办理``."""
    if not opens_at:
        return QCoreApplication.translate("Opening", "Not open now")
    day, time = opens_at[:10], opens_at[11:16]
    if day == today:
        return fill(QCoreApplication.translate("Opening", "Opens today at {time}"), time=time)
    month = int(day[5:7])
    text = QCoreApplication.translate("Opening", "Opens {day} {mon} at {time}")
    return fill(text, month=month, mon=_MONTHS[month - 1], day=int(day[8:10]), time=time)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def bundle_leg_text(name: str, leg: int, legs: int) -> str:
    """Which leg of a "one thing" bundle a ticket is on: ``新生儿出生一件事 · 第2项/共3项``."""
    text = QCoreApplication.translate("Bundles", "{name} · step {leg} of {legs}")
    return fill(text, name=name, leg=leg, legs=legs)


def assist_text(mode: str | None, staff: str | None) -> str:
    """Assisted (帮办) or proxy (代办) service, and by whom."""
    if not mode:
        return ""
    text = {
        "assisted": QCoreApplication.translate("Assist", "Assisted by {staff}"),
        "proxy": QCoreApplication.translate("Assist", "Proxy service by {staff}"),
    }.get(mode, mode)
    return fill(text, staff=staff or "")


def announcement_text(number: str, window: int) -> str:
    """The voice line: 请 A012 号到 3 号窗口办理."""
    text = QCoreApplication.translate("Voice", "Number {number}, please go to window {window}")
    return text.replace("{number}", number).replace("{window}", str(window))


def fill(text: str, **values: object) -> str:
    """Put values into a translated text's ``{name}`` placeholders (translators keep them)."""
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text
