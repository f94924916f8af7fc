"""The sending side of the outbox: what went out, what central acknowledged, what is in flight.

Owned by the sync thread. Batches are published in seq order, at most ``window_batches``
unacknowledged; the central side's cumulative :class:`~sync.contract.Ack` moves ``acked``.
Anything not acknowledged is sent again from ``acked`` after a reconnect (:meth:`rewind`) or
when no ack came for ``ack_timeout_s``. Memory is bounded by the window: a resent batch is
read from SQLite again.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import time
from collections.abc import Callable

from pydantic import ValidationError

from sync import contract as ct
from sync.outbox import OutboxReader

log = logging.getLogger(__name__)

#: publish(payload) -> an error text, or None when the client took the message
Publish = Callable[[bytes], str | None]


def wall_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class OutboxPublisher:
    def __init__(
        self, reader: OutboxReader, node_id: str, window_batches: int, ack_timeout_s: float
    ) -> None:
        self.reader = reader
        self.node_id = node_id
        self.window_batches = window_batches
        self.ack_timeout_s = ack_timeout_s
        self.acked = self.sent = reader.watermark()
        self.last_seq = reader.last_seq()
        self.clock_offset: float | None = None
        #: the offset central measured on a batch of this session (not a retained old ack),
        #: for the hall clock; taken (set to None) by the sync
        self.fresh_offset: float | None = None
        #: acks refused or ignored (too large, malformed, another node's, beyond the log)
        self.acks_ignored = 0
        #: central's acked seq when it is beyond this store's last seq: a lost tail
        self.central_ahead: int | None = None
        self._window: collections.deque[int] = collections.deque()
        self._progress_at = 0.0

    @property
    def backlog(self) -> int:
        return self.last_seq - self.acked

    @property
    def busy(self) -> bool:
        """Events are waiting to be sent."""
        return self.sent < self.last_seq

    def note_last_seq(self, seq: int) -> None:
        """The log grew to at least ``seq``."""
        self.last_seq = max(self.last_seq, seq)

    def rewind(self) -> None:
        """Forget what is in flight: the next batches start after ``acked`` again."""
        self._window.clear()
        self.sent = self.acked
        self._progress_at = time.monotonic()

    def reset(self, seq: int) -> None:
        """Start over after ``seq`` (central asked for a resend); also backwards."""
        self.acked = self.sent = seq
        self._window.clear()

    def on_ack(self, payload: bytes) -> None:
        """Take a cumulative ack from central; bad, foreign or impossible acks are ignored
        (and counted in ``acks_ignored``)."""
        if len(payload) > ct.MAX_ACK_BYTES:
            log.warning("ack refused: %d bytes", len(payload))
            self.acks_ignored += 1
            return
        try:
            ack = ct.Ack.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("ack refused: %s", exc.errors()[0]["msg"])
            self.acks_ignored += 1
            return
        if ack.node_id != self.node_id:
            log.warning("ack for node %r ignored", ack.node_id)
            self.acks_ignored += 1
            return
        if ack.clock_offset_s is not None:
            self.clock_offset = ack.clock_offset_s
        if ack.acked_seq <= self.acked:
            return
        if ack.acked_seq > self.last_seq:
            self.last_seq = self.reader.last_seq()
            if ack.acked_seq > self.last_seq:
                if self.central_ahead != ack.acked_seq:
                    log.error(
                        "central acknowledged this node's events up to seq %d, but its store "
                        "ends at seq %d: the store lost its tail (or is another life of this "
                        "node id). Stop the node and run 'hall-agent recover'",
                        ack.acked_seq,
                        self.last_seq,
                    )
                self.central_ahead = ack.acked_seq
                self.acks_ignored += 1
                return
        self.acked = ack.acked_seq
        if self._window:  # it acknowledges a batch sent in this session: its offset is fresh
            self.fresh_offset = ack.clock_offset_s
        self._progress_at = time.monotonic()
        while self._window and self._window[0] <= self.acked:
            self._window.popleft()
        if self.sent < self.acked:
            self.sent = self.acked

    def pump(self, publish: Publish) -> str | None:
        """Publish batches while the window has room; the error text when a publish failed."""
        now = time.monotonic()
        if self._window and now - self._progress_at > self.ack_timeout_s:
            log.warning(
                "no ack for %.0f s: resending from seq %d", now - self._progress_at, self.acked + 1
            )
            self._window.clear()
            self.sent = self.acked
            self._progress_at = now
        while len(self._window) < self.window_batches and self.sent < self.last_seq:
            batch = self.reader.batch_after(self.sent, wall_now())
            if batch is None:
                self.last_seq = self.reader.last_seq()
                return None
            error = publish(batch.payload)
            if error is not None:
                return error
            if not self._window:
                self._progress_at = now
            self._window.append(batch.last)
            self.sent = batch.last
        return None
