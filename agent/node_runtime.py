"""Opening a node: data dir → configs → store → core runtime. Shared by the CLI and the UI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.config import HallConfig
from agent.datadir import DataDir, resolve_data_dir
from agent.node import BrokerConfig, DeviceSpec, NodeConfig
from agent.runtime import CoreRuntime
from agent.store import Clock, Store, utc_now
from agent.version import agent_version


@dataclass
class Node:
    data: DataDir
    hall: HallConfig
    node: NodeConfig
    secret: bytes

    @classmethod
    def open(cls, data_dir: str | Path | None, init: bool = False) -> Node:
        data = DataDir(resolve_data_dir(data_dir))
        hall, node = data.load_or_init() if init else data.load()
        return cls(data, hall, node, data.secret_bytes())

    def store(self, clock: Clock = utc_now) -> Store:
        return Store(self.data.database, self.node.node_id, self.hall, clock)

    def runtime(self, clock: Clock = utc_now, tick_seconds: float = 1.0) -> CoreRuntime:
        return CoreRuntime(lambda: self.store(clock), tick_seconds=tick_seconds)

    def describe(self, role: str) -> dict[str, Any]:
        """What this node runs, for the start-up log (no password, no secret)."""
        return {
            "version": agent_version(),
            "node_id": self.node.node_id,
            "hall_id": self.hall.hall_id,
            "role": role,
            "data_dir": str(self.data.root),
            "devices": [_describe_device(d) for d in self.node.devices],
            "brokers": {
                "central": _broker_url(self.node.broker),
                "hall": _broker_url(self.node.hall_broker),
            },
        }


def _describe_device(spec: DeviceSpec) -> dict[str, Any]:
    """A device file's presence is looked up (a USB adapter unplugged shows as absent);
    URLs (``usb:``, ``tcp://``, ``sim``) are not."""
    present = Path(spec.port).exists() if spec.port.startswith("/") else None
    return {
        "id": spec.id,
        "kind": spec.kind,
        "profile": spec.profile,
        "port": spec.port,
        "window": spec.window,
        "present": present,
    }


def _broker_url(broker: BrokerConfig | None) -> str | None:
    if broker is None:
        return None
    return f"{broker.url} as {broker.username}" if broker.username else broker.url
