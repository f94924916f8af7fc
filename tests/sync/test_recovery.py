"""A node whose store is lost rebuilds from central over MQTT and never reissues a number."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from agent import commands as c
from agent.cli import main
from agent.errors import StoreDamaged, StoreError
from agent.node_runtime import Node
from sync.central import CentralIngest, CentralStore
from sync.recovery import RecoveryFailed, recover
from sync.service import effective_broker
from tests.sync.conftest import Broker, issue_tickets, make_node, sync_all

pytestmark = pytest.mark.mqtt


def numbers(node: Node) -> list[str]:
    store = node.store()
    try:
        return [
            e.payload["ticket"]["number"] for e in store.events_since(0) if e.type == "TicketIssued"
        ]
    finally:
        store.close()


def lose_store(node: Node, witness_too: bool = False) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{node.data.database}{suffix}").unlink(missing_ok=True)
    if witness_too:  # a replacement PC: only node.yaml, hall.yaml and the keys were kept
        node.data.database.with_suffix(".witness").unlink()


def central_events(db: Path, node_id: str) -> list[tuple[int, str, str]]:
    store = CentralStore(db)
    try:
        return store.conn.execute(
            "SELECT seq, payload, chain FROM events WHERE node_id = ? ORDER BY seq", (node_id,)
        ).fetchall()
    finally:
        store.close()


def test_a_lost_store_is_rebuilt_from_central_and_no_number_is_issued_again(
    broker: Broker, ingest: CentralIngest, tmp_path: Path
) -> None:
    """GIVEN a node that synced 20 tickets and then issued 5 more offline WHEN its hall.db is
    lost THEN it refuses to start; 'hall-agent recover' rebuilds events 1..20 byte for byte
    from central, alarms, and today's numbers resume past a safe offset, so neither a number
    central holds nor one of the 5 lost ones is given again; the new events verify at
    central as the same chain."""
    node = make_node(tmp_path / "node", broker.url)
    issue_tickets(node, 20)
    sync_all(node)
    issue_tickets(node, 5)  # never reach central
    before = numbers(node)
    lose_store(node)
    with pytest.raises(StoreDamaged, match="up to seq 25"):
        node.store()

    result = recover(node, effective_broker(node, None))  # type: ignore[arg-type]
    assert (result.restored_seq, result.central_acked, result.tail_complete) == (20, 20, False)
    assert result.offsets["social-security"] >= 100
    with sqlite3.connect(node.data.database) as db:
        rebuilt = db.execute("SELECT seq, payload, chain FROM events WHERE seq <= 20").fetchall()
    assert rebuilt == central_events(tmp_path / "central.db", node.node.node_id)

    store = node.store()
    try:
        resumed = list(store.events_since(20))
        assert [e.type for e in resumed] == ["NumberingResumed"]
        new = [store.execute(c.IssueTicket(s.code)).ticket for s in node.hall.services]
    finally:
        store.close()
    for ticket in new:
        assert ticket is not None
        same = [n for n in before if n[0] == ticket.number[0]]
        assert ticket.number not in before
        assert int(ticket.number[1:]) > max(int(n[1:]) for n in same)

    sync_all(node)
    report = CentralStore(tmp_path / "central.db").report()
    (entry,) = report["nodes"]
    assert (entry["acked_seq"], entry["chain"]) == (25, "verified")


def test_a_replacement_pc_with_the_whole_log_at_central_goes_on_without_offset(
    broker: Broker, ingest: CentralIngest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """GIVEN a node whose every event reached central WHEN hall.db is lost but the witness
    shows the log ended at central's seq THEN 'hall-agent recover --json' rebuilds it and
    the next number simply follows."""
    node = make_node(tmp_path / "node", broker.url)
    issue_tickets(node, 8)
    sync_all(node)
    lose_store(node)
    monkeypatch.setenv("HALL_AGENT_DATA_DIR", str(node.data.root))
    assert main(["recover", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["restored_seq"], result["tail_complete"], result["offsets"]) == (8, True, {})
    assert main(["queue", "issue", "--service", "social-security", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["number"] == "A003"


def test_recover_refuses_a_store_that_still_holds_events(
    broker: Broker, ingest: CentralIngest, tmp_path: Path
) -> None:
    node = make_node(tmp_path / "node", broker.url)
    issue_tickets(node, 3)
    sync_all(node)
    with pytest.raises(StoreError, match="still holds events"):
        recover(node, effective_broker(node, None))  # type: ignore[arg-type]
    assert len(numbers(node)) == 3


def test_recover_without_central_changes_nothing(tmp_path: Path) -> None:
    dead = Broker(tmp_path)  # not started: nothing listens on its port
    node = make_node(tmp_path / "node", dead.url)
    issue_tickets(node, 2)
    lose_store(node)
    with pytest.raises(RecoveryFailed, match="cannot reach central"):
        recover(node, effective_broker(node, None))  # type: ignore[arg-type]
    assert not node.data.database.exists()
    assert node.data.database.with_suffix(".witness").exists()
