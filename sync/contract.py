"""The topic contract ``hall/v1`` between a hall node and the central platform.

Topics and payload models live here, in one place, so the node side, the reference ingest
and docs/topics.md describe the same thing. Every payload is JSON with ``schema_version``;
every inbound payload is size-bounded before it is parsed.

Node-scoped topics have ``node`` as their fourth level and hall-wide topics ``hall``, so no
node id or notice id can make one topic look like another.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
ROOT = "hall/v1"
DEFAULT_SHARE_GROUP = "ingest"

#: Upper bounds on what a receiver parses at all (bytes of the MQTT payload).
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_ACK_BYTES = 4 * 1024
MAX_STATUS_BYTES = 64 * 1024
MAX_DOWN_BYTES = 256 * 1024

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def is_name(value: str) -> bool:
    """True when ``value`` may be used as one topic level (hall, node or notice id)."""
    return bool(_NAME.match(value))


# ---- node-scoped topics ------------------------------------------------------------------
def node_topic(hall_id: str, node_id: str, leaf: str) -> str:
    return f"{ROOT}/{hall_id}/node/{node_id}/{leaf}"


def events_topic(hall_id: str, node_id: str) -> str:
    """Up, QoS 1, not retained: an :class:`EventBatch`."""
    return node_topic(hall_id, node_id, "events")


def status_topic(hall_id: str, node_id: str) -> str:
    """Up, QoS 1, retained, also the last will: a :class:`NodeStatus`."""
    return node_topic(hall_id, node_id, "status")


def result_topic(hall_id: str, node_id: str) -> str:
    """Up, QoS 1, not retained: an :class:`InboundResult` for every refused or applied message."""
    return node_topic(hall_id, node_id, "result")


def ack_topic(hall_id: str, node_id: str) -> str:
    """Down, QoS 1, retained: an :class:`Ack` (cumulative)."""
    return node_topic(hall_id, node_id, "ack")


def command_topic(hall_id: str, node_id: str) -> str:
    """Down, QoS 1, not retained: a signed envelope of kind ``command``."""
    return node_topic(hall_id, node_id, "command")


# ---- hall-wide topics (down, retained, signed) -------------------------------------------
def config_topic(hall_id: str) -> str:
    return f"{ROOT}/{hall_id}/hall/config"


def roster_topic(hall_id: str) -> str:
    return f"{ROOT}/{hall_id}/hall/roster"


def notice_topic(hall_id: str, notice_id: str) -> str:
    return f"{ROOT}/{hall_id}/hall/notice/{notice_id}"


def profile_topic(hall_id: str, name: str) -> str:
    return f"{ROOT}/{hall_id}/hall/profile/{name}"


# ---- subscriptions -----------------------------------------------------------------------
def ingest_subscription(group: str = DEFAULT_SHARE_GROUP) -> str:
    """What every ingest worker subscribes to; the broker gives each batch to one of them."""
    return f"$share/{group}/{ROOT}/+/node/+/events"


STATUS_SUBSCRIPTION = f"{ROOT}/+/node/+/status"
RESULT_SUBSCRIPTION = f"{ROOT}/+/node/+/result"


def node_subscriptions(hall_id: str, node_id: str) -> list[str]:
    return [
        ack_topic(hall_id, node_id),
        command_topic(hall_id, node_id),
        config_topic(hall_id),
        roster_topic(hall_id),
        f"{ROOT}/{hall_id}/hall/notice/+",
        f"{ROOT}/{hall_id}/hall/profile/+",
    ]


def parse_node_topic(topic: str) -> tuple[str, str, str] | None:
    """``(hall_id, node_id, leaf)`` of a node-scoped topic, else None."""
    parts = topic.split("/")
    if len(parts) != 6 or "/".join(parts[:2]) != ROOT or parts[3] != "node":
        return None
    hall_id, node_id, leaf = parts[2], parts[4], parts[5]
    if not (is_name(hall_id) and is_name(node_id)):
        return None
    return hall_id, node_id, leaf


# ---- payloads ----------------------------------------------------------------------------
class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WireEvent(_Payload):
    """One event of the node's log, as stored there."""

    seq: int = Field(ge=1)
    type: str = Field(min_length=1, max_length=64)
    business_date: str = Field(max_length=10)
    at: str = Field(max_length=40)
    wall_time: str = Field(max_length=40)
    payload: dict[str, Any]


