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
import logging
import operator
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from agent import chain as ch
from agent import commands as c
from agent import witness as wt
from agent.config import HallConfig
from agent.daycorrection import day_correction
from agent.engine import QueueEngine
from agent.errors import (
    ClockSuspect,
    HallError,
    IdentityMismatch,
    SignInRefused,
    StoreDamaged,
    StoreError,
)
from agent.hallclock import HallClock, Suspicion
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
from agent.staffauth import StaffGate
from agent.state import STICKY_EVENTS, HallState, Touched
from agent.storage import NO_RESERVE, store_error
from agent.ticketlink import Signer

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger(__name__)

SCHEMA_VERSION = 8
BUSY_TIMEOUT_MS = 30_000
NEW_TICKET_COMMANDS = (c.IssueTicket, c.CheckIn, c.CheckInByCard)
PROJECTION_TABLES = ("tickets", "windows", "evaluations", "devices", "appointments")
#: ``meta`` key prefix of the last version applied per slot
#: of what the central platform sends down (``inbound.roster``, ``inbound.notice.n1``, …).
INBOUND_VERSION_PREFIX = "sync.inbound."
#: The slots of device profiles pushed from central (``profile.NAME``).
PROFILE_SLOT_PREFIX = "profile."

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


def inbound_version_meta(slot: str, version: int) -> dict[str, str]:
    """The ``meta`` row recording ``version`` as applied in ``slot``, for
    :meth:`Store.execute` (committed with the command that applies it)."""
    return {INBOUND_VERSION_PREFIX + slot: str(version)}


