"""Window station: paused window, nobody waiting, transfer, reactivate, QR rating, LED."""

from __future__ import annotations

from agent import commands as c


def test_nobody_waiting(make_hall, qtbot):
    hall = make_hall()
    view = hall.window_views[2]
    assert not view.buttons["call"].isEnabled()  # the view-model says there is nobody
    assert hall.windows[2].call_next() is False
    assert view.message.text() == "当前无人等候"


def test_paused_window_refuses_calls_and_the_display_shows_it(make_hall, qtbot):
    hall = make_hall()
    hall.core.runtime.execute(c.IssueTicket("household"))
    view = hall.window_views[2]
    qtbot.waitUntil(lambda: view.buttons["call"].isEnabled(), timeout=3000)
    view.trigger("pause")  # no reason chosen: not paused
    assert view.message.text() == "请先选择暂停原因"
    view.pause_reason.setCurrentIndex(view.pause_reason.findData("break"))
    view.trigger("pause")
    qtbot.waitUntil(lambda: view.badge.text() == "暂停服务 · 休息", timeout=3000)
    assert not view.buttons["call"].isEnabled()
    assert view.buttons["pause"].text().startswith("恢复服务")
    assert hall.windows[2].call_next() is False
    assert view.message.text() == "窗口已暂停服务，请先恢复服务"
    qtbot.waitUntil(lambda: "暂停服务" in hall.devices.shown.get(2, []), timeout=3000)
    display = hall.display_view

    qtbot.waitUntil(
        lambda: any("暂停服务" in cell for cell in display.window_cells()), timeout=3000
    )
    view.trigger("pause")  # F9 again: resume
    qtbot.waitUntil(lambda: view.badge.text() == "开放", timeout=3000)
    assert hall.windows[2].call_next() is True


def test_transfer_and_reactivate(make_hall, qtbot):
    hall = make_hall()
    for service in ("social-security", "social-security"):
        hall.core.runtime.execute(c.IssueTicket(service))
    view = hall.window_views[1]
    presenter = hall.windows[1]
    presenter.call_next()
    qtbot.waitUntil(lambda: view.current_number.text() == "A001", timeout=3000)
    assert view.transfer_to.currentData() is None  # no service preselected
    view.trigger("transfer")  # F6 without a target: asks for one, does nothing
    assert view.message.text() == "请先选择转办的事项" and view.confirm_bar.isHidden()
    view.transfer_to.setCurrentIndex(view.transfer_to.findData("civil-affairs"))
    view.trigger("transfer")
    assert not view.confirm_bar.isHidden()
    assert view.confirm_text.text() == "将 A001 转办到 民政事务？"
    assert hall.core.ticket("A001")["service"] == "social-security"  # not before confirming
    view.confirm_button.click()
    qtbot.waitUntil(lambda: view.current_number.text() == "—", timeout=3000)
    assert view.message.text() == "A001 已转办到 民政事务"  # feedback after the action
    ticket = hall.core.ticket("A001")
    assert ticket["service"] == "civil-affairs" and ticket["state"] == "waiting"
    assert [view.waiting.item(i).text()[:4] for i in range(view.waiting.count())] == [
        "A002",
        "A001",
    ]  # window 1 serves social security before civil affairs
    presenter.call_next()
    qtbot.waitUntil(lambda: view.current_number.text() == "A002", timeout=3000)
    assert view.message.text() == "已呼叫 A002"
    view.trigger("no_show")
    qtbot.waitUntil(lambda: view.current_number.text() == "—", timeout=3000)
    assert hall.core.ticket("A002")["state"] == "no_show"
    view.reactivate_number.setText("a002")
    view.trigger("reactivate")
    qtbot.waitUntil(lambda: hall.core.ticket("A002")["state"] == "waiting", timeout=3000)
    assert view.reactivate_number.text() == ""


def test_window_without_evaluator_shows_rating_qr(make_hall, qtbot):
    hall = make_hall(evaluator_windows=(1, 2))
    hall.core.runtime.execute(c.IssueTicket("enterprise"))
    presenter, view = hall.windows[3], hall.window_views[3]
    assert presenter.call_next() and presenter.start() and presenter.finish()
    qtbot.waitUntil(lambda: "扫码评价 D001" in view.rating.text(), timeout=3000)
    assert not view.rating_qr.isHidden()
    assert presenter.vm.rating.qr_payload.endswith(":D001")


def test_the_rating_prompt_goes_when_the_next_citizen_is_called(make_hall, qtbot):
    """GIVEN D001 finished at a window without evaluator (its QR shown) WHEN the window calls
    D002 THEN the prompt naming D001 is gone, not shown beside the current number D002."""
    hall = make_hall(evaluator_windows=(1, 2))
    for _ in range(2):
        hall.core.runtime.execute(c.IssueTicket("enterprise"))
    presenter, view = hall.windows[3], hall.window_views[3]
    assert presenter.call_next() and presenter.start() and presenter.finish()
    assert presenter.call_next()  # before the ServiceFinished event reaches the screen
    qtbot.waitUntil(lambda: view.current_number.text() == "D002", timeout=3000)
    qtbot.waitUntil(lambda: "D001" not in view.rating.text(), timeout=3000)
    assert view.rating_qr.isHidden()


def test_no_rating_given_times_out(make_hall, qtbot):
    hall = make_hall(rating_timeout=0.1)
    hall.core.runtime.execute(c.IssueTicket("social-security"))
    p = hall.windows[1]
    assert p.call_next() and p.start() and p.finish()
    qtbot.waitUntil(lambda: hall.window_views[1].rating.text() == "A001：未评价", timeout=3000)


