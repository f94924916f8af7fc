"""Opening a node: data dir → configs → store → core runtime. Shared by the CLI and the UI."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent import nodekey
from agent.config import HallConfig
from agent.datadir import DataDir, resolve_data_dir
from agent.errors import ConfigError
from agent.hallclock import HallClock
from agent.node import BrokerConfig, DeviceSpec, NodeConfig
from agent.runtime import CoreRuntime
from agent.staffauth import StaffGate
from agent.storage import DiskReserve, store_error
from agent.store import Clock, Store, utc_now
from agent.ticketlink import Signer
from agent.version import agent_version

Monotonic = Callable[[], float]


@dataclass
class Node:
    data: DataDir
    hall: HallConfig
    node: NodeConfig
    #: The hall key: only a node that reads ID cards needs it (docs/operator.md, "Personal
    #: data"); a window or display PC runs without one.
    secret: bytes | None

    @classmethod
    def open(cls, data_dir: str | Path | None, init: bool = False) -> Node:
        data = DataDir(resolve_data_dir(data_dir))
        hall, node = data.load_or_init() if init else data.load()
        key = data.hall_key()
        if key is None and any(d.kind == "idreader" for d in node.devices):
            raise ConfigError(
                f"{data.secret}: missing: this node reads ID cards and needs the hall key "
                "(provision it as a kiosk: 'hall-agent central provision', then "
                "'hall-agent init --bundle')",
                file=str(data.secret),
            )
        return cls(data, hall, node, key)

    def store(self, clock: Clock = utc_now, monotonic: Monotonic | None = None) -> Store:
        """The node's store, with its disk reserve; a file SQLite cannot use is named.

        ``monotonic`` defaults to the system's with the system's wall clock; with another
        wall clock and none given, that clock is its own passage of time."""
        rules = self.node.clock
        if monotonic is None and clock is utc_now:
            monotonic = time.monotonic
        hall_clock = HallClock(
            monotonic,
            max_gap=dt.timedelta(days=rules.max_gap_days),
            step_tolerance=dt.timedelta(seconds=rules.step_tolerance_s),
        )
        try:
            store = Store(
                self.data.database,
                self.node.node_id,
                self.hall,
                clock,
                self.node.chain_hash,
                hall_clock,
                self.node.retention_days,
            )
        except sqlite3.Error as exc:
            raise store_error(exc, self.data.database) from exc
        store.reserve = DiskReserve(self.data.root, self.node.disk_reserve_mb * 1024**2)
        store.link_signer = Signer(nodekey.load_or_create(self.data.node_key), self.node.node_id)
        store.staff_gate = StaffGate(self.data.root)
        return store

    def runtime(
        self,
        clock: Clock = utc_now,
        tick_seconds: float = 1.0,
        monotonic: Monotonic | None = None,
    ) -> CoreRuntime:
        return CoreRuntime(lambda: self.store(clock, monotonic), tick_seconds=tick_seconds)

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
