"""What both central stores (SQLite: :class:`sync.central.CentralStore`, PostgreSQL:
:class:`sync.fleet.pgstore.PgCentralStore`) share: the interface the ingest, ``central
report``/``figures`` and the metrics use, and the queries that read the same on both.

The SQL here runs on SQLite and on PostgreSQL alike; it is written with ``?`` marks, which
become ``%s`` for psycopg. What differs (the schema, the ingest's transaction and locking)
lives in each store.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent import chain as ch
from agent.errors import StoreDamaged
from agent.model import Event
from agent.store import event_from_row
from sync import contract as ct

log = logging.getLogger(__name__)

#: The columns :func:`node_from_row` reads, in its order.
NODE_COLUMNS = (
    "node_id, hall_id, state, last_seen, acked_seq, clock_offset_s, reported_last_seq, "
    "backlog_alarm, status_at, agent_version, devices, profiles, disk_free_mb, disk_alarm, "
    "break_seq, break_reason"
)
RESULT_COLUMNS = "node_id, at, topic, kind, version, accepted, code, reason"
#: A stored event as the chain checks and a node's recovery read it (:data:`agent.chain.ChainRow`).
CHAIN_COLUMNS = "seq, type, {day}, at, wall_time, payload, chain"


class BatchRefused(ValueError):
    """A batch central does not store: its signature or key does not hold."""


class CentralBackend:
    """A connection to a central store. Subclasses open ``conn`` (a DB-API connection whose
    ``execute`` returns a cursor), create the schema and implement :meth:`ingest`."""

    conn: Any
    placeholder = "?"
    result_order = "rowid"  # insertion order of results, for ties on ``at``
    day_column = "business_date"  # as ISO text

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self.placeholder != "?":
            sql = sql.replace("?", self.placeholder)
        return self.conn.execute(sql, params)

    def sql(self, statement: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement written with ``?`` marks (committed on its own): for central
        modules that keep tables of their own in the same store (``sync.fleet.rollout``)."""
        return self._execute(statement, params)

    def create_tables(self, statements: Sequence[str]) -> None:
        """``CREATE TABLE IF NOT EXISTS`` statements of a central module's own tables; safe
        when several central processes start together (see the PostgreSQL store)."""
        for statement in statements:
            self._execute(statement)

    def close(self) -> None:
        self.conn.close()

    @property
    def _chain_columns(self) -> str:
        return CHAIN_COLUMNS.format(day=self.day_column)

    def ingest(self, batch: ct.EventBatch, received_at: dt.datetime) -> tuple[int, int, float]:
        """Store a batch idempotently; returns ``(acked_seq, newly_inserted, clock_offset_s)``."""
        raise NotImplementedError

    def ingest_many(
        self, batches: Sequence[ct.EventBatch], received_at: dt.datetime
    ) -> list[tuple[int, int, float] | BatchRefused]:
        """Store several batches, each as :meth:`ingest` does; per batch its result or its
        refusal, in the order given. Here one after the other; a store that can share one
        commit between them (PostgreSQL) does so."""
        results: list[tuple[int, int, float] | BatchRefused] = []
        for batch in batches:
            try:
                results.append(self.ingest(batch, received_at))
            except BatchRefused as exc:
                results.append(exc)
        return results

    def record_status(
        self,
        hall_id: str,
        status: ct.NodeStatus,
        received_at: dt.datetime,
        retained: bool = False,
    ) -> None:
        """Note a node's status. A ``retained`` copy (delivered on subscribing, e.g. after
        central restarted) tells the state, not that the node was seen now."""
        seen = "COALESCE(nodes.last_seen, excluded.last_seen)" if retained else "excluded.last_seen"
        self._execute(
            "INSERT INTO nodes (node_id, hall_id, last_seen, state, reported_last_seq, "
            "backlog_alarm, status_at, agent_version, devices, profiles, disk_free_mb, "
            "disk_alarm) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT(node_id) DO UPDATE SET state = excluded.state, last_seen = {seen}, "
            "reported_last_seq = COALESCE(excluded.reported_last_seq, nodes.reported_last_seq), "
            "backlog_alarm = COALESCE(excluded.backlog_alarm, nodes.backlog_alarm), "
            "status_at = COALESCE(excluded.status_at, nodes.status_at), "
            "agent_version = COALESCE(excluded.agent_version, nodes.agent_version), "
            "devices = COALESCE(excluded.devices, nodes.devices), "
            "profiles = COALESCE(excluded.profiles, nodes.profiles), "
            "disk_free_mb = COALESCE(excluded.disk_free_mb, nodes.disk_free_mb), "
            "disk_alarm = COALESCE(excluded.disk_alarm, nodes.disk_alarm)",
            status_values(hall_id, status, received_at, retained),
        )

    def record_refusal(self, node_id: str, hall_id: str, seq: int, reason: str) -> None:
        """A batch refused for its key or signature shows as the node's chain break."""
        self._execute(
            "INSERT INTO nodes (node_id, hall_id, break_seq, break_reason) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(node_id) DO UPDATE SET break_seq = excluded.break_seq, "
            "break_reason = excluded.break_reason "
            "WHERE nodes.break_seq IS NULL OR nodes.break_seq > ?",
            (node_id, hall_id, seq, reason, seq),
        )

    def record_result(self, result: ct.InboundResult) -> None:
        self._execute(
            f"INSERT INTO results ({RESULT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                result.node_id,
                result.at,
                result.topic,
                result.kind,
                result.version,
                int(result.accepted),
                result.code,
                result.reason,
            ),
        )

    def hall_events(self, hall_id: str, first_day: str, last_day: str) -> Iterator[Event]:
        """Every node's events of a hall for business days ``first_day``..``last_day``, each
        node's in seq order: what ``hall-agent central figures`` reports on."""
        rows = self._execute(
            f"SELECT node_id, {self._chain_columns} FROM events "
            "WHERE hall_id = ? AND business_date BETWEEN ? AND ? ORDER BY node_id, seq",
            (hall_id, first_day, last_day),
        )
        for row in rows:
            yield event_from_row(row)

    def event_at(self, node_id: str, seq: int) -> Event | None:
        """One stored event (reports look up the event after a run: a day correction?)."""
        row = self._execute(
            f"SELECT node_id, {self._chain_columns} FROM events WHERE node_id = ? AND seq = ?",
            (node_id, seq),
        ).fetchone()
        return None if row is None else event_from_row(row)

    def events_after(self, node_id: str, seq: int, limit: int) -> list[tuple[Any, ...]]:
        """A node's stored events after ``seq`` (for its recovery), as sent."""
        return list(
            self._execute(
                f"SELECT {self._chain_columns} FROM events "
                "WHERE node_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (node_id, seq, limit),
            ).fetchall()
        )

    def public_key(self, node_id: str) -> str | None:
        row = self._execute("SELECT public_key FROM nodes WHERE node_id = ?", (node_id,)).fetchone()
        return row[0] if row else None

    def acked_seq(self, node_id: str) -> int:
        row = self._execute("SELECT acked_seq FROM nodes WHERE node_id = ?", (node_id,)).fetchone()
        return int(row[0]) if row else 0

    # ---- the chain checks of the ingest (inside its transaction) ---------------------------
    def _forks(self, batch: ct.EventBatch) -> list[tuple[int, str]]:
        """Events central already holds under the same seq with another chain link."""
        stored = dict(
            self._execute(
                "SELECT seq, chain FROM events WHERE node_id = ? AND seq BETWEEN ? AND ?",
                (batch.node_id, batch.first, batch.last),
            ).fetchall()
        )
        forked = [e.seq for e in batch.events if e.seq in stored and stored[e.seq] != e.chain]
        why = "sent again with another chain link: a second log under this node id"
        return [(seq, f"seq {seq} {why}") for seq in forked]

    def _chain_breaks(
        self, batch: ct.EventBatch, after: int, last: int, inserted: int
    ) -> list[tuple[int, str]]:
        """Verify the node's events ``after+1..last`` (newly acknowledged) against the chain
        link of ``after``. When they are exactly this batch, all newly stored, the batch is
        what the store holds and is checked as it is; otherwise the stored rows are read."""
        if last <= after:
            return []
        prev = ""
        if after:
            row = self._execute(
                "SELECT chain FROM events WHERE node_id = ? AND seq = ?", (batch.node_id, after)
            ).fetchone()
            prev = row[0] if row else ""
        rows: Sequence[ch.ChainRow]
        if batch.first == after + 1 and batch.last == last and inserted == len(batch.events):
            rows = [
                (e.seq, e.type, e.business_date, e.at, e.wall_time, e.payload, e.chain)
                for e in batch.events
            ]
        else:
            rows = self._execute(
                f"SELECT {self._chain_columns} FROM events "
                "WHERE node_id = ? AND seq > ? AND seq <= ? ORDER BY seq",
                (batch.node_id, after, last),
            ).fetchall()
        try:
            ch.verify(batch.node_id, prev, after, rows)
        except StoreDamaged as exc:
            return [(int(exc.details["seq"]), str(exc))]
        return []

    def _record_breaks(self, node_id: str, breaks: list[tuple[int, str]]) -> None:
        """Keep the earliest chain break found for the node."""
        if not breaks:
            return
        seq, reason = min(breaks)
        log.error("chain break of node %s at seq %d: %s", node_id, seq, reason)
        self._execute(
            "UPDATE nodes SET break_seq = ?, break_reason = ? WHERE node_id = ? "
            "AND (break_seq IS NULL OR break_seq > ?)",
            (seq, reason, node_id, seq),
        )

    def fleet_nodes(self) -> list[dict[str, Any]]:
        """Every node central knows, from its latest status and batch (no event counts:
        cheap enough for every metrics scrape)."""
        rows = self._execute(f"SELECT {NODE_COLUMNS} FROM nodes ORDER BY hall_id, node_id")
        return [node_from_row(row) for row in rows]

    def results(self, refused: bool, limit: int = 100) -> list[dict[str, Any]]:
        """The latest results nodes reported (refused or applied), newest first."""
        rows = self._execute(
            f"SELECT {RESULT_COLUMNS} FROM results WHERE accepted = ? "
            f"ORDER BY at DESC, {self.result_order} DESC LIMIT ?",
            (int(not refused), limit),
        )
        return [result_from_row(row) for row in rows]

    def result_counts(self) -> dict[tuple[bool, str], int]:
        """How many results nodes reported, by (accepted, code)."""
        rows = self._execute("SELECT accepted, code, COUNT(*) FROM results GROUP BY accepted, code")
        return {(bool(accepted), code): count for accepted, code, count in rows}

    def report(self) -> dict[str, Any]:
        """The nodes with their event counts, events by type, refusals counted."""
        nodes = self.fleet_nodes()
        counts = {
            node_id: (count, top)
            for node_id, count, top in self._execute(
                "SELECT node_id, COUNT(*), MAX(seq) FROM events GROUP BY node_id"
            )
        }
        for node in nodes:
            node["events"], node["max_seq"] = counts.get(node["node_id"], (0, 0))
        types: dict[str, int] = dict(
            self._execute(
                "SELECT type, COUNT(*) FROM events GROUP BY type ORDER BY COUNT(*) DESC, type"
            ).fetchall()
        )
        refused = sum(n for (accepted, _), n in self.result_counts().items() if not accepted)
        return {
            "nodes": nodes,
            "event_types": types,
            "inbound_refused": refused,
            "chain_breaks": sum(1 for n in nodes if n["chain"] != "verified"),
        }


