"""Kiosk: printer failure, daily cap, ID card, appointment QR, invalid QR, idle, large font."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from PySide6.QtCore import Qt

from agent import commands as c
from agent.privacy import mask_name
from ui.demo import sample_roster
from ui.ports import CardRead, card_from_driver


def tap(qtbot, kiosk, code):
    qtbot.mouseClick(kiosk.service_button(code), Qt.MouseButton.LeftButton)


def test_printer_failure_keeps_number_on_screen_and_offers_reprint(make_hall, qtbot):
    """GIVEN the printer is out of paper WHEN a citizen takes a ticket THEN the number is
    shown with a clear message and a reprint button; after new paper the reprint works."""
    hall = make_hall()
    kiosk = hall.kiosk_view
    hall.devices.paper_out = True
    tap(qtbot, kiosk, "household")
    assert kiosk.number.text() == "B001"  # shown before (and whatever) the print does
    qtbot.waitUntil(lambda: True, timeout=1)
    qtbot.waitUntil(lambda: "缺纸" in kiosk.print_state.text(), timeout=3000)
    assert "B001" in kiosk.print_state.text()
    assert kiosk.print_state.objectName() == "printBad"
    assert not kiosk.reprint_button.isHidden()
    assert hall.devices.printed == []
    # the fault reached the core's log, the window stations show it
    qtbot.waitUntil(
        lambda: (
            hall.core.hall_status()["devices"].get("kiosk-printer", {}).get("reason") == "paper_out"
        ),
        timeout=3000,
    )
    hall.devices.paper_out = False
    qtbot.mouseClick(kiosk.reprint_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: kiosk.print_state.text() == "请取走您的凭条", timeout=3000)
    assert [p.number for p in hall.devices.printed] == ["B001"]
    assert kiosk.reprint_button.isHidden()


def test_no_printer_still_shows_number(make_hall, qtbot):
    hall = make_hall(printer=False)
    tap(qtbot, hall.kiosk_view, "social-security")
    assert hall.kiosk_view.number.text() == "A001"
    assert hall.kiosk_view.print_state.text() == "请记住您的号码"


def test_daily_cap_reached(make_hall, qtbot):
    """GIVEN a cap of 1 per service WHEN a second citizen taps THEN a translated message,
    no ticket, and the tile says today's numbers are all taken."""
    hall = make_hall(daily_cap=1)
    kiosk = hall.kiosk_view
    tap(qtbot, kiosk, "enterprise")
    assert kiosk.number.text() == "D001"
    assert hall.kiosk.take("enterprise") is False
    assert kiosk.message.text() == "该事项今日号已取完"
    qtbot.waitUntil(
        lambda: "今日号已取完" in kiosk.service_button("enterprise").text(), timeout=3000
    )
    assert not kiosk.service_button("enterprise").isEnabled()
    issued = hall.core.hall_status()["services"]
    assert next(s for s in issued if s["code"] == "enterprise")["issued"] == 1


def test_invalid_qr_shows_a_message_and_issues_nothing(make_hall, qtbot):
    hall = make_hall()
    hall.devices.scan("NOT-A-BOOKING-42")
    qtbot.waitUntil(lambda: not hall.kiosk_view.message.isHidden(), timeout=3000)
    assert hall.kiosk_view.message.text() == "未查到该二维码的今日预约，请到咨询台咨询"
    assert hall.kiosk_view.pages.currentWidget() is hall.kiosk_view.home_page
    assert all(s["issued"] == 0 for s in hall.core.hall_status()["services"])
    hall.devices.scan("\x00\x01garbage")
    qtbot.wait(50)
    assert all(s["issued"] == 0 for s in hall.core.hall_status()["services"])


