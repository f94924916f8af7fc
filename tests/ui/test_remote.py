"""Screens on another PC: the kiosk and a window station reach the hub over the hall LAN."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from sync.lan import LanClient, LanServer
from tests.sync.conftest import HallBroker, lan_hall
from tests.sync.conftest import hall_broker as hall_broker  # the shipped hall broker
from tests.ui.conftest import open_node
from ui.app import HallApp
from ui.core import RemoteCore
from ui.ports import FakeDevices

pytestmark = pytest.mark.mqtt


def test_kiosk_and_window_on_other_pcs_drive_the_hub(
    tmp_path: Path, hall_broker: HallBroker, qtbot
):
    """GIVEN a hub with the hall LAN on, a kiosk PC and a window PC (window 1), each logged in
    to the shipped hall broker as itself WHEN a citizen taps a service and the window calls
    THEN the number comes from the hub, and the hub's events update the terminals' screens."""
    hub = open_node(tmp_path / "hub")
    hall = hub.hall.model_copy(update={"terminals": lan_hall().terminals})
    hub = dataclasses.replace(
        hub, hall=hall, node=hub.node.model_copy(update={"hall_broker": hall_broker.login("hub")})
    )
    runtime = hub.runtime().start()
    server = LanServer(hub, runtime).start()
    assert server.wait_ready(10)
    opened: list[tuple[HallApp, RemoteCore, LanClient]] = []

    def terminal(name: str, role: str, windows: list[int] | None = None) -> HallApp:
        node = open_node(tmp_path / name)
        lan = LanClient(node.hall.hall_id, name, hall_broker.login(name), role=role).start()
        assert lan.wait_hub(10)
        core = RemoteCore(lan)
        app = HallApp(node, core, FakeDevices(), "zh_CN", (role,), windows, voice="silent")
        opened.append((app, core, lan))
        for view in app.views().values():
            qtbot.addWidget(view)
        return app

    try:
        kiosk = terminal("kiosk-1", "kiosk").kiosk_view
        window = terminal("window-1", "window", [1]).window_views[1]
        display = terminal("display-1", "display").display_view
        qtbot.mouseClick(kiosk.service_button("social-security"), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: kiosk.number.text() == "A001", timeout=5000)  # off the GUI thread
        assert runtime.query(lambda s: s.state.counters) == {"social-security": 1}
        qtbot.waitUntil(lambda: window.waiting.count() == 1, timeout=5000)
        window.buttons["call"].click()
        qtbot.waitUntil(lambda: window.current_number.text() == "A001", timeout=5000)
        called = runtime.query(lambda s: s.state.ticket_by_number("A001").state.value)
        assert called == "called"
        qtbot.waitUntil(lambda: display.latest_number.text() == "A001", timeout=5000)
        assert server.stats_snapshot()["forbidden"] == 0  # the screens ask only what they may
    finally:
        for app, core, lan in opened:
            app.close()
            core.close()
            lan.stop()
        server.stop()
        runtime.stop()