class EventBatch(_Payload):
    """Consecutive events ``first..last`` of one node, in seq order."""

    schema_version: Literal[1]
    hall_id: str
    node_id: str
    first: int = Field(ge=1)
    last: int = Field(ge=1)
    sent_at: str = Field(description="the node's wall clock when it sent the batch")
    events: list[WireEvent] = Field(min_length=1)


class Ack(_Payload):
    """Central holds every event of ``node_id`` up to ``acked_seq`` (highest contiguous)."""

    schema_version: Literal[1]
    node_id: str
    acked_seq: int = Field(ge=0)
    central_time: str
    clock_offset_s: float | None = Field(
        default=None, description="central clock minus the node's clock, seen on the last batch"
    )


class DeviceHealth(_Payload):
    """One device of the hall as the node's core last recorded it."""

    status: str = Field(max_length=16, description="online | offline | fault")
    reason: str | None = Field(default=None, max_length=64, description="e.g. paper_out")
    since: str | None = Field(default=None, max_length=40, description="hall time of the change")


class NodeStatus(_Payload):
    """Version 2 adds ``devices`` and ``profiles`` (fleet health); central reads 1 and 2."""

    schema_version: Literal[1, 2]
    node_id: str
    state: Literal["online", "offline"]
    at: str | None = None
    last_seq: int | None = None
    acked_seq: int | None = None
    backlog: int | None = None
    backlog_alarm: bool | None = None
    clock_offset_s: float | None = None
    agent_version: str | None = Field(default=None, max_length=64)
    devices: dict[str, DeviceHealth] | None = Field(default=None, max_length=200)
    profiles: dict[str, int] | None = Field(
        default=None, max_length=200, description="device profile name -> version pushed"
    )


class InboundResult(_Payload):
    schema_version: Literal[1]
    node_id: str
    topic: str
    kind: str | None = None
    version: int | None = None
    accepted: bool
    code: str
    reason: str
    at: str


# ---- the signed envelope (everything that comes down except acks) -----------------------
class SignedEnvelope(_Payload):
    """``body`` is JSON text; ``signature`` is base64 Ed25519 over ``body`` in UTF-8."""

    schema_version: Literal[1]
    body: str = Field(max_length=MAX_DOWN_BYTES)
    signature: str = Field(max_length=200)


Kind = Literal["hall_config", "roster", "notice", "command", "device_profile"]


class SignedBody(_Payload):
    schema_version: Literal[1]
    kind: Kind
    hall_id: str
    node_id: str | None = Field(default=None, description="set for node-scoped commands")
    version: int = Field(ge=1, le=2**63 - 1, description="per topic; must grow (a SQLite integer)")
    issued_at: dt.datetime
    expires_at: dt.datetime | None = None
    data: dict[str, Any]


class RosterEntryData(_Payload):
    code: str = Field(min_length=1, max_length=128)
    service: str = Field(min_length=1, max_length=32)
    slot_start: dt.datetime
    slot_end: dt.datetime
    citizen_name: str = Field(default="", max_length=32, description="masked, e.g. 张*")


class RosterData(_Payload):
    roster_id: str = Field(min_length=1, max_length=64)
    entries: list[RosterEntryData] = Field(max_length=5000)


class ProfileData(_Payload):
    """A device profile (the content of a ``firmware_profiles/*.yaml`` file) for the hall."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")
    profile: dict[str, Any]


class NoticeData(_Payload):
    notice_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    text_zh: str = Field(min_length=1, max_length=500)
    text_en: str = Field(default="", max_length=1000)
    expires_at: dt.datetime | None = None


class CommandData(_Payload):
    """Remote commands: ``resync`` resends the log from ``from_seq``; ``report_status``."""

    name: Literal["resync", "report_status"]
    from_seq: int | None = Field(default=None, ge=1)
