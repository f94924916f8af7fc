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

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from agent.pinlock import HASH_PATTERN
from agent.privacy import is_masked_name
from agent.staffconfig import StaffMember
from agent.validation import FieldError

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


def recover_topic(hall_id: str, node_id: str) -> str:
    """Up, QoS 1: a :class:`RecoverRequest` (MQTT 5 request, correlation data set)."""
    return node_topic(hall_id, node_id, "recover")


def recovered_topic(hall_id: str, node_id: str) -> str:
    """Down, QoS 1, not retained: a :class:`RecoverPage`, the answer to a request."""
    return node_topic(hall_id, node_id, "recovered")


def command_topic(hall_id: str, node_id: str) -> str:
    """Down, QoS 1, not retained: a signed envelope of kind ``command``."""
    return node_topic(hall_id, node_id, "command")


def reply_topic(hall_id: str, node_id: str) -> str:
    """Up, QoS 1, not retained: a :class:`CommandReply` (one or more per command run)."""
    return node_topic(hall_id, node_id, "reply")


# ---- hall-wide topics (down, retained, signed) -------------------------------------------
def config_topic(hall_id: str) -> str:
    return f"{ROOT}/{hall_id}/hall/config"


def roster_topic(hall_id: str) -> str:
    return f"{ROOT}/{hall_id}/hall/roster"


def staff_topic(hall_id: str) -> str:
    """The staff roster: who may sign in at which windows (data: :class:`StaffRosterData`)."""
    return f"{ROOT}/{hall_id}/hall/staff"


def calendar_topic(hall_id: str) -> str:
    """Holidays, 调休 working days and closures (data: ``agent.calendar.HallCalendar``)."""
    return f"{ROOT}/{hall_id}/hall/calendar"


def notice_topic(hall_id: str, notice_id: str) -> str:
    return f"{ROOT}/{hall_id}/hall/notice/{notice_id}"


def profile_topic(hall_id: str, name: str) -> str:
    return f"{ROOT}/{hall_id}/hall/profile/{name}"


# ---- subscriptions -----------------------------------------------------------------------
def ingest_subscription(group: str = DEFAULT_SHARE_GROUP) -> str:
    """What every ingest worker subscribes to; the broker gives each batch to one of them."""
    return f"$share/{group}/{ROOT}/+/node/+/events"


def recover_subscription(group: str = DEFAULT_SHARE_GROUP) -> str:
    return f"$share/{group}/{ROOT}/+/node/+/recover"


def reply_subscription(group: str = DEFAULT_SHARE_GROUP) -> str:
    """Command replies, each stored once by one ingest worker."""
    return f"$share/{group}/{ROOT}/+/node/+/reply"


def result_subscription(group: str = DEFAULT_SHARE_GROUP) -> str:
    """Results of inbound messages, each stored once by one ingest worker."""
    return f"$share/{group}/{ROOT}/+/node/+/result"


#: Every worker keeps every node's status (retained, the latest wins: an upsert).
STATUS_SUBSCRIPTION = f"{ROOT}/+/node/+/status"


