"""What both central stores (SQLite: :class:`sync.central.CentralStore`, PostgreSQL:
:class:`sync.fleet.pgstore.PgCentralStore`) share: the interface the ingest, ``central
report``/``figures`` and the metrics use, and the queries that read the same on both.

The SQL here runs on SQLite and on PostgreSQL alike; it is written with ``?`` marks, which
become ``%s`` for psycopg. What differs (the schema, the ingest's transaction and locking)
lives in each store.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

from agent.model import Event
from agent.store import event_from_row
from sync import contract as ct

#: The columns :func:`node_from_row` reads, in its order.
NODE_COLUMNS = (
    "node_id, hall_id, state, last_seen, acked_seq, clock_offset_s, reported_last_seq, "
    "backlog_alarm, status_at, agent_version, devices, profiles"
)
RESULT_COLUMNS = "node_id, at, topic, kind, version, accepted, code, reason"


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

    def close(self) -> None:
        self.conn.close()

    def ingest(self, batch: ct.EventBatch, received_at: dt.datetime) -> tuple[int, int, float]:
        """Store a batch idempotently; returns ``(acked_seq, newly_inserted, clock_offset_s)``."""
        raise NotImplementedError

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
            "backlog_alarm, status_at, agent_version, devices, profiles) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT(node_id) DO UPDATE SET state = excluded.state, last_seen = {seen}, "
            "reported_last_seq = COALESCE(excluded.reported_last_seq, nodes.reported_last_seq), "
            "backlog_alarm = COALESCE(excluded.backlog_alarm, nodes.backlog_alarm), "
            "status_at = COALESCE(excluded.status_at, nodes.status_at), "
            "agent_version = COALESCE(excluded.agent_version, nodes.agent_version), "
            "devices = COALESCE(excluded.devices, nodes.devices), "
            "profiles = COALESCE(excluded.profiles, nodes.profiles)",
            status_values(hall_id, status, received_at, retained),
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
            f"SELECT node_id, seq, type, {self.day_column}, at, wall_time, payload FROM events "
            "WHERE hall_id = ? AND business_date BETWEEN ? AND ? ORDER BY node_id, seq",
            (hall_id, first_day, last_day),
        )
        for row in rows:
            yield event_from_row(row)

    def acked_seq(self, node_id: str) -> int:
        row = self._execute("SELECT acked_seq FROM nodes WHERE node_id = ?", (node_id,)).fetchone()
        return int(row[0]) if row else 0

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
        return {"nodes": nodes, "event_types": types, "inbound_refused": refused}


def node_from_row(row: Sequence[Any]) -> dict[str, Any]:
    node_id, hall_id, state, seen, acked, offset, reported, alarm, status_at = row[:9]
    agent_version, devices, profiles = row[9:12]
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
