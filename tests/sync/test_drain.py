"""Invariant 3 against a real Mosquitto: every event reaches central exactly once, in order."""

from __future__ import annotations

import dataclasses
import signal
import sqlite3
from pathlib import Path

import pytest

from agent import commands as c
from agent.store import Store
from sync import contract as ct
from sync.central import CentralIngest, CentralStore
from sync.mqtt import new_client, parse_broker_url
from sync.outbox import OutboxReader
from sync.service import SyncSettings, start_sync
from tests.sync.conftest import (
    Broker,
    assert_exactly_once,
    central_rows,
    issue_tickets,
    make_node,
    node_key,
    spawn_cli,
    wait_line,
    wait_until,
)

pytestmark = pytest.mark.mqtt

SMALL = ("--batch-events", "10", "--window", "1")  # many round trips: the kill lands mid-drain
FAST = SyncSettings(batch_max_events=50, ack_timeout_s=2.0, backoff_min_s=0.1, backoff_max_s=0.5)


def test_offline_node_catches_up_exactly_once_in_order(
    broker: Broker, ingest: CentralIngest, tmp_path: Path
) -> None:
    """GIVEN a node that issued tickets with no broker reachable
    WHEN the broker becomes reachable
    THEN central holds every event once, in seq order, and the watermark is stored."""
    dead_port = Broker(tmp_path).port  # nothing listens there
    node = make_node(tmp_path / "node", f"mqtt://127.0.0.1:{dead_port}")
    runtime = node.runtime().start()
    try:
        handle = start_sync(node, runtime, settings=FAST)
        assert handle is not None
        for i in range(120):
            runtime.execute(c.IssueTicket(node.hall.services[i % 4].code))
        assert wait_until(lambda: handle.status()["backlog"] == 120, 20)  # the sync saw them
        status = handle.status()
        assert status["connection"] in ("disconnected", "connecting")
        assert status["acked_seq"] == 0
        handle.stop()

        handle = start_sync(node, runtime, broker.url, settings=FAST)
        assert handle is not None
        assert handle.wait_synced(30)
        assert handle.status()["backlog"] == 0
        handle.stop()
    finally:
        runtime.stop()
    assert_exactly_once(tmp_path / "central.db", node)
    assert (
        OutboxReader(node.data.database, "h", node.node.node_id, key=node_key(node)).watermark()
        == 120
    )


def test_broker_killed_and_restarted_mid_drain(
    broker: Broker, ingest: CentralIngest, tmp_path: Path
) -> None:
    """GIVEN a backlog draining through the broker WHEN the broker is SIGKILLed mid-drain and
    started again THEN the node resends from its watermark and central has each seq once."""
    node = make_node(tmp_path / "node", broker.url)
    issue_tickets(node, 600)
    runtime = node.runtime().start()
    # One event per batch: 600 round trips and central commits, so the kill lands mid-drain
    # (with 50 per batch the whole backlog can drain between two looks at the status).
    handle = start_sync(node, runtime, settings=dataclasses.replace(FAST, batch_max_events=1))
    assert handle is not None
    try:
        assert wait_until(lambda: handle.status()["acked_seq"] >= 50, 30)
        broker.kill()
        acked_at_kill = handle.status()["acked_seq"]
        assert acked_at_kill < 600, "drained before the kill: the test would prove nothing"
        assert wait_until(lambda: handle.status()["connection"] == "disconnected", 10)
        for _ in range(20):  # the hall keeps working while the broker is down
            runtime.execute(c.IssueTicket("social-security"))
        broker.start()
        assert handle.wait_synced(60)
    finally:
        handle.stop()
        runtime.stop()
    assert_exactly_once(tmp_path / "central.db", node)


def test_agent_sigkilled_mid_drain_and_restarted(
    broker: Broker, ingest: CentralIngest, tmp_path: Path
) -> None:
    """GIVEN ``hall-agent sync run`` draining a backlog WHEN it is killed with SIGKILL and
    started again THEN it resumes from the stored watermark and central has each seq once."""
    node = make_node(tmp_path / "node", broker.url)
    issue_tickets(node, 1500)
    data_dir = str(node.data.root)
    try:
        agent = spawn_cli("--data-dir", data_dir, "sync", "run", *SMALL)
        wait_line(agent, "hub running")
        db = tmp_path / "central.db"
        assert wait_until(lambda: len(central_rows(db, node.node.node_id)) >= 100, 30)
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        partial = len(central_rows(db, node.node.node_id))
        assert partial < 1500, "drained before the kill: the test would prove nothing"
        issue_tickets(node, 30)  # ``hall-agent queue issue`` while the sync is down

        agent = spawn_cli("--data-dir", data_dir, "sync", "run", *SMALL)
        wait_line(agent, "hub running")
        assert wait_until(lambda: len(central_rows(db, node.node.node_id)) == 1530, 60)
        assert wait_until(lambda: CentralStore(db).acked_seq(node.node.node_id) == 1530, 10)
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(20) == 0
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait(10)
    assert_exactly_once(tmp_path / "central.db", node)
    reader = OutboxReader(node.data.database, "h", node.node.node_id, key=node_key(node))
    assert reader.watermark() == 1530


