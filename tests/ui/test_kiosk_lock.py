"""A locked kiosk: citizens cannot close it; staff leave it with the admin PIN."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QCloseEvent, QKeyEvent

from agent.adminpin import hash_pin
from ui.kiosk_lock import TAPS, KioskLock


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
