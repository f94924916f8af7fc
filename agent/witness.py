"""A witness of the log outside hall.db: the node, the last seq committed and its chain.

SQLite cannot tell a store that lost its tail (a damaged WAL frame makes SQLite drop every
later frame, silently), or was emptied, deleted or swapped for an older copy, from a young
one. This small file can: after every commit the store overwrites one fixed-size record in
place through a shared memory map (a memory copy: a ``pwrite`` would also update the file's
times, which the next commit's fsync then has to journal), and makes it durable at most once
a second and on close (``msync`` + ``fsync``). Other processes see each record at once (one
page cache). So the witness may lag the store by a second after a power cut, never lead it:
a store whose last seq is *below* the witness lost committed events.

The record carries a CRC32; a torn or unreadable record is reported and rewritten, never
taken for "no events".
"""

from __future__ import annotations

import mmap
import os
import zlib
from pathlib import Path
from typing import NamedTuple

RECORD_BYTES = 256
MAGIC = "hall-witness/1"


class Seen(NamedTuple):
    """(A named tuple: one is made per commit.)"""

    node_id: str
    seq: int
    chain: str


class WitnessUnreadable(ValueError):
    """The witness file is there but its record is torn or not a witness."""


def _record(seen: Seen) -> bytes:
    body = f"{MAGIC} {seen.node_id} {seen.seq} {seen.chain}".encode()
    line = b"%s %08x\n" % (body, zlib.crc32(body))
    if len(line) > RECORD_BYTES:
        raise ValueError("witness record too long")
    return line + b" " * (RECORD_BYTES - len(line))


def read(path: Path) -> Seen | None:
    """What the witness saw; None when there is no witness file or it was never written."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if not data.strip(b"\0 "):
        return None  # made, never written: the store had no event to witness yet
    text = data.decode("ascii", "replace").strip()
    body, _, crc = text.rpartition(" ")
    parts = body.split(" ")
    if len(parts) != 4 or parts[0] != MAGIC or crc != f"{zlib.crc32(body.encode()):08x}":
        raise WitnessUnreadable(f"{path}: not a readable witness record ({len(data)} bytes)")
    return Seen(parts[1], int(parts[2]), parts[3])


class Witness:
    """The writing side, held open by the store's writer."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(self._fd).st_size != RECORD_BYTES:
                os.ftruncate(self._fd, RECORD_BYTES)
            self._map = mmap.mmap(self._fd, RECORD_BYTES)
        except BaseException:
            os.close(self._fd)
            raise
        self._dirty = False

    def write(self, seen: Seen) -> None:
        self._map[:] = _record(seen)
        self._dirty = True

    def flush(self) -> None:
        """Make the last record durable (once a second from the core's tick, and on close)."""
        if self._dirty:
            self._map.flush()
            os.fsync(self._fd)
            self._dirty = False

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._map.close()
            os.close(self._fd)
