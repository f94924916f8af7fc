"""Check-in by ID card from a kiosk on another PC, through the shipped hall broker with the
terminals' own logins: the kiosk finds the booking and checks in; the roster's hashes are
on no feed and in no reply; a window may neither look a card up nor check one in."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from agent import commands as c
from agent.privacy import citizen_hash, citizen_key
from sync.lan import RemoteError
from tests.support import wait_until
from tests.sync.test_lan import WAIT, Hall
from tests.sync.test_lan import hall as hall  # the hub on the shipped broker

pytestmark = pytest.mark.mqtt


def test_a_kiosk_on_the_lan_checks_a_booked_card_in_and_no_feed_holds_the_hash(
    hall: Hall,
) -> None:
    feeds: dict[str, list[dict[str, Any]]] = {}
    clients = {}
    for terminal_id in ("display-1", "window-1", "kiosk-2"):
        feeds[terminal_id] = []
        clients[terminal_id] = hall.terminal(terminal_id)
        clients[terminal_id].subscribe(feeds[terminal_id].append)
    now = dt.datetime.now(hall.node.hall.zone)
    start = max(now - dt.timedelta(minutes=5), now.replace(hour=0, minute=0))
    day_hash = citizen_hash(citizen_key(b"k" * 32, "110105199001011234"), start.date())
    entry = c.RosterEntry(
        "APT-CARD-1", "household", start, start + dt.timedelta(hours=1), citizen_hash=day_hash
    )
    hall.runtime.execute(c.LoadAppointments("roster-1", (entry,)))

    kiosk, window = hall.terminal("kiosk-1"), clients["window-1"]
    found = kiosk.query("booking_for_card", timeout=WAIT, citizen_hash=day_hash)
    assert (found["service"], found["status"], found["number"]) == ("household", "open", None)
    assert day_hash not in json.dumps(found) and "APT-CARD-1" not in json.dumps(found)
    for refused in (
        lambda: window.query("booking_for_card", timeout=WAIT, citizen_hash=day_hash),
        lambda: window.execute(c.CheckInByCard(c.Citizen(day_hash)), timeout=WAIT),
    ):
        with pytest.raises(RemoteError) as caught:
            refused()
        assert caught.value.code == "forbidden"

    result = kiosk.execute(c.CheckInByCard(c.Citizen(day_hash, "王*")), timeout=WAIT)
    assert result["ticket"]["priority"] == "appointment"
    assert day_hash not in json.dumps(result)
    last = hall.last_seq()
    for seen in feeds.values():
        assert wait_until(lambda seen=seen: bool(seen) and seen[-1]["seq"] == last, WAIT)
    for terminal_id, seen in feeds.items():
        text = json.dumps(seen, ensure_ascii=False)
        for secret in (day_hash, "APT-CARD-1", "citizen_hash"):
            assert secret not in text, (terminal_id, secret)
        assert "AppointmentsLoaded" in [e["type"] for e in seen]
