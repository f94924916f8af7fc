"""The outbox is the store's event log; this module reads it in bounded batches.

Nothing here writes to the events table. The acknowledged watermark lives in the store's
``meta`` table under :data:`WATERMARK_KEY`; it is written on the core thread (through the
runtime) so the core's own connection sees no foreign commit.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import nodekey
from agent.store import META_CENTRAL_ACKED, connect

WATERMARK_KEY = META_CENTRAL_ACKED


@dataclass(frozen=True)
class Batch:
    first: int
    last: int
    payload: bytes  # the EventBatch JSON, ready to publish

    @property
    def count(self) -> int:
        return self.last - self.first + 1


def last_seq(conn: sqlite3.Connection, node_id: str) -> int:
    """The highest seq of ``node_id``'s own events in the store (0 when there are none)."""
    row = conn.execute("SELECT MAX(seq) FROM events WHERE node_id = ?", (node_id,)).fetchone()
    return int(row[0] or 0)


def read_watermark(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (WATERMARK_KEY,)).fetchone()
    return int(row[0]) if row else 0


def write_watermark(conn: sqlite3.Connection, seq: int) -> int:
    """Move the watermark to ``seq`` if it is ahead (never backwards); returns the stored value.

    Used on the core thread with the store's connection (autocommit: one short transaction).
    """
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
        "value = excluded.value WHERE CAST(excluded.value AS INTEGER) > CAST(value AS INTEGER)",
        (WATERMARK_KEY, str(seq)),
    )
    return read_watermark(conn)


def reset_watermark(conn: sqlite3.Connection, seq: int) -> None:
    """Set the watermark, also backwards (a ``resync`` command from the central side)."""
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (WATERMARK_KEY, str(seq))
    )


class OutboxReader:
    """Reads consecutive events after a seq into one batch bounded by count and bytes."""

    def __init__(
        self,
        database: Path,
        hall_id: str,
        node_id: str,
        max_events: int = 500,
        max_bytes: int = 256 * 1024,
        *,
        key: Ed25519PrivateKey,
    ) -> None:
        if max_events < 1 or max_bytes < 1024:
            raise ValueError("a batch holds at least one event and 1 KiB")
        self.conn = connect(database)
        self.hall_id = hall_id
        self.node_id = node_id
        self.key = key
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._head = _json_head(hall_id, node_id, nodekey.public_key_text(key))

    def close(self) -> None:
        self.conn.close()

    def last_seq(self) -> int:
        return last_seq(self.conn, self.node_id)

    def watermark(self) -> int:
        return read_watermark(self.conn)

    def batch_after(self, seq: int, sent_at: str) -> Batch | None:
        """The events after ``seq`` (consecutive, in order), or None when there are none.

        The stored payload text goes out as a JSON string holding exactly the stored bytes
        (central stores and verifies those, see agent/chain.py), with each event's chain
        link; the batch carries the node's signature of its last link. A single event larger
        than ``max_bytes`` still goes out alone (the log is never skipped).
        """
        rows = self.conn.execute(
            "SELECT seq, type, business_date, at, wall_time, payload, chain FROM events "
            "WHERE node_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (self.node_id, seq, self.max_events),
        ).fetchall()
        parts: list[str] = []
        size = 0
        expected = seq + 1
        last, head = seq, ""
        for row in rows:
            if row[0] != expected:  # a hole cannot happen in a healthy store; stop before it
                break
            item = _json_event(row)
            if parts and size + len(item) > self.max_bytes:
                break
            parts.append(item)
            size += len(item) + 1
            last, head = expected, row[6]
            expected += 1
        if not parts:
            return None
        text = (
            f'{self._head}, "first": {seq + 1}, "last": {last}, '
            f'"head_signature": "{nodekey.sign_head(self.key, self.node_id, last, head)}", '
            f'"sent_at": {json.dumps(sent_at)}, "events": [{",".join(parts)}]}}'
        )
        return Batch(seq + 1, last, text.encode("utf-8"))


def _json_head(hall_id: str, node_id: str, public_key: str) -> str:
    return (
        f'{{"schema_version": 2, "hall_id": {json.dumps(hall_id)}, '
        f'"node_id": {json.dumps(node_id)}, "public_key": {json.dumps(public_key)}'
    )


def _json_event(row: tuple[int, str, str, str, str, str, str]) -> str:
    seq, type_, business_date, at, wall_time, payload, chain = row
    return (
        f'{{"seq": {seq}, "type": {json.dumps(type_)}, '
        f'"business_date": {json.dumps(business_date)}, "at": {json.dumps(at)}, '
        f'"wall_time": {json.dumps(wall_time)}, "payload": {json.dumps(payload)}, '
        f'"chain": "{chain}"}}'
    )
