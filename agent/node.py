"""This node's own settings (``node.yaml`` in the data dir): who it is, its devices, its broker.

The hall config says what the hall is; the node config says what this PC is and what is
plugged into it. Both are validated at start-up and refuse unknown keys.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.adminpin import HASH_PATTERN
from agent.files import write_atomically
from agent.storage import DEFAULT_RESERVE_MB
from agent.validation import load_model

Role = Literal["hub", "kiosk", "window", "display", "all"]
DeviceKind = Literal["printer", "idreader", "scanner", "led", "evaluator"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceSpec(_Strict):
    """One device plugged into this node."""

    id: str = Field(min_length=1, max_length=64, description="stable name, e.g. 'kiosk-printer'")
    kind: DeviceKind
    profile: str = Field(description="profile name in firmware_profiles/ (file stem)")
    port: str = Field(description="serial device, pyserial URL, 'usb:VID:PID' or 'tcp://host:9100'")
    window: int | None = Field(default=None, ge=1, description="the window this device serves")
    baud: int | None = Field(default=None, gt=0, description="overrides the profile's baud")
    address: int | None = Field(default=None, ge=0, le=65535, description="bus address (RS-485)")
    simulated: bool = Field(default=False, description="start a simulator for this device")


class BrokerConfig(_Strict):
    """Where the central platform's MQTT broker is; absent means fully offline."""

    url: str = Field(description="mqtt://host:1883 or mqtts://host:8883")
    client_id: str | None = None
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    backlog_alarm_events: int = Field(default=50_000, ge=1)


class ClockRules(_Strict):
    """When the machine's clock is suspected (docs/operator.md, "The hall clock")."""

    max_gap_days: int = Field(
        default=16,
        ge=1,
        le=366,
        description="at start, a clock further past the last event than this needs confirming",
    )
    step_tolerance_s: int = Field(
        default=120, ge=5, le=3600, description="a wall-clock step beyond the monotonic clock's"
    )


class NodeConfig(_Strict):
    schema_version: Literal[1] = 1
    node_id: str = Field(min_length=1, max_length=64)
    role: Role = "all"
    language: Literal["zh_CN", "en"] = "zh_CN"
    broker: BrokerConfig | None = Field(default=None, description="the central platform's broker")
    hall_broker: BrokerConfig | None = Field(
        default=None,
        description="the hall LAN broker on the hub: terminals on other PCs reach the queue there",
    )
    devices: list[DeviceSpec] = Field(default_factory=list)
    device_health_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="a device re-opened with a new profile must answer its probe within "
        "this; else it is rolled back to its last good profile",
    )
    disk_reserve_mb: int = Field(
        default=DEFAULT_RESERVE_MB,
        ge=0,
        le=100_000,
        description="free space new tickets need on the data dir's disk (0: no reserve)",
    )
    clock: ClockRules = Field(default_factory=ClockRules)
    retention_days: int | None = Field(
        default=90,
        ge=1,
        description="events central acknowledged are deleted this many days after their "
        "business day (null: kept); a chain checkpoint keeps the log verifiable",
    )
    chain_hash: Literal["sha256", "sm3"] = Field(
        default="sha256",
        description="hash of the event log's chain; sm3 (GB/T 32905) where an audit asks for it",
    )
    rating_api_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="the loopback port (127.0.0.1) where the window's business system asks "
        "for ratings by case number (sync/rating_api.py); unset: no such interface",
    )
    admin_pin_hash: str | None = Field(
        default=None,
        pattern=HASH_PATTERN,
        description="set with 'hall-agent admin set-pin'; needed to leave a locked kiosk",
    )

    @field_validator("node_id")
    @classmethod
    def _node_id_is_topic_safe(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
            raise ValueError("only letters, digits, '_', '.', '-' (it is used in MQTT topics)")
        return value


def new_node_config(hall_id: str) -> NodeConfig:
    return NodeConfig(node_id=f"{hall_id}-{uuid.uuid4().hex[:8]}")


def load_node_config(path: Path) -> NodeConfig:
    return load_model(NodeConfig, path)


def dump_node_config(config: NodeConfig, path: Path) -> None:
    """Write atomically: a power cut leaves the old file or the new one, never half of each."""
    data = config.model_dump(mode="json", exclude_none=True)
    write_atomically(path, yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
