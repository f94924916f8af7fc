"""Fleet health: every node's latest status and batch, read from central's store, with the
alarms IT acts on (a device out of order too long, a node silent too long, a backlog, a
clock off, a data disk below its reserve, a node's event log whose hash chain broke, a
profile rolled back, a message a node refused).

Pure functions over what the store returns, so ``central report`` and the Prometheus
metrics show the same figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from sync.fleet.config import AlarmThresholds, CentralConfig

ROLLED_BACK = "rolled_back"  # the result code a node reports for a profile it rolled back


class FleetSource(Protocol):
    """What the fleet view reads from a central store (SQLite or PostgreSQL)."""

    def fleet_nodes(self) -> list[dict[str, Any]]: ...

    def results(self, refused: bool, limit: int = 100) -> list[dict[str, Any]]: ...

    def result_counts(self) -> dict[tuple[bool, str], int]: ...


@dataclass(frozen=True)
class Alarm:
    kind: str  # one of ALARM_KINDS
    hall_id: str
    node_id: str
    subject: str  # the device, the node, or the topic concerned
    detail: str
    since: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


ALARM_KINDS = (
    "device",
    "node_silent",
    "backlog",
    "clock_skew",
    "disk",
    "chain_break",
    "rollback",
    "refused",
)


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _older_than(value: str | None, now: dt.datetime, limit: dt.timedelta) -> bool:
    """True when ``value`` is older than ``limit``, or unknown (it cannot be shown recent)."""
    moment = parse_time(value)
    return moment is None or now - moment > limit


def node_alarms(node: dict[str, Any], t: AlarmThresholds, now: dt.datetime) -> list[Alarm]:
    hall, node_id = node["hall_id"], node["node_id"]
    alarms = []
    for name, device in sorted(node["devices"].items()):
        if device.get("status") == "online":
            continue
        if _older_than(device.get("since"), now, dt.timedelta(minutes=t.device_fault_minutes)):
            reason = device.get("reason") or "-"
            detail = f"{device.get('status')} ({reason})"
            alarms.append(Alarm("device", hall, node_id, name, detail, device.get("since")))
    if _older_than(node["last_seen"], now, dt.timedelta(minutes=t.node_silent_minutes)):
        detail = f"nothing heard for over {t.node_silent_minutes:g} min (state {node['state']})"
        alarms.append(Alarm("node_silent", hall, node_id, node_id, detail, node["last_seen"]))
    if node["backlog"] is not None and node["backlog"] > t.backlog_events:
        detail = f"{node['backlog']} events not yet at central (alarm above {t.backlog_events})"
        alarms.append(Alarm("backlog", hall, node_id, node_id, detail, node["status_at"]))
    offset = node["clock_offset_s"]
    if offset is not None and abs(offset) > t.clock_skew_seconds:
        detail = f"central minus node clock {offset:+.1f} s (alarm above {t.clock_skew_seconds:g})"
        alarms.append(Alarm("clock_skew", hall, node_id, node_id, detail, node["last_seen"]))
    if node["disk_alarm"]:  # the node refuses new tickets until space is made
        detail = f"{node['disk_free_mb']} MB free on the data disk, below the node's reserve"
        alarms.append(Alarm("disk", hall, node_id, node_id, detail, node["status_at"]))
    chain = node["chain"]
    if chain != "verified":  # stays until the node's log is looked into: evidence, not noise
        detail = f"event log chain broken at seq {chain['break_seq']}: {chain['reason']}"
        alarms.append(Alarm("chain_break", hall, node_id, node_id, detail, None))
    return alarms


def result_alarms(
    results: list[dict[str, Any]], halls: dict[str, str], t: AlarmThresholds, now: dt.datetime
) -> list[Alarm]:
    """A rollback or a refusal a node reported within ``results_hours``."""
    alarms = []
    window = dt.timedelta(hours=t.results_hours)
    for r in results:
        if _older_than(r["at"], now, window):
            continue
        kind = "rollback" if r["code"] == ROLLED_BACK else "refused"
        parts = r["topic"].split("/")
        hall = halls.get(r["node_id"]) or (parts[2] if len(parts) > 2 else "")
        detail = f"{r['kind'] or '-'} v{r['version'] or '-'}: {r['code']}: {r['reason']}"
        alarms.append(Alarm(kind, hall, r["node_id"], r["topic"], detail, r["at"]))
    return alarms


def fleet_alarms(
    nodes: list[dict[str, Any]],
    results: list[dict[str, Any]],
    thresholds: AlarmThresholds,
    now: dt.datetime,
) -> list[Alarm]:
    alarms = [a for node in nodes for a in node_alarms(node, thresholds, now)]
    halls = {node["node_id"]: node["hall_id"] for node in nodes}
    return alarms + result_alarms(results, halls, thresholds, now)


def fleet_report(
    source: FleetSource,
    config: CentralConfig,
    now: dt.datetime,
    nodes: list[dict[str, Any]] | None = None,
    results_limit: int = 100,
) -> dict[str, Any]:
    """The fleet: its nodes, its alarms, the refusals and rollbacks nodes reported (newest
    first, with their reasons) and the groups of halls. ``nodes``: already read."""
    nodes = source.fleet_nodes() if nodes is None else nodes
    refused = source.results(refused=True, limit=results_limit)
    return {
        "at": now.isoformat(),
        "nodes": nodes,
        "alarms": [a.as_dict() for a in fleet_alarms(nodes, refused, config.alarms, now)],
        "refused": [r for r in refused if r["code"] != ROLLED_BACK],
        "rollbacks": [r for r in refused if r["code"] == ROLLED_BACK],
        "groups": {group: config.halls_of(group) for group in sorted(config.groups)},
        "thresholds": config.alarms.model_dump(),
    }
