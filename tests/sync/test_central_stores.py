"""The central store on SQLite and on PostgreSQL keep the same contract: idempotent on
``(node, seq)``, the ack is the highest contiguous seq, the payload text kept exactly as
sent, every node's hash chain and signed head checked (a changed event, a fork, another
key), a node's events read back for its recovery, status and results as the fleet view
reads them. PostgreSQL runs for real (a server of the test's own) and is partitioned by
month."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import chain as ch
from agent import nodekey
from agent.cli import main
from sync import contract as ct
from sync.central import BatchRefused, CentralBackend, CentralIngest, open_central_store
from sync.fleet.pgstore import PgCentralStore
from sync.mqtt import parse_broker_url
from sync.recovery import recover
from sync.service import SyncSettings, effective_broker, start_sync
from tests.support import PostgresServer, chained_events, signed_batch
from tests.sync.conftest import (
    Broker,
    issue_tickets,
    make_node,
    node_events,
    spawn_cli,
    sync_all,
    wait_line,
    wait_until,
)

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    database = (
        tmp_path / "central.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    )
    s = open_central_store(database)
    try:
        yield s
    finally:
        s.close()


KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
WALL = NOW.isoformat()


def chained_log(node: str = "n1", n: int = 6, text: str = "社保") -> list[ct.WireEvent]:
    """``n`` events of a node's log with their chain links, as its store holds them (the
    payload text with a space a re-encoding would drop). Seq 5 falls in December."""
    days = {seq: "2026-12-01" if seq == 5 else "2026-11-28" for seq in range(1, n + 1)}
    return chained_events(
        node,
        (
            ("TicketIssued", day, f"{day}T09:00:00+08:00", WALL,
             f'{{"n": {seq}, "text": {json.dumps(text, ensure_ascii=False)}}}')
            for seq, day in days.items()
        ),
    )  # fmt: skip


LOG = chained_log()


def _batch(
    first: int,
    last: int,
    log: list[ct.WireEvent] = LOG,
    node: str = "n1",
    key: Ed25519PrivateKey = KEY,
) -> ct.EventBatch:
    """Events ``first..last`` of ``log``, signed by ``key`` as the node's sync would."""
    return signed_batch("h1", node, key, [e for e in log if first <= e.seq <= last], WALL)


def _chain(store: CentralBackend, node: str = "n1") -> Any:
    (entry,) = [n for n in store.report()["nodes"] if n["node_id"] == node]
    return entry["chain"]


def test_ingest_is_idempotent_and_acks_the_contiguous_prefix(store: CentralBackend) -> None:
    """GIVEN batches arriving out of order and twice
    THEN each (node, seq) is stored once and the ack never passes a gap."""
    assert store.ingest(_batch(3, 4), NOW)[:2] == (0, 2)  # a gap before 3: nothing acked
    assert store.ingest(_batch(1, 2), NOW)[:2] == (4, 2)  # the gap filled: 1..4
    assert store.ingest(_batch(1, 2), NOW)[:2] == (4, 0)  # again: nothing new
    assert store.ingest(_batch(6, 6), NOW)[:2] == (4, 1)
    assert store.ingest(_batch(5, 5), NOW)[:2] == (6, 1)  # its day is next month
    assert store.acked_seq("n1") == 6
    events = list(store.hall_events("h1", "2026-11-01", "2026-12-31"))
    assert [(e.seq, e.business_date, e.payload["text"]) for e in events] == [
        (1, "2026-11-28", "社保"),
        (2, "2026-11-28", "社保"),
        (3, "2026-11-28", "社保"),
        (4, "2026-11-28", "社保"),
        (5, "2026-12-01", "社保"),
        (6, "2026-11-28", "社保"),
    ]
    assert [e.seq for e in store.hall_events("h1", "2026-12-01", "2026-12-01")] == [5]
    report = store.report()
    assert [(n["node_id"], n["events"], n["max_seq"]) for n in report["nodes"]] == [("n1", 6, 6)]
    assert (report["nodes"][0]["chain"], report["chain_breaks"]) == ("verified", 0)
    if isinstance(store, PgCentralStore):
        assert store.partitions() == ["events_2026_11", "events_2026_12"]


