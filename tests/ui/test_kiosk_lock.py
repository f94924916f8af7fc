"""A locked kiosk: citizens cannot close it; staff leave it with the admin PIN."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QApplication

from agent.adminpin import hash_pin
from ui.kiosk_lock import TAPS, KioskLock
from ui.views.pinpad import PinPad


def test_close_is_refused_until_the_right_pin(make_hall, qtbot) -> None:
    hall = make_hall()
    kiosk = hall.kiosk_view
    answers = ["11111111", "24681357"]
    asked: list[str] = []
    unlocked: list[bool] = []

    def prompt(parent) -> str:
        asked.append("asked")
        return answers.pop(0)

    lock = KioskLock(
        kiosk, kiosk.hall_name, hash_pin("24681357"), lambda: unlocked.append(True), prompt
    )
    event = QCloseEvent()
    assert lock.eventFilter(kiosk, event) is True and not event.isAccepted()

    for _ in range(TAPS - 1):
        qtbot.mouseClick(kiosk.hall_name, Qt.MouseButton.LeftButton)
    assert asked == []  # four taps: nothing yet
    qtbot.mouseClick(kiosk.hall_name, Qt.MouseButton.LeftButton)
    assert asked == ["asked"] and unlocked == []  # wrong PIN: still locked
    for _ in range(TAPS):
        qtbot.mouseClick(kiosk.hall_name, Qt.MouseButton.LeftButton)
    assert unlocked == [True] and lock.unlocked
    event = QCloseEvent()
    assert lock.eventFilter(kiosk, event) is False


def test_escape_keys_are_swallowed_only_while_locked(make_hall) -> None:
    hall = make_hall()
    kiosk = hall.kiosk_view
    lock = KioskLock(
        kiosk, kiosk.hall_name, hash_pin("24681357"), lambda: None, lambda parent: None
    )

    def press(key: Qt.Key) -> bool:
        event = QKeyEvent(QEvent.Type.KeyPress, key, Qt.KeyboardModifier.NoModifier)
        return lock.eventFilter(kiosk, event)

    assert press(Qt.Key.Key_Escape) and press(Qt.Key.Key_F4)
    assert not press(Qt.Key.Key_A)  # ordinary typing still reaches the kiosk
    lock.unlocked = True
    assert not press(Qt.Key.Key_Escape)


def _tap(widget, kind: QEvent.Type) -> None:
    point = QPointF(5, 5)
    for event_kind in (kind, QEvent.Type.MouseButtonRelease):
        event = QMouseEvent(
            event_kind, point, widget.mapToGlobal(point), Qt.MouseButton.LeftButton,
            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
        )  # fmt: skip
        QApplication.sendEvent(widget, event)


def test_five_fast_taps_open_the_keypad(make_hall) -> None:
    """GIVEN five quick taps, which the window system delivers as press, double-click,
    press, double-click, press WHEN they land on the hall name THEN the PIN is asked."""
    hall = make_hall()
    kiosk = hall.kiosk_view
    asked: list[str] = []
    KioskLock(kiosk, kiosk.hall_name, hash_pin("24681357"), lambda: None, asked.append)
    press, double = QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick
    for kind in (press, double, press, double):
        _tap(kiosk.hall_name, kind)
    assert asked == []
    _tap(kiosk.hall_name, press)
    assert asked == [kiosk]


def test_the_keypad_is_in_chinese_and_gives_the_digits(make_hall, qtbot) -> None:
    hall = make_hall()
    pad = PinPad(hall.kiosk_view)
    qtbot.addWidget(pad)
    assert (pad.title.text(), pad.ok_button.text(), pad.cancel_button.text()) == (
        "工作人员专用", "确定", "取消",
    )  # fmt: skip
    for digit in "2468135":
        pad.digit_buttons[int(digit) - 1 if digit != "0" else 9].click()
    pad.delete_button.click()
    assert pad.pin == "246813" and pad.dots.text() == "●" * 6
    QTimer.singleShot(0, pad.ok_button.click)
    assert pad.ask() == "246813"
    pad = PinPad(hall.kiosk_view)
    qtbot.addWidget(pad)
    pad.digit_buttons[0].click()
    QTimer.singleShot(0, pad.cancel_button.click)
    assert pad.ask() is None
