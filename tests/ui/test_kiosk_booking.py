"""The kiosk offers check-in when a swiped ID card belongs to a booking of today: the roster
central pushed carries each citizen's day hash, the kiosk asks the hub about the card's
hash of today, and checks in by card."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from agent import commands as c
from agent.privacy import citizen_hash, citizen_key
from ui.demo import BOOKED_CARD, DemoControls, sample_roster
from ui.ports import CardRead

pytestmark = pytest.mark.qt

HALL_KEY = bytes(range(32))
BOOKED = "11010519491231002X"
NOT_BOOKED = "110105198001010016"


def card(number: str) -> CardRead:
    """A card as the reader's driver hands it over: the citizen key, never the number."""
    return CardRead(citizen_key(HALL_KEY, number), "张*", dt.date(1980, 1, 1))


def book(hall, number: str, start: dt.datetime, code: str = "APT-1") -> None:
    """A roster entry as central sends it: the citizen's hash for the slot's day."""
    day_hash = citizen_hash(citizen_key(HALL_KEY, number), start.date())
    entry = c.RosterEntry(
        code, "social-security", start, start + dt.timedelta(minutes=30), citizen_hash=day_hash
    )
    hall.core.runtime.execute(c.LoadAppointments("r1", (entry,)))


def now_in(hall) -> dt.datetime:
    return dt.datetime.now(ZoneInfo(hall.node.hall.timezone))


def slot_now(hall) -> dt.datetime:
    """A slot of today that has begun (or begins at midnight, just after it)."""
    now = now_in(hall)
    return max(now - dt.timedelta(minutes=5), now.replace(hour=0, minute=0, second=0))


def test_a_booked_card_is_offered_check_in_and_checks_in(make_hall, qtbot, tmp_path: Path):
    hall = make_hall()
    kiosk = hall.kiosk_view
    start = slot_now(hall)
    book(hall, BOOKED, start)
    kiosk.resize(1080, 1920)
    kiosk.show()
    hall.devices.swipe(card(BOOKED))
    qtbot.waitUntil(lambda: kiosk.pages.currentWidget() is kiosk.booking_page, timeout=3000)
    end = start + dt.timedelta(minutes=30)
    assert kiosk.booking_title.text() == "张*，您今天有一个预约"
    assert kiosk.booking_service.text() == "社保医保"
    assert kiosk.booking_slot.text() == f"预约时段 {start:%H:%M}–{end:%H:%M}"
    shots = {}
    for language, service, check_in in (
        ("en", "Social & medical insurance", "Check in"),
        ("zh_CN", "社保医保", "签到取号"),
    ):
        hall.languages.set(language)
        qtbot.waitUntil(
            lambda: (
                kiosk.booking_service.text() == service  # noqa: B023 (waited on here)
                and kiosk.booking_check_in.text() == check_in  # noqa: B023
                and (kiosk.width(), kiosk.height()) == (1080, 1920)
                and kiosk.booking_other.width() >= kiosk.booking_other.sizeHint().width()
            ),
            timeout=3000,
        )
        assert kiosk.pages.currentWidget() is kiosk.booking_page
        shots[language] = tmp_path / f"kiosk-booking-{language}.png"
        assert kiosk.grab().save(str(shots[language]))
    image = QImage(str(shots["zh_CN"]))
    assert (image.width(), image.height()) == (1080, 1920)

    qtbot.mouseClick(kiosk.booking_check_in, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: kiosk.pages.currentWidget() is kiosk.ticket_page, timeout=3000)
    assert kiosk.number.text() == "A001"
    assert not kiosk.priority.isHidden()  # an appointment's priority
    ticket = hall.core.ticket("A001")
    assert ticket["priority"] == "appointment"

    hall.kiosk.idle()  # the same card again: checked in already, said on the home screen
    hall.devices.swipe(card(BOOKED))
    qtbot.waitUntil(lambda: "已签到" in kiosk.message.text(), timeout=3000)
    assert "A001" in kiosk.message.text()
    assert kiosk.pages.currentWidget() is kiosk.home_page


def spy_look_ups(hall, monkeypatch) -> list[object]:
    """The answers of the kiosk's booking look-ups, as they come back from the hub: the
    marker that a look-up was made and found nothing."""
    answers: list[object] = []
    ask = hall.kiosk.core.booking_for_card

    def recorded(citizen_hash: str):
        answers.append(ask(citizen_hash))
        return answers[-1]

    monkeypatch.setattr(hall.kiosk.core, "booking_for_card", recorded)
    return answers


def test_a_card_with_no_booking_stays_on_the_home_screen(make_hall, qtbot, monkeypatch):
    """GIVEN a roster with another citizen's booking WHEN an unbooked card is swiped THEN
    the look-up finds nothing and the kiosk waits for a service choice in the card's name."""
    hall = make_hall()
    kiosk = hall.kiosk_view
    book(hall, BOOKED, slot_now(hall))
    answers = spy_look_ups(hall, monkeypatch)
    hall.devices.swipe(card(NOT_BOOKED))
    qtbot.waitUntil(lambda: answers == [None], timeout=3000)
    qtbot.waitUntil(lambda: "张*" in kiosk.citizen.text(), timeout=3000)
    assert kiosk.pages.currentWidget() is kiosk.home_page
    kiosk.service_button("household").click()
    qtbot.waitUntil(lambda: kiosk.pages.currentWidget() is kiosk.ticket_page, timeout=3000)
    assert kiosk.number.text() == "B001"


def test_another_days_booking_is_not_offered(make_hall, qtbot, monkeypatch):
    """A booking for tomorrow carries tomorrow's hash: today's card hash does not find it."""
    hall = make_hall()
    kiosk = hall.kiosk_view
    book(hall, BOOKED, slot_now(hall) + dt.timedelta(days=1))
    answers = spy_look_ups(hall, monkeypatch)
    hall.devices.swipe(card(BOOKED))
    qtbot.waitUntil(lambda: answers == [None], timeout=3000)
    assert kiosk.pages.currentWidget() is kiosk.home_page


def test_the_demo_card_booked_by_id_number_is_offered_check_in(make_hall, qtbot):
    """The demo's roster books the young sample card by its ID number (hashed with the
    hall key); the simulator panel's swipe of that card brings the check-in offer."""
    hall = make_hall()
    secret = b"demo-hall-key-32-bytes-long-...."
    hall.core.runtime.execute(sample_roster(hall.node.hall, now_in(hall), secret))
    DemoControls(hall.devices, secret).swipe(BOOKED_CARD)
    qtbot.waitUntil(
        lambda: hall.kiosk_view.pages.currentWidget() is hall.kiosk_view.booking_page, timeout=3000
    )
    qtbot.mouseClick(hall.kiosk_view.booking_check_in, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: hall.kiosk_view.number.text() == "A001", timeout=3000)
