"""The store's schema: versioned migrations, and what each version must keep true."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from agent import commands as c
from agent.calendar import HallCalendar
from agent.config import HallConfig
from agent.errors import DiskFull, StoreError
from agent.model import TICKET_FIELDS, Ticket
from agent.store import EVALUATION_DETAILS, MIGRATIONS, SCHEMA_VERSION, STICKY_WHERE, Store, connect
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
        "EXPLAIN INSERT INTO events VALUES ('n', 1, 'TicketIssued', 'd', 'a', 'w', '{}', 'c')"
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


def _stored(store: Store, table: str, key: str, value: object) -> tuple[object, ...]:
    row = store.conn.execute(f"SELECT * FROM {table} WHERE {key} = ?", (value,)).fetchone()
    assert row is not None
    return tuple(row)


def test_a_column_that_empties_again_is_stored_as_null(store: Store) -> None:
    """Rows are written with only their non-NULL columns; a value that goes back to None
    (the window's current ticket after finishing, a reactivated ticket's window and no-show
    mark) must not keep its old value in the table."""
    ticket = store.execute(c.IssueTicket("social-security")).ticket
    assert ticket is not None
    store.execute(c.CallNext(1))
    assert _stored(store, "windows", "number", 1)[3] == ticket.id
    store.execute(c.StartService(1))
    store.execute(c.FinishService(1))
    window = _stored(store, "windows", "number", 1)
    assert window == store.state.windows[1].as_tuple()
    assert (window[3], window[4]) == (None, ticket.id)  # current, last_finished

    second = store.execute(c.IssueTicket("social-security")).ticket
    assert second is not None
    store.execute(c.CallNext(1))
    store.execute(c.MarkNoShow(1))
    marked = _stored(store, "tickets", "id", second.id)
    assert marked[15] == 1 and marked[21] is not None  # window, no_show_call_index
    store.execute(c.Reactivate(second.number))
    row = _stored(store, "tickets", "id", second.id)
    assert row == store.state.tickets[second.id].as_tuple()
    assert (row[5], row[15], row[21]) == ("waiting", None, None)


def test_the_sticky_index_matches_the_reload_query(store: Store) -> None:
    """The reload names the index (INDEXED BY): its condition must be the one in code, or a
    store migrated earlier would fail to load after STICKY_EVENTS changed."""
    sql = store.conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'events_sticky'"
    ).fetchone()[0]
    assert sql.endswith(f"WHERE {STICKY_WHERE}")


def test_a_commit_sqlite_rolled_back_itself_leaves_no_hole(store: Store) -> None:
    """A COMMIT can fail after SQLite has already rolled back (disk full, I/O error): memory
    is then ahead of the file and must be folded again, and the next ticket and event seq
    follow the last ones actually stored."""
    store.execute(c.IssueTicket("social-security"))
    real = store._cur

    class FailingCommit:
        def execute(self, sql: str, *args: object) -> object:
            if sql == "COMMIT":
                real.execute("ROLLBACK")
                raise sqlite3.OperationalError("database or disk is full")
            return real.execute(sql, *args)

    store._cur = FailingCommit()  # type: ignore[assignment]
    with pytest.raises(DiskFull):
        store.execute(c.IssueTicket("social-security"))
    store._cur = real
    result = store.execute(c.IssueTicket("social-security"))
    assert result.ticket is not None and result.ticket.number == "A002"
    seqs = [e.seq for e in store.events_since(0)]
    assert seqs == list(range(1, len(seqs) + 1))


def drop_rating_details(conn: sqlite3.Connection) -> None:
    """Back to schema 7: the evaluations table without its 好差评 columns."""
    conn.execute("DROP INDEX evaluations_case")
    for column in EVALUATION_DETAILS:
        conn.execute(f"ALTER TABLE evaluations DROP COLUMN {column}")


def test_a_version_3_store_gains_the_citizen_service_columns_and_a_sticky_calendar(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    """GIVEN a store an agent with schema 3 left (a ticket issued) WHEN this agent opens it
    THEN the ticket reads back with empty bundle/assist columns, and a calendar applied today
    is still in effect after midnight (found through the re-made sticky index)."""
    path = tmp_path / "hall.db"
    old = Store(path, "node-1", hall, clock)
    old.execute(c.IssueTicket("social-security"))
    old.close()
    conn = connect(path)  # back to schema 3: the new columns, tables and index go
    for column in ("bundle", "bundle_leg", "assist", "assist_staff"):
        conn.execute(f"ALTER TABLE tickets DROP COLUMN {column}")
    conn.execute("ALTER TABLE events DROP COLUMN chain")  # schema 5 chains them again
    conn.execute("DROP TABLE chain_kept")
    conn.execute("DROP INDEX events_day_corrected")  # (schema 6)
    for column in ("staff", "pause_reason"):  # (schema 7)
        conn.execute(f"ALTER TABLE windows DROP COLUMN {column}")
    drop_rating_details(conn)  # (schema 8)
    conn.execute("DROP INDEX events_sticky")
    three = STICKY_WHERE.replace(" OR type = 'CalendarApplied'", "").replace(
        " OR type = 'StaffRosterLoaded'", ""
    )
    conn.execute(f"CREATE INDEX events_sticky ON events(type, node_id, seq) WHERE {three}")
    conn.execute("PRAGMA user_version=3")
    conn.close()

    store = Store(path, "node-1", hall, clock)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    ticket = store.conn.execute("SELECT * FROM tickets").fetchone()
    assert Ticket.from_row(dict(zip(TICKET_FIELDS, ticket, strict=True))).bundle is None
    store.execute(c.ApplyCalendar(HallCalendar(), 7))
    store.close()
    clock.advance(days=1)
    again = Store(path, "node-1", hall, clock)
    assert again.state.calendar_version == 7
    again.close()


def test_a_version_6_store_gains_the_window_staff_columns_and_a_sticky_staff_roster(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    """GIVEN a store an agent with schema 6 left (a window paused, without a reason) WHEN
    this agent opens it THEN the window row gains empty staff and pause-reason columns, and
    a staff roster loaded today is still known after midnight (the re-made sticky index)."""
    path = tmp_path / "hall.db"
    old = Store(path, "node-1", hall, clock)
    old.execute(c.PauseWindow(1, "break"))
    old.close()
    conn = connect(path)
    conn.execute("UPDATE windows SET pause_reason = NULL")
    for column in ("staff", "pause_reason"):
        conn.execute(f"ALTER TABLE windows DROP COLUMN {column}")
    drop_rating_details(conn)  # (schema 8)
    conn.execute("DROP INDEX events_sticky")
    six = STICKY_WHERE.replace(" OR type = 'StaffRosterLoaded'", "")
    conn.execute(f"CREATE INDEX events_sticky ON events(type, node_id, seq) WHERE {six}")
    conn.execute("PRAGMA user_version=6")
    conn.close()

    store = Store(path, "node-1", hall, clock)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
    row = store.conn.execute("SELECT status, staff, pause_reason FROM windows WHERE number = 1")
    assert row.fetchone() == ("paused", None, None)
    roster = (c.StaffRosterMember("S-0007", "李*", (1,)),)
    store.execute(c.LoadStaffRoster(3, roster))
    store.close()
    clock.advance(days=1)
    again = Store(path, "node-1", hall, clock)
    assert again.state.staff_roster_version == 3
    assert again.engine.staffed(again.state)
    again.close()
