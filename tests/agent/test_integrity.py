"""A store that is not what this node committed is stopped and named, never silently reused:
a node.yaml naming another node, a store emptied, deleted or damaged, a lost WAL tail."""

from __future__ import annotations

import shutil
import sqlite3
import zlib
from pathlib import Path

import pytest
import yaml

from agent import chain, witness
from agent import commands as c
from agent.config import HallConfig, always_open, sample_config
from agent.datadir import DataDir
from agent.errors import IdentityMismatch, StoreDamaged
from agent.node_runtime import Node
from agent.store import Store
from tests.agent.conftest import FakeClock, write_hall


def issue(store: Store, count: int, service: str = "social-security") -> list[str]:
    return [store.execute(c.IssueTicket(service)).ticket.number for _ in range(count)]  # type: ignore[union-attr]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "node"
    DataDir(root).init(write_hall(tmp_path / "hall.yaml", always_open(sample_config())))
    return root


def test_every_event_is_chained_to_the_one_before(store: Store) -> None:
    issue(store, 3)
    events = list(store.events_since(0))
    prev = ""
    for event in events:
        payload = store.conn.execute(
            "SELECT payload FROM events WHERE seq = ?", (event.seq,)
        ).fetchone()[0]
        data = chain.canonical_bytes(
            prev, event.node_id, event.seq, event.type, event.business_date, event.at,
            event.wall_time, payload,
        )  # fmt: skip
        expected = chain.link("sha256", data)
        assert event.chain == expected
        prev = event.chain
    assert store.verify_log() == (3, prev)


def test_sm3_is_named_in_each_event(tmp_path: Path, hall: HallConfig, clock: FakeClock) -> None:
    store = Store(tmp_path / "hall.db", "node-1", hall, clock, hash_algorithm="sm3")
    try:
        issue(store, 2)
        chains = [e.chain for e in store.events_since(0)]
        assert all(link.startswith("sm3:") and len(link) == 4 + 64 for link in chains)
        assert store.verify_log() == (2, chains[-1])
    finally:
        store.close()


def test_a_changed_node_id_stops_the_node_instead_of_forking(data_dir: Path) -> None:
    """GIVEN a data dir that issued A001-A003 WHEN node_id in node.yaml is edited THEN opening
    the store refuses, names both ids and issues nothing (before: A001 again, silently)."""
    store = Node.open(data_dir).store()
    issue(store, 3)
    store.close()
    node_yaml = data_dir / "node.yaml"
    data = yaml.safe_load(node_yaml.read_text())
    original = data["node_id"]
    node_yaml.write_text(yaml.safe_dump({**data, "node_id": "edited-node"}))
    with pytest.raises(IdentityMismatch) as caught:
        Node.open(data_dir).store()
    assert original in str(caught.value) and "edited-node" in str(caught.value)
    node_yaml.write_text(yaml.safe_dump(data))
    store = Node.open(data_dir).store()
    try:
        assert issue(store, 1) == ["A004"]
    finally:
        store.close()


def test_a_store_of_another_hall_is_refused(tmp_path: Path, hall: HallConfig) -> None:
    store = Store(tmp_path / "hall.db", "node-1", hall)
    store.close()
    other = hall.model_copy(update={"hall_id": "other-hall"})
    with pytest.raises(IdentityMismatch, match="other-hall"):
        Store(tmp_path / "hall.db", "node-1", other)


@pytest.mark.parametrize("damage", ["emptied", "deleted"])
def test_an_emptied_or_deleted_store_is_not_taken_for_a_new_one(
    tmp_path: Path, hall: HallConfig, clock: FakeClock, damage: str
) -> None:
    """GIVEN a node that issued three numbers WHEN hall.db is truncated to 0 bytes or deleted
    THEN opening refuses with the seq the node had reached and creates nothing (before: A001
    was issued again)."""
    path = tmp_path / "hall.db"
    store = Store(path, "node-1", hall, clock)
    issue(store, 3)
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if damage == "emptied":
        path.write_bytes(b"")
    else:
        path.unlink()
    with pytest.raises(StoreDamaged, match="up to seq 3") as caught:
        Store(path, "node-1", hall, clock)
    assert caught.value.details["seq"] == 3
    assert (
        (path.exists() and path.stat().st_size == 0) if damage == "emptied" else not path.exists()
    )