def meta_int(conn: sqlite3.Connection | sqlite3.Cursor, key: str) -> int:
    """An integer kept in the ``meta`` table (0 when the key is not there)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row else 0


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


def _migrate_4(db: sqlite_utils.Database) -> None:
    # Citizen services: a ticket's bundle and leg in it, assisted/proxy service and by whom;
    # CalendarApplied became a sticky event, so the sticky index is made again.
    for column, kind in (
        ("bundle", "TEXT"),
        ("bundle_leg", "INTEGER"),
        ("assist", "TEXT"),
        ("assist_staff", "TEXT"),
    ):
        db.execute(f"ALTER TABLE tickets ADD COLUMN {column} {kind}")
    _migrate_2(db)


def _migrate_5(db: sqlite_utils.Database) -> None:
    # Every event gets its link in the hash chain (agent/chain.py); events already stored
    # are chained here, each node's in seq order, with the default algorithm.
    db.execute("ALTER TABLE events ADD COLUMN chain TEXT NOT NULL DEFAULT ''")
    rows = db.execute(
        "SELECT node_id, seq, type, business_date, at, wall_time, payload FROM events "
        "ORDER BY node_id, seq"
    ).fetchall()
    prev: dict[str, str] = {}
    for node_id, seq, type_, day, at, wall, payload in rows:
        data = ch.canonical_bytes(
            prev.get(node_id, ""), node_id, seq, type_, day, at, wall, payload
        )
        link = ch.link(ch.DEFAULT_ALGORITHM, data)
        db.execute(
            "UPDATE events SET chain = ? WHERE node_id = ? AND seq = ?", [link, node_id, seq]
        )
        prev[node_id] = link
    # Pruned events whose successor is kept (a sticky event, folded on every reload): their
    # link is kept so that the kept event still verifies (agent/store.py, Store.prune).
    db.execute("CREATE TABLE chain_kept (seq INTEGER PRIMARY KEY, chain TEXT NOT NULL)")


#: Business dates grow with seq except at a ``BusinessDayCorrected`` (agent/daycorrection.py):
#: the log is cut into runs there, and a partial index finds the cuts (rare) on reload.
CORRECTED_WHERE = "type = 'BusinessDayCorrected'"


def _migrate_6(db: sqlite_utils.Database) -> None:
    db.execute(f"CREATE INDEX events_day_corrected ON events(node_id, seq) WHERE {CORRECTED_WHERE}")


def _migrate_7(db: sqlite_utils.Database) -> None:
    # Staff sign-in: who is signed in at each window and why it is paused; the staff roster
    # from central became a sticky event, so the sticky index is made again.
    db.execute("ALTER TABLE windows ADD COLUMN staff TEXT")
    db.execute("ALTER TABLE windows ADD COLUMN pause_reason TEXT")
    _migrate_2(db)


#: The 好差评 columns of a rating (agent/ratings.py), after the first six.
EVALUATION_DETAILS = (
    "reasons",
    "channel",
    "case_no",
    "item_code",
    "staff_id",
    "indicators_version",
)


def _migrate_8(db: sqlite_utils.Database) -> None:
    # Ratings as 好差评 counts them: reasons (JSON list of codes), channel, 办件编号, 事项编码,
    # staff and the indicator list's version; the business system reads a rating by its case.
    for column in EVALUATION_DETAILS:
        db.execute(f"ALTER TABLE evaluations ADD COLUMN {column} TEXT")
    db.execute("CREATE INDEX evaluations_case ON evaluations(case_no) WHERE case_no IS NOT NULL")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _migrate_1,
    _migrate_2,
    _migrate_3,
    _migrate_4,
    _migrate_5,
    _migrate_6,
    _migrate_7,
    _migrate_8,
]

#: ``meta`` keys: who the store belongs to, and where its chain starts after pruning.
META_NODE_ID = "store.node_id"
META_HALL_ID = "store.hall_id"
META_CHECKPOINT = "chain.checkpoint"  # "<seq> <chain>" of the last pruned event
META_CENTRAL_ACKED = "central.acked_seq"  # the sync's watermark: central holds 1..this
META_CLOCK = "clock.confirmed"  # "<offset_s> <wall>" of the last ClockConfirmed


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
    node_id, seq, type_, business_date, at, wall_time, payload, chain = row
    return Event(node_id, seq, type_, business_date, at, wall_time, json.loads(payload), chain)


_CHAIN_COLUMNS = "seq, type, business_date, at, wall_time, payload, chain"


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
        if event.type == "BusinessDayCorrected":  # the wrong day's rows move to the real day
            p = event.payload
            self.cur.execute("DELETE FROM tickets WHERE business_date = ?", (p["from_date"],))
            self.cur.executemany(
                "UPDATE evaluations SET ticket_id = ? WHERE ticket_id = ?",
                [(new, old) for old, new in p["ids"].items()],
            )
        for ticket_id in touched.tickets:
            self._ticket(self.cur, state.tickets[ticket_id].as_tuple())
        for number in touched.windows:
            self._window(self.cur, state.windows[number].as_tuple())
        if touched.evaluation:
            p = event.payload
            self.cur.execute(
                "INSERT INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    p["ticket_id"],
                    p["number"],
                    p["service"],
                    p["window"],
                    p["score"],
                    p["at"],
                    json.dumps(p.get("reasons", [])),
                    p.get("channel"),
                    p.get("case"),
                    p.get("item_code"),
                    p.get("staff_id"),
                    p.get("indicators_version"),
                ),
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
        self,
        path: Path | str,
        node_id: str,
        config: HallConfig,
        clock: Clock = utc_now,
        hash_algorithm: str = ch.DEFAULT_ALGORITHM,
        hall_clock: HallClock | None = None,
        retention_days: int | None = None,
    ) -> None:
        self.path = path
        self.node_id = node_id
        self.config = self._file_config = config
        self.engine = QueueEngine(config)
        self.clock = clock
        # An injected wall clock (a simulation, a test) is its own passage of time unless
        # a HallClock with a monotonic clock comes with it.
        self.hall_clock = hall_clock or HallClock(time.monotonic if clock is utc_now else None)
        self.clock_suspicion: Suspicion | None = None  # alarmed once per suspicion
        self.retention_days = retention_days
        self._pruned_on: str | None = None  # the business day acknowledged events were pruned
        self._clock_confirmed: str | None = None  # the META_CLOCK value last taken in
        self.hash_algorithm = hash_algorithm
        self._link = ch.ALGORITHMS[hash_algorithm]  # canonical bytes -> chain text
        witness_path = None if str(path) == ":memory:" else Path(path).with_suffix(".witness")
        seen = self._check_before_open(Path(path), witness_path)
        self.conn = connect(path)
        migrate(self.conn)
        self._projection = _Projection(self.conn)
        self._cur = self._projection.cur
        self._data_version = -1
        self.last_seq = 0
        self.head = ""  # the chain text of event last_seq
        self._corrections: list[int] = []  # seqs of BusinessDayCorrected events
        self._last_at: dt.datetime | None = None
        self._requests_pruned: str | None = None  # the day old request ids were last removed
        self.reserve = NO_RESERVE  # free space new tickets need (set by agent.node_runtime)
        self.link_signer: Signer | None = None  # signs slips' links (set by agent.node_runtime)
        #: Checks sign-ins against the hub's staff credentials (set by agent.node_runtime;
        #: without it every sign-in is refused).
        self.staff_gate: StaffGate | None = None
        self.state = HallState(self._business_date(clock()), self._window_numbers())
        self._witness: wt.Witness | None = None
        try:
            self._check_identity()
            self.refresh()
            if witness_path is not None:
                self._check_witness(seen)
                self._witness = wt.Witness(witness_path, node_id)
                if self.last_seq and (seen is None or seen.seq != self.last_seq):
                    self._witness.write(self.last_seq, self.head)
        except BaseException:
            self.conn.close()
            raise

    # ---- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        try:
            if self._witness is not None:
                self._witness.close()
                self._witness = None
        finally:
            self.conn.close()

    def flush_witness(self) -> None:
        """Make the witness durable (the core calls it once a second)."""
        if self._witness is not None:
            self._witness.flush()

    # ---- integrity -----------------------------------------------------------------------
    def _check_before_open(self, path: Path, witness_path: Path | None) -> wt.Seen | None:
        """Read the witness; refuse a store that vanished or was emptied under a node that
        had committed events (SQLite would silently start a new one)."""
        if witness_path is None:
            return None
        try:
            seen = wt.read(witness_path)
        except wt.WitnessUnreadable as exc:
            log.warning("%s; it is written again from the store", exc)
            return None
        if seen is None:
            return None
        if seen.node_id != self.node_id:
            raise IdentityMismatch(
                f"{witness_path} belongs to node {seen.node_id!r}, but node.yaml says "
                f"{self.node_id!r}. Put node_id: {seen.node_id} back in node.yaml; a new node id "
                "needs a new data dir (see docs/operator.md, 'Recovering a node')",
                stored=seen.node_id,
                configured=self.node_id,
            )
        if seen.seq > 0 and (not path.exists() or path.stat().st_size == 0):
            state = "missing" if not path.exists() else "empty (0 bytes)"
            raise StoreDamaged(
                f"{path} is {state}, but this node had committed events up to seq {seen.seq} "
                f"(witness {witness_path.name}). Nothing was created. Restore the store from "
                "a copy or rebuild it from central with 'hall-agent recover' (docs/operator.md, "
                "'Recovering a node')",
                seq=seen.seq,
            )
        return seen

    def _check_witness(self, seen: wt.Seen | None) -> None:
        if seen is None or seen.seq == 0:
            return
        if self.last_seq < seen.seq:
            lost = (
                f"seq {seen.seq}"
                if self.last_seq + 1 == seen.seq
                else f"seqs {self.last_seq + 1}..{seen.seq}"
            )
            raise StoreDamaged(
                f"{self.path} ends at seq {self.last_seq}, but this node committed up to seq "
                f"{seen.seq} (witness): {lost} lost (a damaged WAL, or an older copy of the "
                "store). Rebuild from central with 'hall-agent recover' (docs/operator.md, "
                "'Recovering a node')",
                seq=self.last_seq + 1,
                witness_seq=seen.seq,
            )
        if seen.seq > self._checkpoint()[0] and self._chain_of(seen.seq) != seen.chain:
            raise StoreDamaged(
                f"{self.path}: event seq {seen.seq} is not the one this node committed "
                "(witness): the store was replaced by another log",
                seq=seen.seq,
            )

    def _check_identity(self) -> None:
        """The store records the node and hall it belongs to; node.yaml must agree."""
        meta = dict(
            self.conn.execute(
                "SELECT key, value FROM meta WHERE key IN (?, ?)", (META_NODE_ID, META_HALL_ID)
            ).fetchall()
        )
        if not meta:
            other = self.conn.execute(
                "SELECT node_id FROM events WHERE node_id != ? LIMIT 1", (self.node_id,)
            ).fetchone()
            if other is not None:
                meta = {META_NODE_ID: other[0]}
            else:
                self.conn.executemany(
                    "INSERT OR IGNORE INTO meta VALUES (?, ?)",
                    ((META_NODE_ID, self.node_id), (META_HALL_ID, self.config.hall_id)),
                )
                return
        for key, mine, name, fix in (
            (META_NODE_ID, self.node_id, "node", "node_id in node.yaml"),
            (META_HALL_ID, self.config.hall_id, "hall", "hall_id in hall.yaml"),
        ):
            stored = meta.get(key)
            if stored is not None and stored != mine:
                raise IdentityMismatch(
                    f"{self.path} belongs to {name} {stored!r}, but the config says {mine!r}: "
                    f"nothing was written. Put {fix} back to {stored!r}; a new {name} needs a "
                    "new data dir (see docs/operator.md, 'Recovering a node')",
                    stored=stored,
                    configured=mine,
                )

    def _checkpoint(self) -> tuple[int, str]:
        row = self.conn.execute(
            "SELECT value FROM meta WHERE key = ?", (META_CHECKPOINT,)
        ).fetchone()
        if row is None:
            return 0, ""
        seq, _, chain = row[0].partition(" ")
        return int(seq), chain

    def _chain_of(self, seq: int) -> str:
        """The chain text of event ``seq`` (the checkpoint's for a pruned one)."""
        if seq == 0:
            return ""
        row = self.conn.execute(
            "SELECT chain FROM events WHERE node_id = ? AND seq = ?", (self.node_id, seq)
        ).fetchone()
        if row is not None:
            return str(row[0])
        checkpoint = self._checkpoint()
        if checkpoint[0] == seq:
            return checkpoint[1]
        kept = self.conn.execute("SELECT chain FROM chain_kept WHERE seq = ?", (seq,)).fetchone()
        if kept is not None:
            return str(kept[0])
        raise StoreDamaged(f"event seq {seq} is missing from the store", seq=seq)

    def _chain_rows_before(self, seq: int) -> list[ch.ChainRow]:
        return self.conn.execute(
            f"SELECT {_CHAIN_COLUMNS} FROM events WHERE node_id = ? AND seq < ? ORDER BY seq",
            (self.node_id, seq),
        ).fetchall()

    def prune_daily(self) -> None:
        """Prune once per business day (the core calls this on its tick)."""
        if self.retention_days is not None and self._pruned_on != self.state.business_date:
            self.prune(self.retention_days)
            self._pruned_on = self.state.business_date

    def prune(self, retention_days: int) -> int:
        """Delete the events central has acknowledged whose business day is more than
        ``retention_days`` before today, and those days' ticket rows (personal data is not
        kept longer than needed). Sticky events stay (they are folded on every reload). The
        chain stays verifiable: the last pruned event's link becomes the checkpoint, and the
        link before each kept event is kept. Deleted content is overwritten on disk
        (``secure_delete``). Returns the number of events deleted."""
        today = max(self.state.business_date, self._business_date(self.hall_now()))
        cutoff = (dt.date.fromisoformat(today) - dt.timedelta(days=retention_days)).isoformat()
        cur = self._cur
        cur.execute("PRAGMA secure_delete=ON")
        cur.execute("BEGIN IMMEDIATE")
        try:
            acked_row = cur.execute(
                "SELECT value FROM meta WHERE key = ?", (META_CENTRAL_ACKED,)
            ).fetchone()
            acked = int(acked_row[0]) if acked_row else 0
            last = cur.execute(
                "SELECT MAX(seq) FROM events WHERE node_id = ? AND seq <= ? AND business_date < ?",
                (self.node_id, acked, cutoff),
            ).fetchone()[0]
            if last is None or last <= self._checkpoint()[0]:
                cur.execute("ROLLBACK")
                return 0
            checkpoint = f"{last} {self._chain_of(last)}"
            cur.execute(
                "INSERT OR REPLACE INTO chain_kept SELECT e.seq - 1, "
                "(SELECT p.chain FROM events p WHERE p.node_id = e.node_id AND p.seq = e.seq - 1) "
                f"FROM events e WHERE e.node_id = ? AND e.seq <= ? AND ({STICKY_WHERE}) "
                "AND e.seq > 1 AND EXISTS (SELECT 1 FROM events p WHERE p.node_id = e.node_id "
                f"AND p.seq = e.seq - 1 AND NOT ({STICKY_WHERE.replace('type', 'p.type')}))",
                (self.node_id, last),
            )
            cur.execute(
                f"DELETE FROM events WHERE node_id = ? AND seq <= ? AND NOT ({STICKY_WHERE})",
                (self.node_id, last),
            )
            deleted = cur.rowcount
            cur.execute("DELETE FROM tickets WHERE business_date < ?", (cutoff,))
            cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (META_CHECKPOINT, checkpoint))
            cur.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                cur.execute("ROLLBACK")
            raise
        finally:
            cur.execute("PRAGMA secure_delete=OFF")
        log.info("pruned %d acknowledged events up to seq %d (before %s)", deleted, last, cutoff)
        return deleted

    def _chain_rows(self, after: int, limit: int | None = None) -> list[ch.ChainRow]:
        sql = f"SELECT {_CHAIN_COLUMNS} FROM events WHERE node_id = ? AND seq > ? ORDER BY seq"
        params: list[Any] = [self.node_id, after]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self.conn.execute(sql, params).fetchall()

    def restore(self, rows: Iterable[ch.ChainRow], meta: dict[str, str]) -> int:
        """Fill an empty store with this node's events as central holds them (each checked
        against its chain link, from the first), rebuilding the state tables by folding them,
        in one transaction with ``meta`` (e.g. the acknowledged watermark). Returns the last
        seq restored."""
        if self.last_seq:
            raise StoreError(f"{self.path} already holds events: restore needs an empty store")
        cur = self._cur
        cur.execute("BEGIN IMMEDIATE")
        try:
            state = HallState("0000-00-00", self._window_numbers())
            seq, prev = 0, ""
            for row in rows:
                seq, prev = ch.verify(self.node_id, prev, seq, [row])
                number, type_, day, at, wall, payload, link = row
                cur.execute(
                    "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (self.node_id, number, type_, day, at, wall, payload, link),
                )
                event = Event(self.node_id, number, type_, day, at, wall, json.loads(payload), link)
                self._projection.write(state, event, state.apply(event))
            cur.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            self.invalidate()
        self.refresh()
        if self._witness is not None:
            self._witness.write(self.last_seq, self.head)
        return seq

    def busiest_day(self) -> dict[str, int]:
        """The most numbers each service gave out in one business day, in the stored log."""
        rows = self.conn.execute(
            "SELECT service, MAX(issued) FROM (SELECT service, COUNT(*) AS issued FROM tickets "
            "WHERE leg = 1 GROUP BY service, business_date) GROUP BY service"
        )
        return {service: int(count) for service, count in rows}

    def verify_log(self) -> tuple[int, str]:
        """Check the whole chain from the checkpoint (or the first event), and the sticky
        events kept before it; returns the last seq and chain checked; a changed, damaged or
        missing event raises StoreDamaged."""
        seq, prev = self._checkpoint()
        for row in self._chain_rows_before(seq + 1):
            ch.check(self.node_id, self._chain_of(row[0] - 1), row)
        while True:
            rows = self._chain_rows(seq, 10_000)
            if not rows:
                return seq, prev
            seq, prev = ch.verify(self.node_id, prev, seq, rows)

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
        """Fold today's events (and the sticky ones before), each checked against its chain
        link first: a changed row is named, never folded."""
        last = self.conn.execute(
            "SELECT seq, at, business_date, chain FROM events WHERE node_id = ? "
            "ORDER BY seq DESC LIMIT 1",
            (self.node_id,),
        ).fetchone()
        self._take_clock_confirmation()
        checkpoint = self._checkpoint()
        self._corrections = [
            seq
            for (seq,) in self.conn.execute(
                f"SELECT seq FROM events INDEXED BY events_day_corrected WHERE {CORRECTED_WHERE} "
                "AND node_id = ? AND seq > ? ORDER BY seq",
                (self.node_id, checkpoint[0]),
            )
        ]
        if last is None or last[0] < checkpoint[0]:  # nothing after the pruned events
            self.last_seq, self.head = checkpoint
            self._last_at = None
            day = self._business_date(self.hall_now())
        else:
            self.last_seq, self._last_at, self.head = last[0], parse_time(last[1]), last[3]
            day = max(last[2], self._business_date(self.hall_now()))
        state = HallState(day, self._window_numbers())
        first_today = self._first_seq_of(day, self._runs()[-1])
        sticky = self.conn.execute(
            f"SELECT * FROM events INDEXED BY events_sticky WHERE ({STICKY_WHERE}) "
            "AND node_id = ? AND seq < ? ORDER BY seq",
            (self.node_id, first_today),
        ).fetchall()
        for row in sticky:
            ch.check(self.node_id, self._chain_of(row[1] - 1), row[1:])
            state.apply(event_from_row(row))
        after = first_today - 1
        if checkpoint[0] < self.last_seq < first_today:
            after = self.last_seq - 1  # nothing today: still check the head
        rows = self._chain_rows(after)
        ch.verify(self.node_id, self._chain_of(after), after, rows)
        for seq, type_, business_date, at, wall, payload, link in rows[first_today - 1 - after :]:
            event = Event(
                self.node_id, seq, type_, business_date, at, wall, json.loads(payload), link
            )
            state.apply(event)
        self.state = state
        self._use_config_from(state)

    def _take_clock_confirmation(self) -> None:
        """A clock confirmed by another process (``hall-agent admin clock``) or before a
        restart: its offset holds here too; seen while running, it is trusted at once."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (META_CLOCK,)).fetchone()
        value = row[0] if row else None
        if value is None or value == self._clock_confirmed:
            return
        first = self._clock_confirmed is None and self._data_version == -1
        self._clock_confirmed = value
        offset, _, wall = value.partition(" ")
        self.hall_clock.offset = dt.timedelta(seconds=float(offset))
        self.hall_clock.confirmed_wall = parse_time(wall)
        if not first:
            self.hall_clock.confirm(self.clock())
            self.clock_suspicion = None

    def _runs(self) -> list[tuple[int, int]]:
        """The runs of the log in which business dates only grow with seq, ``(first, end)``
        (end exclusive): the whole log, cut at each ``BusinessDayCorrected``."""
        first, end = self._checkpoint()[0] + 1, self.last_seq + 1
        cuts = [first, *(seq for seq in self._corrections if first < seq < end), end]
        return list(itertools.pairwise(cuts)) if first < end else [(first, end)]

    def _first_seq_of(self, day: str, run: tuple[int, int]) -> int:
        """Within a run business dates only grow with seq, so a day's events are a suffix of
        it: binary search on the primary key instead of an index on every insert."""
        low, high = run
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
        """The hall clock: the machine's clock as far as it is trusted (agent/hallclock.py),
        never earlier than the last event."""
        if wall is None:
            wall = self.hall_clock.read(self.clock(), self._last_at)[0]
        now = wall.astimezone(self.config.zone)
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
        While the clock is suspected at start, no command but ``ConfirmClock`` runs: the
        alarm is committed and :class:`ClockSuspect` raised (a ``Tick`` just does nothing).
        """
        if isinstance(command, c.SignIn):  # (a slow hash: checked before the write lock)
            command = self._verified(command)
        cur = self._cur
        cur.execute("BEGIN IMMEDIATE")
        refused: Suspicion | None = None
        try:
            self.refresh()
            if request_id is not None and (done := self._request_done(request_id)) is not None:
                cur.execute("ROLLBACK")  # (nothing written)
                return done
            if isinstance(command, NEW_TICKET_COMMANDS):  # (a retry above still gets its ticket)
                self.reserve.check_new_ticket()
            wall = self.clock()
            wall_time = iso(wall)  # the machine's clock as it reads (UTC), for offset analysis
            back_to: str | None = None  # a wrongly opened day is being taken back
            if isinstance(command, c.ConfirmClock):
                believed = self.hall_now()
                facts = self._confirm_clock(command, wall)
                trusted = self.hall_clock.read(wall, self._last_at)[0].astimezone(self.config.zone)
                if (
                    facts
                    and command.source == "operator"
                    and self._business_date(trusted) < self.state.business_date
                ):
                    back_to, now = self._business_date(trusted), trusted
                    facts.insert(0, self._day_correction(back_to, trusted - believed, iso(now)))
                else:
                    now = self.hall_now(trusted)
            else:
                trusted, suspicion = self.hall_clock.read(wall, self._last_at)
                now = self.hall_now(trusted)
                facts = (
                    self._clock_alarm(suspicion, now)
                    if suspicion is not None or self.clock_suspicion is not None
                    else []
                )
                if suspicion is not None and suspicion.kind == "start":
                    refused = suspicion
            at = iso(now)  # (formatted last: the engine's iso(now) gets this text back)
            day = back_to or max(at[:10], self.state.business_date)
            if refused is None and back_to is None:
                if day != self.state.business_date:
                    self.state.start_day(day)
                if not isinstance(command, c.ConfirmClock):
                    facts += self.engine.decide(self.state, command, now)
            elif refused is not None:
                day = self.state.business_date
            events = self._append(facts, day, at, wall_time)
            ticket = self._result_ticket(events)
            events += self._append(
                self.engine.near_turn(self.state, events, now), day, at, wall_time
            )
            for key, value in (meta or {}).items():
                cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            # Everything up to the return happens before the fsync: after it, the caches are
            # cold and the smallest step costs microseconds. A failed commit folds again.
            result = CommandResult(events, ticket)
            if request_id is not None and events and refused is None:
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
            if events and self._witness is not None:
                self._witness.write(self.last_seq, self.head)
        except HallError:
            cur.execute("ROLLBACK")
            raise
        except BaseException as exc:
            self.invalidate()  # memory may be ahead of the store: fold again
            self._requests_pruned = None
            if self.conn.in_transaction:  # (SQLite may have rolled back already, e.g. disk full)
                cur.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):  # disk full, damaged file: named for operators
                raise store_error(exc, self.path) from exc
            raise
        if refused is not None and not isinstance(command, c.Tick):
            raise ClockSuspect(
                f"{refused.describe()}, more than the clock rules allow at start: no business "
                "day is opened by it. Check the clock, then run 'hall-agent admin clock "
                "confirm' (the clock is right) or 'hall-agent admin clock correct --to TIME' "
                "(docs/operator.md, 'The hall clock')",
                wall=refused.wall.isoformat(),
            )
        return result

    def _verified(self, command: c.SignIn) -> c.SignIn:
        """The sign-in without its PIN or card, once the hub's credentials accept it; a
        wrong one that starts a lockout is recorded (``StaffSignInLockedOut``) first."""
        if self.staff_gate is None:
            raise SignInRefused("this node holds no staff credentials (sign in at the hub)")
        try:
            return self.staff_gate.verify(command)
        except SignInRefused as exc:
            seconds = exc.details.get("lockout_s")
            if seconds and self.config.window(command.window) is not None:
                self.execute(c.ReportStaffLockout(command.window, exc.staff_id, int(seconds)))
            raise

    def _clock_alarm(self, suspicion: Suspicion | None, now: dt.datetime) -> list[Fact]:
        """A ``ClockSuspected`` event the first time a suspicion is seen (once per kind)."""
        previous, self.clock_suspicion = self.clock_suspicion, suspicion
        if suspicion is None:
            if previous is not None:
                log.warning("the machine's clock is back in line with the hall clock")
            return []
        if previous is not None and previous.kind == suspicion.kind:
            return []
        log.error("clock suspected (%s): %s", suspicion.kind, suspicion.describe())
        return [
            Fact(
                "ClockSuspected",
                {
                    "kind": suspicion.kind,
                    "wall": iso(suspicion.wall),
                    "hall_time": iso(now),
                    "reason": suspicion.describe(),
                },
            )
        ]

    def _day_correction(self, real_day: str, shift: dt.timedelta, at: str) -> Fact:
        """Back from the open (wrong) day to ``real_day``: the real day as the log holds it
        before the wrong day opened, folded, and the wrong day's state, carried
        (agent/daycorrection.py)."""
        real = HallState(real_day, self._window_numbers())
        for event in self.events_of_days(real_day, real_day):
            if event.type not in STICKY_EVENTS:
                real.apply(event)
        return day_correction(self.config, real, self.state, shift, at)

    def _confirm_clock(self, command: c.ConfirmClock, wall: dt.datetime) -> list[Fact]:
        """Trust the clock again (the operator's word or central's offset); an event only
        when it changes anything, so central's offset may be fed on every connect."""
        if command.correct_to is not None:
            reference = command.correct_to
        elif command.offset_s is not None:
            reference = wall + dt.timedelta(seconds=command.offset_s)
        else:
            reference = wall  # the operator: the machine's clock is right
        suspected = self.clock_suspicion
        moved = abs(reference - wall - self.hall_clock.offset) > self.hall_clock.step_tolerance
        if command.source == "central" and suspected is None and not moved:
            return []  # central agrees with the hall clock: nothing to confirm
        self.hall_clock.confirm(wall, reference)
        self.clock_suspicion = None
        offset = round(self.hall_clock.offset.total_seconds(), 3)
        self._clock_confirmed = f"{offset} {iso(wall)}"
        self._cur.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", (META_CLOCK, self._clock_confirmed)
        )
        return [
            Fact(
                "ClockConfirmed",
                {
                    "source": command.source,
                    "wall": iso(wall),
                    "hall_time": iso(reference),
                    "offset_s": offset,
                    "suspected": suspected and suspected.kind,
                },
            )
        ]

    def _append(self, facts: Iterable[Fact], day: str, at: str, wall: str) -> list[Event]:
        events = []
        node_id, link, insert = self.node_id, self._link, self._cur.execute
        for type_, payload in facts:
            self.last_seq = seq = self.last_seq + 1
            text = encode_payload(payload)
            self.head = chain = link(
                ch.canonical_bytes(self.head, node_id, seq, type_, day, at, wall, text)
            )
            insert(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (node_id, seq, type_, day, at, wall, text, chain),
            )
            event = Event(node_id, seq, type_, day, at, wall, payload, chain)
            self._projection.write(self.state, event, self.state.apply(event))
            if type_ == "HallConfigApplied":
                self._use_config_from(self.state)
            elif type_ == "BusinessDayCorrected":
                self._corrections.append(seq)
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

    # ---- the sync's bookkeeping in ``meta`` (one short autocommit transaction each) -------
    def watermark(self) -> int:
        """The highest seq the central platform acknowledged (0 before the first ack)."""
        return meta_int(self._cur, META_CENTRAL_ACKED)

    def advance_watermark(self, seq: int) -> int:
        """Move the watermark to ``seq`` if it is ahead (never backwards); the stored value."""
        self._cur.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
            "value = excluded.value WHERE CAST(excluded.value AS INTEGER) > CAST(value AS INTEGER)",
            (META_CENTRAL_ACKED, str(seq)),
        )
        return self.watermark()

    def reset_watermark(self, seq: int) -> None:
        """Set the watermark, also backwards (a ``resync`` command from the central side)."""
        self._cur.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (META_CENTRAL_ACKED, str(seq))
        )

    def inbound_version(self, slot: str) -> int:
        """The last version applied in ``slot`` of what central sends down (0: none yet)."""
        return meta_int(self._cur, INBOUND_VERSION_PREFIX + slot)

    def inbound_versions(self, slot_prefix: str) -> dict[str, int]:
        """The last versions applied in every slot starting with ``slot_prefix`` (e.g. each
        pushed device profile's), keyed by the rest of the slot."""
        prefix = INBOUND_VERSION_PREFIX + slot_prefix
        rows = self._cur.execute(
            "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ? ORDER BY key",
            (len(prefix), prefix),
        )
        return {key[len(prefix) :]: int(value) for key, value in rows}

    def record_inbound_version(self, slot: str, version: int) -> None:
        """Record ``version`` as applied in ``slot`` (for data applied outside a command)."""
        ((key, value),) = inbound_version_meta(slot, version).items()
        self._cur.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

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
        """This node's events of business days ``first_day``..``last_day`` (for reports), in
        seq order (a corrected day's events follow the wrongly dated ones)."""
        self.refresh()
        for run in self._runs():
            first = self._first_seq_of(first_day, run)
            for event in self.events_since(first - 1, limit=run[1] - first):
                if event.business_date > last_day:
                    break
                yield event

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
            **self._bundle_view(ticket),
            "assist": ticket.assist,
            "assist_staff": ticket.assist_staff,
        }

    def _bundle_view(self, ticket: Ticket) -> dict[str, Any]:
        """Which leg of which bundle a ticket is on (empty for a single-service ticket)."""
        bundle = self.config.bundle(ticket.bundle) if ticket.bundle else None
        if bundle is None:
            return {}
        return {
            "bundle": bundle.code,
            "bundle_name_zh": bundle.name_zh,
            "bundle_name_en": bundle.name_en,
            "bundle_leg": ticket.bundle_leg,
            "bundle_legs": bundle.legs,
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
