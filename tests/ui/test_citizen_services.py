"""Kiosk and window station for citizen services: bundle tiles, closed services with their
next opening, the leg a window's ticket is on, assisted service."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import Qt

from agent import commands as c
from agent.calendar import Closure, HallCalendar

pytestmark = pytest.mark.qt


def test_a_bundle_tile_issues_one_number_the_windows_follow_through_its_legs(make_hall, qtbot):
    hall = make_hall()
    kiosk = hall.kiosk_view
    tile = kiosk.bundle_button("newborn")
    assert tile.text() == "新生儿出生一件事 · 一次办\n户籍办理 → 社保医保 → 民政事务"
    qtbot.mouseClick(tile, Qt.MouseButton.LeftButton)
    assert kiosk.number.text() == "B001"
    assert kiosk.slip_bundle.text() == "新生儿出生一件事 · 第1项/共3项"

    window, view = hall.windows[2], hall.window_views[2]
    for action in (window.call_next, window.start, window.finish):
        assert action() is True
    # household done: B001 waits for social security, marked as a bundle's second step
    qtbot.waitUntil(
        lambda: (
            view.waiting.count() == 1
            and view.waiting.item(0).text().split() == ["B001", "社保医保", "一件事第2项"]
        ),
        timeout=3000,
    )
    assert window.call_next() is True
    qtbot.waitUntil(lambda: view.current_number.text() == "B001", timeout=3000)
    qtbot.waitUntil(
        lambda: "新生儿出生一件事 · 第2项/共3项" in view.current_detail.text(), timeout=3000
    )
    assert view.current_detail.text().startswith("社保医保")


def test_a_closed_service_tile_says_why_and_when_it_opens(make_hall, qtbot):
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    closure = Closure(start=today, services=["household"], name_zh="系统升级", name_en="Upgrade")
    hall = make_hall(hall_changes={"calendar": HallCalendar(closures=[closure])})
    kiosk = hall.kiosk_view
    tomorrow = today + dt.timedelta(days=1)
    tile = kiosk.service_button("household")
    expected = f"系统升级 · {tomorrow.month}月{tomorrow.day}日 00:00 开始办理"
    qtbot.waitUntil(lambda: tile.text() == f"户籍办理\n{expected}", timeout=3000)
    assert not tile.isEnabled()
    bundle = kiosk.bundle_button("newborn")  # the bundle needs household too
    assert bundle.text().endswith(f"户籍办理: {expected}")
    assert not bundle.isEnabled()
    assert kiosk.service_button("social-security").isEnabled()


def test_the_window_marks_its_ticket_as_proxy_service(make_hall, qtbot):
    hall = make_hall()
    hall.core.runtime.execute(c.IssueTicket("household"))
    view = hall.window_views[2]
    assert hall.windows[2].call_next() is True
    qtbot.waitUntil(lambda: view.buttons["assist"].isEnabled(), timeout=3000)
    view.trigger("assist")  # no staff id yet: asked for, nothing recorded
    assert view.message.text() == "请输入帮办工作人员工号"
    view.assist_mode.setCurrentIndex(view.assist_mode.findData("proxy"))
    view.assist_staff.setText("S-0042")
    view.trigger("assist")
    qtbot.waitUntil(lambda: "代办 · 工作人员 S-0042" in view.current_detail.text(), timeout=3000)
    events = hall.core.runtime._query(lambda s: [e.type for e in s.events_since(0)])
    assert events.count("TicketAssisted") == 1
