"""A witness of the log outside hall.db: the node, the last seq committed and its chain.

SQLite cannot tell a store that lost its tail (a damaged WAL frame makes SQLite drop every
later frame, silently), or was emptied, deleted or swapped for an older copy, from a young
one. This small file can: after every commit the store overwrites one fixed-size record in
place through a shared memory map (a memory copy: a ``pwrite`` would also update the file's
times, which the next commit's fsync then has to journal), and makes it durable at most once
a second and on close (``msync`` + ``fsync``). Other processes see each record at once (one
page cache). So the witness may lag the store by a second after a power cut, never lead it:
a store whose last seq is *below* the witness lost committed events.

The record carries a check of its text, the first 8 hex digits of its SHA-256 (records
written before 2026-11-29, ``hall-witness/1``, carry a CRC32 and are still read); a torn or
unreadable record is reported and rewritten, never taken for "no events". (SHA-256: the
command has just run it for the chain link, so its code is still in the processor's caches
when the record is written after the commit's fsync; zlib's CRC tables are not.)
"""

from __future__ import annotations

import mmap
import os
import zlib
from hashlib import sha256
from pathlib import Path
from typing import NamedTuple

RECORD_BYTES = 256
MAGIC = "hall-witness/2"
#: The first format: the same record with a CRC32 as its check.
MAGIC_CRC32 = "hall-witness/1"


class Seen(NamedTuple):
    """(A named tuple: one is made per commit.)"""

    node_id: str
    seq: int
    chain: str


class WitnessUnreadable(ValueError):
    """The witness file is there but its record is torn or not a witness."""


def read(path: Path) -> Seen | None:
    """What the witness saw; None when there is no witness file or it was never written."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if not data.strip(b"\0 "):
        return None  # made, never written: the store had no event to witness yet
    text = data.decode("ascii", "replace").strip()
    body, _, check = text.rpartition(" ")
    parts = body.split(" ")
    if len(parts) != 4 or parts[0] not in (MAGIC, MAGIC_CRC32) or check != _check(body):
        raise WitnessUnreadable(f"{path}: not a readable witness record ({len(data)} bytes)")
    return Seen(parts[1], int(parts[2]), parts[3])


def _check(body: str) -> str:
    if body.startswith(MAGIC_CRC32):
        return f"{zlib.crc32(body.encode()):08x}"
    return sha256(body.encode()).hexdigest()[:8]


class Witness:
    """The writing side, held open by the store's writer of ``node_id``.

    A record is ``MAGIC node_id seq chain check``. A write copies only the record's line when
    the line it replaces (maybe another process's) has the same length, otherwise the whole
    padded record: it runs after every commit."""

    def __init__(self, path: Path, node_id: str) -> None:
        self.path = path
        self._head = f"{MAGIC} {node_id} "
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(self._fd).st_size != RECORD_BYTES:
                os.ftruncate(self._fd, RECORD_BYTES)
            self._map = mmap.mmap(self._fd, RECORD_BYTES)
        except BaseException:
            os.close(self._fd)
            raise
        self._dirty = False

    def write(self, seq: int, chain: str) -> None:
        """Record ``seq`` and its chain as committed (durable at the next :meth:`flush`)."""
        # (only code the command has just run: after the commit's fsync the caches are cold)
        body = f"{self._head}{seq} {chain}"
        line = f"{body} {sha256(body.encode()).hexdigest()[:8]}\n".encode()
        length = len(line)
        if self._map.find(b"\n") + 1 == length:  # the padding after it is already there
            self._map[:length] = line
        elif length <= RECORD_BYTES:
            self._map[:] = line + b" " * (RECORD_BYTES - length)
        else:
            raise ValueError("witness record too long")
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
