"""Staged rollout of a device profile: a canary hall first, then a group of halls in waves,
stopping by itself when more than K nodes roll the profile back.

``hall-agent central rollout start`` checks the profile, signs one message per hall at once
(the signing key stays with IT's tool: the central process never holds it) and keeps them in
central's own store, publishes the canary's, and leaves the rest to the central process
(:class:`RolloutDriver`), which reads the results nodes report for that profile's topic and
version (``reopened`` / ``rolled_back`` per device, see docs/topics.md) and:

- canary: a rollback in the canary hall stops the rollout; a device of the canary hall
  re-opened with it (and none rolled back) starts the group's first wave;
- waves: the next wave goes out when every hall of the current one has reported a device
  outcome for this version (its first device re-opened or rolled back), or ``wave_minutes``
  after it was sent (an offline village, or a hall with no device using the profile, never
  holds the rest for good); more than ``max_rollbacks`` nodes that rolled back stop the
  rollout before the next wave; the last wave sent and settled makes it ``done``.

The state lives in two tables of central's store (SQLite or PostgreSQL), created on first use
with SQL both read alike.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sync.fleet.backend import CentralBackend
from sync.fleet.health import ROLLED_BACK, parse_time
from sync.fleet.push import Message

log = logging.getLogger(__name__)

#: The result code of a device that kept a pushed profile (sync.service.REOPENED).
REOPENED = "reopened"
ACTIVE = ("canary", "waves")

_TABLES = (
    "CREATE TABLE IF NOT EXISTS rollouts ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, version BIGINT NOT NULL, canary TEXT NOT NULL,"
    " grp TEXT NOT NULL, max_rollbacks INTEGER NOT NULL, wave_size INTEGER NOT NULL,"
    " wave_minutes DOUBLE PRECISION NOT NULL, state TEXT NOT NULL, reason TEXT,"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rollout_halls ("
    " rollout_id TEXT NOT NULL, hall_id TEXT NOT NULL, wave INTEGER NOT NULL,"
    " topic TEXT NOT NULL, payload TEXT NOT NULL, sent_at TEXT,"
    " PRIMARY KEY (rollout_id, hall_id))",
)
_ROLLOUT_COLUMNS = (
    "id, name, version, canary, grp, max_rollbacks, wave_size, wave_minutes, state, reason, "
    "created_at, updated_at"
)

Publish = Callable[[list[Message]], list[str]]


class RolloutRefused(ValueError):
    """A rollout that cannot start (another one of that profile is running, bad waves)."""


@dataclass(frozen=True)
class Plan:
    name: str  # the profile's name
    version: int
    canary: str  # hall id
    group: str
    max_rollbacks: int
    wave_size: int
    wave_minutes: float


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class Rollouts:
    """The rollouts kept in ``store`` (its tables are created when missing)."""

    def __init__(self, store: CentralBackend) -> None:
        self.store = store
        store.create_tables(_TABLES)

    # ---- starting ------------------------------------------------------------------------
    def start(self, plan: Plan, canary: Message, group: list[Message]) -> str:
        """Record a rollout with its signed messages; the canary's is to be published now."""
        if plan.max_rollbacks < 0 or plan.wave_size < 1 or plan.wave_minutes <= 0:
            raise RolloutRefused("--max-rollbacks ≥ 0, --wave-size ≥ 1, --wave-minutes > 0")
        running = self.store.sql(
            "SELECT id FROM rollouts WHERE name = ? AND state IN ('canary', 'waves')",
            (plan.name,),
        ).fetchall()
        if running:
            raise RolloutRefused(f"rollout {running[0][0]} of profile {plan.name} is running")
        rollout_id = f"{plan.name}-v{plan.version}-{uuid.uuid4().hex[:6]}"
        now = _now()
        self.store.sql(
            f"INSERT INTO rollouts ({_ROLLOUT_COLUMNS}) VALUES ({', '.join('?' * 12)})",
            (
                rollout_id,
                plan.name,
                plan.version,
                plan.canary,
                plan.group,
                plan.max_rollbacks,
                plan.wave_size,
                plan.wave_minutes,
                "canary",
                None,
                now,
                now,
            ),
        )
        waves = [(0, canary)] + [
            (1 + i // plan.wave_size, message) for i, message in enumerate(group)
        ]
        for wave, message in waves:
            self.store.sql(
                "INSERT INTO rollout_halls (rollout_id, hall_id, wave, topic, payload, sent_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    rollout_id,
                    message.hall_id,
                    wave,
                    message.topic,
                    message.payload.decode(),
                    now if wave == 0 else None,
                ),
            )
        return rollout_id

    # ---- reading -------------------------------------------------------------------------
    def status(self) -> list[dict[str, Any]]:
        """Every rollout, newest first, with its halls and the outcomes reported so far."""
        rows = self.store.sql(
            f"SELECT {_ROLLOUT_COLUMNS} FROM rollouts ORDER BY created_at DESC"
        ).fetchall()
        return [self._describe(row) for row in rows]

    def _describe(self, row: Any) -> dict[str, Any]:
        keys = [k.strip() for k in _ROLLOUT_COLUMNS.split(",")]
        rollout = dict(zip(keys, row, strict=True))
        rollout["group"] = rollout.pop("grp")
        halls = self.store.sql(
            "SELECT hall_id, wave, sent_at FROM rollout_halls WHERE rollout_id = ? "
            "ORDER BY wave, hall_id",
            (rollout["id"],),
        ).fetchall()
        outcomes = self._outcomes(rollout["name"], rollout["version"])
        rollout["halls"] = [
            {"hall_id": hall, "wave": wave, "sent_at": sent, **outcomes.get(hall, _NONE)}
            for hall, wave, sent in halls
        ]
        rollout["rolled_back_nodes"] = sorted(
            {node for hall in outcomes.values() for node in hall["rolled_back_nodes"]}
        )
        return rollout

    def _outcomes(self, name: str, version: int) -> dict[str, dict[str, Any]]:
        """Per hall: whether a device of it reported an outcome for this version, the devices
        re-opened, the nodes that rolled back and their reasons."""
        rows = self.store.sql(
            "SELECT node_id, topic, code, reason FROM results "
            "WHERE kind = 'device_profile' AND version = ?",
            (version,),
        ).fetchall()
        found: dict[str, dict[str, Any]] = {}
        for node_id, topic, code, reason in rows:
            parts = topic.split("/")
            if len(parts) != 6 or parts[3:5] != ["hall", "profile"] or parts[5] != name:
                continue
            if code not in (REOPENED, ROLLED_BACK):
                continue  # the message's own acceptance: no device has tried it yet
            hall = found.setdefault(
                parts[2],
                {"reported": True, "reopened": 0, "rolled_back_nodes": [], "reasons": []},
            )
            if code == REOPENED:
                hall["reopened"] += 1
            elif code == ROLLED_BACK:
                if node_id not in hall["rolled_back_nodes"]:
                    hall["rolled_back_nodes"].append(node_id)
                hall["reasons"].append(reason)
        return found

    # ---- the driver's step ---------------------------------------------------------------
    def advance(self, publish: Publish, now: dt.datetime) -> list[str]:
        """One look at every running rollout; returns what changed, one line each."""
        changes = []
        for rollout in self.status():
            if rollout["state"] in ACTIVE:
                change = self._advance_one(rollout, publish, now)
                if change:
                    changes.append(f"rollout {rollout['id']}: {change}")
        for line in changes:
            log.info(line)
        return changes

    def _advance_one(
        self, rollout: dict[str, Any], publish: Publish, now: dt.datetime
    ) -> str | None:
        halls = rollout["halls"]
        canary = next(h for h in halls if h["wave"] == 0)
        if rollout["state"] == "canary":
            if canary["rolled_back_nodes"]:
                why = "; ".join(canary["reasons"])[:500]
                return self._finish(rollout, "stopped", f"the canary rolled back: {why}")
            if not canary["reopened"]:
                return None
            self._set_state(rollout, "waves", None)
            return self._send_next_wave(rollout, publish, "canary applied")
        rolled_back = rollout["rolled_back_nodes"]
        if len(rolled_back) > rollout["max_rollbacks"]:
            return self._finish(
                rollout,
                "stopped",
                f"{len(rolled_back)} nodes rolled back (more than {rollout['max_rollbacks']}): "
                + ", ".join(rolled_back)[:400],
            )
        sent = [h for h in halls if h["sent_at"] is not None and h["wave"] > 0]
        if sent:
            current = max(h["wave"] for h in sent)
            wave = [h for h in sent if h["wave"] == current]
            since = min(parse_time(h["sent_at"]) or now for h in wave)
            waited = now - since >= dt.timedelta(minutes=rollout["wave_minutes"])
            if not waited and not all(h["reported"] for h in wave):
                return None
        return self._send_next_wave(rollout, publish, "wave settled")

    def _send_next_wave(self, rollout: dict[str, Any], publish: Publish, why: str) -> str:
        pending = [h for h in rollout["halls"] if h["sent_at"] is None]
        if not pending:
            return self._finish(rollout, "done", None)
        wave = min(h["wave"] for h in pending)
        rows = self.store.sql(
            "SELECT hall_id, topic, payload FROM rollout_halls "
            "WHERE rollout_id = ? AND wave = ? ORDER BY hall_id",
            (rollout["id"], wave),
        ).fetchall()
        messages = [Message(hall, topic, payload.encode(), True) for hall, topic, payload in rows]
        failed = set(publish(messages))
        sent_at = _now()
        for message in messages:
            if message.hall_id not in failed:  # else tried again at the next look
                self.store.sql(
                    "UPDATE rollout_halls SET sent_at = ? WHERE rollout_id = ? AND hall_id = ?",
                    (sent_at, rollout["id"], message.hall_id),
                )
        self._set_state(rollout, "waves", None)
        sent = ", ".join(m.hall_id for m in messages if m.hall_id not in failed)
        return f"{why}; wave {wave} sent to {sent or 'no hall (broker did not acknowledge)'}"

    def _finish(self, rollout: dict[str, Any], state: str, reason: str | None) -> str:
        self._set_state(rollout, state, reason)
        return state + (f": {reason}" if reason else "")

    def _set_state(self, rollout: dict[str, Any], state: str, reason: str | None) -> None:
        self.store.sql(
            "UPDATE rollouts SET state = ?, reason = ?, updated_at = ? WHERE id = ?",
            (state, reason, _now(), rollout["id"]),
        )
        rollout["state"], rollout["reason"] = state, reason


_NONE: dict[str, Any] = {"reported": False, "reopened": 0, "rolled_back_nodes": [], "reasons": []}


class RolloutDriver:
    """The central process's thread that advances every running rollout every ``interval``
    seconds, each look on a store opened for it (``open_store``)."""

    def __init__(
        self,
        open_store: Callable[[], CentralBackend],
        publish: Publish,
        interval: float = 5.0,
    ) -> None:
        self.open_store = open_store
        self.publish = publish
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="central-rollouts", daemon=True)

    def start(self) -> RolloutDriver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                store = self.open_store()
                try:
                    Rollouts(store).advance(self.publish, dt.datetime.now(dt.UTC))
                finally:
                    store.close()
            except Exception:  # a failing look (store away, broker away) is tried again
                log.exception("rollouts: could not advance")
