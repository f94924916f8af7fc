"""The reference central ingest: the central platform's side of the ``hall/v1`` contract.

Several workers (threads of one process, or several processes) share the MQTT 5 shared
subscription ``$share/<group>/hall/v1/+/node/+/events``: the broker hands each batch to one
of them. A worker writes the batch to SQLite in one transaction, idempotently on
``(node_id, seq)``, computes the node's highest contiguous seq and publishes it (retained)
as the cumulative ack, and only then acknowledges the MQTT message to the broker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from agent.errors import StoreError
from agent.store import connect
from sync import contract as ct
from sync.fleet import link_ratings
from sync.fleet.backend import BatchRefused, CentralBackend, check_signature, offset_seconds
from sync.fleet.commands import record_reply
from sync.mqtt import BrokerAddress, new_client

log = logging.getLogger(__name__)

#: A store failing (locked, disk full, connection lost): the message is not acknowledged,
#: so the broker (or the node's resend) delivers it again.
STORE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, psycopg.Error, StoreError)
#: Messages a writer takes from its queue at once: the event batches among them are stored
#: in one transaction (on PostgreSQL: one commit, one flush, for all of them).
MAX_GROUP = 32

CENTRAL_SCHEMA_VERSION = 4
_SCHEMA = """
CREATE TABLE events (
    node_id TEXT NOT NULL, seq INTEGER NOT NULL, hall_id TEXT NOT NULL,
    type TEXT NOT NULL, business_date TEXT NOT NULL, at TEXT NOT NULL,
    wall_time TEXT NOT NULL, payload TEXT NOT NULL, received_at TEXT NOT NULL,
    PRIMARY KEY (node_id, seq)
) WITHOUT ROWID;
CREATE TABLE nodes (
    node_id TEXT PRIMARY KEY, hall_id TEXT NOT NULL,
    acked_seq INTEGER NOT NULL DEFAULT 0, last_seen TEXT,
    clock_offset_s REAL, state TEXT, reported_last_seq INTEGER,
    backlog_alarm INTEGER, status_at TEXT
);
CREATE TABLE results (
    node_id TEXT NOT NULL, at TEXT NOT NULL, topic TEXT NOT NULL,
    kind TEXT, version INTEGER, accepted INTEGER NOT NULL,
    code TEXT NOT NULL, reason TEXT NOT NULL
)
"""
#: Version 2: each event's chain link, stored with its exact payload text; each node's
#: public key (learnt from its first batch) and the first break found in its chain.
_SCHEMA_2 = """
ALTER TABLE events ADD COLUMN chain TEXT NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN public_key TEXT;
ALTER TABLE nodes ADD COLUMN break_seq INTEGER;
ALTER TABLE nodes ADD COLUMN break_reason TEXT
"""
#: Version 3: what nodes report for the fleet view (sync/fleet/): agent version, device
#: states and pushed profile versions (JSON objects), free space on the data disk and its
#: alarm, from the node's retained status.
_FLEET_HEALTH = """
ALTER TABLE nodes ADD COLUMN agent_version TEXT;
ALTER TABLE nodes ADD COLUMN devices TEXT;
ALTER TABLE nodes ADD COLUMN profiles TEXT;
ALTER TABLE nodes ADD COLUMN disk_free_mb INTEGER;
ALTER TABLE nodes ADD COLUMN disk_alarm INTEGER;
CREATE INDEX results_refused ON results (accepted, at)
"""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def is_postgres_url(database: Path | str) -> bool:
    return str(database).startswith(("postgresql://", "postgres://"))


def open_central_store(database: Path | str) -> CentralBackend:
    """A SQLite file (the default) or a ``postgresql://`` URL."""
    if is_postgres_url(database):
        from sync.fleet.pgstore import PgCentralStore

        return PgCentralStore(str(database))
    return CentralStore(database)


