"""Durable SQLite store: state tables and the event log, committed together.

One transaction per command (``BEGIN IMMEDIATE`` … ``COMMIT``), WAL with
``synchronous=FULL`` so a ticket shown to a citizen survives a power cut. The state of the
business day lives in memory as the fold of today's events; when another process commits to
the same file (``PRAGMA data_version`` changes) it is folded again from the log before the
next command, so several processes on one data dir stay correct.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import operator
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from agent import commands as c
from agent.config import HallConfig
from agent.engine import QueueEngine
from agent.errors import HallError, StoreError
from agent.model import (
    TICKET_FIELDS,
    WINDOW_FIELDS,
    Event,
    Fact,
    Priority,
    Ticket,
    TicketState,
    WindowStatus,
    iso,
    parse_time,
)
from agent.state import STICKY_EVENTS, HallState, Touched

if TYPE_CHECKING:
    import sqlite_utils

SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 30_000
PROJECTION_TABLES = ("tickets", "windows", "evaluations", "devices", "appointments")

Clock = Callable[[], dt.datetime]

# The store binds the enums' text. Registered, sqlite3 finds the adapter in its table;
# unregistered, it probes each StrEnum value for adaptation protocols first (slow).
for _enum in (TicketState, Priority, WindowStatus):
    sqlite3.register_adapter(_enum, operator.attrgetter("_value_"))


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode_payload(payload: dict[str, Any]) -> str:
    """Compact UTF-8 JSON, through orjson: a fraction of the time of the json module (this
    runs once per event on the command path). Integers beyond 64 bits, which orjson
    refuses, go through the json module; either way ``json.loads`` gives the same values."""
    try:
        return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return _JSON.encode(payload)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _migrate_1(db: sqlite_utils.Database) -> None:
    # The two hot tables are clustered on their key (WITHOUT ROWID): one B-tree each, so a
    # command writes as few pages as a plain insert into a keyed table.
    db.execute(
        "CREATE TABLE events (node_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL,"
        " business_date TEXT NOT NULL, at TEXT NOT NULL, wall_time TEXT NOT NULL,"
        " payload TEXT NOT NULL, PRIMARY KEY (node_id, seq)) WITHOUT ROWID"
    )
    # Replaced by migration 2 (this form cost every insert an ephemeral table for the IN list).
    sticky = ", ".join(f"'{t}'" for t in STICKY_EVENTS)
    db.execute(f"CREATE INDEX events_sticky ON events(type) WHERE type IN ({sticky})")
    db.execute(
        "CREATE TABLE tickets (id TEXT PRIMARY KEY, number TEXT NOT NULL, service TEXT NOT NULL,"
        " business_date TEXT NOT NULL, issued_at TEXT NOT NULL, state TEXT NOT NULL,"
        " priority TEXT NOT NULL, leg INTEGER NOT NULL, previous_id TEXT,"
        " appointment_code TEXT, slot_start TEXT, slot_end TEXT, citizen_hash TEXT,"
        " citizen_name TEXT, channel TEXT NOT NULL, window INTEGER, called_at TEXT,"
        " started_at TEXT, finished_at TEXT, recalls INTEGER NOT NULL,"
        " call_index INTEGER NOT NULL, no_show_call_index INTEGER, score INTEGER) WITHOUT ROWID"
    )
    db.table("windows").create(
        {"number": int, "business_date": str, "status": str, "current": str, "last_finished": str},
        pk="number",
    )
    db.table("evaluations").create(
        {"ticket_id": str, "number": str, "service": str, "window": int, "score": int, "at": str},
        pk="ticket_id",
    )
    db.table("devices").create(
        {"device": str, "status": str, "reason": str, "at": str}, pk="device"
    )
    db.table("appointments").create(
        {
            "code": str,
            "service": str,
            "slot_start": str,
            "slot_end": str,
            "citizen_name": str,
            "ticket_id": str,
        },
        pk="code",
    )
    db.table("meta").create({"key": str, "value": str}, pk="key")


#: Sticky events are rare: a partial index finds them on reload. Written as an OR chain, which
#: an insert evaluates directly (``type IN (…)`` builds an ephemeral table on every insert),
#: and the reload query repeats it word for word so SQLite can prove the index usable.
#: Changing STICKY_EVENTS needs a migration that re-creates the index.
STICKY_WHERE = " OR ".join(f"type = '{t}'" for t in STICKY_EVENTS)


def _migrate_2(db: sqlite_utils.Database) -> None:
    db.execute("DROP INDEX IF EXISTS events_sticky")
    db.execute(f"CREATE INDEX events_sticky ON events(type, node_id, seq) WHERE {STICKY_WHERE}")


def _migrate_3(db: sqlite_utils.Database) -> None:
    # Commands done per request id (a terminal's retry), kept for the day and the day before.
    db.execute(
        "CREATE TABLE requests (id TEXT PRIMARY KEY, business_date TEXT NOT NULL,"
        " first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, ticket_id TEXT) WITHOUT ROWID"
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_migrate_1, _migrate_2, _migrate_3]


def connect(path: Path | str) -> sqlite3.Connection:
    """A connection with the project's pragmas; transactions are managed explicitly."""
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    if str(path) != ":memory:":
        _use_wal(conn, path)
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def _use_wal(conn: sqlite3.Connection, path: Path | str) -> None:
    """Switch a new file to WAL. The switch takes an exclusive lock and SQLite does not wait
    for it (no busy handler), so processes opening a new store together retry, bounded."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise StoreError(f"{path}: cannot switch to WAL: {exc}") from exc
            time.sleep(0.05)
            continue
        if mode.lower() != "wal":
            raise StoreError(f"{path}: cannot switch to WAL (journal_mode={mode})")


def migrate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store schema {version} is newer than this agent knows ({SCHEMA_VERSION})"
            )
        if version == SCHEMA_VERSION:
            conn.execute("COMMIT")
            return
        # Imported here: sqlite-utils brings numpy (~0.25 s), needed only to create or
        # upgrade a store, not on every start of a CLI command or a terminal.
        import sqlite_utils

        db = sqlite_utils.Database(conn)
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            step(db)
            conn.execute(f"PRAGMA user_version={number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class CommandResult(NamedTuple):
    events: list[Event]
    ticket: Ticket | None = None


def event_from_row(row: tuple[Any, ...]) -> Event:
    node_id, seq, type_, business_date, at, wall_time, payload = row
    return Event(node_id, seq, type_, business_date, at, wall_time, json.loads(payload))


class _Upsert:
    """``INSERT OR REPLACE`` of a row given as a tuple of all its columns.

    Only the values that are not None are bound (the other columns default to NULL): most
    of a ticket's columns are empty, and the sqlite3 module binds None slowly (an adapter
    lookup per value). One statement per shape of row, built once.
    """

    def __init__(self, table: str, columns: tuple[str, ...]) -> None:
        self.table, self.columns = table, columns
        self._nones = (None,) * len(columns)
        self._sql: dict[tuple[bool, ...], str] = {}

    def __call__(self, cur: sqlite3.Cursor, values: tuple[Any, ...]) -> None:
        present = tuple(map(operator.is_not, values, self._nones))
        sql = self._sql.get(present)
        if sql is None:
            names = ", ".join(f'"{c}"' for c in itertools.compress(self.columns, present))
            marks = ", ".join("?" * sum(present))
            sql = self._sql[present] = (
                f"INSERT OR REPLACE INTO {self.table} ({names}) VALUES ({marks})"
            )
        cur.execute(sql, tuple(itertools.compress(values, present)))


class _Projection:
    """Writes the state tables from the in-memory state after an event was applied."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.cur = conn.cursor()  # one cursor reused: Connection.execute makes one per call
        self._ticket = _Upsert("tickets", TICKET_FIELDS)
        self._window = _Upsert("windows", WINDOW_FIELDS)

    def write(self, state: HallState, event: Event, touched: Touched) -> None:
        for ticket_id in touched.tickets:
            self._ticket(self.cur, state.tickets[ticket_id].as_tuple())
        for number in touched.windows:
            self._window(self.cur, state.windows[number].as_tuple())
        if touched.evaluation:
            p = event.payload
            self.cur.execute(
                "INSERT INTO evaluations VALUES (?, ?, ?, ?, ?, ?)",
                (p["ticket_id"], p["number"], p["service"], p["window"], p["score"], p["at"]),
            )
        for code in touched.appointments:
            a = state.appointments[code]
            self.cur.execute(
                "INSERT OR REPLACE INTO appointments VALUES (?, ?, ?, ?, ?, ?)",
                (
                    code,
                    a["service"],
                    a["slot_start"],
                    a["slot_end"],
                    a["citizen_name"],
                    a["ticket_id"],
                ),
            )
        if touched.device:
            p = event.payload
            self.cur.execute(
                "INSERT OR REPLACE INTO devices VALUES (?, ?, ?, ?)",
                (p["device"], p["status"], p.get("reason"), p["at"]),
            )