def test_appointment_qr_checks_in_with_priority(make_hall, qtbot):
    hall = make_hall()
    now = hall.core.runtime._query(lambda s: s.hall_now())
    hall.core.runtime.execute(sample_roster(hall.node.hall, now))
    hall.devices.scan("APPT-DEMO-0001")
    kiosk = hall.kiosk_view
    qtbot.waitUntil(lambda: kiosk.pages.currentWidget() is kiosk.ticket_page, timeout=3000)
    assert kiosk.number.text() == "A001"
    assert not kiosk.priority.isHidden()
    hall.devices.scan("APPT-DEMO-0001")  # the same code twice
    qtbot.waitUntil(lambda: "已签到" in kiosk.message.text(), timeout=3000)


def test_id_card_elderly_gets_priority_and_limits_apply(make_hall, qtbot):
    hall = make_hall(per_citizen_daily_limit=1)
    kiosk = hall.kiosk_view
    card = CardRead(b"key-elder", mask_name("张三丰"), dt.date(1940, 1, 1))
    hall.devices.swipe(card)
    qtbot.waitUntil(lambda: "张**" in kiosk.citizen.text(), timeout=3000)
    assert "张**" in kiosk.citizen.text()
    tap(qtbot, kiosk, "civil-affairs")
    assert kiosk.number.text() == "C001"
    assert not kiosk.priority.isHidden()  # 绿色通道 for 70+
    # the same citizen again: already waiting
    hall.kiosk.idle()
    hall.devices.swipe(card)
    qtbot.waitUntil(lambda: hall.kiosk._citizen is not None, timeout=3000)
    tap(qtbot, kiosk, "civil-affairs")
    assert kiosk.message.text() == "您已取号 C001，请耐心等候叫号"


def test_idle_returns_home_and_forgets_the_card(make_hall, qtbot):
    hall = make_hall()
    kiosk = hall.kiosk_view
    hall.devices.swipe(CardRead(b"k", "李*", dt.date(1990, 1, 1)))
    qtbot.waitUntil(lambda: hall.kiosk._citizen is not None, timeout=3000)
    tap(qtbot, kiosk, "household")
    kiosk.idle_timer.setInterval(10)
    kiosk.idle_timer.start()
    qtbot.waitUntil(lambda: kiosk.pages.currentWidget() is kiosk.home_page, timeout=3000)
    assert hall.kiosk._citizen is None


def test_guide_page_and_large_font(make_hall, qtbot):
    hall = make_hall()
    kiosk = hall.kiosk_view
    kiosk.resize(1080, 1920)
    kiosk.show()
    qtbot.waitUntil(lambda: kiosk.width() == 1080, timeout=3000)
    qtbot.mouseClick(kiosk.guide_button, Qt.MouseButton.LeftButton)
    assert kiosk.prompt.text() == "请选择要查看办事指南的事项"
    kiosk.service_button("social-security").click()  # in guide mode a tile opens its guide
    assert kiosk.pages.currentWidget() is kiosk.guide_page
    assert kiosk.guide_title.text() == "社保医保"
    assert "居民身份证原件" in kiosk.guide_materials.text()
    qtbot.mouseClick(kiosk.guide_take, Qt.MouseButton.LeftButton)
    assert kiosk.number.text() == "A001"
    assert "QLabel#slipService { font-size: 52px" in kiosk.styleSheet()
    kiosk.toggle_large_font()
    assert kiosk.large_button.text() == "标准字体"
    assert "QLabel#slipService { font-size: 68px" in kiosk.styleSheet()  # 52 px × 1.3
    assert "font-size: 260px" in kiosk.styleSheet()  # the number is large enough already


def test_progress_by_ticket_qr(make_hall, qtbot):
    hall = make_hall()
    hall.core.runtime.execute(c.IssueTicket("social-security"))
    hall.core.runtime.execute(c.IssueTicket("social-security"))
    date = hall.core.hall_status()["business_date"]
    hall.devices.scan(f"HT1:{date}:A002")
    kiosk = hall.kiosk_view
    qtbot.waitUntil(lambda: kiosk.pages.currentWidget() is kiosk.progress_page, timeout=3000)
    assert kiosk.progress_number.text() == "A002"
    assert kiosk.progress_state.text() == "等候中"
    assert "前面还有 1 人" in kiosk.progress_line.text()