def test_a_store_emptied_from_inside_is_refused(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    path = tmp_path / "hall.db"
    store = Store(path, "node-1", hall, clock)
    issue(store, 3)
    store.conn.execute("DELETE FROM events")
    store.close()
    with pytest.raises(StoreDamaged, match=r"seqs 1\.\.3 lost"):
        Store(path, "node-1", hall, clock)


def test_a_flipped_bit_in_an_event_payload_is_named(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    """GIVEN a store whose file has one bit flipped inside a payload (SQLite's
    integrity_check still says ok) WHEN it is opened THEN the event's seq is named (before:
    a TypeError traceback or a wrong state)."""
    path = tmp_path / "hall.db"
    store = Store(path, "node-1", hall, clock)
    issue(store, 5)
    store.close()  # the last close checkpoints the WAL into hall.db
    data = bytearray(path.read_bytes())
    at = data.index(b'"counter":4}')
    data[at + len(b'"counter":')] ^= 0x01  # '4' -> '5'
    path.write_bytes(bytes(data))
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()
    with pytest.raises(StoreDamaged, match="seq 4 does not match") as caught:
        Store(path, "node-1", hall, clock)
    assert caught.value.details["seq"] == 4


def test_an_edited_row_of_an_earlier_day_is_found_by_verify(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    path = tmp_path / "hall.db"
    store = Store(path, "node-1", hall, clock)
    issue(store, 3)
    clock.advance(days=1)
    issue(store, 2)
    store.conn.execute("UPDATE events SET at = replace(at, '09:00', '08:00') WHERE seq = 2")
    store.close()
    store = Store(path, "node-1", hall, clock)  # today's events are fine: it opens
    try:
        with pytest.raises(StoreDamaged, match="seq 2 does not match"):
            store.verify_log()
    finally:
        store.close()


def test_a_damaged_wal_tail_is_detected_and_named(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    """GIVEN the files a power cut leaves (hall.db, its WAL, the witness) after 12 tickets
    WHEN one byte of a WAL frame in the middle is flipped THEN opening names the lost seqs
    (before: SQLite dropped the frames after the bad checksum, and the numbers were issued
    again, silently)."""
    live = tmp_path / "live"
    live.mkdir()
    store = Store(live / "hall.db", "node-1", hall, clock)
    issue(store, 12)
    copy = tmp_path / "after-power-cut"
    copy.mkdir()
    for name in ("hall.db", "hall.db-wal", "hall.witness"):
        shutil.copyfile(live / name, copy / name)
    store.close()
    wal = bytearray((copy / "hall.db-wal").read_bytes())
    frame = 24 + 4096  # WAL header 32 bytes, each frame a 24-byte header and one page
    frames = (len(wal) - 32) // frame
    middle = 32 + (frames // 2) * frame + 24 + 100
    wal[middle] ^= 0xFF
    (copy / "hall.db-wal").write_bytes(bytes(wal))
    with pytest.raises(StoreDamaged, match=r"committed up to seq 12 \(witness\)") as caught:
        Store(copy / "hall.db", "node-1", hall, clock)
    assert 1 < caught.value.details["seq"] <= 12


def test_a_torn_witness_is_rewritten_not_taken_for_no_events(
    tmp_path: Path, hall: HallConfig, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "hall.db"
    store = Store(path, "node-1", hall, clock)
    issue(store, 2)
    store.close()
    (tmp_path / "hall.witness").write_bytes(b"hall-witness/1 node-1 2 sha")
    store = Store(path, "node-1", hall, clock)
    try:
        assert "not a readable witness record" in caplog.text
        assert issue(store, 1) == ["A003"]
    finally:
        store.close()
    assert (tmp_path / "hall.witness").read_bytes().startswith(b"hall-witness/2 node-1 3 ")


def test_a_witness_of_the_first_format_still_holds_the_store(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    """GIVEN a store whose witness an earlier agent wrote (``hall-witness/1``, CRC32) at seq
    5 WHEN the store holds only 3 events THEN the lost seqs are named, as with the current
    format."""
    path = tmp_path / "hall.db"
    store = Store(path, "node-1", hall, clock)
    issue(store, 3)
    store.close()
    body = "hall-witness/1 node-1 5 sha256:" + "0" * 64
    record = f"{body} {zlib.crc32(body.encode()):08x}\n".encode()
    (tmp_path / "hall.witness").write_bytes(record.ljust(witness.RECORD_BYTES))
    with pytest.raises(StoreDamaged, match=r"seqs 4\.\.5 lost"):
        Store(path, "node-1", hall, clock)


def test_a_witness_record_replacing_a_longer_one_reads_back(tmp_path: Path) -> None:
    """GIVEN a witness whose record another writer left longer (another algorithm's chain)
    WHEN a shorter record is written THEN it reads back whole (no tail of the longer one)."""
    path = tmp_path / "hall.witness"
    other, mine = witness.Witness(path, "node-1"), witness.Witness(path, "node-1")
    try:
        mine.write(9, "sm3:" + "a" * 64)
        other.write(10, "sha256:" + "b" * 64)
        mine.write(11, "sm3:" + "c" * 64)
        assert witness.read(path) == witness.Seen("node-1", 11, "sm3:" + "c" * 64)
        mine.write(12, "sm3:" + "d" * 64)
        assert witness.read(path) == witness.Seen("node-1", 12, "sm3:" + "d" * 64)
    finally:
        other.close()
        mine.close()
