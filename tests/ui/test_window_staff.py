"""The window station of a staffed hall: the sign-in screen (工号 + PIN, or the staff card a
badge scanner types), who is signed in, sign-out, and a pause with its reason."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from agent import commands as c
from agent.config import always_open, sample_config
from agent.errors import HallError
from tests.support import STAFF_CARD, STAFF_PINS, give_staff_credentials, staffed
from ui.core import CoreClient
from ui.i18n import Languages
from ui.ports import FakeDevices
from ui.presenters.window import RatingVM, WindowPresenter, WindowVM

pytestmark = pytest.mark.qt


@pytest.fixture
def staffed_hall(make_hall):
    hall = make_hall(hall_config=staffed(always_open(sample_config())))
    give_staff_credentials(hall.node.data.root)
    return hall


def test_a_window_with_nobody_signed_in_shows_the_sign_in_screen(staffed_hall, qtbot) -> None:
    hall = staffed_hall
    hall.core.runtime.execute(c.IssueTicket("household"))
    view = hall.window_views[2]
    qtbot.waitUntil(lambda: not view.sign_in_box.isHidden(), timeout=3000)
    assert view.work.isHidden() and not view.buttons["call"].isEnabled()
    assert view.sign_in_title.text() == "2号窗口签到"
    view.staff_id_input.setText("S-0002")
    view.pin_input.setText(STAFF_PINS["S-0002"])
    view.sign_in_button.click()
    qtbot.waitUntil(lambda: not view.work.isHidden(), timeout=3000)
    assert view.sign_in_box.isHidden() and view.pin_input.text() == ""
    assert view.staff.text() == "工作人员：李* (S-0002)"
    qtbot.waitUntil(lambda: view.buttons["call"].isEnabled(), timeout=3000)
    assert hall.windows[2].call_next() is True
    qtbot.waitUntil(lambda: not view.sign_out_button.isEnabled(), timeout=3000)  # finish first

    other = hall.window_views[1]  # a wrong PIN: refused, with when to try again
    other.staff_id_input.setText("S-0001")
    other.pin_input.setText("000000")
    other.sign_in_button.click()
    qtbot.waitUntil(
        lambda: other.message.text() == "工号、密码或工作证有误，请 1 秒后重试", timeout=3000
    )
    assert other.pin_input.text() == "" and not other.sign_in_box.isHidden()


def test_a_staff_card_signs_in_and_sign_out_brings_the_sign_in_screen_back(
    staffed_hall, qtbot
) -> None:
    view = staffed_hall.window_views[1]
    qtbot.waitUntil(lambda: not view.sign_in_box.isHidden(), timeout=3000)
    view.card_input.setText(STAFF_CARD)
    view.card_input.returnPressed.emit()  # the scanner's Enter
    qtbot.waitUntil(lambda: view.staff.text() == "工作人员：张* (S-0003)", timeout=3000)
    assert view.card_input.text() == ""
    display = staffed_hall.display_view
    qtbot.waitUntil(lambda: "已关闭" not in display.window_cells()[0], timeout=3000)
    assert all("已关闭" in cell for cell in display.window_cells()[1:])  # nobody signed in
    view.sign_out_button.click()
    qtbot.waitUntil(lambda: not view.sign_in_box.isHidden(), timeout=3000)
    assert staffed_hall.core.runtime.read("hall_status")["windows"][0]["staff_id"] is None
    qtbot.waitUntil(lambda: "已关闭" in display.window_cells()[0], timeout=3000)


def test_pause_asks_for_a_reason_and_shows_it(staffed_hall, qtbot) -> None:
    hall = staffed_hall
    view = hall.window_views[3]
    view.card_input.setText(STAFF_CARD)
    view.card_input.returnPressed.emit()
    qtbot.waitUntil(lambda: view.buttons["pause"].isEnabled(), timeout=3000)
    labels = [view.pause_reason.itemText(i) for i in range(view.pause_reason.count())]
    assert labels == ["暂停原因…", "休息", "会议", "后台办理", "咨询协调", "其他"]
    view.trigger("pause")
    assert view.message.text() == "请先选择暂停原因"
    view.pause_reason.setCurrentIndex(view.pause_reason.findData("back-office"))
    view.trigger("pause")
    qtbot.waitUntil(lambda: view.badge.text() == "暂停服务 · 后台办理", timeout=3000)
    paused = [e for e in hall.core.runtime.read("hall_status")["windows"] if e["number"] == 3]
    assert paused[0]["pause_reason"] == "back-office"


def test_a_badge_read_by_a_window_scanner_signs_in_at_that_window_only(staffed_hall, qtbot) -> None:
    """GIVEN windows 1 and 2 on their sign-in page WHEN window 2's scanner reads a staff badge
    THEN window 2 signs that member of staff in and window 1 stays on its sign-in page."""
    hall = staffed_hall
    one, two = hall.window_views[1], hall.window_views[2]
    qtbot.waitUntil(lambda: not one.sign_in_box.isHidden() and not two.sign_in_box.isHidden())
    hall.devices.scan(STAFF_CARD, window=2)
    qtbot.waitUntil(lambda: two.staff.text() == "工作人员：张* (S-0003)", timeout=3000)
    assert not one.sign_in_box.isHidden() and one.message.text() == ""
    staff = {w["number"]: w["staff_id"] for w in hall.core.runtime.read("hall_status")["windows"]}
    assert staff == {1: None, 2: "S-0003", 3: None}


def test_a_code_that_is_not_a_badge_is_ignored_at_the_window(staffed_hall, qtbot) -> None:
    view = staffed_hall.window_views[1]
    qtbot.waitUntil(lambda: not view.sign_in_box.isHidden(), timeout=3000)
    staffed_hall.devices.scan("APPT-0930-XYZ", window=1)  # a booking QR held to the scanner
    qtbot.waitUntil(lambda: view.message.text() == "扫描的不是工作证", timeout=3000)
    assert not view.sign_in_box.isHidden()
    assert staffed_hall.core.runtime.read("hall_status")["windows"][0]["staff_id"] is None


def test_the_kiosk_scanner_never_signs_anyone_in(staffed_hall, qtbot) -> None:
    """GIVEN every window on its sign-in page WHEN the kiosk's scanner (no window) reads a
    staff badge THEN the kiosk takes it as a booking (refused there) and nobody signs in."""
    hall = staffed_hall
    said: list[str] = []
    hall.kiosk.message.connect(said.append)
    hall.devices.scan(STAFF_CARD)
    qtbot.waitUntil(lambda: bool(said), timeout=3000)  # the kiosk answered: it had the code
    assert [w["staff_id"] for w in hall.core.runtime.read("hall_status")["windows"]] == [None] * 3
    assert all(not v.sign_in_box.isHidden() for v in hall.window_views.values())
    assert all(v.message.text() == "" for v in hall.window_views.values())


def test_another_badge_while_signed_in_does_not_switch_staff(staffed_hall, qtbot) -> None:
    """GIVEN S-0003 signed in at window 1 WHEN another badge (or their own) is scanned there
    THEN nobody else is signed in: the window is handed over by signing out first."""
    hall = staffed_hall
    view = hall.window_views[1]
    hall.devices.scan(STAFF_CARD, window=1)
    qtbot.waitUntil(lambda: view.staff.text() == "工作人员：张* (S-0003)", timeout=3000)
    for badge in ("HS1:badge-of-someone-else-0000", STAFF_CARD):
        view.message.setText("")
        hall.devices.scan(badge, window=1)
        qtbot.waitUntil(
            lambda: view.message.text() == "已有工作人员签到：请先签退，再刷下一张工作证",
            timeout=3000,
        )
        assert hall.core.runtime.read("hall_status")["windows"][0]["staff_id"] == "S-0003"
    view.sign_out_button.click()
    qtbot.waitUntil(lambda: not view.sign_in_box.isHidden(), timeout=3000)
    hall.devices.scan(STAFF_CARD, window=1)  # signed out: the badge signs in again
    qtbot.waitUntil(lambda: view.staff.text() == "工作人员：张* (S-0003)", timeout=3000)


def test_a_badge_in_a_hall_without_a_staff_list_is_ignored(make_hall, qtbot) -> None:
    hall = make_hall()
    view = hall.window_views[1]
    hall.devices.scan(STAFF_CARD, window=1)
    qtbot.waitUntil(lambda: view.message.text() == "本厅窗口无需签到", timeout=3000)
    assert hall.core.runtime.read("hall_status")["windows"][0]["staff_id"] is None


class HeldCore(CoreClient):
    """A terminal's core whose commands wait for the hub until the test lets them go."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.commands: list[c.Command] = []

    @property
    def blocking(self) -> bool:
        return True

    def command(self, command: c.Command) -> dict[str, Any] | None:
        self.commands.append(command)
        self.gate.wait(10)
        raise HallError("the test's hub is away")


def test_a_badge_read_twice_while_its_sign_in_waits_is_not_logged(qtbot, caplog) -> None:
    """GIVEN a sign-in by badge waiting for the hub WHEN the scanner reads the badge again
    (scanners do read twice) THEN the second read is ignored and the log has no badge code."""
    core = HeldCore()
    presenter = WindowPresenter(core, FakeDevices(), Languages("zh_CN"), 1)
    presenter._vm = WindowVM(
        1, "", "open", None, None, "", None, [], [], [], RatingVM("idle"), staffed=True
    )  # what the hub said: nobody signed in at this staffed window
    try:
        with caplog.at_level(logging.INFO, logger="ui.presenters.window"):
            presenter.on_scanned(1, STAFF_CARD)
            qtbot.waitUntil(lambda: len(core.commands) == 1, timeout=3000)
            presenter.on_scanned(1, STAFF_CARD)
        assert "SignIn ignored, an action is running" in caplog.text
        assert STAFF_CARD not in caplog.text and "badge-of" not in caplog.text
        assert len(core.commands) == 1
    finally:
        core.close()
        core.gate.set()
        presenter.close()
