"""Central verifies every node's hash chain and signed head, and reports a break by seq."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from agent import commands as c
from sync import contract as ct
from sync.central import BatchRefused, CentralIngest, CentralStore
from sync.outbox import OutboxReader
from tests.agent.conftest import FakeClock
from tests.support import wait_until
from tests.sync.conftest import Broker, issue_tickets, make_node, node_key, sync_all

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)


def batches(root: Path, node_id: str | None = None, size: int = 500) -> list[ct.EventBatch]:
    """Every event of the data dir at ``root`` as batches, as its sync would send them."""
    node = make_node(root)
    reader = OutboxReader(
        node.data.database, node.hall.hall_id, node.node.node_id, size, key=node_key(node)
    )
    out, seq = [], 0
    try:
        while (batch := reader.batch_after(seq, NOW.isoformat())) is not None:
            out.append(ct.EventBatch.model_validate_json(batch.payload))
            seq = batch.last
    finally:
        reader.close()
    return out


def report(db: Path) -> dict:
    store = CentralStore(db)
    try:
        return store.report()
    finally:
        store.close()


def test_central_stores_the_exact_payload_text_and_verifies_the_chain(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node")
    issue_tickets(node, 12)
    store = CentralStore(tmp_path / "central.db")
    try:
        for batch in batches(tmp_path / "node", size=5):
            store.ingest(batch, NOW)
        central = store.conn.execute("SELECT seq, payload, chain FROM events ORDER BY seq")
        local = sqlite3.connect(node.data.database).execute(
            "SELECT seq, payload, chain FROM events ORDER BY seq"
        )
        assert central.fetchall() == local.fetchall()
    finally:
        store.close()
    (entry,) = report(tmp_path / "central.db")["nodes"]
    assert (entry["acked_seq"], entry["chain"]) == (12, "verified")


def test_a_changed_event_is_reported_by_central_with_its_seq(tmp_path: Path) -> None:
    """GIVEN a node whose stored event seq 4 was edited before it was sent (the link kept)
    WHEN central ingests the log THEN the report names seq 4 as the chain's break."""
    node = make_node(tmp_path / "node")
    issue_tickets(node, 8)
    db = sqlite3.connect(node.data.database)
    db.execute("UPDATE events SET payload = replace(payload, '\"counter\":', '\"counter\": ') "
               "WHERE seq = 4")  # fmt: skip
    db.commit()
    db.close()
    store = CentralStore(tmp_path / "central.db")
    try:
        for batch in batches(tmp_path / "node", size=3):
            store.ingest(batch, NOW)
    finally:
        store.close()
    result = report(tmp_path / "central.db")
    (entry,) = result["nodes"]
    assert entry["chain"]["break_seq"] == 4
    assert "seq 4 does not match" in entry["chain"]["reason"]
    assert result["chain_breaks"] == 1


def test_a_second_log_under_the_same_node_id_is_a_fork(tmp_path: Path) -> None:
    """GIVEN central holding seqs 1..6 of a node WHEN another data dir with the same node id
    (a reinstalled PC that kept node.yaml and key) sends its own seqs 1..3 THEN nothing is
    overwritten and the fork is reported at seq 1."""
    first = make_node(tmp_path / "first")
    issue_tickets(first, 6)
    second = tmp_path / "second"
    second.mkdir()
    for name in ("node.yaml", "hall.yaml", "secret.key", "node_key.pem"):
        (second / name).write_bytes((first.data.root / name).read_bytes())
    issue_tickets(make_node(second), 3)
    store = CentralStore(tmp_path / "central.db")
    try:
        for batch in batches(first.data.root):
            store.ingest(batch, NOW)
        kept = store.conn.execute("SELECT chain FROM events ORDER BY seq").fetchall()
        for batch in batches(second):
            store.ingest(batch, NOW)
        assert store.conn.execute("SELECT chain FROM events ORDER BY seq").fetchall() == kept
    finally:
        store.close()
    (entry,) = report(tmp_path / "central.db")["nodes"]
    assert entry["chain"]["break_seq"] == 1
    assert "another chain link" in entry["chain"]["reason"]


def test_a_batch_signed_with_another_key_is_refused(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node")
    issue_tickets(node, 4)
    store = CentralStore(tmp_path / "central.db")
    try:
        (first,) = batches(node.data.root)
        store.ingest(first, NOW)
        node.data.node_key.unlink()  # a new key is made on next use: not the one central knows
        issue_tickets(node, 2)
        later = [b for b in batches(node.data.root) if b.last == 6]
        with pytest.raises(BatchRefused, match="another key"):
            store.ingest(later[0], NOW)
        forged = json.loads(later[0].model_dump_json())
        forged["public_key"] = first.public_key  # the known key, but not its signature
        forged["head_signature"] = forged["head_signature"][:-4] + "AAA="
        with pytest.raises(BatchRefused, match="does not hold"):
            store.ingest(ct.EventBatch.model_validate(forged), NOW)
        assert store.acked_seq(node.node.node_id) == 4
    finally:
        store.close()


@pytest.mark.mqtt
def test_central_report_names_the_break_of_a_node_synced_over_mqtt(
    broker: Broker, ingest: CentralIngest, tmp_path: Path
) -> None:
    """GIVEN a node with yesterday's events, one of them edited in hall.db (today's fold does
    not read it) WHEN the node syncs over Mosquitto THEN central acknowledges the log and
    'central report' names the edited seq."""
    clock = FakeClock(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    node = make_node(tmp_path / "node", broker.url)
    store = node.store(clock)
    for _ in range(5):
        store.execute(c.IssueTicket("social-security"))
    store.close()
    db = sqlite3.connect(node.data.database)
    db.execute("UPDATE events SET wall_time = '2026-01-01T00:00:00.000000+00:00' WHERE seq = 3")
    db.commit()
    db.close()
    issue_tickets(node, 1)
    sync_all(node)
    assert wait_until(lambda: report(tmp_path / "central.db")["chain_breaks"] == 1, 10)
    (entry,) = report(tmp_path / "central.db")["nodes"]
    assert entry["chain"]["break_seq"] == 3
    assert entry["acked_seq"] == 6
