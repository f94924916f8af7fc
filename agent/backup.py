"""Backing up a node's data dir while it runs, and restoring it (on the same or a new PC).

A backup is one tar file: a consistent snapshot of the store taken with SQLite's online
backup API (writers go on meanwhile: WAL readers see one transaction boundary), the hall and
node configs, the node secret (without it the citizens' keyed hashes no longer match) and
the pushed device profiles. It holds the broker password and the secret: it is written 0600.

Both sides verify the snapshot: SQLite's integrity check, a schema this agent knows, an
event log numbered 1..n without a gap, and state tables equal to the fold of that log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from agent.config import HallConfig, load_hall_config
from agent.datadir import DataDir
from agent.errors import ConfigError, StoreError
from agent.node import load_node_config
from agent.store import SCHEMA_VERSION, dump_projection, event_from_row, replay
from agent.tarfiles import extract_files

DB = "hall.db"
CONFIGS = ("hall.yaml", "node.yaml", "secret.key")


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    node_id: str
    hall_id: str
    events: int


# ---- backup ---------------------------------------------------------------------------------
def backup(data: DataDir, dest: Path, keep: int | None = None) -> BackupInfo:
    """Write a verified backup of ``data`` to ``dest`` (a file, or a folder for a dated
    file in it, keeping the newest ``keep`` there). Atomic: a cut leaves no half file."""
    hall, node = data.load()
    if dest.is_dir():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        folder, dest = dest, dest / f"hall-{node.node_id}-{stamp}.tar"
    else:
        folder = None
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".backup-") as tmp:
        snapshot = Path(tmp) / DB
        _snapshot(data.database, snapshot)
        events = verify_store(snapshot, hall)
        part = Path(tmp) / "backup.tar"
        with tarfile.open(part, "w") as tar:
            tar.add(snapshot, DB)
            for name in CONFIGS:
                tar.add(data.root / name, name)
            if data.profiles.is_dir():
                for profile in sorted(data.profiles.glob("*.yaml")):
                    tar.add(profile, f"profiles/{profile.name}")
        part.chmod(0o600)
        _fsync(part)
        part.replace(dest)
    _fsync_dir(dest.parent)
    if folder is not None and keep:
        for old in sorted(folder.glob(f"hall-{node.node_id}-*.tar"))[:-keep]:
            old.unlink()
    return BackupInfo(dest, node.node_id, hall.hall_id, events)


def _snapshot(source: Path, target: Path) -> None:
    if not source.exists():
        raise StoreError(f"{source}: no store to back up")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # one step: a consistent snapshot, even with writers in WAL mode
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        dst.close()
        src.close()


def verify_store(path: Path, hall: HallConfig) -> int:
    """The number of events in the store at ``path``; :class:`StoreError` when it is not
    sound (damaged, unknown schema, a gap in the numbering, tables that are not the log's
    fold)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise StoreError(f"{path}: damaged: {check}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if not 1 <= version <= SCHEMA_VERSION:
            raise StoreError(
                f"{path}: store schema {version}, this agent knows 1..{SCHEMA_VERSION}"
            )
        rows = conn.execute("SELECT * FROM events ORDER BY seq").fetchall()
        events = [event_from_row(row) for row in rows]
        if [e.seq for e in events] != list(range(1, len(events) + 1)):
            raise StoreError(f"{path}: the event numbering has a gap")
        if dump_projection(replay(events, hall)) != dump_projection(conn):
            raise StoreError(f"{path}: the state tables are not the fold of the event log")
        return len(events)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a store: {exc}") from exc
    finally:
        conn.close()


# ---- restore --------------------------------------------------------------------------------
def restore(data: DataDir, source: Path) -> BackupInfo:
    """Put the backup ``source`` into ``data``; refused while a hub holds the data dir.

    What the data dir held before is moved to ``<data dir>/before-restore-<time>/``
    (nothing is deleted); the store is renamed into place last, after its stale WAL files
    are gone (SQLite would replay them onto the restored store)."""
    with tempfile.TemporaryDirectory(prefix=".restore-") as tmp:
        unpacked = Path(tmp)
        _unpack(source, unpacked)
        hall = load_hall_config(unpacked / "hall.yaml")
        node = load_node_config(unpacked / "node.yaml")
        events = verify_store(unpacked / DB, hall)
        data.root.mkdir(parents=True, exist_ok=True)
        with _hub_lock_free(data):
            _set_aside(data)
            for name in (*CONFIGS, "profiles"):
                if (unpacked / name).exists():
                    shutil.move(unpacked / name, data.root / name)
            (data.root / "secret.key").chmod(0o600)
            data.logs.mkdir(exist_ok=True)
            staged = data.root / f".{DB}.restore"
            shutil.copyfile(unpacked / DB, staged)
            _fsync(staged)
            staged.replace(data.database)
            _fsync_dir(data.root)
    return BackupInfo(source, node.node_id, hall.hall_id, events)


@contextlib.contextmanager
def _hub_lock_free(data: DataDir) -> Iterator[None]:
    """Hold the hub lock for the restore: refused when a running hub holds it."""
    with open(data.hub_lock, "a+b") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ConfigError(
                f"{data.root}: a running hub holds this data dir; stop it first "
                "(systemctl stop hall-agent-hub.service)"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _unpack(source: Path, into: Path) -> None:
    def allowed(name: str) -> bool:
        parts = Path(name).parts
        profile = len(parts) == 2 and parts[0] == "profiles" and parts[1].endswith(".yaml")
        return name in (DB, *CONFIGS) or profile

    extract_files(source, into, allowed, (DB, *CONFIGS), "hall-agent backup")


def _set_aside(data: DataDir) -> None:
    present = [
        p
        for p in (
            data.database,
            data.database.with_name(DB + "-wal"),
            data.database.with_name(DB + "-shm"),
            *(data.root / name for name in CONFIGS),
            data.profiles,
        )
        if p.exists()
    ]
    if not present:
        return
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    aside = data.root / f"before-restore-{stamp}"
    aside.mkdir()
    for path in present:
        path.replace(aside / path.name)


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
