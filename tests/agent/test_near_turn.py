"""The "your turn is near" event: once per ticket, when a move of its queue leaves it at
most ``near_turn_ahead`` people from the front; committed with the move, so it reaches
central through the outbox like every event."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import commands as c
from agent.config import HallConfig
from agent.store import Store, dump_projection, replay
from tests.agent.conftest import FakeClock


@pytest.fixture
def hall(hall: HallConfig) -> HallConfig:
    return hall.model_copy(update={"near_turn_ahead": 2})


def near(events) -> list[tuple[str, int]]:
    return [(e.payload["number"], e.payload["ahead"]) for e in events if e.type == "TicketNearTurn"]


def test_each_ticket_is_told_once_when_a_call_brings_it_near(store: Store) -> None:
    for _ in range(5):
        store.execute(c.IssueTicket("social-security"))
    assert near(store.events_since(0)) == []  # taking a number tells nobody
    called = store.execute(c.CallNext(1))
    assert called.events[0].type == "TicketCalled"
    assert called.ticket is not None and called.ticket.number == "A001"  # (not a near one)
    assert near(called.events) == [("A002", 0), ("A003", 1), ("A004", 2)]
    assert near(store.execute(c.CallNext(2)).events) == [("A005", 2)]
    assert near(store.execute(c.CallNext(1)).events) == []  # (A001 skipped, A004 called)
    numbers = [n for n, _ in near(store.events_since(0))]
    assert numbers == ["A002", "A003", "A004", "A005"]


def test_only_the_moved_queue_is_looked_at_and_priority_counts_ahead(store: Store) -> None:
    for service in ("social-security", "social-security", "household", "household"):
        store.execute(c.IssueTicket(service))
    store.execute(c.IssueTicket("social-security", staff_priority=True))  # A003: priority
    events = store.execute(c.CallNext(1)).events  # window 1 calls the priority ticket first
    assert events[0].payload["number"] == "A003"
    assert near(events) == [("A001", 0), ("A002", 1)]  # household's queue did not move


def test_a_restart_does_not_tell_a_ticket_again_and_replay_keeps_the_state(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    store = Store(tmp_path / "hall.db", "node-1", hall, clock)
    for _ in range(5):
        store.execute(c.IssueTicket("social-security"))
    store.execute(c.CallNext(1))
    store.close()
    store = Store(tmp_path / "hall.db", "node-1", hall, clock)
    try:
        assert near(store.execute(c.CallNext(2)).events) == [("A005", 2)]
        replayed = replay(store.events_since(0), hall)
        assert dump_projection(replayed) == dump_projection(store.conn)
    finally:
        store.close()


def test_no_event_when_the_hall_config_sets_no_threshold(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    store = Store(
        tmp_path / "hall.db", "node-1", hall.model_copy(update={"near_turn_ahead": None}), clock
    )
    try:
        for _ in range(3):
            store.execute(c.IssueTicket("social-security"))
        assert near(store.execute(c.CallNext(1)).events) == []
    finally:
        store.close()