def test_the_slip_carries_the_signed_link_and_the_kiosk_reads_it_back(make_hall, qtbot):
    """GIVEN a hall config with a link base WHEN a citizen takes a ticket THEN the slip's QR
    is the signed link; scanned back it shows the ticket's progress, and a tampered one
    (another number) is refused with a translated message."""
    hall = make_hall(hall_changes={"ticket_link_base": "https://zwfw.example.gov.cn/t"})
    kiosk = hall.kiosk_view
    tap(qtbot, kiosk, "social-security")
    qtbot.waitUntil(lambda: len(hall.devices.printed) == 1, timeout=3000)
    link = hall.devices.printed[0].qr_payload
    assert link is not None and link.startswith("https://zwfw.example.gov.cn/t?v=1&p=t&")
    hall.devices.scan(link.replace("&t=A001&", "&t=A002&"))
    qtbot.waitUntil(lambda: not kiosk.message.isHidden(), timeout=3000)
    assert kiosk.message.text() == "此凭条不是本大厅今日的号码，请到服务台咨询"
    hall.devices.scan(link)
    qtbot.waitUntil(lambda: kiosk.pages.currentWidget() is kiosk.progress_page, timeout=3000)
    assert kiosk.progress_number.text() == "A001"


def test_a_slip_from_another_day_shows_no_progress(make_hall, qtbot):
    """GIVEN yesterday's slip A001 and today's A001 (another citizen) WHEN yesterday's slip is
    scanned THEN the kiosk refuses it with a translated message, and shows nothing of A001."""
    hall = make_hall()
    hall.core.runtime.execute(c.IssueTicket("social-security"))
    today = dt.date.fromisoformat(hall.core.hall_status()["business_date"])
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    kiosk = hall.kiosk_view
    shown: list[object] = []
    hall.kiosk.progress_shown.connect(shown.append)
    hall.devices.scan(f"HT1:{yesterday}:A001")
    qtbot.waitUntil(lambda: not kiosk.message.isHidden(), timeout=3000)
    assert kiosk.message.text() == "这张号票不是今天的，其号码今天无效"
    assert shown == []
    assert kiosk.pages.currentWidget() is not kiosk.progress_page


def test_a_card_whose_number_fails_its_check_is_not_used(make_hall, qtbot):
    """GIVEN the reader misread a card (its ID number fails the GB 11643 check digit)
    WHEN it is swiped THEN the kiosk asks to swipe again and takes nothing in its name."""
    hall = make_hall()
    kiosk = hall.kiosk_view
    driver_card = SimpleNamespace(
        citizen_key=b"key-misread",
        name_masked="王*",
        birth_date=dt.date(1950, 1, 1),
        number_masked="1101**********0013",
        number_checksum_ok=False,
    )
    read = card_from_driver(driver_card)
    assert read.number_checksum_ok is False
    hall.devices.swipe(read)
    qtbot.waitUntil(lambda: not kiosk.message.isHidden(), timeout=3000)
    assert kiosk.message.text() == "未能正确读取身份证，请重新刷卡"
    assert hall.kiosk._citizen is None
    assert kiosk.citizen_row.isHidden()
    assert hall.core.runtime._query(lambda s: s.state.counters) == {}


def test_the_kiosk_clock_shows_the_hall_time_not_the_pcs(make_hall, qtbot):
    """GIVEN a hall whose time zone is not the PC's (UTC+14 here) WHEN the kiosk's clock
    ticks THEN it shows the hall's date and time, as the slips and bookings do."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Pacific/Kiritimati")
    hall = make_hall(hall_changes={"timezone": "Pacific/Kiritimati"})
    kiosk = hall.kiosk_view

    def hall_minutes() -> set[str]:
        now = dt.datetime.now(zone)
        return {(now - dt.timedelta(minutes=m)).strftime("%Y-%m-%d %H:%M") for m in (0, 1)}

    qtbot.waitUntil(lambda: kiosk.clock.text() in hall_minutes(), timeout=3000)
