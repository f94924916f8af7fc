"""What the disk under a data dir can do: its failures as stable errors, and a free-space
reserve so a filling disk refuses new tickets before it stops the node.

SQLite and the OS report a full disk, a damaged file or a read-only folder as exceptions
that say nothing to an operator; every layer above (CLI, hall LAN, screens) sees them
only through the :class:`~agent.errors.StoreError` family mapped here, each naming the file
and what to do.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from agent.errors import DataDirUnusable, DiskFull, StoreError, StoreUnreadable

log = logging.getLogger(__name__)

#: The device name under which the node records the state of its data disk (an alarm that
#: travels upward like any device fault: ``DeviceStatusChanged``, reason ``disk_full``).
STORAGE_DEVICE = "storage"
DISK_FULL = "disk_full"
DEFAULT_RESERVE_MB = 64

_FREE_SPACE = "free disk space (delete old files or logs, or move the data dir to a larger disk)"
_FULL_CODES = {sqlite3.SQLITE_FULL}
_UNREADABLE_CODES = {sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT}
_READ_ONLY_CODES = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM}
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


def store_error(exc: sqlite3.Error, path: Path | str) -> StoreError:
    """The operator's view of a SQLite failure on the store at ``path``."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    full = primary in _FULL_CODES or "disk is full" in str(exc)
    if full or (primary == sqlite3.SQLITE_IOERR and _disk_is_full(path)):
        return DiskFull(f"{path}: the disk is full; {_FREE_SPACE}", file=str(path))
    if primary in _UNREADABLE_CODES:
        return StoreUnreadable(
            f"{path}: not a readable SQLite store ({exc}); move it aside and restore the"
            " last backup (see docs/operator.md, 'When a file is damaged')",
            file=str(path),
        )
    if primary in _READ_ONLY_CODES:
        return StoreUnreadable(
            f"{path}: cannot open for writing ({exc}); the data dir and hall.db must be"
            " writable by the user running hall-agent",
            file=str(path),
        )
    return StoreError(f"{path}: {exc}", file=str(path))


def os_error(exc: OSError) -> StoreError:
    """The operator's view of a failed file operation in the data dir."""
    name = exc.filename or "the data dir"
    if exc.errno in _FULL_ERRNOS:
        return DiskFull(f"{name}: the disk is full; {_FREE_SPACE}", file=str(name))
    if exc.errno == errno.ENOTDIR:
        return DataDirUnusable(
            f"{name}: a file stands where a folder is expected; move it aside or choose"
            " another --data-dir",
            file=str(name),
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DataDirUnusable(
            f"{name}: {exc.strerror}; the data dir must be writable by the user running"
            " hall-agent (or choose another --data-dir)",
            file=str(name),
        )
    return DataDirUnusable(f"{name}: {exc.strerror or exc}", file=str(name))


def _disk_is_full(path: Path | str) -> bool:
    """SQLite reports some writes that failed for space as plain I/O errors."""
    try:
        stats = os.statvfs(Path(path).parent)
    except OSError:
        return False
    return stats.f_bavail == 0


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


@dataclass(frozen=True)
class DiskReserve:
    """New tickets need ``min_free_bytes`` free on the data dir's disk; below that they are
    refused with ``disk_full`` while calls, finishes, device reports and the sync go on
    (they write little), so the hall can serve who is waiting and tell central."""

    folder: Path
    min_free_bytes: int

    def short(self) -> bool:
        if self.min_free_bytes <= 0:
            return False
        try:
            return free_bytes(self.folder) < self.min_free_bytes
        except OSError:
            return False  # the store's own writes will say what is wrong

    def check_new_ticket(self) -> None:
        if self.short():
            free = free_bytes(self.folder) // 1024**2
            need = self.min_free_bytes // 1024**2
            raise DiskFull(
                f"{self.folder}: only {free} MB free (new tickets need {need} MB); {_FREE_SPACE}",
                file=str(self.folder),
            )


NO_RESERVE = DiskReserve(Path("."), 0)
