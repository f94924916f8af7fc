"""Badge scanners attached through the device layer: each window's scanner (node.yaml
``window``), opened as the node start-up opens devices, on a simulator behind a pty, signs
staff in at its own window's station only; the kiosk's scanner signs nobody in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import always_open, sample_config
from agent.node import DeviceSpec
from sync.node_devices import DeviceHealth, open_devices, runtime_execute
from tests.support import STAFF_CARD, give_staff_credentials, staffed
from tests.ui.conftest import open_node
from ui.app import HallApp
from ui.core import LocalCore
from ui.hall_devices import ManagedDevices

pytestmark = pytest.mark.qt

SCANNERS = {"kiosk-scanner": None, "scanner-1": 1, "scanner-2": 2}


def scanner(id_: str, window: int | None) -> DeviceSpec:
    """A serial scanner on a simulator (a pty), at ``window`` or at the kiosk (None)."""
    return DeviceSpec(
        id=id_, kind="scanner", profile="scanner-serial", port="sim", window=window, simulated=True
    )


@pytest.fixture
def scanned_hall(tmp_path: Path, qtbot) -> Iterator[tuple[HallApp, ManagedDevices]]:
    """A staffed hall whose kiosk and windows 1 and 2 each have a serial scanner."""
    node = open_node(tmp_path / "hall", hall_config=staffed(always_open(sample_config())))
    give_staff_credentials(node.data.root)
    runtime = node.runtime().start()
    specs = [scanner(id_, window) for id_, window in SCANNERS.items()]
    health = DeviceHealth(specs, runtime_execute(runtime))
    manager = open_devices(node, specs, health)
    devices = ManagedDevices(manager)
    roles = ("kiosk", "window")
    app = HallApp(node, LocalCore(runtime), devices, "zh_CN", roles, [1, 2], voice="silent")
    for view in app.views().values():
        qtbot.addWidget(view)
    qtbot.waitUntil(
        lambda: all(devices.states.get(d, ("",))[0] == "online" for d in SCANNERS), timeout=10000
    )
    yield app, devices
    app.close()
    app.core.close()
    manager.close()
    health.close()
    runtime.stop()


def staff_at(app: HallApp) -> dict[int, str | None]:
    return {w["number"]: w["staff_id"] for w in app.core.hall_status()["windows"]}


def test_each_window_scanner_signs_in_at_its_own_window_only(scanned_hall, qtbot) -> None:
    """GIVEN windows 1 and 2 on their sign-in page WHEN window 2's scanner reads a staff badge
    THEN window 2 signs in and window 1, whose station saw the code too, does not; a code
    that is not a badge at window 1's scanner is refused there with a message."""
    app, devices = scanned_hall
    one, two = app.window_views[1], app.window_views[2]
    devices.simulator("scanner-2").emit(STAFF_CARD)
    qtbot.waitUntil(lambda: two.staff.text() == "工作人员：张* (S-0003)", timeout=5000)
    assert not one.sign_in_box.isHidden() and one.message.text() == ""
    devices.simulator("scanner-1").emit("APPT-0930-XYZ")
    qtbot.waitUntil(lambda: one.message.text() == "扫描的不是工作证", timeout=5000)
    assert staff_at(app) == {1: None, 2: "S-0003", 3: None}


def test_the_kiosk_scanner_reads_for_the_kiosk_and_signs_nobody_in(scanned_hall, qtbot) -> None:
    app, devices = scanned_hall
    assert app.kiosk is not None
    said: list[str] = []
    app.kiosk.message.connect(said.append)
    devices.simulator("kiosk-scanner").emit(STAFF_CARD)
    qtbot.waitUntil(lambda: bool(said), timeout=5000)  # the kiosk had it (not a booking)
    assert staff_at(app) == {1: None, 2: None, 3: None}
    assert all(view.message.text() == "" for view in app.window_views.values())