def check_key(batch: ct.EventBatch, pinned: str | None) -> None:
    """Refuse a batch signed with another key than the node's (``pinned``, when known)."""
    if pinned is not None and batch.public_key != pinned:
        raise BatchRefused(
            f"node {batch.node_id} signs with another key than the one central learnt from "
            "its first events"
        )


def check_signature(batch: ct.EventBatch, pinned: str | None) -> None:
    """Refuse a batch whose head signature does not hold under the node's key (the one
    central learnt from its first batch, when it has one)."""
    check_key(batch, pinned)
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(batch.public_key, validate=True))
        signature = base64.b64decode(batch.head_signature, validate=True)
        key.verify(signature, ch.head_statement(batch.node_id, batch.last, batch.events[-1].chain))
    except (binascii.Error, ValueError, InvalidSignature) as exc:
        raise BatchRefused(
            f"the head signature of node {batch.node_id} at seq {batch.last} does not hold"
        ) from exc


def node_from_row(row: Sequence[Any]) -> dict[str, Any]:
    node_id, hall_id, state, seen, acked, offset, reported, alarm, status_at = row[:9]
    agent_version, devices, profiles, disk_free_mb, disk_alarm, break_seq, break_reason = row[9:16]
    return {
        "node_id": node_id,
        "hall_id": hall_id,
        "state": state,
        "last_seen": seen,
        "acked_seq": acked,
        "backlog": None if reported is None else max(0, reported - acked),
        "backlog_alarm": None if alarm is None else bool(alarm),
        "clock_offset_s": offset,
        "status_at": status_at,
        "agent_version": agent_version,
        "devices": json.loads(devices) if devices else {},
        "profiles": json.loads(profiles) if profiles else {},
        "disk_free_mb": disk_free_mb,
        "disk_alarm": None if disk_alarm is None else bool(disk_alarm),
        "chain": (
            "verified" if break_seq is None else {"break_seq": break_seq, "reason": break_reason}
        ),
    }


