"""Remote commands on the central side: signed per node, numbered, remembered, answered.

Every command goes to one node (``hall/v1/{hall}/node/{node}/command``) with a version
that is its id on that node: the time in milliseconds, or one more than the last command
sent to that node when that is larger, so versions grow per node even when two IT staff
send at once from two machines sharing the store. Each carries ``expires_at``. What
central sent, what nodes answered (:class:`~sync.contract.CommandReply`, on
``.../reply``) and what they refused (the node's ``InboundResult``) are kept in the
central store, in two tables of their own, made on first use on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from sync import contract as ct
from sync.fleet.backend import CentralBackend
from sync.fleet.push import Message
from sync.signing import make_body, sign_body

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS remote_commands ("
    " node_id TEXT NOT NULL, version BIGINT NOT NULL, hall_id TEXT NOT NULL,"
    " name TEXT NOT NULL, args TEXT NOT NULL, issued_at TEXT NOT NULL,"
    " expires_at TEXT NOT NULL, PRIMARY KEY (node_id, version))",
    "CREATE TABLE IF NOT EXISTS command_replies ("
    " node_id TEXT NOT NULL, version BIGINT NOT NULL, status TEXT NOT NULL,"
    " part INTEGER NOT NULL, parts INTEGER NOT NULL, detail TEXT NOT NULL, data TEXT,"
    " text TEXT, at TEXT NOT NULL, PRIMARY KEY (node_id, version, status, part))",
)
log = logging.getLogger(__name__)
_TAKEN = (sqlite3.IntegrityError, psycopg.errors.UniqueViolation)
_RESERVE_TRIES = 20
#: A reply that ends a command (``running`` does not).
FINAL = ("done", "failed", "rolled_back")


@dataclass(frozen=True)
class Target:
    hall_id: str
    node_id: str


class CommandLedger:
    """The commands of a central store (SQLite or PostgreSQL) and their answers."""

    def __init__(self, store: CentralBackend) -> None:
        self.store = store
        store.create_tables(_SCHEMA)

    def next_version(self, node_id: str, now: dt.datetime) -> int:
        row = self.store._execute(
            "SELECT MAX(version) FROM remote_commands WHERE node_id = ?", (node_id,)
        ).fetchone()
        last = int(row[0]) if row and row[0] is not None else 0
        return max(int(now.timestamp() * 1000), last + 1)

    def reserve(
        self, target: Target, data: dict[str, Any], issued_at: dt.datetime, expires_at: dt.datetime
    ) -> int:
        """Number a command for ``target`` and record it as sent; returns its version. A
        version another sender took at the same moment is skipped (the ledger's key)."""
        for _ in range(_RESERVE_TRIES):
            version = self.next_version(target.node_id, issued_at)
            try:
                self.record_sent(target, version, data, issued_at, expires_at)
            except _TAKEN:
                continue
            return version
        raise RuntimeError(f"no free command version for node {target.node_id}")

    def record_sent(
        self,
        target: Target,
        version: int,
        data: dict[str, Any],
        issued_at: dt.datetime,
        expires_at: dt.datetime,
    ) -> None:
        args = {k: v for k, v in data.items() if k != "name"}
        self.store._execute(
            "INSERT INTO remote_commands (node_id, version, hall_id, name, args, issued_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                target.node_id,
                version,
                target.hall_id,
                data["name"],
                json.dumps(args, sort_keys=True),
                issued_at.isoformat(),
                expires_at.isoformat(),
            ),
        )

    def record_reply(self, reply: ct.CommandReply) -> None:
        """Stored once per (node, version, status, part): a redelivered reply changes nothing."""
        self.store._execute(
            "INSERT INTO command_replies (node_id, version, status, part, parts, detail, data, "
            "text, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                reply.node_id,
                reply.version,
                reply.status,
                reply.part,
                reply.parts,
                reply.detail,
                None if reply.data is None else json.dumps(reply.data, ensure_ascii=False),
                reply.text,
                reply.at,
            ),
        )

    def status(
        self,
        now: dt.datetime,
        node_id: str | None = None,
        version: int | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """The latest commands (newest first) with their state: ``sent`` (no answer yet),
        ``running``, ``done``, ``failed``, ``rolled_back``, ``refused`` (the node's refusal
        code and reason) or ``expired`` (no answer before it expired: the node was away)."""
        where: list[str] = []
        params: list[Any] = []
        if node_id is not None:
            where.append("node_id = ?")
            params.append(node_id)
        if version is not None:
            where.append("version = ?")
            params.append(version)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self.store._execute(
            "SELECT node_id, version, hall_id, name, args, issued_at, expires_at "
            f"FROM remote_commands {clause}ORDER BY issued_at DESC, version DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [self._command(row, now) for row in rows]

    def _command(self, row: Any, now: dt.datetime) -> dict[str, Any]:
        node_id, version, hall_id, name, args, issued_at, expires_at = row
        replies = self.store._execute(
            "SELECT status, part, parts, detail, data, text, at FROM command_replies "
            "WHERE node_id = ? AND version = ? ORDER BY at, part",
            (node_id, version),
        ).fetchall()
        command: dict[str, Any] = {
            "id": f"{node_id}/{version}",
            "hall_id": hall_id,
            "node_id": node_id,
            "version": version,
            "name": name,
            "args": json.loads(args),
            "issued_at": issued_at,
            "expires_at": expires_at,
            "state": "sent",
            "detail": None,
            "data": None,
            "answered_at": None,
        }
        final = [r for r in replies if r[0] in FINAL]
        latest = final[-1] if final else (replies[-1] if replies else None)
        if latest is not None:
            status, _, parts, detail, data, _, at = latest
            command.update(
                state=status,
                detail=detail,
                data=json.loads(data) if data else None,
                answered_at=at,
            )
            texts = [r for r in replies if r[5] is not None and r[0] == status]
            if texts:
                command["text"] = "".join(r[5] for r in sorted(texts, key=lambda r: r[1]))
                command["parts"] = f"{len(texts)}/{parts}"
            return command
        refusal = self.store._execute(
            "SELECT code, reason, at FROM results WHERE node_id = ? AND kind = 'command' "
            "AND version = ? AND accepted = 0 ORDER BY at DESC LIMIT 1",
            (node_id, version),
        ).fetchone()
        if refusal is not None:
            code, reason, at = refusal
            command.update(state="refused", detail=f"{code}: {reason}", answered_at=at)
        elif dt.datetime.fromisoformat(expires_at) <= now:
            command.update(state="expired", detail="no answer before it expired")
        return command


def sign_command(
    key: Ed25519PrivateKey,
    target: Target,
    version: int,
    data: dict[str, Any],
    issued_at: dt.datetime,
    ttl: dt.timedelta,
) -> Message:
    """The signed message of one command for one node (not retained: a node away longer
    than ``ttl`` never gets it; its session queue on the broker keeps it until then)."""
    body = make_body(
        "command",
        target.hall_id,
        version,
        data,
        node_id=target.node_id,
        expires_in=ttl,
        issued_at=issued_at,
    )
    topic = ct.command_topic(target.hall_id, target.node_id)
    return Message(target.hall_id, topic, sign_body(key, body), retain=False)


def record_reply(store: CentralBackend, payload: bytes, node_id: str) -> None:
    """A node's reply, as the ingest received it on that node's topic."""
    if len(payload) > ct.MAX_BATCH_BYTES:
        return
    try:
        reply = ct.CommandReply.model_validate_json(payload)
    except ValidationError as exc:
        log.warning("ingest: bad command reply from %s: %s", node_id, exc.errors()[0]["msg"])
        return
    if reply.node_id != node_id:
        log.warning("ingest: reply of %s on the topic of %s", reply.node_id, node_id)
        return
    CommandLedger(store).record_reply(reply)
