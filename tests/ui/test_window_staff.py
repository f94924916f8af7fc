"""The window station of a staffed hall: the sign-in screen (工号 + PIN, or the staff card a
badge scanner types), who is signed in, sign-out, and a pause with its reason."""

from __future__ import annotations

import pytest

from agent import commands as c
from agent.config import always_open, sample_config
from tests.support import STAFF_CARD, STAFF_PINS, give_staff_credentials, staffed

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
