"""A locked kiosk: citizens cannot close it; staff leave it with the admin PIN."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QApplication

from agent.adminpin import ATTEMPTS_FILE, LOCKOUT_S, MAX_FAILURES, PinGuard, hash_pin
from ui.kiosk_lock import TAPS, KioskLock, wait_text
from ui.views.pinpad import PinPad


class WallClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def tap_five_times(qtbot, target) -> None:
    for _ in range(TAPS):
        qtbot.mouseClick(target, Qt.MouseButton.LeftButton)


def test_close_is_refused_until_the_right_pin(make_hall, qtbot, tmp_path) -> None:
    hall = make_hall()
    kiosk = hall.kiosk_view
    answers = ["11111111", "24681357"]
    asked: list[str] = []
    unlocked: list[bool] = []
    clock = WallClock()

    def prompt(parent) -> str:
        asked.append("asked")
        return answers.pop(0)

    guard = PinGuard(hash_pin("24681357"), tmp_path / ATTEMPTS_FILE, clock)
    notices: list[str] = []
    lock = KioskLock(
        kiosk,
        kiosk.hall_name,
        guard,
        lambda: unlocked.append(True),
        prompt,
        notice=lambda parent, text: notices.append(text),
    )
    event = QCloseEvent()
    assert lock.eventFilter(kiosk, event) is True and not event.isAccepted()

    for _ in range(TAPS - 1):
        qtbot.mouseClick(kiosk.hall_name, Qt.MouseButton.LeftButton)
    assert asked == []  # four taps: nothing yet
    qtbot.mouseClick(kiosk.hall_name, Qt.MouseButton.LeftButton)
    assert asked == ["asked"] and unlocked == []  # wrong PIN: still locked
    assert notices == [wait_text(1)] and "1" in notices[0]  # (in the screen's language)
    clock.now += 1
    tap_five_times(qtbot, kiosk.hall_name)
    assert unlocked == [True] and lock.unlocked
    event = QCloseEvent()
    assert lock.eventFilter(kiosk, event) is False


def test_five_wrong_pins_lock_out_report_upward_and_survive_a_restart(
    make_hall, qtbot, tmp_path
) -> None:
    """GIVEN a locked kiosk WHEN five wrong PINs are entered as fast as allowed THEN the
    lockout is reported once, the PIN is not even asked for, also after a restart."""
    hall = make_hall()
    kiosk = hall.kiosk_view
    clock = WallClock()
    asked: list[str] = []
    reports: list[int] = []
    notices: list[str] = []

    def make_lock() -> KioskLock:
        guard = PinGuard(hash_pin("24681357"), tmp_path / ATTEMPTS_FILE, clock)
        return KioskLock(
            kiosk,
            kiosk.hall_name,
            guard,
            lambda: None,
            lambda parent: asked.append("asked") or "11111111",
            report_lockout=reports.append,
            notice=lambda parent, text: notices.append(text),
        )

    lock = make_lock()
    for _ in range(MAX_FAILURES):
        tap_five_times(qtbot, kiosk.hall_name)
        clock.now += lock.guard.retry_after_s() if not reports else 0
    assert len(asked) == MAX_FAILURES and reports == [LOCKOUT_S]
    assert notices[-1] == wait_text(LOCKOUT_S) and "15" in notices[-1]
    lock.deleteLater()
    restarted = make_lock()
    tap_five_times(qtbot, kiosk.hall_name)
    assert len(asked) == MAX_FAILURES  # not asked while locked out
    assert notices[-1] == wait_text(LOCKOUT_S) and not restarted.unlocked


def test_escape_keys_are_swallowed_only_while_locked(make_hall, tmp_path) -> None:
    hall = make_hall()
    kiosk = hall.kiosk_view
    guard = PinGuard(hash_pin("24681357"), tmp_path / ATTEMPTS_FILE)
    lock = KioskLock(kiosk, kiosk.hall_name, guard, lambda: None, lambda parent: None)

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


def test_five_fast_taps_open_the_keypad(make_hall, tmp_path) -> None:
    """GIVEN five quick taps, which the window system delivers as press, double-click,
    press, double-click, press WHEN they land on the hall name THEN the PIN is asked."""
    hall = make_hall()
    kiosk = hall.kiosk_view
    asked: list[str] = []
    guard = PinGuard(hash_pin("24681357"), tmp_path / ATTEMPTS_FILE)
    KioskLock(kiosk, kiosk.hall_name, guard, lambda: None, asked.append)
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