def test_the_exact_payload_text_and_chain_come_back_for_a_recovery(store: CentralBackend) -> None:
    """GIVEN a node's log stored in two batches
    THEN its events after a seq come back byte for byte with their links (a node rebuilding
    its store checks them against its chain), a page at a time, with the key central learnt."""
    store.ingest(_batch(1, 3), NOW)
    store.ingest(_batch(4, 6), NOW)
    rows = store.events_after("n1", 2, limit=3)
    assert [tuple(r) for r in rows] == [
        (e.seq, e.type, e.business_date, e.at, e.wall_time, e.payload, e.chain) for e in LOG[2:5]
    ]
    assert ch.verify("n1", LOG[1].chain, 2, [tuple(r) for r in rows]) == (5, LOG[4].chain)
    assert store.public_key("n1") == nodekey.public_key_text(KEY)
    assert store.events_after("n1", 6, limit=10) == []


def test_a_changed_event_is_a_chain_break_named_by_its_seq(store: CentralBackend) -> None:
    """GIVEN a log whose event seq 4 was edited after it was chained (the link kept)
    THEN central stores and acknowledges it as evidence and reports the break at seq 4."""
    log = [*LOG]
    log[3] = log[3].model_copy(update={"payload": log[3].payload.replace('"n": 4', '"n": 40')})
    assert store.ingest(_batch(1, 3, log), NOW)[0] == 3
    assert _chain(store) == "verified"
    assert store.ingest(_batch(4, 6, log), NOW)[0] == 6
    chain = _chain(store)
    assert chain["break_seq"] == 4 and "seq 4 does not match" in chain["reason"]
    assert store.report()["chain_breaks"] == 1


def test_a_second_log_under_the_same_node_id_is_a_fork(store: CentralBackend) -> None:
    """GIVEN central holding seqs 1..6 of a node
    WHEN another log under the same node id and key sends its own seqs 1..3
    THEN nothing stored is overwritten and the fork is reported at seq 1."""
    store.ingest(_batch(1, 6), NOW)
    other = chained_log(text="另一个")
    assert store.ingest(_batch(1, 3, other), NOW)[:2] == (6, 0)
    assert [r[6] for r in store.events_after("n1", 0, 10)] == [e.chain for e in LOG]
    chain = _chain(store)
    assert chain["break_seq"] == 1 and "another chain link" in chain["reason"]


def test_a_batch_signed_with_another_key_is_refused_and_recorded(store: CentralBackend) -> None:
    """GIVEN a node whose key central learnt from its first batch
    WHEN a batch comes signed with another key, or with the known key and a bad signature
    THEN it is refused and changes nothing; the refusal shows as the node's chain break."""
    store.ingest(_batch(1, 3), NOW)
    stranger = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    with pytest.raises(BatchRefused, match="another key"):
        store.ingest(_batch(4, 6, key=stranger), NOW)
    forged = json.loads(_batch(4, 6).model_dump_json())
    forged["head_signature"] = nodekey.sign_head(KEY, "n1", 6, LOG[3].chain)  # not seq 6's
    with pytest.raises(BatchRefused, match="does not hold"):
        store.ingest(ct.EventBatch.model_validate(forged), NOW)
    assert store.acked_seq("n1") == 3
    assert [r[0] for r in store.events_after("n1", 0, 10)] == [1, 2, 3]
    assert _chain(store) == "verified"
    store.record_refusal("n1", "h1", 6, "the head signature of node n1 at seq 6 does not hold")
    store.record_refusal("n1", "h1", 9, "a later refusal does not hide the first")
    assert _chain(store) == {
        "break_seq": 6,
        "reason": "the head signature of node n1 at seq 6 does not hold",
    }
    unknown = ct.EventBatch.model_validate({**forged, "node_id": "n2"})
    with pytest.raises(BatchRefused, match="does not hold"):  # a first batch is checked too
        store.ingest(unknown, NOW)
    assert [n["node_id"] for n in store.report()["nodes"]] == ["n1"]


def test_batches_stored_together_keep_each_batch_apart(store: CentralBackend) -> None:
    """GIVEN one call with batches of two nodes (n2's before n1's, n1's in two parts) and,
    after n1's first batch, one signed with a stranger's key WHEN stored together (on
    PostgreSQL in one transaction) THEN each result is in the order given, the good batches
    are stored and acknowledged in full, and the refused one changes nothing."""
    stranger = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    log2 = chained_log("n2", 4)
    results = store.ingest_many(
        [
            _batch(1, 4, log2, node="n2"),
            _batch(1, 3),
            _batch(4, 6, key=stranger),
            _batch(4, 6),
        ],
        NOW,
    )
    assert [r if isinstance(r, BatchRefused) else r[:2] for r in results[:2]] == [(4, 4), (3, 3)]
    assert isinstance(results[2], BatchRefused)
    assert not isinstance(results[3], BatchRefused) and results[3][:2] == (6, 3)
    assert store.acked_seq("n1") == 6 and store.acked_seq("n2") == 4
    assert [n["node_id"] for n in store.report()["nodes"]] == ["n1", "n2"]
    assert _chain(store, "n1") == "verified" and _chain(store, "n2") == "verified"


