"""The phone's progress and the near-turn feed read the same from the central store on
SQLite and on PostgreSQL (a server of the test's own; skipped where it cannot start)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import commands as c
from agent import ticketlink
from agent.config import always_open, sample_config
from agent.store import Store, encode_payload
from sync import contract as ct
from sync.central import CentralBackend
from sync.fleet.progress import ProgressRefused, near_turn_feed, ticket_progress
from tests.agent.conftest import FakeClock
from tests.support import chained_events, signed_batch
from tests.sync.test_central_stores import store  # noqa: F401 (the fixture: both stores)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
BASE = "https://zwfw.example.gov.cn/hall/t"


def hall_log(tmp_path: Path) -> tuple[list[ct.WireEvent], str]:
    """A hub's log: five social-security tickets, window 1 calls A001 (A002-A004 near)."""
    hall = always_open(sample_config()).model_copy(update={"near_turn_ahead": 2})
    hub = Store(tmp_path / "hall.db", "n1", hall, FakeClock())
    try:
        for _ in range(5):
            hub.execute(c.IssueTicket("social-security"))
        hub.execute(c.CallNext(1))
        rows = [
            (e.type, e.business_date, e.at, e.wall_time, encode_payload(e.payload))
            for e in hub.events_since(0)
        ]
        return chained_events("n1", rows), hub.state.business_date
    finally:
        hub.close()


def link(day: str, number: str, key: Ed25519PrivateKey = KEY) -> str:
    return ticketlink.make(BASE, key, "h1", "n1", day, number)


def test_progress_and_feed_on_both_stores(
    store: CentralBackend,  # noqa: F811 (the imported fixture)
    tmp_path: Path,
) -> None:
    log, day = hall_log(tmp_path)
    now = dt.datetime(2026, 6, 1, 2, tzinfo=dt.UTC)
    store.ingest(signed_batch("h1", "n1", KEY, log, now.isoformat()), now)
    online = ct.NodeStatus(schema_version=1, node_id="n1", state="online", at=now.isoformat())
    store.record_status("h1", online, now)

    waiting = ticket_progress(store, link(day, "A004"))
    assert (waiting.state, waiting.people_ahead, waiting.window) == ("waiting", 2, None)
    assert waiting.freshness.last_event_at == log[-1].at and not waiting.freshness.stale
    called = ticket_progress(store, link(day, "A001"))
    assert (called.state, called.window) == ("called", 1)
    assert not ticket_progress(store, link(day, "A009")).found

    with pytest.raises(ProgressRefused) as refused:
        ticket_progress(store, link(day, "A004", Ed25519PrivateKey.generate()))
    assert refused.value.status == 403

    feed = near_turn_feed(store, "", dt.date.fromisoformat(day))
    assert [(e["number"], e["people_ahead"]) for e in feed["events"]] == [
        ("A002", 0),
        ("A003", 1),
        ("A004", 2),
    ]
    assert near_turn_feed(store, feed["cursor"], dt.date.fromisoformat(day))["events"] == []

    offline = ct.NodeStatus(schema_version=1, node_id="n1", state="offline")
    store.record_status("h1", offline, now, retained=True)
    assert ticket_progress(store, link(day, "A004")).freshness.stale


def test_a_malformed_near_turn_event_is_skipped_and_the_feed_goes_on(
    store: CentralBackend,  # noqa: F811 (the imported fixture)
    tmp_path: Path,
) -> None:
    """GIVEN a node whose log holds a TicketNearTurn without its fields (signed and chained:
    central stores it) WHEN the city's service reads the feed THEN that event is skipped and
    the others still come (it used to break every answer for two days)."""
    log, day = hall_log(tmp_path)
    rows = [(e.type, e.business_date, e.at, e.wall_time, e.payload) for e in log]
    rows.insert(1, ("TicketNearTurn", day, log[0].at, log[0].wall_time, '{"x": 1}'))
    now = dt.datetime(2026, 6, 1, 2, tzinfo=dt.UTC)
    store.ingest(signed_batch("h1", "n1", KEY, chained_events("n1", rows), now.isoformat()), now)
    feed = near_turn_feed(store, "", dt.date.fromisoformat(day))
    assert [e["number"] for e in feed["events"]] == ["A002", "A003", "A004"]
