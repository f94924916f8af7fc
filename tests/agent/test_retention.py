"""Events central acknowledged are pruned after the retention period; the chain still
verifies from a checkpoint, and the citizen data of those days is gone from the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import commands as c
from agent.config import HallConfig
from agent.errors import StoreDamaged
from agent.store import META_CENTRAL_ACKED, Store
from tests.agent.conftest import FakeClock

HASH = "c0ffee" * 10 + "abcd"


def acknowledge(store: Store, seq: int) -> None:
    store.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (META_CENTRAL_ACKED, str(seq)))


def day_one(store: Store) -> None:
    """Five events: two tickets (one with a citizen), a device fault (sticky), a call."""
    store.execute(c.IssueTicket("social-security", citizen=c.Citizen(HASH, "张*")))
    store.execute(c.IssueTicket("social-security"))
    store.execute(c.DeviceStatusChanged("kiosk-printer", "fault", "paper_out"))
    store.execute(c.CallNext(1))


def test_acknowledged_events_of_old_days_are_pruned_and_the_chain_still_verifies(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    """GIVEN day-one events acknowledged by central WHEN 91 days later the store prunes with
    90 days' retention THEN they are gone but the sticky device fault, the chain verifies
    from the checkpoint, seqs go on, the device state survives a reopen, and the citizen
    hash is no longer anywhere in hall.db."""
    path = tmp_path / "hall.db"
    store = Store(path, "node-1", hall, clock, retention_days=90)
    day_one(store)
    acknowledge(store, 4)
    clock.advance(days=91)
    store.execute(c.IssueTicket("household"))
    store.prune_daily()
    assert [(e.seq, e.type) for e in store.events_since(0)] == [
        (3, "DeviceStatusChanged"),
        (5, "TicketIssued"),
    ]
    assert store.verify_log()[0] == 5
    assert store.conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 1
    assert store.execute(c.IssueTicket("household")).events[0].seq == 6
    store.close()
    assert HASH.encode() not in path.read_bytes()

    again = Store(path, "node-1", hall, clock, retention_days=90)
    try:
        assert again.state.devices["kiosk-printer"] == ("fault", "paper_out")
        assert again.verify_log()[0] == 6
        assert again.execute(c.IssueTicket("household")).ticket.number == "B003"  # type: ignore[union-attr]
    finally:
        again.close()


def test_events_central_has_not_acknowledged_are_kept(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    store = Store(tmp_path / "hall.db", "node-1", hall, clock)
    try:
        day_one(store)
        acknowledge(store, 2)
        clock.advance(days=91)
        assert store.prune(90) == 2
        assert [e.seq for e in store.events_since(0)] == [3, 4]
        assert store.prune(90) == 0
        assert store.verify_log()[0] == 4
    finally:
        store.close()


def test_recent_days_are_kept_whatever_central_acknowledged(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    store = Store(tmp_path / "hall.db", "node-1", hall, clock)
    try:
        day_one(store)
        acknowledge(store, 4)
        clock.advance(days=30)
        store.execute(c.IssueTicket("household"))
        assert store.prune(90) == 0
        assert len(list(store.events_since(0))) == 5
    finally:
        store.close()


def test_a_kept_sticky_event_changed_after_pruning_is_named(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    path = tmp_path / "hall.db"
    store = Store(path, "node-1", hall, clock)
    day_one(store)
    acknowledge(store, 4)
    clock.advance(days=91)
    store.execute(c.IssueTicket("household"))
    store.prune(90)
    store.conn.execute(
        "UPDATE events SET payload = replace(payload, 'fault', 'online') WHERE seq = 3"
    )
    store.close()
    with pytest.raises(StoreDamaged, match="seq 3 does not match"):
        Store(path, "node-1", hall, clock)
