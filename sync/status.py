"""The sync's status file: a running sync writes it, ``hall-agent sync status`` reads it.

The running :class:`~sync.service.SyncService` keeps ``<data dir>/sync-status.json`` up to
date (atomically, only when something but the time changed). :func:`read_status` combines the
store's watermark and backlog with that file, trusting the file only while the process that
wrote it is alive.
"""

from __future__ import annotations

import json
import logging
import os
from enum import StrEnum
from pathlib import Path
from typing import Any

from agent.log_reader import EventLogReader
from agent.node import BrokerConfig
from agent.node_runtime import Node

log = logging.getLogger(__name__)

STATUS_FILE = "sync-status.json"
#: The hub's hall LAN stats (requests, refusals, rate limits per terminal), by ``LanServer``.
LAN_STATUS_FILE = "lan-status.json"


class Connection(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    STOPPED = "stopped"


class StatusFile:
    """Writes the status of a running sync; a write that changes nothing but ``at`` is skipped."""

    def __init__(self, data_root: Path, name: str = STATUS_FILE) -> None:
        self.path = data_root / name
        self._last: dict[str, Any] | None = None

    def write(self, data: dict[str, Any], *, force: bool = False) -> None:
        comparable = {k: v for k, v in data.items() if k != "at"}
        if comparable == self._last and not force:
            return
        self._last = comparable
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            log.warning("cannot write %s: %s", self.path, exc)


def read_status(node: Node) -> dict[str, Any]:
    """What ``hall-agent sync status`` shows: the store's watermark and backlog, plus the
    connection state a running sync last wrote (``not running`` when it is stale)."""
    log_reader = EventLogReader(node.data.database, node.node.node_id)
    try:
        last = log_reader.last_seq()
        acked = log_reader.watermark()
    finally:
        log_reader.close()
    broker = node.node.broker
    alarm_size = (broker or BrokerConfig(url="mqtt://localhost")).backlog_alarm_events
    status: dict[str, Any] = {
        "node_id": node.node.node_id,
        "hall_id": node.hall.hall_id,
        "broker": broker.url if broker else None,
        "connection": "offline (no broker configured)" if broker is None else "not running",
        "last_seq": last,
        "acked_seq": acked,
        "backlog": last - acked,
        "backlog_alarm": last - acked > alarm_size,
        "backlog_alarm_events": alarm_size,
        "clock_offset_s": None,
    }
    lan = _live(node.data.root / LAN_STATUS_FILE)
    if lan is not None:
        status["lan"] = lan
    path = node.data.root / STATUS_FILE
    try:
        live = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return status
    if _process_alive(live.get("pid")) and live.get("connection") != Connection.STOPPED:
        status["connection"] = live.get("connection")
        status["broker"] = live.get("broker", status["broker"])
        status["connected_since"] = live.get("connected_since")
        status["last_error"] = live.get("last_error")
        status["refused"] = live.get("refused", [])
    status["clock_offset_s"] = live.get("clock_offset_s")
    return status


def _live(path: Path) -> dict[str, Any] | None:
    """A status file's content while the process that writes it runs, else None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and _process_alive(data.get("pid")) else None


def _process_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