class Store:
    """The single writer of one node's hall data; not shared between threads."""

    def __init__(
        self, path: Path | str, node_id: str, config: HallConfig, clock: Clock = utc_now
    ) -> None:
        self.path = path
        self.node_id = node_id
        self.config = self._file_config = config
        self.engine = QueueEngine(config)
        self.clock = clock
        self.conn = connect(path)
        migrate(self.conn)
        self._projection = _Projection(self.conn)
        self._cur = self._projection.cur
        self._data_version = -1
        self.last_seq = 0
        self._last_at: dt.datetime | None = None
        self._requests_pruned: str | None = None  # the day old request ids were last removed
        self.state = HallState(self._business_date(clock()), self._window_numbers())
        self.refresh()

    # ---- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        self.conn.close()

    def _window_numbers(self) -> list[int]:
        return [w.number for w in self.config.windows]

    def _business_date(self, moment: dt.datetime) -> str:
        return moment.astimezone(self.config.zone).date().isoformat()

    def invalidate(self) -> None:
        """Memory may no longer match the file: fold the log again before the next use."""
        self._data_version = -1

    def refresh(self) -> bool:
        """Fold today's events again if another connection committed since we last looked."""
        version = self._cur.execute("PRAGMA data_version").fetchone()[0]
        if version == self._data_version:
            return False
        self._reload()
        self._data_version = version
        return True

    def _reload(self) -> None:
        last = self.conn.execute(
            "SELECT seq, at, business_date FROM events WHERE node_id = ? ORDER BY seq DESC LIMIT 1",
            (self.node_id,),
        ).fetchone()
        if last is None:
            self.last_seq, self._last_at = 0, None
            day = self._business_date(self.clock())
        else:
            self.last_seq, self._last_at = last[0], parse_time(last[1])
            day = max(last[2], self._business_date(self.clock()))
        state = HallState(day, self._window_numbers())
        first_today = self._first_seq_of(day)
        sticky = self.conn.execute(
            f"SELECT * FROM events INDEXED BY events_sticky WHERE ({STICKY_WHERE}) "
            "AND node_id = ? AND seq < ? ORDER BY seq",
            (self.node_id, first_today),
        )
        for row in sticky:
            state.apply(event_from_row(row))
        for event in self.events_since(first_today - 1):
            state.apply(event)
        self.state = state
        self._use_config_from(state)

    def _first_seq_of(self, day: str) -> int:
        """Business dates only grow with seq, so today's events are a suffix of the log:
        binary search on the primary key instead of an index on every insert."""
        low, high = 1, self.last_seq + 1
        while low < high:
            middle = (low + high) // 2
            row = self.conn.execute(
                "SELECT business_date FROM events WHERE node_id = ? AND seq = ?",
                (self.node_id, middle),
            ).fetchone()
            if row is not None and row[0] >= day:
                high = middle
            else:
                low = middle + 1
        return low

    def _use_config_from(self, state: HallState) -> None:
        """A config applied through the log (from the central platform) wins over the file."""
        config = self._file_config
        if state.config_payload is not None:
            config = HallConfig.model_validate(state.config_payload)
        if config is not self.config:
            self.config = config
            self.engine = QueueEngine(config)

    # ---- commands ------------------------------------------------------------------------
    def hall_now(self, wall: dt.datetime | None = None) -> dt.datetime:
        """The hall clock: the machine's clock, but never earlier than the last event."""
        now = (wall or self.clock()).astimezone(self.config.zone)
        if self._last_at is not None and now < self._last_at:
            return self._last_at
        return now

    def execute(
        self,
        command: c.Command,
        meta: dict[str, str] | None = None,
        request_id: str | None = None,
    ) -> CommandResult:
        """Decide, apply and commit one command; returns only after the commit.

        ``meta`` rows (e.g. the version of an inbound message just applied) are written in
        the same transaction, so a crash leaves both or neither. A ``request_id`` (a
        terminal's, kept with the command's events) makes a retry of a command that was
        committed return what it did instead of running it again, also across restarts.
        """
        cur = self._cur
        cur.execute("BEGIN IMMEDIATE")
        try:
            self.refresh()
            if request_id is not None and (done := self._request_done(request_id)) is not None:
                cur.execute("ROLLBACK")  # (nothing written)
                return done
            wall = self.clock()
            wall_time = iso(wall)  # the machine's clock as it reads (UTC), for offset analysis
            now = self.hall_now(wall)
            at = iso(now)  # (formatted last: the engine's iso(now) gets this text back)
            day = max(at[:10], self.state.business_date)
            if day != self.state.business_date:
                self.state.start_day(day)
            facts = self.engine.decide(self.state, command, now)
            events = self._append(facts, day, at, wall_time)
            for key, value in (meta or {}).items():
                cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            # Everything up to the return happens before the fsync: after it, the caches are
            # cold and the smallest step costs microseconds. A failed commit folds again.
            result = CommandResult(events, self._result_ticket(events))
            if request_id is not None and events:
                if self._requests_pruned != day:  # once a day per process: ids before yesterday
                    yesterday = (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()
                    cur.execute("DELETE FROM requests WHERE business_date < ?", (yesterday,))
                    self._requests_pruned = day
                cur.execute(
                    "INSERT INTO requests VALUES (?, ?, ?, ?, ?)",
                    (
                        request_id,
                        day,
                        events[0].seq,
                        events[-1].seq,
                        result.ticket and result.ticket.id,
                    ),
                )
            if events:
                self._last_at = now  # (our own commits leave PRAGMA data_version unchanged)
            cur.execute("COMMIT")
        except HallError:
            cur.execute("ROLLBACK")
            raise
        except BaseException:
            self.invalidate()  # memory may be ahead of the store: fold again
            self._requests_pruned = None
            if self.conn.in_transaction:  # (SQLite may have rolled back already, e.g. disk full)
                cur.execute("ROLLBACK")
            raise
        return result

    def _append(self, facts: Iterable[Fact], day: str, at: str, wall: str) -> list[Event]:
        events = []
        for fact in facts:
            self.last_seq += 1
            event = Event(self.node_id, self.last_seq, fact.type, day, at, wall, fact.payload)
            self._cur.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    event.node_id,
                    event.seq,
                    event.type,
                    event.business_date,
                    event.at,
                    event.wall_time,
                    encode_payload(event.payload),
                ),
            )
            touched = self.state.apply(event)
            self._projection.write(self.state, event, touched)
            if event.type == "HallConfigApplied":
                self._use_config_from(self.state)
            events.append(event)
        return events

    def _request_done(self, request_id: str) -> CommandResult | None:
        """What the command with this request id did, if it was committed."""
        row = self._cur.execute(
            "SELECT first_seq, last_seq, ticket_id FROM requests WHERE id = ?", (request_id,)
        ).fetchone()
        if row is None:
            return None
        first, last, ticket_id = row
        events = list(self.events_since(first - 1, limit=last - first + 1))
        ticket = self.state.tickets.get(ticket_id) if ticket_id else None
        if ticket_id and ticket is None:  # a ticket of yesterday (a retry across midnight)
            stored = self._cur.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
            ticket = Ticket.from_row(dict(zip(TICKET_FIELDS, stored.fetchone(), strict=True)))
        return CommandResult(events, ticket)

    def _result_ticket(self, events: list[Event]) -> Ticket | None:
        for event in reversed(events):
            if "ticket_id" in event.payload:
                ticket_id = event.payload.get("new_ticket_id", event.payload["ticket_id"])
                return self.state.tickets.get(ticket_id)
            if event.type == "TicketIssued":
                return self.state.tickets.get(event.payload["ticket"]["id"])
        return None

    # ---- reading -------------------------------------------------------------------------
    def events_since(self, seq: int = 0, limit: int | None = None) -> Iterator[Event]:
        sql = "SELECT * FROM events WHERE node_id = ? AND seq > ? ORDER BY seq"
        params: list[Any] = [self.node_id, seq]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        for row in self.conn.execute(sql, params):
            yield event_from_row(row)

    def events_of_days(self, first_day: str, last_day: str) -> Iterator[Event]:
        """This node's events of business days ``first_day``..``last_day`` (for reports)."""
        self.refresh()
        for event in self.events_since(self._first_seq_of(first_day) - 1):
            if event.business_date > last_day:
                return
            yield event

    def meta_items(self, prefix: str) -> dict[str, str]:
        """The ``meta`` rows whose key starts with ``prefix`` (e.g. versions applied from
        central), keyed by the rest of the key."""
        rows = self.conn.execute(
            "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ? ORDER BY key",
            (len(prefix), prefix),
        )
        return {key[len(prefix) :]: value for key, value in rows}

    def ticket_view(self, ticket: Ticket) -> dict[str, Any]:
        """What a citizen or operator sees of a ticket (no citizen hash)."""
        return {
            "number": ticket.number,
            "service": ticket.service,
            "state": ticket.state.value,
            "issued_at": ticket.issued_at,
            "priority": ticket.priority.value,
            "window": ticket.window,
            "people_ahead": self.engine.people_ahead(self.state, ticket),
            "estimated_wait_min": self.engine.estimated_wait_minutes(self.state, ticket),
            "business_date": ticket.business_date,
        }


def dump_projection(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every state table, sorted: two stores with equal dumps hold the same state."""
    return {
        table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
        for table in PROJECTION_TABLES
    }


def replay(events: Iterable[Event], config: HallConfig) -> sqlite3.Connection:
    """Rebuild the state tables from an event log alone, in a fresh in-memory database."""
    conn = connect(":memory:")
    migrate(conn)
    # Before any day: the first queue event starts its business day (HallState.apply).
    state = HallState("0000-00-00", [w.number for w in config.windows])
    projection = _Projection(conn)
    conn.execute("BEGIN")
    for event in events:
        projection.write(state, event, state.apply(event))
    conn.execute("COMMIT")
    return conn
