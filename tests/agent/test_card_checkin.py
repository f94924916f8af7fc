"""Appointment check-in by ID card: the roster carries each citizen's day hash (made by
central with the hall key from the booking's ID number); a swiped card's hash of today finds
the booking. Another day's booking never matches, a used or expired one is refused."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from agent import commands as c
from agent import errors
from agent.model import Priority
from agent.privacy import citizen_hash, citizen_key
from agent.store import Store
from agent.views import booking_for_card
from sync.fleet.push import PushRefused, check_roster
from sync.fleet.roster import hash_id_numbers
from tests.agent.conftest import FakeClock

HALL_KEY = bytes(range(32))
ID_NUMBER = "11010519491231002X"
OTHER_NUMBER = "110105198001010016"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def card_of(number: str, day: dt.date) -> c.Citizen:
    """What the kiosk sends for a swiped card: the day hash, a masked name."""
    return c.Citizen(citizen_hash(citizen_key(HALL_KEY, number), day), "张*")


def load_roster(store: Store, *bookings: tuple[str, str, dt.datetime]) -> None:
    """Bookings ``(code, id_number, slot start)`` for social security, 30 minutes each,
    hashed as ``hall-agent central push roster`` hashes them, then loaded as inbound does."""
    raw = {
        "roster_id": "r1",
        "entries": [
            {
                "code": code,
                "service": "social-security",
                "slot_start": start.isoformat(),
                "slot_end": (start + dt.timedelta(minutes=30)).isoformat(),
                "id_number": number,
            }
            for code, number, start in bookings
        ],
    }
    roster = check_roster(hash_id_numbers(raw, HALL_KEY, SHANGHAI, "roster.yaml"), "roster.yaml")
    entries = tuple(
        c.RosterEntry(
            e["code"],
            e["service"],
            dt.datetime.fromisoformat(e["slot_start"]),
            dt.datetime.fromisoformat(e["slot_end"]),
            citizen_hash=e["citizen_hash"],
        )
        for e in roster["entries"]
    )
    store.execute(c.LoadAppointments("r1", entries))


def local(clock: FakeClock, **delta: float) -> dt.datetime:
    return clock.now.astimezone(SHANGHAI) + dt.timedelta(**delta)


def test_a_booked_card_checks_in_once_with_appointment_priority(
    store: Store, clock: FakeClock
) -> None:
    today = local(clock).date()
    load_roster(store, ("APT-1", ID_NUMBER, local(clock, hours=1)))
    card = card_of(ID_NUMBER, today)
    offer = booking_for_card(store, card.citizen_hash)
    assert offer is not None and offer["status"] == "open"
    assert offer["service"] == "social-security" and offer["number"] is None
    assert "APT-1" not in str(offer) and card.citizen_hash not in str(offer)

    ticket = store.execute(c.CheckInByCard(card)).ticket
    assert ticket is not None and ticket.priority is Priority.APPOINTMENT
    assert ticket.appointment_code == "APT-1" and ticket.channel == "appointment"
    with pytest.raises(errors.AppointmentUsed, match=ticket.number):
        store.execute(c.CheckInByCard(card))
    assert booking_for_card(store, card.citizen_hash) == {
        **offer,
        "status": "used",
        "number": ticket.number,
    }


def test_a_card_with_no_booking_is_refused_and_nothing_is_issued(
    store: Store, clock: FakeClock
) -> None:
    load_roster(store, ("APT-1", ID_NUMBER, local(clock, hours=1)))
    stranger = card_of(OTHER_NUMBER, local(clock).date())
    assert booking_for_card(store, stranger.citizen_hash) is None
    with pytest.raises(errors.UnknownAppointment):
        store.execute(c.CheckInByCard(stranger))
    assert store.state.counters == {}


def test_another_days_booking_does_not_check_in_today_but_does_on_its_day(
    store: Store, clock: FakeClock
) -> None:
    """GIVEN a booking for tomorrow WHEN the card is swiped today THEN no booking is found
    (tomorrow's hash is not today's); swiped tomorrow, it checks in."""
    load_roster(store, ("APT-2", ID_NUMBER, local(clock, days=1, hours=1)))
    assert booking_for_card(store, card_of(ID_NUMBER, local(clock).date()).citizen_hash) is None
    with pytest.raises(errors.UnknownAppointment):
        store.execute(c.CheckInByCard(card_of(ID_NUMBER, local(clock).date())))
    clock.advance(days=1)
    tomorrow = card_of(ID_NUMBER, local(clock).date())
    assert store.execute(c.CheckInByCard(tomorrow)).ticket is not None


def test_a_hash_for_today_on_a_slot_of_another_day_is_not_checked_in(
    store: Store, clock: FakeClock
) -> None:
    """A roster entry whose hash was made for today but whose slot is on another day (a
    wrongly dated roster) is no booking of today."""
    card = card_of(ID_NUMBER, local(clock).date())
    start = local(clock, days=2)
    entry = c.RosterEntry(
        "APT-3",
        "social-security",
        start,
        start + dt.timedelta(minutes=30),
        citizen_hash=card.citizen_hash,
    )
    store.execute(c.LoadAppointments("r1", (entry,)))
    with pytest.raises(errors.UnknownAppointment):
        store.execute(c.CheckInByCard(card))


def test_an_expired_booking_is_refused_after_its_grace_minutes(
    store: Store, clock: FakeClock
) -> None:
    load_roster(store, ("APT-4", ID_NUMBER, local(clock, minutes=10)))  # 09:10-09:40
    card = card_of(ID_NUMBER, local(clock).date())
    clock.advance(minutes=40 + store.config.priority.appointment_grace_minutes + 1)
    assert booking_for_card(store, card.citizen_hash)["status"] == "expired"  # type: ignore[index]
    with pytest.raises(errors.AppointmentExpired, match="09:40"):
        store.execute(c.CheckInByCard(card))
    assert store.state.counters == {}


def test_an_open_booking_wins_over_a_used_one_of_the_same_day(
    store: Store, clock: FakeClock
) -> None:
    load_roster(
        store,
        ("APT-5", ID_NUMBER, local(clock, minutes=5)),
        ("APT-6", ID_NUMBER, local(clock, hours=3)),
    )
    card = card_of(ID_NUMBER, local(clock).date())
    first = store.execute(c.CheckInByCard(card)).ticket
    for command in (c.CallNext(1), c.StartService(1), c.FinishService(1)):
        store.execute(command)
    second = store.execute(c.CheckInByCard(card)).ticket
    assert first and second
    assert (first.appointment_code, second.appointment_code) == ("APT-5", "APT-6")


def test_central_hashes_id_numbers_before_anything_is_signed() -> None:
    raw = {
        "roster_id": "r1",
        "entries": [
            {
                "code": "A",
                "service": "social-security",
                "slot_start": "2026-06-01T23:30:00+00:00",  # 07:30 on 2 June in Shanghai
                "slot_end": "2026-06-02T00:00:00+00:00",
                "id_number": ID_NUMBER.lower(),
            }
        ],
    }
    hashed = hash_id_numbers(raw, HALL_KEY, SHANGHAI, "roster.yaml")
    entry = hashed["entries"][0]
    assert "id_number" not in entry and ID_NUMBER not in str(hashed).upper()
    assert entry["citizen_hash"] == card_of(ID_NUMBER, dt.date(2026, 6, 2)).citizen_hash
    assert "id_number" in raw["entries"][0]  # (the input is left as it was)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id_number": "1101051949123100"}, "id_number: not an ID card number"),
        ({"slot_start": "2026-06-01T09:00:00"}, "slot_start: a date and time with its offset"),
        ({"citizen_hash": "0" * 64}, "both id_number and citizen_hash"),
    ],
)
def test_a_bad_entry_is_refused_by_position_without_repeating_the_number(
    change: dict[str, str], reason: str
) -> None:
    entry = {"code": "A", "service": "s", "slot_start": "2026-06-01T09:00:00+08:00"}
    entry |= {"id_number": ID_NUMBER} | change
    with pytest.raises(PushRefused, match=r"entries\[2\]: " + reason) as caught:
        hash_id_numbers({"entries": [{"code": "B"}, entry]}, HALL_KEY, SHANGHAI, "roster.yaml")
    assert entry["id_number"] not in str(caught.value)


def test_roster_hashes_stay_off_every_roles_lan_feed(store: Store, clock: FakeClock) -> None:
    """The roster's event (as the hub's LAN server would pass it on) carries the hashes;
    no terminal role's feed payload of it does."""
    from sync.lan.roles import ROLES, feed_payload

    load_roster(store, ("APT-1", ID_NUMBER, local(clock, hours=1)))
    (event,) = [e for e in store.events_since(0) if e.type == "AppointmentsLoaded"]
    day_hash = card_of(ID_NUMBER, local(clock).date()).citizen_hash
    assert day_hash in json.dumps(event.payload)  # (what the feed must cut)
    for role in ROLES:
        assert day_hash not in json.dumps(feed_payload(role, event.payload))
