"""The store's schema: versioned migrations, and what each version must keep true."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from agent import commands as c
from agent.config import HallConfig
from agent.errors import StoreError
from agent.store import MIGRATIONS, SCHEMA_VERSION, Store, connect
from tests.agent.conftest import FakeClock


def test_a_new_store_is_at_the_current_schema(store: Store) -> None:
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert len(MIGRATIONS) == SCHEMA_VERSION


def test_a_version_1_store_is_migrated_and_keeps_its_sticky_facts(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    path = tmp_path / "hall.db"
    conn = connect(path)  # what an agent with schema 1 left: its tables and a device fault
    MIGRATIONS[0](sqlite_utils.Database(conn))
    conn.execute(
        "INSERT INTO events VALUES ('node-1', 1, 'DeviceStatusChanged', '2026-06-01',"
        " '2026-06-01T09:00:00.000000+08:00', '2026-06-01T01:00:00.000000+00:00',"
        ' \'{"device":"printer","status":"fault","reason":"paper out",'
        '"at":"2026-06-01T09:00:00.000000+08:00"}\')'
    )
    conn.execute("PRAGMA user_version=1")
    conn.close()

    clock.advance(days=1)  # the fault is sticky: it outlives its business day
    store = Store(path, "node-1", hall, clock)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.state.devices["printer"] == ("fault", "paper out")
    store.execute(c.DeviceStatusChanged("scanner", "offline"))
    store.execute(c.IssueTicket("social-security"))
    store.close()

    again = Store(path, "node-1", hall, clock)  # folds the sticky events through the new index
    assert again.state.devices == {"printer": ("fault", "paper out"), "scanner": ("offline", None)}
    assert [t.number for t in again.state.tickets.values()] == ["A001"]
    again.close()


def test_inserting_an_ordinary_event_builds_no_temporary_table(store: Store) -> None:
    """The sticky index's condition must be cheap to evaluate on every insert: an IN list
    makes SQLite build an ephemeral table each time (it showed as ~7 µs per command)."""
    plan = store.conn.execute(
        "EXPLAIN INSERT INTO events VALUES ('n', 1, 'TicketIssued', 'd', 'a', 'w', '{}')"
    ).fetchall()
    opcodes = {row[1] for row in plan}
    assert "OpenEphemeral" not in opcodes


def test_a_store_from_a_newer_agent_is_refused_unchanged(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    path = tmp_path / "hall.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path, "node-1", hall, clock)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    conn.close()
