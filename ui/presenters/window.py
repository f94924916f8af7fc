"""Window station presenter (虚拟呼叫器): one window's caller, its LED strip and evaluator."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Signal

from agent import commands as c
from agent.config import HallConfig
from agent.errors import HallError
from ui.core import Background, CoreClient
from ui.i18n import Languages
from ui.messages import (
    command_failed_text,
    device_kind_text,
    device_reason_text,
    device_status_text,
    error_text,
    score_text,
)
from ui.ports import DevicePort
from ui.presenters.base import Presenter

log = logging.getLogger(__name__)

RATING_QR_PREFIX = "HR1:"
RATING_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class WaitingRow:
    number: str
    service_name: str
    priority: str
    citizen_name: str | None


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


class WindowPresenter(Presenter):
    changed = Signal(object)  # WindowVM
    message = Signal(str)  # translated
    led_text = Signal(str)  # what the window's LED strip shows now

    def __init__(
        self,
        core: CoreClient,
        devices: DevicePort,
        languages: Languages,
        window: int,
        rating_timeout: float = RATING_TIMEOUT_S,
        reprint: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(core, languages)
        self.devices = devices
        self.window = window
        self.rating_timeout = rating_timeout
        self._reprint = reprint
        self._led = Background(f"led-{window}")
        self._evaluator = Background(f"evaluator-{window}")
        self._rating = RatingVM("idle")
        self._vm: WindowVM | None = None
        devices.status.connect(self.refresh_soon)

    @property
    def vm(self) -> WindowVM | None:
        return self._vm

    # ---- events -------------------------------------------------------------------------
    def on_event(self, event: Any) -> None:
        """Any event may change the waiting list; this window's own also drive its LED
        strip and evaluator."""
        p = event.payload
        mine = p.get("window") == self.window
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
            self._rating = RatingVM("rated", p["number"], score_text(p["score"]))
        self.refresh_soon()

    def _show_led(self, text: str) -> None:
        self.led_text.emit(text)
        if self.devices.has_led(self.window):
            self._led.run(lambda: self.devices.show(self.window, text), self._led_done)

    def _led_done(self, _result: object, exc: BaseException | None) -> None:
        if exc is not None:
            log.warning("window %s LED failed", self.window, exc_info=exc)

    def _ask_rating(self, number: str, business_date: str) -> None:
        if not self.devices.has_evaluator(self.window):
            hall = self.core.config().hall_id
            payload = f"{RATING_QR_PREFIX}{hall}:{business_date}:{number}"
            self._rating = RatingVM("qr", number, qr_payload=payload)
            return
        self._rating = RatingVM("waiting", number)

        def done(score: int | None, exc: BaseException | None) -> None:
            if exc is not None:
                log.warning("window %s evaluator failed", self.window, exc_info=exc)
            if score is None:
                if self._rating.number == number and self._rating.state == "waiting":
                    self._rating = RatingVM("none", number)
                    self.refresh_soon()
                return
            try:
                self.core.execute(c.RecordEvaluation(self.window, score, number))
            except (HallError, TimeoutError) as err:
                self.message.emit(command_failed_text(err))

        self._evaluator.run(
            lambda: self.devices.request_rating(self.window, number, self.rating_timeout), done
        )

    # ---- view-model ---------------------------------------------------------------------
    def show(self, status: dict[str, Any], config: HallConfig) -> None:
        pick = self.languages.pick
        names = {s.code: pick(s.name_zh, s.name_en) for s in config.services}
        w = next(x for x in status["windows"] if x["number"] == self.window)
        waiting = [
            WaitingRow(
                t["number"], names.get(t["service"], t["service"]), t["priority"], t["citizen_name"]
            )
            for t in self.core.waiting_list(self.window)
        ]
        state = w["current_state"]
        current_service = w["current_service"]
        targets = [(s.code, names[s.code]) for s in config.services if s.code != current_service]
        paused = w["status"] == "paused"
        enabled = {
            "call": not paused and state != "serving" and bool(waiting),
            "recall": state == "called",
            "no_show": state == "called",
            "start": state == "called",
            "finish": state == "serving",
            "transfer": state in ("called", "serving"),
            "reactivate": True,
            "reprint": self.devices.has_printer() and w["current"] is not None,
            "pause": not paused and w["current"] is None,
            "resume": paused,
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
            rating=self._rating,
            enabled=enabled,
        )
        self.changed.emit(self._vm)

    def _device_rows(self, recorded: dict[str, dict[str, Any]]) -> list[DeviceRow]:
        rows = []
        states = {k: {"status": s, "reason": r} for k, (s, r) in self.devices.states.items()}
        for device, info in sorted({**recorded, **states}.items()):
            if not self._concerns_me(device):
                continue
            kind = _kind_of(device)
            text = device_status_text(info["status"])
            if info.get("reason"):
                text += " · " + device_reason_text(info["reason"])
            rows.append(DeviceRow(device, device_kind_text(kind), info["status"], text))
        return rows

    def _concerns_me(self, device: str) -> bool:
        """This window's own devices (``…-<n>``) and the shared ones (no window number)."""
        tail = device.rsplit("-", 1)[-1]
        return not tail.isdigit() or int(tail) == self.window

    # ---- actions ------------------------------------------------------------------------
    def _run(self, command: c.Command) -> bool:
        try:
            self.core.execute(command)
        except (HallError, TimeoutError) as exc:
            self.message.emit(command_failed_text(exc))
            if isinstance(exc, HallError):
                self.refresh()  # refused: the buttons were stale (another screen acted)
            return False
        self.message.emit("")
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
        return self._run(c.Transfer(self.window, to_service))

    def reactivate(self, number: str) -> bool:
        number = number.strip().upper()
        if not number:
            self.message.emit(error_text("unknown_ticket"))
            return False
        return self._run(c.Reactivate(number))

    def pause(self) -> bool:
        return self._run(c.PauseWindow(self.window))

    def resume(self) -> bool:
        return self._run(c.ResumeWindow(self.window))

    def toggle_pause(self) -> bool:
        if self._vm is not None and self._vm.status == "paused":
            return self.resume()
        return self.pause()

    def reprint(self) -> None:
        if self._vm is None or self._vm.current is None or self._reprint is None:
            self.message.emit(device_reason_text("no_printer"))
            return
        self._reprint(self._vm.current)

    def close(self) -> None:
        self._led.shutdown()
        self._evaluator.shutdown()


def _kind_of(device: str) -> str:
    for kind in ("printer", "idreader", "scanner", "led", "evaluator"):
        if kind in device:
            return kind
    if "reader" in device or "card" in device:
        return "idreader"
    return device