def test_same_batch_delivered_twice_is_stored_once(
    broker: Broker, ingest: CentralIngest, tmp_path: Path
) -> None:
    """GIVEN a batch published twice (a resend after a lost ack) plus an overlapping batch
    THEN central stores each seq once and acks the highest contiguous seq."""
    node = make_node(tmp_path / "node")
    issue_tickets(node, 30)
    reader = OutboxReader(
        node.data.database, node.hall.hall_id, node.node.node_id, 20, key=node_key(node)
    )
    first = reader.batch_after(0, "2026-01-01T00:00:00+00:00")
    overlap = reader.batch_after(10, "2026-01-01T00:00:01+00:00")
    assert first is not None and overlap is not None
    assert (first.first, first.last, overlap.first, overlap.last) == (1, 20, 11, 30)
    topic = ct.events_topic(node.hall.hall_id, node.node.node_id)
    acks: list[int] = []
    client = new_client("dup-test", parse_broker_url(broker.url))
    client.on_message = lambda cl, ud, msg: acks.append(
        ct.Ack.model_validate_json(msg.payload).acked_seq
    )
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        client.subscribe(ct.ack_topic(node.hall.hall_id, node.node.node_id), qos=1)
        for payload in (first.payload, first.payload, overlap.payload, first.payload):
            client.publish(topic, payload, qos=1).wait_for_publish(5)
        assert wait_until(lambda: len(acks) >= 4, 10)
    finally:
        client.loop_stop()
        client.disconnect()
    assert acks[-1] == 30 and acks[:2] == [20, 20]
    assert ingest.stats().duplicates == 20 + 10 + 20
    assert_exactly_once(tmp_path / "central.db", node)


def test_two_ingest_processes_share_the_subscription(broker: Broker, tmp_path: Path) -> None:
    """GIVEN two ``hall-agent central`` processes in one shared subscription group and two
    nodes draining THEN both processes take batches and central has each seq of each node once."""
    db = tmp_path / "central.db"
    CentralStore(db).close()
    procs = [
        spawn_cli("central", "--broker", broker.url, "--db", str(db), "--client-prefix", f"w{i}")
        for i in range(2)
    ]
    nodes = [make_node(tmp_path / f"node{i}", broker.url) for i in range(2)]
    for node in nodes:
        issue_tickets(node, 400)
    runtimes = []
    handles = []
    try:
        for proc in procs:
            wait_line(proc, "central ingest ready")
        for node in nodes:
            runtime = node.runtime().start()
            runtimes.append(runtime)
            handle = start_sync(node, runtime, settings=SyncSettings(batch_max_events=10))
            assert handle is not None
            handles.append(handle)
        for handle in handles:
            assert handle.wait_synced(60)
    finally:
        for handle in handles:
            handle.stop()
        for runtime in runtimes:
            runtime.stop()
        outputs = []
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=20)
            outputs.append(out)
    for node in nodes:
        assert_exactly_once(db, node)
    stored = [_stored_count(out) for out in outputs]
    assert sum(stored) == 800 and all(n > 0 for n in stored), outputs


def _stored_count(output: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith("central ingest stopped"))
    return int(line.split(" batches, ")[1].split(" events stored")[0])


def test_ack_beyond_the_log_is_ignored(broker: Broker, tmp_path: Path) -> None:
    """GIVEN a retained ack from another life of this node id (acked beyond the local log)
    THEN the node does not move its watermark past what it has, and alarms a lost tail."""
    node = make_node(tmp_path / "node", broker.url)
    issue_tickets(node, 5)
    client = new_client("fake-central", parse_broker_url(broker.url))
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    ack = ct.Ack(schema_version=1, node_id=node.node.node_id, acked_seq=99, central_time="x")
    client.publish(
        ct.ack_topic(node.hall.hall_id, node.node.node_id), ack.model_dump_json(), 1, True
    ).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()
    runtime = node.runtime().start()
    handle = start_sync(node, runtime, settings=FAST)
    assert handle is not None
    try:
        # The retained ack arrives after the subscription: wait until it was seen and ignored
        # (not merely "some time passed"), then check it moved nothing.
        assert wait_until(lambda: handle.status()["acks_ignored"] == 1, 20)
        assert handle.status()["acked_seq"] == 0
        assert handle.status()["persisted_seq"] == 0
        assert handle.status()["tail_lost"] is True
        assert handle.status()["central_acked_beyond_log"] == 99
    finally:
        handle.stop()
        runtime.stop()


def test_a_failed_watermark_write_is_retried_and_the_sync_goes_on(
    broker: Broker, ingest: CentralIngest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN the database fails once while the watermark is stored (locked, disk full)
    THEN the sync thread logs it, stores the watermark on a later round and keeps sending."""
    failures: list[int] = []

    def advance_failing_once(store: Store, seq: int) -> int:
        if not failures:
            failures.append(seq)
            raise sqlite3.OperationalError("database is locked")
        return advance(store, seq)

    advance = Store.advance_watermark
    monkeypatch.setattr(Store, "advance_watermark", advance_failing_once)
    node = make_node(tmp_path / "node", broker.url)
    issue_tickets(node, 30)
    runtime = node.runtime().start()
    handle = start_sync(node, runtime, settings=FAST)
    assert handle is not None
    try:
        assert handle.wait_synced(30)
        assert failures  # the failure did happen
        runtime.execute(c.IssueTicket("social-security"))  # and the thread still runs
        assert handle.wait_synced(30)
    finally:
        handle.stop()
        runtime.stop()
    assert_exactly_once(tmp_path / "central.db", node)
    assert (
        OutboxReader(node.data.database, "h", node.node.node_id, key=node_key(node)).watermark()
        == 31
    )