def node_subscriptions(hall_id: str, node_id: str) -> list[str]:
    return [
        ack_topic(hall_id, node_id),
        command_topic(hall_id, node_id),
        config_topic(hall_id),
        roster_topic(hall_id),
        calendar_topic(hall_id),
        staff_topic(hall_id),
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
    """One event of the node's log, as stored there: ``payload`` is the stored JSON text,
    byte for byte, and ``chain`` its link in the node's hash chain (agent/chain.py)."""

    seq: int = Field(ge=1)
    type: str = Field(min_length=1, max_length=64)
    business_date: str = Field(max_length=10)
    at: str = Field(max_length=40)
    wall_time: str = Field(max_length=40)
    payload: str = Field(min_length=2, description="a JSON object, as text")
    chain: str = Field(pattern=r"^[a-z0-9]{2,16}:[0-9a-f]{64}$")

    @field_validator("business_date")
    @classmethod
    def _a_plausible_day(cls, value: str) -> str:
        """An ISO date of this century or the next: central files events by month, so a
        malformed or far-off day must not reach it (a crash, a partition per month)."""
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError("business_date: not an ISO date") from None
        if not 2000 <= day.year < 2200 or len(value) != 10:
            raise ValueError("business_date: not a day of 2000-2199 as YYYY-MM-DD")
        return value


class EventBatch(_Payload):
    """Consecutive events ``first..last`` of one node, in seq order, with the node's
    signature of the chain link of ``last``."""

    schema_version: Literal[2]
    hall_id: str
    node_id: str
    public_key: str = Field(max_length=64, description="the node's Ed25519 key, raw, base64")
    head_signature: str = Field(max_length=200, description="base64, over the head statement")
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
    profile: str | None = Field(
        default=None, max_length=64, description="the pushed profile it was last re-opened with"
    )
    profile_version: int | None = Field(default=None, ge=1, le=2**63 - 1)
    profile_outcome: Literal["applied", "rolled_back"] | None = None
    profile_reason: str | None = Field(
        default=None, max_length=256, description="why it was rolled back"
    )


class RecoverRequest(_Payload):
    """A node rebuilding its store asks for its own events after ``after_seq``."""

    schema_version: Literal[1]
    node_id: str
    after_seq: int = Field(ge=0)
    max_events: int = Field(ge=1, le=5000)


class RecoverPage(_Payload):
    """Up to ``max_events`` of the node's events as central holds them (exact payload text
    and chain links), with what central has acknowledged and the key it knows."""

    schema_version: Literal[1]
    node_id: str
    acked_seq: int = Field(ge=0)
    public_key: str | None = None
    events: list[WireEvent]


class NodeStatus(_Payload):
    """Version 2 adds ``devices`` and ``profiles`` (fleet health) and ``disk_free_mb`` and
    ``disk_alarm``; central reads 1 and 2."""

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
    disk_free_mb: int | None = None
    disk_alarm: bool | None = None


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


Kind = Literal["hall_config", "roster", "notice", "command", "device_profile", "calendar", "staff"]


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
    slot_start: AwareDatetime
    slot_end: AwareDatetime
    citizen_name: str = Field(default="", max_length=32, description="masked, e.g. 张*")
    citizen_hash: str = Field(
        default="",
        pattern=r"^([0-9a-f]{64})?$",
        description="the citizen's hash for the slot's day (docs/operator.md, 'Personal data: "
        "the citizen hash'): a swiped ID card finds the booking; never an ID number",
    )

    @field_validator("citizen_name")
    @classmethod
    def _name_is_masked(cls, value: str) -> str:
        if not is_masked_name(value):
            raise ValueError("must be masked as the node masks names (e.g. 张*, J. S.)")
        return value

    @model_validator(mode="after")
    def _slot_is_a_span(self) -> RosterEntryData:
        if self.slot_end <= self.slot_start:
            raise FieldError(("slot_end",), "ends before the slot starts")
        return self


class RosterData(_Payload):
    roster_id: str = Field(min_length=1, max_length=64)
    entries: list[RosterEntryData] = Field(max_length=5000)


class StaffMemberData(StaffMember):
    """One member of staff from central (as in hall.yaml ``staff.members``), optionally with
    the PIN's scrypt hash and the staff card's SHA-256, kept at the hub only (never in an
    event)."""

    pin_hash: str | None = Field(default=None, pattern=HASH_PATTERN, max_length=200)
    card_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class StaffRosterData(_Payload):
    members: list[StaffMemberData] = Field(max_length=2000)

    @model_validator(mode="after")
    def _ids_once(self) -> StaffRosterData:
        seen: set[str] = set()
        for index, member in enumerate(self.members):
            if member.id in seen:
                raise FieldError(("members", index, "id"), f"{member.id!r} is repeated")
            seen.add(member.id)
        return self


class ProfileData(_Payload):
    """A device profile (the content of a ``firmware_profiles/*.yaml`` file) for the hall."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")
    profile: dict[str, Any]


class NoticeData(_Payload):
    notice_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    text_zh: str = Field(min_length=1, max_length=500)
    text_en: str = Field(default="", max_length=1000)
    expires_at: dt.datetime | None = None


CommandName = Literal[
    "resync", "report_status", "reopen_devices", "probe", "upload_logs", "update_agent"
]
#: What ``upload_logs`` may ask for at most, and the text one reply carries at most (well
#: under the central broker's 4 MiB ``message_size_limit``).
MAX_LOG_LINES = 5000
MAX_LOG_BYTES = 1024 * 1024
MAX_REPLY_TEXT = 64 * 1024
#: A Debian package version (epoch, upstream, revision), as ``update_agent`` names one.
DEBIAN_VERSION = r"^([0-9]+:)?[0-9][A-Za-z0-9.+~-]{0,63}$"


class CommandData(_Payload):
    """A remote command (docs/topics.md "Remote commands"): ``resync`` resends the log from
    ``from_seq``; ``report_status``; ``reopen_devices`` (``device``, or all); ``probe`` one
    ``device`` within ``timeout_s``; ``upload_logs`` the last ``lines``; ``update_agent`` to
    the package ``version``."""

    name: CommandName
    from_seq: int | None = Field(default=None, ge=1)
    #: The hub's own device, or a terminal PC's as ``{terminal}/{device}`` (relayed).
    device: str | None = Field(
        default=None, pattern=r"^([A-Za-z0-9_.-]{1,64}/)?[A-Za-z0-9_.-]{1,64}$"
    )
    timeout_s: float | None = Field(default=None, gt=0, le=60)
    lines: int | None = Field(default=None, ge=1, le=MAX_LOG_LINES)
    version: str | None = Field(default=None, pattern=DEBIAN_VERSION)

    @model_validator(mode="after")
    def _has_its_arguments(self) -> CommandData:
        required = {"resync": "from_seq", "probe": "device", "update_agent": "version"}
        field = required.get(self.name)
        if field is not None and getattr(self, field) is None:
            raise FieldError((field,), f"required for {self.name}")
        return self


CommandStatus = Literal["running", "done", "failed", "rolled_back"]


class CommandReply(_Payload):
    """What a node answers to a command it accepted (``version``: the command's, its id on
    this node). A long answer (``upload_logs``) comes in ``parts`` replies of ``text``."""

    schema_version: Literal[1]
    node_id: str
    version: int = Field(ge=1)
    name: CommandName
    status: CommandStatus
    detail: str = Field(max_length=1000)
    data: dict[str, Any] | None = None
    part: int = Field(default=1, ge=1)
    parts: int = Field(default=1, ge=1)
    text: str | None = Field(default=None, max_length=MAX_REPLY_TEXT)
    at: str
