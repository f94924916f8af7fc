"""Take ticket → call → start → finish → rate, across the kiosk, a window and the display."""

from __future__ import annotations

from PySide6.QtCore import Qt

from agent import commands as c


def test_full_visit_across_three_screens(make_hall, qtbot):
    """GIVEN the hall in Chinese WHEN a citizen takes a ticket and window 1 serves them
    THEN each screen shows what it must, and the rating lands in the core."""
    hall = make_hall()
    kiosk, window, display = hall.kiosk_view, hall.window_views[1], hall.display_view

    # kiosk: tap "社保医保"; the number is on screen at once, then the slip prints
    button = kiosk.service_button("social-security")
    assert "社保医保" in button.text() and "等候 0 人" in button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert kiosk.pages.currentWidget() is kiosk.ticket_page
    assert kiosk.number.text() == "A001"
    assert kiosk.slip_ahead.text() == "您是下一位，请留意叫号"  # not "约 0 分钟"
    assert "1、2 号窗口" in kiosk.slip_windows.text()
    qtbot.waitUntil(lambda: kiosk.print_state.text() == "请取走您的凭条", timeout=3000)
    assert [p.number for p in hall.devices.printed] == ["A001"]
    assert hall.devices.printed[0].windows == "1、2号窗口"

    # window station 1 sees A001 waiting; F1 calls it
    qtbot.waitUntil(lambda: window.waiting.count() == 1, timeout=3000)
    assert window.waiting.item(0).text().startswith("A001")
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F1)  # the shortcut of 呼叫下一位
    qtbot.waitUntil(lambda: window.current_number.text() == "A001", timeout=3000)
    assert window.current_state.text() == "已叫号"

    # hall display: the latest call, large, with the window; announced twice, in turn
    qtbot.waitUntil(lambda: display.latest_number.text() == "A001", timeout=3000)
    assert display.latest_window.text() == "请到 1 号窗口办理"
    qtbot.waitUntil(lambda: len(hall.announcer.log) == 2, timeout=5000)
    assert [line for line, _s, _e in hall.announcer.log] == ["请 A001 号到 1 号窗口办理"] * 2
    (_, s1, e1), (_, s2, _e2) = hall.announcer.log
    assert s2 >= e1 > s1  # the second announcement starts after the first ended
    qtbot.waitUntil(lambda: "请A001号" in hall.devices.shown.get(1, []), timeout=3000)

    # start, finish: the evaluator is asked; the citizen presses "非常满意"
    window.buttons["start"].click()
    qtbot.waitUntil(lambda: window.current_state.text() == "办理中", timeout=3000)
    window.buttons["finish"].click()
    qtbot.waitUntil(lambda: hall.devices.rating_requests == [(1, "A001")], timeout=3000)
    qtbot.waitUntil(lambda: "等待" in window.rating.text(), timeout=3000)
    hall.devices.press(1, 5)
    qtbot.waitUntil(lambda: window.rating.text() == "A001 评价：非常满意", timeout=3000)
    events = hall.core.runtime._query(lambda s: [e.type for e in s.events_since(0)])
    assert "EvaluationRecorded" in events
    score = hall.core.runtime._query(lambda s: s.state.ticket_by_number("A001").score)
    assert score == 5
    qtbot.waitUntil(lambda: window.current_number.text() == "—", timeout=3000)


def test_display_masks_names_only_when_allowed(make_hall, qtbot):
    hall = make_hall()
    hall.core.runtime.execute(
        c.IssueTicket("social-security", citizen=c.Citizen("h1", "张*"), channel="idcard")
    )
    hall.windows[1].call_next()
    display = hall.display_view
    qtbot.waitUntil(lambda: display.latest_number.text() == "A001", timeout=3000)
    assert display.latest_name.text() == "张*"  # the sample hall allows masked names