def result_from_row(row: Sequence[Any]) -> dict[str, Any]:
    node_id, at, topic, kind, version, accepted, code, reason = row
    return {
        "node_id": node_id,
        "at": at,
        "topic": topic,
        "kind": kind,
        "version": version,
        "accepted": bool(accepted),
        "code": code,
        "reason": reason,
    }


def status_values(
    hall_id: str, status: ct.NodeStatus, received_at: dt.datetime, retained: bool
) -> tuple[Any, ...]:
    """The ``nodes`` columns a status sets, in :meth:`CentralBackend.record_status`'s order."""
    seen = status.at if retained else received_at.isoformat(timespec="microseconds")
    devices = None
    if status.devices is not None:
        devices = json.dumps(
            {name: d.model_dump() for name, d in status.devices.items()}, ensure_ascii=False
        )
    return (
        status.node_id,
        hall_id,
        seen,
        status.state,
        status.last_seq,
        None if status.backlog_alarm is None else int(status.backlog_alarm),
        status.at,
        status.agent_version,
        devices,
        None if status.profiles is None else json.dumps(status.profiles),
        status.disk_free_mb,
        None if status.disk_alarm is None else int(status.disk_alarm),
    )


def offset_seconds(received_at: dt.datetime, sent_at: str) -> float:
    """Central's clock at receipt minus the node's ``sent_at`` (0 when unreadable)."""
    try:
        sent = dt.datetime.fromisoformat(sent_at)
    except ValueError:
        return 0.0
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=dt.UTC)
    return round((received_at - sent).total_seconds(), 3)
