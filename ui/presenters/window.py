"""Window station presenter (虚拟呼叫器): one window's caller; it shows what the window's
LED strip and evaluator do (the node drives them: ``sync.node_devices.WindowDevices``).

Actions go through :meth:`Presenter.run_command` (off the GUI thread on a terminal); one at
a time: a key pressed while an action waits for the hub is ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import QCoreApplication, Signal

from agent import commands as c
from agent.config import HallConfig
from agent.errors import HallError
from agent.ratings import NO_REASON
from agent.staffauth import is_staff_card
from ui.alarms import alarm_lines, concerns_window
from ui.core import CoreClient
from ui.i18n import Languages
from ui.messages import (
    action_done_text,
    action_failed_text,
    assist_text,
    bundle_leg_text,
    device_kind_text,
    device_reason_text,
    device_status_text,
    error_text,
    no_reason_text,
    please_wait_text,
    score_text,
)
from ui.ports import DevicePort
from ui.presenters.base import HallReading, Presenter

log = logging.getLogger(__name__)

RATING_QR_PREFIX = "HR1:"


@dataclass(frozen=True)
class WaitingRow:
    number: str
    service_name: str
    priority: str
    citizen_name: str | None
    bundle_leg: int | None = None  # which step of a bundle


@dataclass(frozen=True)
class DeviceRow:
    device: str
    label: str
    status: str  # online | offline | fault
    text: str  # translated status (+ reason)


@dataclass(frozen=True)
class RatingVM:
    state: str  # idle | waiting | rated | none | qr
    number: str = ""
    text: str = ""  # translated score
    qr_payload: str = ""
    reasons: str = ""  # translated reasons of a bad rating ("no reason given" included)
    case: str = ""  # 办件编号 the business system gave
    score: int | None = None  # the level given (``text`` is it translated)
    reason_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class WindowVM:
    number: int
    name: str
    status: str  # open | paused
    current: str | None
    current_state: str | None
    service_name: str
    citizen_name: str | None
    waiting: list[WaitingRow]
    transfer_targets: list[tuple[str, str]]  # (code, name)
    devices: list[DeviceRow]
    rating: RatingVM
    enabled: dict[str, bool] = field(default_factory=dict)
    served_today: int = 0
    current_since: str | None = None  # ISO time the current ticket was called or started
    alarms: tuple[str, ...] = ()  # translated lines: this window's and its services' alarms
    bundle: str = ""  # translated: the current ticket's bundle and leg
    assist: str = ""  # translated: assisted / proxy service, and by whom
    staffed: bool = False  # the hall has a staff list: someone must sign in to call
    staff_id: str | None = None  # who is signed in here
    staff_name: str = ""  # masked
    pause_reason: str = ""  # translated label of the reason the window is paused for
    pause_reasons: tuple[tuple[str, str], ...] = ()  # (code, translated label)

    @property
    def needs_sign_in(self) -> bool:
        return self.staffed and self.staff_id is None


class WindowPresenter(Presenter):
    changed = Signal(object)  # WindowVM
    message = Signal(str)  # translated: why an action did not happen ("" clears it)
    done = Signal(str)  # translated: what an action did (feedback after every action)
    led_text = Signal(str)  # what the window's LED strip shows now

    def __init__(
        self,
        core: CoreClient,
        devices: DevicePort,
        languages: Languages,
        window: int,
        reprint: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(core, languages)
        self.devices = devices
        self.window = window
        self._reprint = reprint
        self._rating = RatingVM("idle")
        self._vm: WindowVM | None = None
        self._running = False  # an action waits for the core: further ones are ignored
        self._target_name = ""  # the service of the last transfer (for its feedback)
        devices.status.connect(self.refresh_soon)
        devices.rating_missed.connect(self._rating_missed)
        devices.window_code.connect(self.on_scanned)

    @property
    def vm(self) -> WindowVM | None:
        return self._vm

    # ---- events -------------------------------------------------------------------------
    def on_event(self, event: Any) -> None:
        """Any event may change the waiting list; this window's own also change what its
        LED strip and evaluator show."""
        p = event.payload
        mine = p.get("window") == self.window
        if mine and event.type == "TicketCalled" and self._rating.state in ("qr", "none"):
            # the next citizen is at the window: the last one's rating prompt would name
            # another number beside the current one (a rating on the evaluator still counts)
            self._rating = RatingVM("idle")
        if mine and event.type in ("TicketCalled", "TicketRecalled"):
            self._show_led(f"请{p['number']}号")
        elif mine and event.type == "WindowPaused":
            self._show_led("暂停服务")
        elif mine and event.type in ("WindowResumed", "TicketNoShow", "TicketTransferred"):
            self._show_led("")
        elif mine and event.type == "ServiceFinished":
            self._show_led("")
            self._ask_rating(p["number"], event.business_date)
        elif mine and event.type == "EvaluationRecorded":
            self._rated(p, event.business_date)
        self.refresh_soon()

    def _rated(self, p: dict[str, Any], business_date: str) -> None:
        """A rating came: its level and reasons; a bad one given without a reason (a
        keys-only evaluator) offers the rating link's QR, where the citizen can say why."""
        reasons = tuple(p.get("reasons") or ())
        number = p["number"]
        self._rating = RatingVM(
            "rated", number, case=p.get("case") or "", score=p["score"], reason_codes=reasons
        )
        if reasons == (NO_REASON,):
            self._offer_link(number, business_date, "rated")

    def _rating_vm(self, config: HallConfig) -> RatingVM:
        """The rating shown, its level and reasons in the language of the moment."""
        r = self._rating
        if r.score is None:
            return r
        labels = {x.code: (x.zh, x.en) for x in config.rating_indicators.reasons}
        texts = [
            no_reason_text() if code == NO_REASON else self.languages.pick(*labels[code])
            for code in r.reason_codes
            if code == NO_REASON or code in labels
        ]
        return replace(r, text=score_text(r.score), reasons="、".join(texts))

    def _show_led(self, text: str) -> None:
        self.led_text.emit(text)

    def _ask_rating(self, number: str, business_date: str) -> None:
        if not self.devices.has_evaluator(self.window):
            self._rating = RatingVM("qr", number)
            self._offer_link(number, business_date, "qr")
            return
        self._rating = RatingVM("waiting", number)

    def _offer_link(self, number: str, business_date: str, state: str) -> None:
        """Put the rating link of ``number`` (signed by the hub, purpose ``r``) in the QR,
        read off the GUI thread; without a ``ticket_link_base`` the hall's own ``HR1:``
        text. Dropped if the rating shown has moved on meanwhile."""

        def shown(link: Any, exc: BaseException | None) -> None:
            r = self._rating
            if r.state != state or r.number != number:
                return
            if exc is not None or not link:
                if exc is not None:
                    log.info("window %s: no rating link for %s: %s", self.window, number, exc)
                config = self.core.known_config()
                hall = config.hall_id if config else ""
                link = f"{RATING_QR_PREFIX}{hall}:{business_date}:{number}"
            self._rating = replace(r, qr_payload=str(link))
            self.refresh_soon()

        self.run_read(lambda: self.core.query("ticket_link", number=number, purpose="r"), shown)

    def _rating_missed(self, window: int, number: str) -> None:
        if window == self.window and self._rating == RatingVM("waiting", number):
            self._rating = RatingVM("none", number)
            self.refresh_soon()

    # ---- view-model ---------------------------------------------------------------------
    def read_more(self) -> list[dict[str, Any]]:
        return self.core.waiting_list(self.window)

    def show(self, reading: HallReading) -> None:
        status, config = reading.status, reading.config
        pick = self.languages.pick
        names = {s.code: pick(s.name_zh, s.name_en) for s in config.services}
        w = next(x for x in status["windows"] if x["number"] == self.window)
        waiting = [
            WaitingRow(
                t["number"],
                names.get(t["service"], t["service"]),
                t["priority"],
                t["citizen_name"],
                t.get("bundle_leg"),
            )
            for t in reading.more
        ]
        state = w["current_state"]
        current_service = w["current_service"]
        targets = [(s.code, names[s.code]) for s in config.services if s.code != current_service]
        paused = w["status"] == "paused"
        staff_id = w.get("staff_id")
        signed_in = staff_id is not None or not status.get("staffed", False)
        reasons = {r.code: pick(r.name_zh, r.name_en) for r in config.staff.pause_reasons}
        view = w.get("current_view") or {}
        bundle = ""
        if view.get("bundle"):
            name = pick(view["bundle_name_zh"], view["bundle_name_en"])
            bundle = bundle_leg_text(name, view["bundle_leg"], view["bundle_legs"])
        enabled = {
            "call": signed_in and not paused and state != "serving" and bool(waiting),
            "recall": state == "called",
            "no_show": state == "called",
            "start": state == "called",
            "finish": state == "serving",
            "transfer": state in ("called", "serving"),
            "assist": state in ("called", "serving"),
            "reactivate": True,
            "reprint": self.devices.has_printer() and w["current"] is not None,
            "pause": signed_in and not paused and w["current"] is None,
            "resume": signed_in and paused,
            "sign_out": staff_id is not None and w["current"] is None,
        }
        self._vm = WindowVM(
            number=self.window,
            name=pick(w["name_zh"], w["name_en"]),
            status=w["status"],
            current=w["current"],
            current_state=state,
            service_name=names.get(current_service, "") if current_service else "",
            citizen_name=w["citizen_name"],
            waiting=waiting,
            transfer_targets=targets,
            devices=self._device_rows(status["devices"]),
            rating=self._rating_vm(config),
            enabled=enabled,
            served_today=w.get("served_today", 0),
            current_since=w.get("current_since"),
            alarms=self._alarms(status, config),
            bundle=bundle,
            assist=assist_text(view.get("assist"), view.get("assist_staff")),
            staffed=bool(status.get("staffed", False)),
            staff_id=staff_id,
            staff_name=w.get("staff_name") or "",
            pause_reason=reasons.get(w.get("pause_reason") or "", w.get("pause_reason") or ""),
            pause_reasons=tuple(reasons.items()),
        )
        self.changed.emit(self._vm)

    def _alarms(self, status: dict[str, Any], config: HallConfig) -> tuple[str, ...]:
        window = config.window(self.window)
        services = window.services if window else []
        mine = [a for a in status.get("alarms", []) if concerns_window(a, self.window, services)]
        return alarm_lines(mine, config, self.languages.pick)

    def _device_rows(self, recorded: dict[str, dict[str, Any]]) -> list[DeviceRow]:
        """This window's devices and the shared ones, by the kind and window each was
        reported with (node.yaml); the core's rows, updated by what this PC's devices say."""
        local = {
            k: {"status": s, "reason": r, **self.devices.where(k)}
            for k, (s, r) in self.devices.states.items()
        }
        rows = []
        for device in sorted(recorded.keys() | local.keys()):
            info = {**recorded.get(device, {}), **local.get(device, {})}
            kind, window = info.get("kind"), info.get("window")
            if kind is None:  # recorded before devices carried their kind and window
                kind, window = _guess_from_id(device)
            if window not in (None, self.window):
                continue
            text = device_status_text(info["status"])
            if info.get("reason"):
                text += " · " + device_reason_text(info["reason"])
            rows.append(DeviceRow(device, device_kind_text(kind), info["status"], text))
        return rows

    # ---- actions ------------------------------------------------------------------------
    def _run(self, command: c.Command) -> bool:
        """True when the action was done on return (a local core); a terminal's finishes later
        on the GUI thread. False when refused, failed, or ignored (another one is running).
        Done, it says what it did (:data:`done`)."""
        if self._running:
            # the command's name only: a sign-in carries a PIN or a badge's code
            name = type(command).__name__
            log.info("window %s: %s ignored, an action is running", self.window, name)
            return False
        self._running = True
        done: list[bool] = []
        try:
            self.run_command(
                lambda: self.core.execute(command),
                lambda result, exc: done.append(self._ran(command, result, exc)),
            )
        except BaseException:
            self._running = False  # a bug, not a refusal: the next key must still work
            raise
        if self._running:  # on its way to the hub
            self.message.emit(please_wait_text())
        return bool(done and done[0])

    def _ran(self, command: c.Command, result: Any, exc: BaseException | None) -> bool:
        self._running = False
        if self.core.closed:
            return False
        if exc is not None:
            if not isinstance(exc, (HallError, TimeoutError)):
                log.error("window %s: action failed", self.window, exc_info=exc)
            self.message.emit(action_failed_text(exc))
            if isinstance(exc, HallError) and exc.code != "hub_unreachable":
                self.refresh()  # refused: the buttons were stale (another screen acted)
            else:
                self.refresh_soon()  # unknown outcome: show what the hub has
            return False
        self.message.emit("")
        number = result.get("number", "") if isinstance(result, dict) else ""
        self.done.emit(action_done_text(type(command).__name__, number, self._target_name))
        return True

    def call_next(self) -> bool:
        self._rating = RatingVM("idle")
        return self._run(c.CallNext(self.window))

    def recall(self) -> bool:
        return self._run(c.Recall(self.window))

    def no_show(self) -> bool:
        return self._run(c.MarkNoShow(self.window))

    def start(self) -> bool:
        return self._run(c.StartService(self.window))

    def finish(self) -> bool:
        return self._run(c.FinishService(self.window))

    def transfer(self, to_service: str) -> bool:
        config = self.core.config()
        service = config.service(to_service)
        self._target_name = (
            self.languages.pick(service.name_zh, service.name_en) if service else to_service
        )
        return self._run(c.Transfer(self.window, to_service))

    def assist(self, mode: str, staff_id: str) -> bool:
        """Mark the current ticket as assisted (帮办) or proxy (代办) service by a staff id."""
        staff_id = staff_id.strip()
        if not staff_id:
            self.message.emit(
                QCoreApplication.translate("Window", "Enter the assisting staff member's ID")
            )
            return False
        return self._run(c.MarkAssisted(self.window, mode, staff_id))

    def reactivate(self, number: str) -> bool:
        number = number.strip().upper()
        if not number:
            self.message.emit(error_text("unknown_ticket"))
            return False
        return self._run(c.Reactivate(number))

    def pause(self, reason: str | None) -> bool:
        """Pause for a reason of hall.yaml ``staff.pause_reasons`` (chosen on the screen)."""
        if not reason:
            self.message.emit(
                QCoreApplication.translate("Window", "Choose why the window pauses first")
            )
            return False
        return self._run(c.PauseWindow(self.window, reason))

    def resume(self) -> bool:
        return self._run(c.ResumeWindow(self.window))

    def sign_in(self, staff_id: str, pin: str) -> bool:
        """工号 and PIN, checked by the hub (the PIN is never kept on this PC)."""
        staff_id, pin = staff_id.strip(), pin.strip()
        if not staff_id or not pin:
            self.message.emit(QCoreApplication.translate("Window", "Enter your staff ID and PIN"))
            return False
        return self._run(c.SignIn(self.window, staff_id, pin=pin))

    def sign_in_card(self, code: str) -> bool:
        """A staff card's code, as the badge scanner typed it (agent/staffauth.py)."""
        code = code.strip()
        if not is_staff_card(code):
            self.message.emit(error_text("sign_in_refused"))
            return False
        return self._run(c.SignIn(self.window, card=code))

    def on_scanned(self, window: int, code: str) -> None:
        """A code read by a window's scanner (``DevicePort.window_code``): a staff badge read
        at this window signs in on the sign-in page; another window's scans are not ours.

        A badge scanned while someone is signed in does not switch staff: the window is
        handed over by signing out first, so a badge held near the scanner by a colleague
        never takes over a window, and no call is put on someone who did not make it."""
        if window != self.window:
            return
        if not is_staff_card(code.strip()):
            self.message.emit(
                QCoreApplication.translate("Window", "The scanned code is not a staff card")
            )
            return
        vm = self._vm
        if vm is None:
            self.message.emit(please_wait_text())
        elif vm.staff_id is not None:
            self.message.emit(
                QCoreApplication.translate(
                    "Window", "Someone is signed in here: sign out before the next staff card"
                )
            )
        elif not vm.staffed:
            self.message.emit(
                QCoreApplication.translate("Window", "Nobody signs in at this hall's windows")
            )
        else:
            self.sign_in_card(code)

    def sign_out(self) -> bool:
        return self._run(c.SignOut(self.window))

    def reprint(self) -> None:
        if self._vm is None or self._vm.current is None or self._reprint is None:
            self.message.emit(device_reason_text("no_printer"))
            return
        self._reprint(self._vm.current)


def _guess_from_id(device: str) -> tuple[str, int | None]:
    """Kind and window of a device row recorded without them (``evaluator-2``: window 2)."""
    tail = device.rsplit("-", 1)[-1]
    window = int(tail) if tail.isdigit() else None
    for kind in ("printer", "idreader", "scanner", "led", "evaluator"):
        if kind in device:
            return kind, window
    if "reader" in device or "card" in device:
        return "idreader", window
    return device, window
