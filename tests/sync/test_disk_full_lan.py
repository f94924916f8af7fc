"""A terminal on the hall LAN hears ``disk_full`` from a hub whose disk is full (a real
Mosquitto, a real small tmpfs), and gets its ticket once space is freed."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import commands as c
from agent.errors import DiskFull
from agent.node_runtime import Node
from sync.lan import LanClient, LanServer, RemoteError
from tests.support import SmallDisk, set_node_field
from tests.sync.conftest import Broker, make_node

pytestmark = pytest.mark.mqtt

WAIT = 20.0


def test_a_terminal_gets_disk_full_then_its_ticket_once_space_is_freed(
    tmp_path: Path, broker: Broker, small_disk: SmallDisk
) -> None:
    root = small_disk.path / "hub"
    make_node(root)
    set_node_field(root, "disk_reserve_mb", 0)  # SQLite's own failure, not the reserve's
    node = Node.open(root)
    runtime = node.runtime(tick_seconds=3600).start()
    server = LanServer(node, runtime, broker_url=broker.url).start()
    kiosk = LanClient(node.hall.hall_id, "kiosk-1", broker.url).start()
    try:
        assert server.wait_ready(WAIT) and kiosk.wait_hub(WAIT)
        kiosk.execute(c.IssueTicket("household"), timeout=WAIT)
        small_disk.fill()
        with pytest.raises(DiskFull) as full:
            kiosk.execute(c.IssueTicket("household"), timeout=WAIT)
        assert isinstance(full.value, RemoteError)
        assert full.value.code == "disk_full" and full.value.key == "error.disk_full"
        assert "the disk is full" in str(full.value)

        small_disk.make_room()
        result = kiosk.execute(c.IssueTicket("household"), timeout=WAIT)
        assert result["ticket"]["number"] == "B002"
    finally:
        kiosk.stop()
        server.stop()
        runtime.stop()