def test_status_and_results_read_the_same_on_both(store: CentralBackend) -> None:
    """GIVEN a live status, then a retained copy delivered later (central restarted)
    THEN the retained copy sets the state but not 'last seen'."""
    live = ct.NodeStatus(
        schema_version=2,
        node_id="n1",
        state="online",
        at=NOW.isoformat(),
        last_seq=10,
        agent_version="0.1.0",
        devices={"kiosk-printer": ct.DeviceHealth(status="fault", reason="paper_out", since="x")},
        profiles={"escpos-80mm": 3},
        disk_free_mb=40,
        disk_alarm=True,
    )
    store.record_status("h1", live, NOW)
    offline = ct.NodeStatus(schema_version=1, node_id="n1", state="offline")
    store.record_status("h1", offline, NOW + dt.timedelta(days=2), retained=True)
    (node,) = store.fleet_nodes()
    assert node["state"] == "offline"
    assert node["last_seen"] == NOW.isoformat(timespec="microseconds")
    assert node["devices"]["kiosk-printer"]["reason"] == "paper_out"
    assert (node["profiles"], node["agent_version"], node["backlog"]) == (
        {"escpos-80mm": 3},
        "0.1.0",
        10,
    )
    assert (node["disk_free_mb"], node["disk_alarm"]) == (40, True)  # an offline status keeps it
    refused = ct.InboundResult(
        schema_version=1, node_id="n1", topic="hall/v1/h1/hall/notice/a", kind="notice",
        version=1, accepted=False, code="expired", reason="expired at …", at=NOW.isoformat(),
    )  # fmt: skip
    store.record_result(refused)
    store.record_result(refused.model_copy(update={"accepted": True, "code": "applied"}))
    assert [(r["code"], r["reason"]) for r in store.results(refused=True)] == [
        ("expired", "expired at …")
    ]
    assert store.result_counts() == {(False, "expired"): 1, (True, "applied"): 1}