def test_window_station_in_english(make_hall, qtbot):
    hall = make_hall(language="en")
    view = hall.window_views[3]
    assert view.buttons["call"].text() == "Call next  [F1]"
    assert view.title.text() == "Window 3 · Business window"
    hall.languages.set("zh_CN")
    qtbot.waitUntil(lambda: view.buttons["call"].text() == "呼叫下一位  [F1]", timeout=3000)
    qtbot.waitUntil(lambda: view.title.text() == "3 号窗口 · 企业服务窗口", timeout=3000)


def test_served_today_and_the_service_timer(make_hall, qtbot):
    hall = make_hall()
    for _ in range(2):
        hall.core.runtime.execute(c.IssueTicket("social-security"))
    presenter, view = hall.windows[1], hall.window_views[1]
    assert view.served.text() == "今日已办 0 件" and view.timer.text() == ""
    assert presenter.call_next() and presenter.start()
    qtbot.waitUntil(lambda: view.timer.text().startswith("用时 00:0"), timeout=3000)
    assert presenter.finish()
    qtbot.waitUntil(lambda: view.served.text() == "今日已办 1 件", timeout=3000)
    assert view.timer.text() == ""
    assert hall.window_views[2].served.text() == "今日已办 0 件"  # per window


def test_device_rows_follow_the_recorded_kind_and_window_not_the_id(make_hall, qtbot):
    """GIVEN a device recorded with its kind and window (node.yaml), under an id that says
    neither, and one recorded before devices carried them WHEN the window stations show
    their devices THEN the first is an LED row at window 2 only; the old one is still shown
    (kind and window read from its id, as before)."""
    hall = make_hall()
    runtime = hall.core.runtime
    runtime.execute(c.DeviceStatusChanged("bus-a", "fault", "no_answer", kind="led", window=2))
    runtime.execute(c.DeviceStatusChanged("evaluator-3", "offline", "port_gone"))

    def rows(window: int) -> dict[str, str]:
        hall.windows[window].refresh()
        vm = hall.windows[window].vm
        return {} if vm is None else {r.device: r.label for r in vm.devices}

    qtbot.waitUntil(lambda: "bus-a" in rows(2), timeout=3000)
    assert rows(2)["bus-a"] == "窗口屏"
    assert "bus-a" not in rows(1) and "bus-a" not in rows(3)
    assert "evaluator-3" in rows(3) and "evaluator-3" not in rows(2)


LINK_BASE = "https://zwfw.example.gov.cn/hall/r"


def test_rating_qr_is_the_hubs_signed_rating_link(make_hall, qtbot):
    """GIVEN a hall with a ticket_link_base WHEN a window without evaluator finishes D001
    THEN its QR is the link signed by the hub for rating (purpose r), which verifies."""
    from agent import nodekey, ticketlink

    hall = make_hall(evaluator_windows=(1, 2), hall_changes={"ticket_link_base": LINK_BASE})
    hall.core.runtime.execute(c.IssueTicket("enterprise"))
    presenter = hall.windows[3]
    assert presenter.call_next() and presenter.start() and presenter.finish()
    qtbot.waitUntil(lambda: presenter.vm.rating.qr_payload.startswith(LINK_BASE), timeout=3000)
    link = ticketlink.parse(presenter.vm.rating.qr_payload)
    assert (link.purpose, link.number) == ("r", "D001")
    key = nodekey.load_or_create(hall.node.data.node_key).public_key()
    assert ticketlink.verify(link, key)


def test_bad_rating_reasons_from_a_screen_evaluator_are_shown(make_hall, qtbot):
    hall = make_hall()
    hall.core.runtime.execute(c.IssueTicket("social-security"))
    presenter, view = hall.windows[1], hall.window_views[1]
    assert presenter.call_next() and presenter.start() and presenter.finish()
    qtbot.waitUntil(lambda: hall.devices.rating_requests == [(1, "A001")], timeout=3000)
    hall.devices.press(1, 2, (1, 3))  # 不满意, with 服务效率 and 服务态度 tapped on its screen
    qtbot.waitUntil(lambda: "服务效率、服务态度" in view.rating.text(), timeout=3000)
    assert view.rating.text().startswith("A001 评价：不满意")
    assert view.rating_qr.isHidden()  # reasons given: nothing more to ask


def test_keys_only_bad_rating_records_no_reason_and_offers_the_reason_qr(make_hall, qtbot):
    """GIVEN a keys-only evaluator WHEN the citizen presses 非常不满意 THEN the rating says
    "no reason given" and the window shows the rating link's QR, where the citizen can say
    why."""
    hall = make_hall(hall_changes={"ticket_link_base": LINK_BASE})
    hall.core.runtime.execute(c.IssueTicket("social-security"))
    presenter, view = hall.windows[1], hall.window_views[1]
    assert presenter.call_next() and presenter.start() and presenter.finish()
    qtbot.waitUntil(lambda: hall.devices.rating_requests == [(1, "A001")], timeout=3000)
    hall.devices.press(1, 1)  # keys only: no reasons
    qtbot.waitUntil(lambda: "原因：未说明" in view.rating.text(), timeout=3000)
    qtbot.waitUntil(lambda: not view.rating_qr.isHidden(), timeout=3000)
    assert presenter.vm.rating.qr_payload.startswith(LINK_BASE)
    assert "扫码说明原因" in view.rating.text()
