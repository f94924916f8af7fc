"""Screens on another PC: the kiosk and a window station reach the hub over the hall LAN."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from agent.node import BrokerConfig
from sync.lan import LanClient, LanServer
from tests.sync.conftest import Broker
from tests.sync.conftest import broker as broker  # the real Mosquitto fixture
from tests.ui.conftest import open_node
from ui.app import HallApp
from ui.core import RemoteCore
from ui.ports import FakeDevices

pytestmark = pytest.mark.mqtt


def test_kiosk_and_window_on_other_pcs_drive_the_hub(tmp_path: Path, broker: Broker, qtbot):
    """GIVEN a hub with the hall LAN on, and a terminal PC with a kiosk and window 1
    WHEN a citizen taps a service and the window calls THEN the number comes from the hub,
    and the hub's events update the terminal's screens."""
    lan_broker = BrokerConfig(url=broker.url)
    hub = open_node(tmp_path / "hub")
    hub = dataclasses.replace(hub, node=hub.node.model_copy(update={"hall_broker": lan_broker}))
    runtime = hub.runtime().start()
    server = LanServer(hub, runtime).start()
    assert server.wait_ready(10)
    terminal = open_node(tmp_path / "terminal")
    lan = LanClient(terminal.hall.hall_id, "terminal-1", lan_broker).start()
    assert lan.wait_hub(10)
    core = RemoteCore(lan)
    app = HallApp(
        terminal,
        core,
        FakeDevices(),
        "zh_CN",
        roles=("kiosk", "window"),
        windows=[1],
        voice="silent",
    )
    try:
        kiosk, window = app.kiosk_view, app.window_views[1]
        qtbot.addWidget(kiosk)
        qtbot.addWidget(window)
        qtbot.mouseClick(kiosk.service_button("social-security"), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: kiosk.number.text() == "A001", timeout=5000)  # off the GUI thread
        assert runtime._query(lambda s: s.state.counters) == {"social-security": 1}
        qtbot.waitUntil(lambda: window.waiting.count() == 1, timeout=5000)
        window.buttons["call"].click()
        qtbot.waitUntil(lambda: window.current_number.text() == "A001", timeout=5000)
        called = runtime._query(lambda s: s.state.ticket_by_number("A001").state.value)
        assert called == "called"
    finally:
        app.close()
        core.close()
        lan.stop()
        server.stop()
        runtime.stop()
