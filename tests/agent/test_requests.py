"""Commands with a request id run once: a terminal retrying after a lost reply, even after the
hub restarted, gets what the first run did (invariant: nothing acknowledged is done twice)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import commands as c
from agent.config import HallConfig
from agent.errors import NobodyWaiting
from agent.store import Store
from tests.agent.conftest import FakeClock


def test_the_same_request_id_issues_one_ticket_also_after_a_restart(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    store = Store(tmp_path / "hall.db", "hub", hall, clock)
    first = store.execute(c.IssueTicket("social-security"), request_id="kiosk-1/7")
    again = store.execute(c.IssueTicket("social-security"), request_id="kiosk-1/7")
    assert first.ticket is not None and again.ticket is not None
    assert again.ticket.number == first.ticket.number == "A001"
    assert again.events == first.events
    store.close()

    restarted = Store(tmp_path / "hall.db", "hub", hall, clock)
    clock.advance(minutes=1)
    retry = restarted.execute(c.IssueTicket("social-security"), request_id="kiosk-1/7")
    assert retry.ticket is not None and retry.ticket.number == "A001"
    assert restarted.last_seq == 1  # nothing written by the retries
    other = restarted.execute(c.IssueTicket("social-security"), request_id="kiosk-1/8")
    assert other.ticket is not None and other.ticket.number == "A002"
    restarted.close()


def test_a_refusal_is_not_remembered(store: Store) -> None:
    """A domain refusal commits nothing: the same request id runs when it can succeed."""
    with pytest.raises(NobodyWaiting):
        store.execute(c.CallNext(1), request_id="window-1/1")
    store.execute(c.IssueTicket("social-security"))
    called = store.execute(c.CallNext(1), request_id="window-1/1")
    assert called.ticket is not None and called.ticket.number == "A001"


def test_request_ids_are_kept_for_today_and_yesterday(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    """Also in a hall whose PC is switched off every night (each day a new process)."""
    for day in range(4):
        store = Store(tmp_path / "hall.db", "hub", hall, clock)
        with pytest.raises(NobodyWaiting):  # a refusal first: rolled back, prunes nothing
            store.execute(c.CallNext(1), request_id=f"window-1/{day}")
        store.execute(c.IssueTicket("social-security"), request_id=f"kiosk-1/{day}")
        store.close()
        clock.advance(days=1)
    check = Store(tmp_path / "hall.db", "hub", hall, clock)
    kept = {row[0] for row in check.conn.execute("SELECT id FROM requests")}
    assert kept == {"kiosk-1/2", "kiosk-1/3"}
    check.close()


def test_a_retry_across_midnight_gets_the_ticket_of_the_day_before(
    store: Store, clock: FakeClock
) -> None:
    first = store.execute(c.IssueTicket("social-security"), request_id="kiosk-1/9")
    clock.advance(days=1)
    store.execute(c.IssueTicket("household"))  # the new day has begun
    retry = store.execute(c.IssueTicket("social-security"), request_id="kiosk-1/9")
    assert retry.ticket == first.ticket
    assert retry.ticket is not None and retry.ticket.business_date == "2026-06-01"
