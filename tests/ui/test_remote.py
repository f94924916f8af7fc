"""Screens on another PC: the kiosk and a window station reach the hub over the hall LAN."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QObject, Qt

from agent import commands as c
from agent.node import BrokerConfig
from agent.runtime import CoreRuntime
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
        qtbot.waitUntil(lambda: "social-security" in kiosk.service_codes(), timeout=5000)
        qtbot.mouseClick(kiosk.service_button("social-security"), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: kiosk.number.text() == "A001", timeout=5000)  # off the GUI thread
        assert runtime._query(lambda s: s.state.counters) == {"social-security": 1}
        qtbot.waitUntil(lambda: window.waiting.count() == 1, timeout=5000)
        window.buttons["call"].click()
        qtbot.waitUntil(lambda: window.current_number.text() == "A001", timeout=5000)
        called = runtime._query(lambda s: s.state.ticket_by_number("A001").state.value)
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


#: The terminal PCs of the LAN tests: login, role, windows.
TERMINALS = (
    ("kiosk-1", "kiosk", None),
    ("window-1", "window", [1]),
    ("display-1", "display", None),
)


@dataclass
class LanSite:
    """A hub PC (its core and hall LAN server) and three terminal PCs, one per screen role
    (``TERMINALS``), on a real Mosquitto. The hub can be stopped and started again."""

    tmp: Path
    broker: HallBroker
    qtbot: Any
    runtime: CoreRuntime | None = None
    server: LanServer | None = None
    apps: dict[str, HallApp] = field(default_factory=dict)  # by role
    _stops: list[Callable[[], None]] = field(default_factory=list)

    def login(self, name: str) -> BrokerConfig:
        """The ``hall_broker`` settings of ``name`` (a terminal's login, or ``hub``)."""
        return self.broker.login(name)

    def start_hub(self) -> None:
        hub = open_node(self.tmp / "hub")
        hall = hub.hall.model_copy(update={"terminals": lan_hall().terminals})
        hub = dataclasses.replace(
            hub, hall=hall, node=hub.node.model_copy(update={"hall_broker": self.login("hub")})
        )
        if self.runtime is None:
            self.runtime = hub.runtime(tick_seconds=3600).start()
        self.server = LanServer(hub, self.runtime).start()
        assert self.server.wait_ready(10)

    def stop_hub(self) -> None:
        assert self.server is not None
        self.server.stop()
        self.server = None

    def start_terminals(self, language: str = "en") -> None:
        for name, role, windows in TERMINALS:
            node = open_node(self.tmp / name)
            lan = LanClient(node.hall.hall_id, name, self.login(name), role=role, reconnect_max_s=1)
            self._stops.append(lan.start().stop)
            core = RemoteCore(lan)
            self._stops.append(core.close)
            app = HallApp(node, core, FakeDevices(), language, (role,), windows, voice="silent")
            self._stops.append(app.close)
            self.apps[role] = app
            for view in app.views().values():
                self.qtbot.addWidget(view)

    @property
    def presenters(self) -> list[Any]:
        return [p for app in self.apps.values() for p in app.presenters()]

    @property
    def kiosk(self) -> Any:
        return self.apps["kiosk"].kiosk_view

    @property
    def window(self) -> Any:
        return self.apps["window"].window_views[1]

    @property
    def display(self) -> Any:
        return self.apps["display"].display_view

    def wait_alive(self) -> None:
        """Until every screen has read the hall and says nothing is wrong."""
        self.qtbot.waitUntil(
            lambda: (
                all(app.config_ready for app in self.apps.values())
                and not any(p.reading or p.problem for p in self.presenters)
            ),
            timeout=20_000,
        )

    def close(self) -> None:
        for stop in reversed(self._stops):
            stop()
        if self.server is not None:
            self.server.stop()
        if self.runtime is not None:
            self.runtime.stop()


@pytest.fixture
def lan_site(tmp_path: Path, hall_broker: HallBroker, qtbot) -> Iterator[LanSite]:
    site = LanSite(tmp_path, hall_broker, qtbot)
    try:
        yield site
    finally:
        site.close()


@pytest.fixture
def lan_up(lan_site: LanSite) -> LanSite:
    """The hub up and every terminal's screens alive."""
    lan_site.start_hub()
    lan_site.start_terminals()
    lan_site.wait_alive()
    return lan_site


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def test_screens_keep_painting_while_the_hub_is_held(lan_up: LanSite, qtbot):
    """GIVEN a kiosk, a window station and a hall display on terminal PCs, and the hub's core
    held by the test WHEN every screen refreshes (each refresh reads the hub) THEN the GUI
    thread goes on processing events and painting, and no screen says the hub is lost; WHEN
    the hub is let go THEN the screens show what it committed meanwhile."""
    runtime, server, kiosk, window = lan_up.runtime, lan_up.server, lan_up.kiosk, lan_up.window
    assert runtime is not None and server is not None
    kiosk.show()
    paints = PaintCounter()
    kiosk.installEventFilter(paints)
    release = threading.Event()
    held = runtime._call(lambda store: release.wait(30))
    try:
        issued = runtime.submit(c.IssueTicket("social-security"))  # commits once let go
        asked = server.stats_snapshot()["queries"]
        for presenter in lan_up.presenters:
            presenter.refresh()
        # a read reached the hub and waits there behind the held core
        qtbot.waitUntil(lambda: server.stats_snapshot()["queries"] > asked, timeout=5000)
        for _ in range(3):
            before = paints.count
            kiosk.update()  # a paint request: only the GUI thread's event loop serves it
            qtbot.waitUntil(lambda before=before: paints.count > before, timeout=2000)
        assert not held.done() and not issued.done()  # all of that while the hub was held
        assert [p.problem for p in lan_up.presenters] == ["", "", ""]
        assert window.waiting.count() == 0
    finally:
        release.set()
    qtbot.waitUntil(lambda: window.waiting.count() == 1, timeout=5000)
    assert issued.result(5).ticket is not None
    assert [p.problem for p in lan_up.presenters] == ["", "", ""]


def test_a_terminal_started_with_its_hub_down_waits_and_comes_up_by_itself(
    lan_site: LanSite, qtbot
):
    """GIVEN the hub PC off (no hall broker, no hub) WHEN the terminals start THEN none
    fails: the kiosk names the hall and sends citizens to the service desk, the other screens
    say they are connecting; WHEN the broker and the hub come up THEN every screen comes
    alive by itself and the kiosk issues numbers."""
    lan_site.broker.stop()
    lan_site.start_terminals("zh_CN")
    kiosk, window, display = lan_site.kiosk, lan_site.window, lan_site.display
    assert kiosk.pages.currentWidget() is kiosk.away_page
    assert kiosk.away_hall.text() == "青石镇便民服务中心"  # the terminal's own hall config
    assert kiosk.away_desk.text() == "请到服务台取号"
    assert window.hub_problem.text() == display.hub_problem.text() == "正在连接大厅系统…"
    lan_site.broker.start()
    lan_site.start_hub()
    lan_site.wait_alive()
    assert kiosk.pages.currentWidget() is kiosk.home_page
    qtbot.mouseClick(kiosk.service_button("social-security"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: kiosk.number.text() == "A001", timeout=10_000)


def test_a_kiosk_whose_hub_goes_away_sends_citizens_to_the_desk_and_recovers(
    lan_up: LanSite, qtbot
):
    """GIVEN a kiosk on a terminal PC serving citizens WHEN the hub stops THEN the kiosk
    shows the hall's name and tells citizens to get a number at the service desk; WHEN the
    hub is back THEN the kiosk is back on its home screen by itself and issues numbers."""
    kiosk, presenter = lan_up.kiosk, lan_up.apps["kiosk"].kiosk
    assert presenter is not None
    assert kiosk.pages.currentWidget() is kiosk.home_page
    lan_up.stop_hub()
    qtbot.waitUntil(lambda: kiosk.pages.currentWidget() is kiosk.away_page, timeout=10_000)
    assert kiosk.away_hall.text() == "Qingshi Town Service Centre"
    assert kiosk.away_desk.text() == "Please go to the service desk for a number"
    presenter.on_code("APPT-DEMO-0001")  # a booking scanned meanwhile: to the desk as well
    assert kiosk.message.text() == "Please go to the service desk for a number"
    lan_up.start_hub()
    qtbot.waitUntil(lambda: kiosk.pages.currentWidget() is kiosk.home_page, timeout=10_000)
    lan_up.wait_alive()
    qtbot.mouseClick(kiosk.service_button("social-security"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: kiosk.number.text() == "A001", timeout=10_000)
