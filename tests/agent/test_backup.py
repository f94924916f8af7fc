"""``hall-agent admin backup`` while the agent writes, and ``admin restore`` on another PC."""

from __future__ import annotations

import fcntl
import re
import sqlite3
import tarfile
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

from agent import commands as c
from agent.backup import backup, restore
from agent.cli import main
from agent.config import HallConfig
from agent.datadir import DataDir
from agent.errors import ConfigError, StoreError
from agent.store import Store
from tests.agent.conftest import write_hall
from tests.support import wait_until


@pytest.fixture
def data(tmp_path: Path, hall: HallConfig) -> DataDir:
    """An initialised data dir whose store exists (the agent ran once)."""
    data = DataDir(tmp_path / "node")
    data.init(write_hall(tmp_path / "hall.yaml", hall))
    Store(data.database, data.load()[1].node_id, hall).close()
    return data


def events(data: DataDir) -> list[dict[str, object]]:
    hall, node = data.load()
    store = Store(data.database, node.node_id, hall)
    try:
        return [e.as_dict() for e in store.events_since(0)]
    finally:
        store.close()


class Writer:
    """Issues tickets into the store on its own thread until stopped."""

    def __init__(self, data: DataDir) -> None:
        hall, node = data.load()
        self.store = Store(data.database, node.node_id, hall)
        self.services = [s.code for s in hall.services]
        self.issued = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.store.execute(c.IssueTicket(self.services[self.issued % 2], channel="cli"))
            self.issued += 1

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        self.store.close()


def number_of(result_events: list[dict[str, object]]) -> str:
    ticket = next(e for e in result_events if e["type"] == "TicketIssued")["payload"]
    return str(ticket["ticket"]["number"])  # type: ignore[index]


def test_backup_while_a_writer_runs_then_restore_gives_the_same_events_and_numbers(
    tmp_path: Path, data: DataDir, hall: HallConfig
) -> None:
    """GIVEN a store a writer keeps adding tickets to WHEN it is backed up meanwhile and
    restored into an empty data dir THEN the restored store holds exactly the first n events
    of the original, and its next ticket gets the number the original gave after them."""
    file = tmp_path / "backup.tar"
    with Writer(data) as writer:
        assert wait_until(lambda: writer.issued >= 30, 30)
        info = backup(data, file)
        seen = writer.issued
        assert wait_until(lambda: writer.issued >= seen + 10, 30)  # it kept writing
    assert oct(file.stat().st_mode & 0o777) == "0o600"
    original = events(data)
    assert 30 <= info.events < len(original)

    restored = DataDir(tmp_path / "new-pc")
    assert main(["--data-dir", str(restored.root), "admin", "restore", str(file)]) == 0
    got = events(restored)
    assert got == original[: info.events]
    assert [e["seq"] for e in got] == list(range(1, info.events + 1))
    assert restored.load()[1].node_id == data.load()[1].node_id
    assert restored.secret_bytes() == data.secret_bytes()

    service = got[-1]["payload"]["ticket"]["service"]  # type: ignore[index]
    next_in_original = next(
        e
        for e in original[info.events :]
        if e["type"] == "TicketIssued" and e["payload"]["ticket"]["service"] == service  # type: ignore[index]
    )
    hall_, node = restored.load()
    store = Store(restored.database, node.node_id, hall_)
    try:
        result = store.execute(c.IssueTicket(str(service), channel="cli"))
    finally:
        store.close()
    assert result.ticket is not None
    assert result.ticket.number == next_in_original["payload"]["ticket"]["number"]  # type: ignore[index]


def test_restore_is_refused_while_a_hub_holds_the_data_dir(tmp_path: Path, data: DataDir) -> None:
    file = tmp_path / "backup.tar"
    backup(data, file)
    with open(data.hub_lock, "a+b") as held:  # as the running hub does
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        before = sorted(p.name for p in data.root.iterdir())
        with pytest.raises(ConfigError, match="a running hub holds this data dir"):
            restore(data, file)
    assert sorted(p.name for p in data.root.iterdir()) == before
    restore(data, file)  # the hub stopped: now it goes through
    assert any(p.name.startswith("before-restore-") for p in data.root.iterdir())


def _rewrite_db(file: Path, into: Path, change: str) -> Path:
    """A copy of backup ``file`` whose store had ``change`` (SQL) applied."""
    work = into / "unpacked"
    with tarfile.open(file) as tar:
        tar.extractall(work)  # (our own file)
    conn = sqlite3.connect(work / "hall.db")
    conn.execute(change)
    conn.commit()
    conn.close()
    out = into / "tampered.tar"
    with tarfile.open(out, "w") as tar:
        for path in sorted(work.iterdir()):
            tar.add(path, path.name)
    return out


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("DELETE FROM events WHERE seq = 2", "numbering has a gap"),
        ("UPDATE tickets SET state = 'finished'", "not the fold of the event log"),
    ],
)
def test_a_bad_backup_is_refused_and_changes_nothing(
    tmp_path: Path, data: DataDir, change: str, reason: str
) -> None:
    hall, node = data.load()
    store = Store(data.database, node.node_id, hall)
    for _ in range(3):
        store.execute(c.IssueTicket(hall.services[0].code, channel="cli"))
    store.close()
    file = tmp_path / "backup.tar"
    backup(data, file)
    bad = _rewrite_db(file, tmp_path, change)
    target = DataDir(tmp_path / "other")
    target.init(None)
    before = {p.name: p.read_bytes() for p in target.root.iterdir() if p.is_file()}
    with pytest.raises(StoreError, match=reason):
        restore(target, bad)
    assert {p.name: p.read_bytes() for p in target.root.iterdir() if p.is_file()} == before


def test_not_a_backup(tmp_path: Path, data: DataDir) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar file")
    with pytest.raises(ConfigError, match="cannot read the hall-agent backup"):
        restore(data, junk)


def test_a_backup_with_a_path_outside_is_refused(tmp_path: Path, data: DataDir) -> None:
    """GIVEN a tampered backup with an entry '../escaped-…' THEN nothing is written."""
    escaped = f"escaped-{uuid.uuid4().hex}"
    file = tmp_path / "backup.tar"
    backup(data, file)
    evil = tmp_path / "evil.tar"
    (tmp_path / "payload").write_text("x")
    with tarfile.open(file) as good, tarfile.open(evil, "w") as bad:
        for member in good.getmembers():
            bad.addfile(member, good.extractfile(member))
        bad.add(tmp_path / "payload", f"../{escaped}")
    with pytest.raises(ConfigError, match=re.escape(f"unexpected entry '../{escaped}'")):
        restore(DataDir(tmp_path / "target"), evil)
    assert not (Path(tempfile.gettempdir()) / escaped).exists()  # (unpacked in a temp dir)
    assert not (tmp_path / "target").exists()
