"""Command replies kept on disk from the moment they are made until the central broker took
them (its PUBACK), so an answer is not lost when the node shuts down, or the connection
drops, before it went out.

Each reply is one file in the data dir's ``pending-replies/`` (written atomically, named
so that they sort in the order they were made); it is removed once its publish is
acknowledged. At start the files left by the last run are sent again; a reply that was
sent but not yet acknowledged may so reach central twice, which stores each reply once per
(node, version, status, part). Hand-offs (:meth:`put`) come from any thread; everything
else runs on the sync thread.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from agent.files import write_atomically
from sync import contract as ct

log = logging.getLogger(__name__)

PENDING_REPLIES_DIR = "pending-replies"


class Published(Protocol):
    """What a publish hands back (paho's ``MQTTMessageInfo``)."""

    def is_published(self) -> bool: ...


def _acknowledged(info: Published) -> bool | None:
    """True: the broker has it; False: not yet; None: the client failed to publish it."""
    try:
        return info.is_published()
    except (RuntimeError, ValueError):  # paho: not connected, or its queue full
        return None


@dataclass(frozen=True)
class _Pending:
    reply: ct.CommandReply
    path: Path | None  # None: it could not be written (the disk): in memory only


class ReplyOutbox:
    """``put`` replies (any thread); :meth:`send` them and :meth:`settle` (sync thread)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._in_flight: list[tuple[Published, _Pending]] = []

    def load(self) -> int:
        """Queue the replies a previous run left unsent; how many."""
        count = 0
        for path in sorted(self.folder.glob("*.json")):
            try:
                reply = ct.CommandReply.model_validate_json(path.read_bytes())
            except (OSError, ValidationError) as exc:
                log.error("unsent command reply %s unreadable, dropped: %s", path.name, exc)
                path.unlink(missing_ok=True)
                continue
            self._queue.put(_Pending(reply, path))
            count += 1
        if count:
            log.info("%d command replies of the last run to send", count)
        return count

    def put(self, reply: ct.CommandReply) -> None:
        """Store ``reply``, then queue it for the sync thread."""
        name = f"{time.time_ns():020d}-{reply.version}-{reply.status}-{reply.part or 1}.json"
        path = self.folder / name
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomically(path, reply.model_dump_json(exclude_none=True))
        except OSError as exc:
            log.error("command reply %d not stored (%s): kept in memory only", reply.version, exc)
            self._queue.put(_Pending(reply, None))
            return
        self._queue.put(_Pending(reply, path))

    def send(self, publish: Callable[[str], Published]) -> None:
        """Publish every queued reply (connected); each stays stored until acknowledged. A
        publish the client refused (the link just dropped, its queue full) stays queued for
        the next connection, and nothing more is tried on this one."""
        while True:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                break
            info = publish(pending.reply.model_dump_json(exclude_none=True))
            self._in_flight.append((info, pending))
            if _acknowledged(info) is None:
                break
        self.settle()

    def settle(self) -> None:
        """Remove the files of the replies the broker acknowledged; queue again the ones the
        client failed to publish."""
        waiting = []
        for info, pending in self._in_flight:
            acked = _acknowledged(info)
            if acked is None:
                self._queue.put(pending)
            elif not acked:
                waiting.append((info, pending))
            elif pending.path is not None:
                pending.path.unlink(missing_ok=True)
        self._in_flight = waiting

    def requeue(self) -> None:
        """The connection is gone: what it did not acknowledge goes out on the next one."""
        self.settle()
        for _, pending in self._in_flight:
            self._queue.put(pending)
        self._in_flight = []
