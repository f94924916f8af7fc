"""Kiosk mode: a full-screen kiosk citizens cannot leave.

Closing and the usual escape keys are refused; five taps on the hall name within three
seconds ask for the admin PIN (``hall-agent admin set-pin``) on an on-screen keypad, checked
against its hash. Quick taps count too: the window system turns every second quick tap into a
double-click instead of a press.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QWidget

from agent.adminpin import verify_pin
from ui.views.pinpad import PinPad

TAPS = 5
TAP_WINDOW_S = 3.0
BLOCKED_KEYS = {Qt.Key.Key_Escape, Qt.Key.Key_F11, Qt.Key.Key_F4}


TAP_EVENTS = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick)


def ask_pin(parent: QWidget) -> str | None:
    return PinPad(parent).ask()


class KioskLock(QObject):
    def __init__(
        self,
        screen: QWidget,
        tap_target: QWidget,
        pin_hash: str,
        on_unlock: Callable[[], None],
        prompt: Callable[[QWidget], str | None] = ask_pin,
    ) -> None:
        super().__init__(screen)
        self.screen = screen
        self.pin_hash = pin_hash
        self.on_unlock = on_unlock
        self.prompt = prompt
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
        pin = self.prompt(self.screen)
        if pin is not None and verify_pin(pin, self.pin_hash):
            self.unlocked = True
            self.on_unlock()
