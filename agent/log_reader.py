"""A reader of one node's event log in its own connection (the central sync's outbox).

The core thread owns the store's connection; the sync thread reads the log it publishes
through this one instead, so a long batch read never holds up a command. Nothing here
writes: the acknowledged watermark is moved by the core (``CoreRuntime.advance_watermark``).
"""

from __future__ import annotations

from pathlib import Path

from agent.store import META_CENTRAL_ACKED, connect, meta_int

#: One stored event as the outbox splices it: seq, type, business date, at, wall time, the
#: payload as its stored JSON text (not parsed again) and its chain link.
LogRow = tuple[int, str, str, str, str, str, str]


class EventLogReader:
    """Read-only access to ``node_id``'s events in the store at ``database``."""

    def __init__(self, database: Path, node_id: str) -> None:
        self._conn = connect(database)
        self.node_id = node_id

    def close(self) -> None:
        self._conn.close()

    def last_seq(self) -> int:
        """The highest seq of this node's own events (0 when there are none)."""
        row = self._conn.execute(
            "SELECT MAX(seq) FROM events WHERE node_id = ?", (self.node_id,)
        ).fetchone()
        return int(row[0] or 0)

    def watermark(self) -> int:
        """The highest seq the central platform acknowledged, as stored."""
        return meta_int(self._conn, META_CENTRAL_ACKED)

    def rows_after(self, seq: int, limit: int) -> list[LogRow]:
        """Up to ``limit`` events after ``seq``, in seq order."""
        rows: list[LogRow] = self._conn.execute(
            "SELECT seq, type, business_date, at, wall_time, payload, chain FROM events "
            "WHERE node_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (self.node_id, seq, limit),
        ).fetchall()
        return rows