@contextlib.contextmanager
def central_store(database: Path | str) -> Iterator[CentralBackend]:
    """A store opened for one use (a metrics scrape) and closed after it."""
    store = open_central_store(database)
    try:
        yield store
    finally:
        store.close()


# ---- the store -----------------------------------------------------------------------------
class CentralStore(CentralBackend):
    """One connection to the central SQLite file; several processes may share the file."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.conn = connect(path)
        self._migrate()

    def _migrate(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            scripts = (_SCHEMA, _SCHEMA_2, _FLEET_HEALTH, link_ratings.TABLE)
            for number, script in enumerate(scripts, start=1):
                if version < number:
                    for statement in script.split(";"):
                        if statement.strip():
                            self.conn.execute(statement)
                    self.conn.execute(f"PRAGMA user_version={number}")
            if version > CENTRAL_SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"central store schema {version} is too new")
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def ingest(self, batch: ct.EventBatch, received_at: dt.datetime) -> tuple[int, int, float]:
        """Store a batch; returns ``(acked_seq, newly_inserted, clock_offset_s)``.

        The payload text is stored exactly as the node sent it. The batch's head signature
        must hold under the node's key (pinned from its first batch), else it is refused
        (:class:`BatchRefused`). A seq sent again with another chain link, or a link that
        does not follow from the one before, is recorded as the node's chain break (the
        events are kept as evidence and acknowledged: the node sending them again would
        change nothing).
        """
        received = received_at.isoformat(timespec="microseconds")
        offset = offset_seconds(received_at, batch.sent_at)
        rows = [
            (
                batch.node_id,
                e.seq,
                batch.hall_id,
                e.type,
                e.business_date,
                e.at,
                e.wall_time,
                e.payload,
                received,
                e.chain,
            )
            for e in batch.events
        ]
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "SELECT acked_seq, public_key FROM nodes WHERE node_id = ?", (batch.node_id,)
            ).fetchone()
            check_signature(batch, row[1] if row else None)
            before_acked = row[0] if row else 0
            breaks = self._forks(batch)
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO events (node_id, seq, hall_id, type, business_date, at, "
                "wall_time, payload, received_at, chain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            inserted = conn.total_changes - before
            acked = _contiguous_from(conn, batch.node_id, before_acked)
            breaks += self._chain_breaks(batch, before_acked, acked, inserted)
            conn.execute(
                "INSERT INTO nodes (node_id, hall_id, acked_seq, last_seen, clock_offset_s, "
                "public_key) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(node_id) DO UPDATE SET "
                "hall_id = excluded.hall_id, acked_seq = MAX(acked_seq, excluded.acked_seq), "
                "last_seen = excluded.last_seen, clock_offset_s = excluded.clock_offset_s, "
                "public_key = COALESCE(public_key, excluded.public_key)",
                (batch.node_id, batch.hall_id, acked, received, offset, batch.public_key),
            )
            self._record_breaks(batch.node_id, breaks)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return acked, inserted, offset


def _closed(store: CentralBackend | None) -> None:
    if store is not None:
        with contextlib.suppress(*STORE_ERRORS):
            store.close()


def _contiguous_from(conn: sqlite3.Connection, node_id: str, acked: int) -> int:
    """The highest seq such that every seq up to it is stored, starting from ``acked``."""
    if (
        conn.execute(
            "SELECT 1 FROM events WHERE node_id = ? AND seq = ?", (node_id, acked + 1)
        ).fetchone()
        is None
    ):
        return acked
    row = conn.execute(
        "SELECT MIN(e.seq) FROM events e WHERE e.node_id = ? AND e.seq > ? AND NOT EXISTS "
        "(SELECT 1 FROM events f WHERE f.node_id = e.node_id AND f.seq = e.seq + 1)",
        (node_id, acked),
    ).fetchone()
    return int(row[0])


def check_batch(batch: ct.EventBatch, hall_id: str, node_id: str) -> str | None:
    """Why a batch cannot be stored as it is, or None when it can."""
    if batch.hall_id != hall_id or batch.node_id != node_id:
        return f"batch for {batch.hall_id}/{batch.node_id} on the topic of {hall_id}/{node_id}"
    seqs = [e.seq for e in batch.events]
    if seqs != list(range(batch.first, batch.last + 1)):
        return f"events are not exactly seq {batch.first}..{batch.last} in order"
    for e in batch.events:
        if not _is_json_object(e.payload):
            return f"the payload of seq {e.seq} is not a JSON object"
    return None


def _is_json_object(text: str) -> bool:
    """orjson first (a fraction of the json module's time, for every event ingested); the
    json module for what orjson refuses but a node may send (integers beyond 64 bits)."""
    try:
        return isinstance(orjson.loads(text), dict)
    except orjson.JSONDecodeError:
        pass
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


# ---- a worker ------------------------------------------------------------------------------
@dataclasses.dataclass
class IngestStats:
    batches: int = 0
    inserted: int = 0
    duplicates: int = 0
    refused: int = 0


class IngestWorker:
    """One MQTT client in the shared subscription plus one writer thread."""

    def __init__(
        self,
        address: BrokerAddress,
        database: Path | str,
        client_id: str,
        group: str = ct.DEFAULT_SHARE_GROUP,
        username: str | None = None,
        password: str | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.address = address
        self.database = database
        self.client_id = client_id
        self.group = group
        self.clock = clock
        self.stats = IngestStats()
        self.ready = threading.Event()
        self._queue: queue.Queue[mqtt.MQTTMessage | None] = queue.Queue(maxsize=64)
        self._client = new_client(
            client_id, address, username=username, password=password, manual_ack=True
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(1, 10)
        self._writer: threading.Thread | None = None

    def start(self) -> IngestWorker:
        self._writer = threading.Thread(
            target=self._write_loop, name=f"ingest-{self.client_id}", daemon=True
        )
        self._writer.start()
        self._client.connect_async(self.address.host, self.address.port, keepalive=30)
        self._client.loop_start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._queue.put(None)
        if self._writer is not None:
            self._writer.join(timeout)
            self._writer = None

    # network thread: hand off only
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("ingest: broker refused the connection: %s", reason)
            return
        client.subscribe(
            [
                (ct.ingest_subscription(self.group), 1),
                (ct.recover_subscription(self.group), 1),
                (ct.STATUS_SUBSCRIPTION, 1),
                (ct.result_subscription(self.group), 1),
                (ct.reply_subscription(self.group), 1),
            ]
        )

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode], props: Any
    ) -> None:
        failed = [r for r in reasons if r.is_failure]
        if failed:
            log.error("ingest: subscription refused: %s", failed)
            return
        self.ready.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._queue.put(msg)  # blocks when the writer is behind: back-pressure on the broker

    # writer thread
    def _write_loop(self) -> None:
        store: CentralBackend | None = None
        try:
            while True:
                messages, stop = self._take()
                alone = 0  # messages left to be handled one by one (after a group failed)
                while messages:
                    # the event batches at the head share one transaction; any other message
                    # is handled alone
                    count = 1 if alone else (_leading_batches(messages) or 1)
                    alone = max(0, alone - 1)
                    head, messages = messages[:count], messages[count:]
                    try:
                        store = store or open_central_store(self.database)
                        if _is_batch(head[0]):
                            self._handle_batches(store, head)
                        else:
                            self._handle(store, head[0])
                    except STORE_ERRORS:
                        # not acknowledged: the broker (or the node's resend) delivers them
                        # again; the store is opened afresh for the next message (a
                        # PostgreSQL server restarted, a connection cut)
                        log.exception("ingest: cannot store a message from %s", head[0].topic)
                        _closed(store)
                        store = None
                        if count > 1:  # one bad batch must not hold back the others
                            messages, alone = head + messages, count
                        continue
                    for msg in head:
                        if msg.qos > 0:
                            self._client.ack(msg.mid, msg.qos)
                if stop:
                    return
        finally:
            _closed(store)

    def _take(self) -> tuple[list[mqtt.MQTTMessage], bool]:
        """The next message (waiting for it) and those already queued behind it, up to
        :data:`MAX_GROUP`; True when the worker is to stop after them."""
        taken: list[mqtt.MQTTMessage] = []
        msg = self._queue.get()
        while msg is not None:
            taken.append(msg)
            if len(taken) == MAX_GROUP:
                return taken, False
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                return taken, False
        return taken, True

    def _handle(self, store: CentralBackend, msg: mqtt.MQTTMessage) -> None:
        parsed = ct.parse_node_topic(msg.topic)
        if parsed is None:
            log.warning("ingest: unknown topic %r", msg.topic)
            return
        hall_id, node_id, leaf = parsed
        now = self.clock()
        if leaf == "events":
            self._handle_batches(store, [msg])
        elif leaf == "recover":
            self._handle_recover(store, msg, hall_id, node_id)
        elif leaf == "status":
            if not msg.payload or len(msg.payload) > ct.MAX_STATUS_BYTES:
                return  # an empty retained message clears the status: nothing to record
            try:
                status = ct.NodeStatus.model_validate_json(msg.payload)
            except ValidationError as exc:
                log.warning("ingest: bad status from %s: %s", node_id, exc.errors()[0]["msg"])
                return
            if status.node_id != node_id:
                log.warning("ingest: status of %s on the topic of %s", status.node_id, node_id)
                return
            store.record_status(hall_id, status, now, retained=bool(msg.retain))
        elif leaf == "result":
            try:
                result = ct.InboundResult.model_validate_json(msg.payload)
            except ValidationError as exc:
                log.warning("ingest: bad result from %s: %s", node_id, exc.errors()[0]["msg"])
                return
            # a node speaks for itself and of its own hall's messages only (rollouts and
            # command states are decided on results)
            if result.node_id != node_id or not result.topic.startswith(f"{ct.ROOT}/{hall_id}/"):
                log.warning("ingest: result of %s on the topic of %s", result.node_id, node_id)
                return
            store.record_result(result)
            if not result.accepted:
                log.warning(
                    "node %s refused %s: %s: %s", node_id, result.topic, result.code, result.reason
                )
        elif leaf == "reply":
            record_reply(store, bytes(msg.payload), node_id)

    def _handle_recover(
        self, store: CentralBackend, msg: mqtt.MQTTMessage, hall_id: str, node_id: str
    ) -> None:
        """Answer a node rebuilding its store with one page of its events. The answer goes
        to the node's own ``recovered`` topic (never to a response topic the request names)."""
        if len(msg.payload) > ct.MAX_ACK_BYTES:
            return
        try:
            request = ct.RecoverRequest.model_validate_json(msg.payload)
        except ValidationError as exc:
            log.warning("ingest: bad recover request from %s: %s", node_id, exc.errors()[0]["msg"])
            return
        if request.node_id != node_id:
            return
        rows = store.events_after(node_id, request.after_seq, request.max_events)
        events = [
            ct.WireEvent(
                seq=seq, type=type_, business_date=day, at=at, wall_time=wall, payload=payload,
                chain=chain,
            )
            for seq, type_, day, at, wall, payload, chain in rows
        ]  # fmt: skip
        page = ct.RecoverPage(
            schema_version=1,
            node_id=node_id,
            acked_seq=store.acked_seq(node_id),
            public_key=store.public_key(node_id),
            events=events,
        )
        properties = None
        correlation = getattr(msg.properties, "CorrelationData", None)
        if correlation is not None:
            properties = Properties(PacketTypes.PUBLISH)
            properties.CorrelationData = correlation
        self._client.publish(
            ct.recovered_topic(hall_id, node_id),
            page.model_dump_json(),
            qos=1,
            properties=properties,
        )
        log.info("recovery: sent %d events after seq %d to %s", len(events), request.after_seq,
                 node_id)  # fmt: skip

    def _handle_batches(self, store: CentralBackend, messages: list[mqtt.MQTTMessage]) -> None:
        """Store event batches, those that pass their checks in one go (one commit where
        the store allows it), then publish each node's ack: never before the commit."""
        now = self.clock()
        checked: list[tuple[str, str, ct.EventBatch]] = []
        for msg in messages:
            parsed = ct.parse_node_topic(msg.topic)
            assert parsed is not None  # (only event batches come here: _is_batch)
            hall_id, node_id, _ = parsed
            batch = self._checked_batch(msg, hall_id, node_id)
            if batch is not None:
                checked.append((hall_id, node_id, batch))
        if not checked:
            return
        results = store.ingest_many([batch for _, _, batch in checked], now)
        for (hall_id, node_id, batch), result in zip(checked, results, strict=True):
            if isinstance(result, BatchRefused):
                self.stats.refused += 1
                store.record_refusal(node_id, hall_id, batch.last, str(result))
                log.error("ingest: batch refused: %s", result)
                continue
            acked, inserted, offset = result
            self.stats.batches += 1
            self.stats.inserted += inserted
            self.stats.duplicates += len(batch.events) - inserted
            ack = ct.Ack(
                schema_version=1,
                node_id=node_id,
                acked_seq=acked,
                central_time=now.isoformat(),
                clock_offset_s=offset,
            )
            self._client.publish(
                ct.ack_topic(hall_id, node_id), ack.model_dump_json(), qos=1, retain=True
            )

    def _checked_batch(
        self, msg: mqtt.MQTTMessage, hall_id: str, node_id: str
    ) -> ct.EventBatch | None:
        """The batch a message carries, or None (counted and logged) when it is refused."""
        if len(msg.payload) > ct.MAX_BATCH_BYTES:
            self.stats.refused += 1
            log.warning("ingest: batch of %d bytes from %s refused", len(msg.payload), node_id)
            return None
        try:
            batch = ct.EventBatch.model_validate_json(msg.payload)
        except ValidationError as exc:
            self.stats.refused += 1
            log.warning("ingest: bad batch from %s: %s", node_id, exc.errors()[0]["msg"])
            return None
        problem = check_batch(batch, hall_id, node_id)
        if problem is not None:
            self.stats.refused += 1
            log.warning("ingest: batch refused: %s", problem)
            return None
        return batch


def _is_batch(msg: mqtt.MQTTMessage) -> bool:
    parsed = ct.parse_node_topic(msg.topic)
    return parsed is not None and parsed[2] == "events"


def _leading_batches(messages: list[mqtt.MQTTMessage]) -> int:
    """How many of the messages, from the first, are event batches."""
    count = 0
    while count < len(messages) and _is_batch(messages[count]):
        count += 1
    return count


class CentralIngest:
    """``workers`` ingest workers in this process, sharing one subscription group."""

    def __init__(
        self,
        address: BrokerAddress,
        database: Path | str,
        workers: int = 1,
        group: str = ct.DEFAULT_SHARE_GROUP,
        client_prefix: str = "central-ingest",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        open_central_store(database).close()  # create the schema once, before the workers race
        self.workers = [
            IngestWorker(
                address,
                database,
                f"{client_prefix}-{i}",
                group,
                username=username,
                password=password,
            )
            for i in range(workers)
        ]

    def start(self) -> CentralIngest:
        for worker in self.workers:
            worker.start()
        return self

    def wait_ready(self, timeout: float) -> bool:
        return all(worker.ready.wait(timeout) for worker in self.workers)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()

    def stats(self) -> IngestStats:
        total = IngestStats()
        for worker in self.workers:
            for f in dataclasses.fields(IngestStats):
                setattr(total, f.name, getattr(total, f.name) + getattr(worker.stats, f.name))
        return total
