"""A full disk over MQTT (a real Mosquitto, a real small tmpfs): a terminal on the hall LAN
hears ``disk_full`` and gets its ticket once space is freed; central's status topic carries
the disk alarm while it lasts."""

from __future__ import annotations

import json
import queue
from pathlib import Path
from typing import Any

import pytest

from agent import commands as c
from agent.errors import DiskFull
from agent.node_runtime import Node
from sync import contract as ct
from sync.lan import LanServer, RemoteError
from sync.mqtt import new_client, parse_broker_url
from sync.service import SyncSettings, start_sync
from tests.support import SmallDisk, set_node_field, wait_until
from tests.sync.conftest import Broker, HallBroker, make_node, terminal_client

pytestmark = pytest.mark.mqtt

WAIT = 20.0


def test_a_terminal_gets_disk_full_then_its_ticket_once_space_is_freed(
    tmp_path: Path, hall_broker: HallBroker, small_disk: SmallDisk
) -> None:
    root = small_disk.path / "hub"
    make_node(root, hall_broker=hall_broker.login("hub"))
    set_node_field(root, "disk_reserve_mb", 0)  # SQLite's own failure, not the reserve's
    node = Node.open(root)
    runtime = node.runtime(tick_seconds=3600).start()
    server = LanServer(node, runtime).start()
    kiosk = terminal_client(hall_broker, "kiosk-1").start()
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


def test_central_hears_the_disk_alarm_on_the_status_topic_while_it_lasts(
    broker: Broker, small_disk: SmallDisk
) -> None:
    root = small_disk.path / "hub"
    make_node(root)
    set_node_field(root, "disk_reserve_mb", 1)
    node = Node.open(root)
    statuses: queue.Queue[dict[str, Any]] = queue.Queue()
    central = new_client("central-status", parse_broker_url(broker.url))
    central.on_message = lambda client, userdata, msg: statuses.put(json.loads(msg.payload))
    central.connect("127.0.0.1", broker.port)
    central.subscribe(ct.status_topic(node.hall.hall_id, node.node.node_id), qos=1)
    central.loop_start()
    runtime = node.runtime(tick_seconds=3600).start()
    handle = start_sync(node, runtime, broker.url, SyncSettings(status_interval_s=0.1))
    assert handle is not None

    def latest_alarm() -> bool | None:
        alarm = None
        while not statuses.empty():
            alarm = statuses.get_nowait().get("disk_alarm", alarm)
        return alarm

    try:
        assert wait_until(lambda: latest_alarm() is False, WAIT)
        small_disk.fill(leave_bytes=512 * 1024)
        assert wait_until(lambda: latest_alarm() is True, WAIT)
        small_disk.make_room()
        assert wait_until(lambda: latest_alarm() is False, WAIT)
    finally:
        handle.stop()
        runtime.stop()
        central.loop_stop()
        central.disconnect()
