"""The central store on PostgreSQL (``hall-agent central --db postgresql://...``), through
psycopg 3.

The same contract as the SQLite :class:`~sync.central.CentralStore`: a batch is stored
idempotently on ``(node_id, seq)`` and the node's highest contiguous seq comes back as the
ack. Differences that let a city or a province run on it:

- ``events`` is partitioned by month of ``business_date`` (one table per month, created on
  first use), so years of events stay manageable: a month is detached, archived or dropped
  as a whole, and a hall's figures read only the months they ask for.
- The primary key of a partitioned table must hold the partition key, so it is
  ``(node_id, seq, business_date)``. A node's event never changes, so ``(node_id, seq)``
  comes with one date only and the key is as strict as ``(node_id, seq)``.
- Several ingest processes (on one or several machines, sharing the broker's
  subscription) write at once: a batch takes its node's row lock first (an upsert of its
  ``nodes`` row), so two batches of one node are stored one after the other and each ack sees
  the other's events; batches of different nodes do not wait for each other.
- The chain checks are the SQLite store's (:class:`~sync.fleet.backend.CentralBackend`):
  the payload text is kept exactly as sent with its chain link, the node's key is learnt
  from its first batch and every head signature checked under it, and a fork or a link
  that does not follow is kept as the node's chain break.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import psycopg

from agent.errors import StoreError
from sync import contract as ct
from sync.fleet import link_ratings
from sync.fleet.backend import (
    BatchRefused,
    CentralBackend,
    check_key,
    check_signature,
    offset_seconds,
)

PG_SCHEMA_VERSION = 4  # the SQLite store's version with the same content
_LOCK_SCHEMA = 0x48414C4C  # advisory lock keys ("HALL"): schema changes, partition creation
_LOCK_PARTITIONS = 0x48414C4D

_SCHEMA = """
CREATE TABLE events (
    node_id TEXT NOT NULL, seq BIGINT NOT NULL, hall_id TEXT NOT NULL,
    type TEXT NOT NULL, business_date DATE NOT NULL, at TEXT NOT NULL,
    wall_time TEXT NOT NULL, payload TEXT NOT NULL, received_at TEXT NOT NULL,
    chain TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (node_id, seq, business_date)
) PARTITION BY RANGE (business_date);
CREATE INDEX events_hall_day ON events (hall_id, business_date);
CREATE TABLE nodes (
    node_id TEXT PRIMARY KEY, hall_id TEXT NOT NULL,
    acked_seq BIGINT NOT NULL DEFAULT 0, last_seen TEXT,
    clock_offset_s DOUBLE PRECISION, state TEXT, reported_last_seq BIGINT,
    backlog_alarm INTEGER, status_at TEXT,
    agent_version TEXT, devices TEXT, profiles TEXT, disk_free_mb BIGINT, disk_alarm INTEGER,
    public_key TEXT, break_seq BIGINT, break_reason TEXT
);
CREATE TABLE results (
    id BIGSERIAL PRIMARY KEY,
    node_id TEXT NOT NULL, at TEXT NOT NULL, topic TEXT NOT NULL,
    kind TEXT, version BIGINT, accepted INTEGER NOT NULL,
    code TEXT NOT NULL, reason TEXT NOT NULL
);
CREATE INDEX results_refused ON results (accepted, at)
"""


def partition_name(month: dt.date) -> str:
    return f"events_{month.year:04d}_{month.month:02d}"


def _month(day: str) -> dt.date:
    return dt.date.fromisoformat(day).replace(day=1)


def _next_month(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1)


class PgCentralStore(CentralBackend):
    """One connection to the central PostgreSQL database."""

    placeholder = "%s"
    result_order = "id"
    day_column = "business_date::text"

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            where = urlsplit(url)
            raise StoreError(
                f"cannot connect to PostgreSQL at {where.hostname}:{where.port or 5432}"
                f"{where.path}: {str(exc).strip()}"
            ) from exc
        self._months: set[dt.date] = set()
        self._migrate()

    def _migrate(self) -> None:
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_SCHEMA,))
            self.conn.execute("CREATE TABLE IF NOT EXISTS central_schema (version INTEGER)")
            row = self.conn.execute("SELECT version FROM central_schema").fetchone()
            version = row[0] if row else 0
            if version > PG_SCHEMA_VERSION:
                raise psycopg.DatabaseError(f"central store schema {version} is too new")
            if version == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
                self.conn.execute("INSERT INTO central_schema VALUES (%s)", (PG_SCHEMA_VERSION,))
            if version < 4:  # ratings through a hall's link (version 3 had none)
                self.conn.execute(link_ratings.TABLE)
                self.conn.execute("UPDATE central_schema SET version = %s", (PG_SCHEMA_VERSION,))

    def create_tables(self, statements: Sequence[str]) -> None:
        """Under the schema lock: PostgreSQL's ``CREATE TABLE IF NOT EXISTS`` is not safe
        against another process creating the same table at the same moment."""
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_SCHEMA,))
            for statement in statements:
                self.conn.execute(statement)

    def _ensure_partitions(self, days: set[str]) -> None:
        """Create the month tables a batch needs (once per process and month)."""
        months = {_month(day) for day in days} - self._months
        if not months:
            return
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_PARTITIONS,))
            for month in sorted(months):
                end = _next_month(month).isoformat()
                self.conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {partition_name(month)} PARTITION OF events "
                    f"FOR VALUES FROM ('{month.isoformat()}') TO ('{end}')"
                )
        self._months |= months

    def ingest(self, batch: ct.EventBatch, received_at: dt.datetime) -> tuple[int, int, float]:
        """Store a batch; returns ``(acked_seq, newly_inserted, clock_offset_s)``. A batch
        whose signature does not hold is refused (:class:`~sync.fleet.backend.BatchRefused`)
        and changes nothing."""
        (result,) = self.ingest_many([batch], received_at)
        if isinstance(result, BatchRefused):
            raise result
        return result

    def ingest_many(
        self, batches: Sequence[ct.EventBatch], received_at: dt.datetime
    ) -> list[tuple[int, int, float] | BatchRefused]:
        """Store several batches in one transaction: one commit (one flush of the WAL) for
        all of them, and nothing acknowledged before it. A batch is refused before it writes
        anything (its signature checked first, then its key against the node's once the
        node's row is locked), so a refused one changes nothing and the others are kept; any
        other failure rolls the whole transaction back (nothing was acknowledged). The batches are
        taken in node order (each node's in the order given): every ingest process locks the
        ``nodes`` rows it needs in the same order, so two never wait for each other in a
        circle."""
        received = received_at.isoformat(timespec="microseconds")
        self._ensure_partitions({e.business_date for b in batches for e in b.events})
        results: list[tuple[int, int, float] | BatchRefused | None] = [None] * len(batches)
        order = sorted(range(len(batches)), key=lambda k: batches[k].node_id)
        with self.conn.transaction(), self.conn.cursor() as cur:
            for k in order:
                try:
                    results[k] = self._store(cur, batches[k], received_at, received)
                except BatchRefused as exc:
                    results[k] = exc
        return [r for r in results if r is not None]

    def _store(
        self,
        cur: psycopg.Cursor[Any],
        batch: ct.EventBatch,
        received_at: dt.datetime,
        received: str,
    ) -> tuple[int, int, float]:
        offset = offset_seconds(received_at, batch.sent_at)
        columns: list[list[Any]] = [[] for _ in range(7)]
        for e in batch.events:
            values = (e.seq, e.type, e.business_date, e.at, e.wall_time, e.payload, e.chain)
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        check_signature(batch, None)  # under its own key: refused before anything is written
        row = cur.execute(  # the upsert takes the node's row lock until commit (a known node's
            # row unchanged, so that a batch refused for its key below leaves it as it was)
            "INSERT INTO nodes (node_id, hall_id) VALUES (%s, %s) ON CONFLICT (node_id) "
            "DO UPDATE SET hall_id = nodes.hall_id RETURNING acked_seq, public_key",
            (batch.node_id, batch.hall_id),
        ).fetchone()
        before_acked, pinned = (int(row[0]), row[1]) if row else (0, None)
        check_key(batch, pinned)  # (a pinned key means the row was there: nothing changed)
        breaks = self._forks(batch)
        cur.execute(
            "INSERT INTO events (node_id, seq, hall_id, type, business_date, at, wall_time, "
            "payload, chain, received_at) SELECT %s, s, %s, t, d, a, w, p, c, %s FROM "
            "unnest(%b::bigint[], %b::text[], %b::date[], %b::text[], %b::text[], "
            "%b::text[], %b::text[]) AS u(s, t, d, a, w, p, c) ON CONFLICT DO NOTHING",
            (batch.node_id, batch.hall_id, received, *columns),
        )
        inserted = cur.rowcount
        acked = self._contiguous(cur, batch, before_acked)
        breaks += self._chain_breaks(batch, before_acked, acked, inserted)
        cur.execute(
            "UPDATE nodes SET hall_id = %s, acked_seq = GREATEST(acked_seq, %s), "
            "last_seen = %s, clock_offset_s = %s, "
            "public_key = COALESCE(public_key, %s) WHERE node_id = %s",
            (batch.hall_id, acked, received, offset, batch.public_key, batch.node_id),
        )
        self._record_breaks(batch.node_id, breaks)
        return acked, inserted, offset

    @staticmethod
    def _contiguous(cur: psycopg.Cursor[Any], batch: ct.EventBatch, acked: int) -> int:
        """The node's highest seq such that every seq up to it is stored."""
        if batch.first <= acked + 1:
            start = max(acked, batch.last)  # first..last are stored now, and all before
        else:
            found = cur.execute(
                "SELECT 1 FROM events WHERE node_id = %s AND seq = %s", (batch.node_id, acked + 1)
            ).fetchone()
            if found is None:
                return acked
            start = acked + 1
        row = cur.execute(
            "SELECT MIN(e.seq) FROM events e WHERE e.node_id = %s AND e.seq >= %s AND NOT EXISTS "
            "(SELECT 1 FROM events f WHERE f.node_id = e.node_id AND f.seq = e.seq + 1)",
            (batch.node_id, start),
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else start

    def partitions(self) -> list[str]:
        """The month tables of ``events`` (for operators and tests)."""
        rows = self.conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events' ORDER BY 1"
        ).fetchall()
        return [r[0] for r in rows]
