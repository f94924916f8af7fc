"""The outbox is the store's event log; this module reads it in bounded batches.

Nothing here writes to the store: the acknowledged watermark lives in the store's ``meta``
table and is moved on the core thread (``CoreRuntime.advance_watermark``); the log is read
through :class:`agent.log_reader.EventLogReader`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import nodekey
from agent.log_reader import EventLogReader, LogRow


@dataclass(frozen=True)
class Batch:
    first: int
    last: int
    payload: bytes  # the EventBatch JSON, ready to publish

    @property
    def count(self) -> int:
        return self.last - self.first + 1


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
        self._log = EventLogReader(database, node_id)
        self.hall_id = hall_id
        self.node_id = node_id
        self.key = key
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._head = _json_head(hall_id, node_id, nodekey.public_key_text(key))

    def close(self) -> None:
        self._log.close()

    def last_seq(self) -> int:
        return self._log.last_seq()

    def watermark(self) -> int:
        return self._log.watermark()

    def batch_after(self, seq: int, sent_at: str) -> Batch | None:
        """The events after ``seq`` (consecutive, in order), or None when there are none.

        The stored payload text goes out as a JSON string holding exactly the stored bytes
        (central stores and verifies those, see agent/chain.py), with each event's chain
        link; the batch carries the node's signature of its last link. A single event larger
        than ``max_bytes`` still goes out alone (the log is never skipped).
        """
        rows = self._log.rows_after(seq, self.max_events)
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


def _json_event(row: LogRow) -> str:
    seq, type_, business_date, at, wall_time, payload, chain = row
    return (
        f'{{"seq": {seq}, "type": {json.dumps(type_)}, '
        f'"business_date": {json.dumps(business_date)}, "at": {json.dumps(at)}, '
        f'"wall_time": {json.dumps(wall_time)}, "payload": {json.dumps(payload)}, '
        f'"chain": "{chain}"}}'
    )
