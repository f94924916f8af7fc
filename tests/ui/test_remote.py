"""Screens on another PC: the kiosk and a window station reach the hub over the hall LAN."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QObject, Qt

from agent import commands as c
from agent.node import BrokerConfig
from agent.runtime import CoreRuntime
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
        qtbot.waitUntil(lambda: "social-security" in kiosk.service_codes(), timeout=5000)
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


@dataclass
class LanHall:
    runtime: CoreRuntime
    server: LanServer
    app: HallApp


@pytest.fixture
def lan_hall(tmp_path: Path, broker: Broker, qtbot) -> Iterator[LanHall]:
    """A hub serving the hall LAN, and a terminal PC with every screen, on a real Mosquitto;
    the screens have read the hall once."""
    lan_broker = BrokerConfig(url=broker.url)
    hub = open_node(tmp_path / "hub")
    hub = dataclasses.replace(hub, node=hub.node.model_copy(update={"hall_broker": lan_broker}))
    runtime = hub.runtime(tick_seconds=3600).start()
    server = LanServer(hub, runtime).start()
    terminal = open_node(tmp_path / "terminal")
    lan = LanClient(terminal.hall.hall_id, "terminal-1", lan_broker).start()
    core = RemoteCore(lan)
    try:
        assert server.wait_ready(10) and lan.wait_hub(10)
        app = HallApp(terminal, core, FakeDevices(), "en", windows=[1], voice="silent")
        for view in app.views().values():
            qtbot.addWidget(view)
        qtbot.waitUntil(lambda: not any(p.reading for p in app.presenters()), timeout=5000)
        yield LanHall(runtime, server, app)
        app.close()
    finally:
        core.close()
        lan.stop()
        server.stop()
        runtime.stop()


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def test_screens_keep_painting_while_the_hub_is_held(lan_hall: LanHall, qtbot):
    """GIVEN a terminal's kiosk, window station and display, and the hub's core held by the
    test WHEN every screen refreshes (each refresh reads the hub) THEN the GUI thread goes on
    processing events and painting, and no screen says the hub is lost; WHEN the hub is let
    go THEN the screens show what it committed meanwhile."""
    runtime, server, app = lan_hall.runtime, lan_hall.server, lan_hall.app
    kiosk, window = app.kiosk_view, app.window_views[1]
    assert kiosk is not None
    kiosk.show()
    paints = PaintCounter()
    kiosk.installEventFilter(paints)
    release = threading.Event()
    held = runtime._call(lambda store: release.wait(30))
    try:
        issued = runtime.submit(c.IssueTicket("social-security"))  # commits once let go
        asked = server.stats_snapshot()["queries"]
        for presenter in app.presenters():
            presenter.refresh()
        # a read reached the hub and waits there behind the held core
        qtbot.waitUntil(lambda: server.stats_snapshot()["queries"] > asked, timeout=5000)
        for _ in range(3):
            before = paints.count
            kiosk.update()  # a paint request: only the GUI thread's event loop serves it
            qtbot.waitUntil(lambda before=before: paints.count > before, timeout=2000)
        assert not held.done() and not issued.done()  # all of that while the hub was held
        assert [p.problem for p in app.presenters()] == ["", "", ""]
        assert window.waiting.count() == 0
    finally:
        release.set()
    qtbot.waitUntil(lambda: window.waiting.count() == 1, timeout=5000)
    assert issued.result(5).ticket is not None
    assert [p.problem for p in app.presenters()] == ["", "", ""]
