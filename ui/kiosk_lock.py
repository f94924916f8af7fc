"""Kiosk mode: a full-screen kiosk citizens cannot leave.

Closing and the usual escape keys are refused; five taps on the hall name within three
seconds ask for the admin PIN (``hall-agent admin set-pin``) on an on-screen keypad, checked
by a :class:`~agent.adminpin.PinGuard`: wrong PINs slow the next try and then lock it out (the
lockout is reported upward through ``report_lockout``). Quick taps count too: the window
system turns every second quick tap into a double-click instead of a press.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QMessageBox, QWidget

from agent.adminpin import PinGuard, PinLocked
from ui.views.pinpad import PinPad

TAPS = 5
TAP_WINDOW_S = 3.0
BLOCKED_KEYS = {Qt.Key.Key_Escape, Qt.Key.Key_F11, Qt.Key.Key_F4}


TAP_EVENTS = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick)


def ask_pin(parent: QWidget) -> str | None:
    return PinPad(parent).ask()


def show_notice(parent: QWidget, text: str) -> None:
    QMessageBox.information(parent, QCoreApplication.translate("KioskLock", "Staff only"), text)


def wait_text(seconds: float) -> str:
    if seconds >= 60:
        text = QCoreApplication.translate(
            "KioskLock", "Too many wrong PINs: try again in {minutes} min"
        )
        return text.replace("{minutes}", str(math.ceil(seconds / 60)))
    text = QCoreApplication.translate("KioskLock", "Wrong PIN: try again in {seconds} s")
    return text.replace("{seconds}", str(math.ceil(seconds)))


class KioskLock(QObject):
    def __init__(
        self,
        screen: QWidget,
        tap_target: QWidget,
        guard: PinGuard,
        on_unlock: Callable[[], None],
        prompt: Callable[[QWidget], str | None] = ask_pin,
        report_lockout: Callable[[int], None] = lambda seconds: None,
        notice: Callable[[QWidget, str], None] = show_notice,
    ) -> None:
        super().__init__(screen)
        self.screen = screen
        self.guard = guard
        self.on_unlock = on_unlock
        self.prompt = prompt
        self.report_lockout = report_lockout
        self.notice = notice
        self.unlocked = False
        self._taps: list[float] = []
        screen.installEventFilter(self)
        tap_target.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.Close and not self.unlocked:
            event.ignore()
            return True
        if kind == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            return event.key() in BLOCKED_KEYS and not self.unlocked
        if kind in TAP_EVENTS and watched is not self.screen:
            self._tap()
        return False

    def _tap(self) -> None:
        now = time.monotonic()
        self._taps = [t for t in self._taps if now - t < TAP_WINDOW_S] + [now]
        if len(self._taps) < TAPS:
            return
        self._taps.clear()
        wait = self.guard.retry_after_s()
        if wait > 0:  # not even asked: a locked-out kiosk shows how long, nothing more
            self.notice(self.screen, wait_text(wait))
            return
        pin = self.prompt(self.screen)
        if pin is None:
            return
        try:
            result = self.guard.check(pin)
        except PinLocked as exc:  # (the delay began while the prompt was open)
            self.notice(self.screen, wait_text(exc.details["retry_after_s"]))
            return
        if result.ok:
            self.unlocked = True
            self.on_unlock()
            return
        if result.lockout_s is not None:
            self.report_lockout(result.lockout_s)
        self.notice(self.screen, wait_text(result.retry_after_s))
