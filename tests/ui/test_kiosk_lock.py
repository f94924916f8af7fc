"""A locked kiosk: citizens cannot close it; staff leave it with the admin PIN."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QCloseEvent, QKeyEvent

from agent.adminpin import ATTEMPTS_FILE, LOCKOUT_S, MAX_FAILURES, PinGuard, hash_pin
from ui.kiosk_lock import TAPS, KioskLock, wait_text


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