@pytest.mark.mqtt
@pytest.mark.slow
def test_two_ingest_processes_share_the_work_into_postgresql(
    broker: Broker, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN two ``hall-agent central --db postgresql://…`` processes in one shared group
    WHEN a hub drains 600 events in batches of 20
    THEN both stored some batches, and PostgreSQL holds each event exactly once."""
    procs = [
        spawn_cli("central", "--broker", broker.url, "--db", pg_url, "--client-prefix", f"c{i}")
        for i in range(2)
    ]
    try:
        for proc in procs:
            assert "central ingest ready" in wait_line(proc, "central ingest ready")
        node = make_node(tmp_path / "node", broker.url)
        issue_tickets(node, 600)
        runtime = node.runtime().start()
        sync = start_sync(node, runtime, settings=SyncSettings(batch_max_events=20))
        assert sync is not None
        try:
            assert sync.wait_synced(60)
        finally:
            sync.stop()
            runtime.stop()
    finally:
        for proc in procs:
            proc.terminate()
    batches = []
    for proc in procs:
        out, _ = proc.communicate(timeout=20)
        batches.append(int(re.search(r"stopped: (\d+) batches", out).group(1)))  # type: ignore[union-attr]
    assert all(b > 0 for b in batches) and sum(batches) >= 30
    store = open_central_store(pg_url)
    try:
        got = [
            (e.seq, e.type, e.at)
            for e in store.hall_events(node.hall.hall_id, "2000-01-01", "2100-01-01")
        ]
        assert store.acked_seq(node.node.node_id) == 600
    finally:
        store.close()
    assert got == node_events(node)
    assert main(["central", "report", "--db", pg_url, "--json"]) == 0
    assert '"max_seq": 600' in capsys.readouterr().out


@pytest.mark.mqtt
@pytest.mark.slow
def test_ingest_survives_a_postgresql_restart(
    broker: Broker, postgres: PostgresServer, pg_url: str, tmp_path: Path
) -> None:
    """GIVEN an ingest writing to PostgreSQL and a hub that synced 50 events
    WHEN the server restarts (every connection cut) and the hub issues 50 more
    THEN the ingest opens a new connection and central holds all 100 exactly once."""
    ingest = CentralIngest(parse_broker_url(broker.url), pg_url, workers=1).start()
    assert ingest.wait_ready(10)
    node = make_node(tmp_path / "node", broker.url)
    issue_tickets(node, 50)
    runtime = node.runtime().start()
    sync = start_sync(node, runtime, settings=SyncSettings(ack_timeout_s=1.0))
    assert sync is not None
    try:
        assert sync.wait_synced(30)
        postgres.restart()
        issue_tickets(node, 50)
        store = open_central_store(pg_url)
        assert wait_until(lambda: store.acked_seq(node.node.node_id) == 100, 60)
    finally:
        sync.stop()
        runtime.stop()
        ingest.stop()
    try:
        events = store.hall_events(node.hall.hall_id, "2000-01-01", "2100-01-01")
        assert [(e.seq, e.type, e.at) for e in events] == node_events(node)
    finally:
        store.close()


@pytest.mark.mqtt
def test_a_node_rebuilds_its_lost_store_from_postgresql(
    broker: Broker, pg_url: str, tmp_path: Path
) -> None:
    """GIVEN a hub whose 12 events all reached a central on PostgreSQL
    WHEN its hall.db is lost THEN 'recover' rebuilds them byte for byte from PostgreSQL, and
    the events it adds after verify at central as the same chain."""
    ingest = CentralIngest(parse_broker_url(broker.url), pg_url, workers=1).start()
    try:
        assert ingest.wait_ready(10)
        node = make_node(tmp_path / "node", broker.url)
        issue_tickets(node, 12)
        sync_all(node)
        rows = "SELECT seq, type, business_date, at, wall_time, payload, chain FROM events"
        with closing(sqlite3.connect(node.data.database)) as db:
            original = db.execute(rows).fetchall()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{node.data.database}{suffix}").unlink(missing_ok=True)
        result = recover(node, effective_broker(node, None))  # type: ignore[arg-type]
        assert (result.restored_seq, result.tail_complete) == (12, True)
        with closing(sqlite3.connect(node.data.database)) as db:
            assert db.execute(rows + " WHERE seq <= 12").fetchall() == original
        issue_tickets(node, 2)
        sync_all(node)
    finally:
        ingest.stop()
    store = open_central_store(pg_url)
    try:
        assert [tuple(r) for r in store.events_after(node.node.node_id, 0, 12)] == original
        (entry,) = store.report()["nodes"]
        assert (entry["acked_seq"], entry["chain"]) == (len(node_events(node)), "verified")
    finally:
        store.close()


def test_a_version_1_sqlite_store_is_migrated_in_place(tmp_path: Path) -> None:
    """GIVEN a central.db of schema 1 with a node and its events
    THEN opening it runs both steps in order (2: the chain columns, 3: the fleet columns),
    keeps every row, and the report reads it."""
    import sqlite3

    from sync.central import _SCHEMA, CENTRAL_SCHEMA_VERSION, CentralStore

    path = tmp_path / "central.db"
    conn = sqlite3.connect(path)
    conn.executescript(_SCHEMA + ";\nPRAGMA user_version=1;")
    conn.execute(
        "INSERT INTO nodes (node_id, hall_id, acked_seq, state) VALUES ('n1', 'h1', 2, 'online')"
    )
    conn.commit()
    conn.close()
    store = CentralStore(path)
    try:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == CENTRAL_SCHEMA_VERSION
        (node,) = store.fleet_nodes()
        assert (node["node_id"], node["acked_seq"], node["devices"], node["profiles"]) == (
            "n1",
            2,
            {},
            {},
        )
        assert (node["chain"], store.public_key("n1")) == ("verified", None)
    finally:
        store.close()


def test_a_rating_link_is_verified_and_kept_once_on_either_store(store: CentralBackend) -> None:
    """GIVEN central knows node n1's key from its batches WHEN a citizen rates through a
    link n1 signed THEN it is kept once; one signed by another key, or for another hall, is
    refused and nothing is stored."""
    from agent import ticketlink
    from sync.fleet.link_ratings import LinkRatingRefused, link_ratings, submit_link_rating

    store.ingest(_batch(1, 2), NOW)
    base = "https://zwfw.example.gov.cn/hall/r"
    good = ticketlink.make(base, KEY, "h1", "n1", "2026-11-28", "A001", "r")
    kept = submit_link_rating(store, good, 2, ("attitude",), now=NOW)
    assert (kept["level"], kept["reasons"], kept["completes_seq"]) == (2, ["attitude"], None)
    other = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    forged = ticketlink.make(base, other, "h1", "n1", "2026-11-28", "A002", "r")
    elsewhere = ticketlink.make(base, KEY, "h2", "n1", "2026-11-28", "A002", "r")
    for text, code in ((good, "already_rated"), (forged, "bad_signature"),
                       (elsewhere, "unknown_node")):  # fmt: skip
        with pytest.raises(LinkRatingRefused) as refused:
            submit_link_rating(store, text, 5, now=NOW)
        assert refused.value.code == code
    stored = link_ratings(store, "h1", "2026-11-01", "2026-11-30")
    assert [(r["number"], r["level"], r["reasons"]) for r in stored] == [("A001", 2, ["attitude"])]


@pytest.mark.slow
def test_central_processes_starting_together_create_their_tables_once(pg_url: str) -> None:
    """GIVEN a fresh PostgreSQL central store WHEN several central processes open their
    rollout and command tables at the same moment THEN none fails (PostgreSQL's
    CREATE TABLE IF NOT EXISTS alone races: a duplicate pg_type key)."""
    import threading

    from sync.fleet.commands import CommandLedger
    from sync.fleet.rollout import Rollouts

    open_central_store(pg_url).close()
    errors: list[Exception] = []
    start = threading.Barrier(4)

    def open_tables() -> None:
        store = open_central_store(pg_url)
        try:
            start.wait(10)
            Rollouts(store)
            CommandLedger(store)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=open_tables) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []


def _results_kept(
    broker: Broker, db: Path, workers: int, sent: list[tuple[str, str, str]]
) -> list[str]:
    """Publish results ``(node_id, topic it is about, code)`` on node n1's result topic of
    hall h1, the last one a marker, into central ingesting with ``workers``; the codes
    central kept once every worker wrote what it received."""
    import paho.mqtt.client as mqtt

    def codes() -> list[str]:
        with closing(open_central_store(db)) as store:
            return sorted(r["code"] for r in store.results(refused=True))

    ingest = CentralIngest(parse_broker_url(broker.url), db, workers=workers).start()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    try:
        assert ingest.wait_ready(15)
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        for node, about, code in sent:
            result = ct.InboundResult(
                schema_version=1, node_id=node, topic=about, kind="command", version=1,
                accepted=False, code=code, reason=code, at=dt.datetime.now(dt.UTC).isoformat(),
            )  # fmt: skip
            info = client.publish(ct.result_topic("h1", "n1"), result.model_dump_json(), qos=1)
            info.wait_for_publish(10)
        assert wait_until(lambda: sent[-1][2] in codes(), 15)
    finally:
        client.loop_stop()
        client.disconnect()
        ingest.stop()  # each worker writes what it received before it stops
    return codes()


@pytest.mark.mqtt
def test_a_result_is_stored_once_by_several_ingest_workers(broker: Broker, tmp_path: Path) -> None:
    """GIVEN central ingesting with two workers WHEN a node reports one result THEN it is
    stored once (the result topic is a shared subscription, as the events are)."""
    about = "hall/v1/h1/node/n1/command"
    sent = [("n1", about, "expired"), ("n1", about, "marker")]
    assert _results_kept(broker, tmp_path / "central.db", 2, sent) == ["expired", "marker"]


@pytest.mark.mqtt
def test_a_node_cannot_report_results_for_another_node_or_hall(
    broker: Broker, tmp_path: Path
) -> None:
    """GIVEN a node's login WHEN it publishes results naming another node, or a message of
    another hall (a rollout's canary, say) THEN central keeps none of them; its own result,
    sent last as a marker, is kept."""
    sent = [
        ("someone-else", "hall/v1/h1/hall/profile/printer", "forged-node"),
        ("n1", "hall/v1/canary-hall/hall/profile/printer", "forged-hall"),
        ("n1", "hall/v1/h1/hall/profile/printer", "marker"),
    ]
    assert _results_kept(broker, tmp_path / "central.db", 1, sent) == ["marker"]


@pytest.mark.parametrize("day", ["2026-1x-01", "9999-01-01", "0001-01-01", "20260601", ""])
def test_an_event_of_a_malformed_or_far_off_day_is_refused_at_the_door(day: str) -> None:
    """A batch is parsed before anything is stored: a day central cannot file by month
    (it killed the PostgreSQL writer) or one far off (a partition per month) is refused."""
    (event,) = chained_events("n1", [("TicketIssued", "2026-06-01", "a", "w", "{}")])
    with pytest.raises(ValueError):
        ct.WireEvent.model_validate(event.model_dump() | {"business_date": day})
    assert ct.WireEvent.model_validate(event.model_dump()).business_date == "2026-06-01"
