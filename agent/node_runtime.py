"""Opening a node: data dir → configs → store → core runtime. Shared by the CLI and the UI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.config import HallConfig
from agent.datadir import DataDir, resolve_data_dir
from agent.node import NodeConfig
from agent.runtime import CoreRuntime
from agent.store import Clock, Store, utc_now


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
        return Store(self.data.database, self.node.node_id, self.hall, clock, self.node.chain_hash)

    def runtime(self, clock: Clock = utc_now, tick_seconds: float = 1.0) -> CoreRuntime:
        return CoreRuntime(lambda: self.store(clock), tick_seconds=tick_seconds)
