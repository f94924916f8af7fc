"""A node's devices start with the node, for every role and without screens: they open at
start, their health becomes core events carrying kind and window, a call shows on the
window's LED strip and a finished service asks its evaluator for a rating."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

import sync.node_devices
from agent import commands as c
from agent.node import DeviceSpec
from agent.node_runtime import Node
from devices.simulators import start_simulator
from sync.lan import HubUnreachable
from sync.node import start_node
from sync.node_devices import DeviceHealth
from tests.support import wait_until
from tests.sync.conftest import REPO, make_node


def hub_with_devices(root: Path) -> tuple[Node, dict[str, Any]]:
    """A hub data dir whose node.yaml names a printer, one LED bus for every window and an
    evaluator at window 1, each a simulator on a pty behind a stable link (as udev gives)."""
    node = make_node(root)
    sims = {
        "kiosk-printer": start_simulator("printer", link=root.parent / "printer"),
        "led-bus": start_simulator("led", link=root.parent / "led"),
        "evaluator-1": start_simulator("evaluator", link=root.parent / "evaluator"),
    }
    data = yaml.safe_load((root / "node.yaml").read_text())
    data["devices"] = [
        {"id": "kiosk-printer", "kind": "printer", "profile": "escpos-80mm"},
        {"id": "led-bus", "kind": "led", "profile": "led-rs485-generic"},
        {"id": "evaluator-1", "kind": "evaluator", "profile": "evaluator-generic", "window": 1},
    ]
    for spec in data["devices"]:
        spec["port"] = sims[spec["id"]].port
    (root / "node.yaml").write_text(yaml.safe_dump(data))
    return Node.open(node.data.root), sims


def headless_hub_day(root: Path) -> dict[str, Any]:
    """Start a hub with its devices (no screens), call, finish, rate, unplug the printer;
    return what the store recorded and what went over the wires."""
    node, sims = hub_with_devices(root)
    window = node.hall.windows[0]
    assert window.number == 1
    out: dict[str, Any] = {}
    try:
        with start_node(node, "hub") as services:
            runtime = services.runtime
            assert runtime is not None and services.devices is not None
            events: list[Any] = []
            runtime.subscribe(events.append)

            def devices() -> dict[str, Any]:
                rows: dict[str, Any] = runtime.read("hall_status")["devices"]
                return rows

            assert wait_until(
                lambda: (
                    len(devices()) == 3
                    and all(row["status"] == "online" for row in devices().values())
                )
            ), devices()
            out["opened"] = devices()
            ticket = runtime.execute(c.IssueTicket(window.services[0])).ticket
            assert ticket is not None
            number = ticket.number
            runtime.execute(c.CallNext(1))
            led = sims["led-bus"]
            assert wait_until(lambda: led.shown.get(1) == f"请{number}号"), led.history
            out["led"] = led.shown[1]
            runtime.execute(c.StartService(1))
            runtime.execute(c.FinishService(1))
            evaluator = sims["evaluator-1"]
            assert evaluator.wait_request(10), "the evaluator was not asked"
            out["rating_request"] = evaluator.requests[-1]
            assert evaluator.press(4)
            assert wait_until(lambda: any(e.type == "EvaluationRecorded" for e in events))
            out["rated"] = next(e.payload for e in events if e.type == "EvaluationRecorded")
            out["led_after_finish"] = led.shown[1]
            sims["kiosk-printer"].unplug()
            assert wait_until(lambda: devices()["kiosk-printer"]["status"] != "online", 15)
            out["unplugged"] = [
                e.payload
                for e in events
                if e.type == "DeviceStatusChanged" and e.payload["device"] == "kiosk-printer"
            ]
    finally:
        for sim in sims.values():
            sim.stop()
    with node.runtime() as runtime:  # what the store kept, read again after the stop
        out["recorded"] = runtime.read("device_states")
    return out


@pytest.mark.slow
def test_a_headless_hub_opens_its_devices_and_drives_them_from_the_core(tmp_path: Path) -> None:
    """GIVEN a hub's node.yaml with a printer, an LED bus and an evaluator at window 1 (on pty
    simulators) WHEN it runs without screens (no Qt imported) THEN the devices open at start
    and are recorded online with kind and window; a call shows on the LED's wire; a finish
    asks the evaluator and its key press is recorded as the rating; an unplugged printer is
    recorded offline, with its kind."""
    script = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from tests.sync.test_node_devices import headless_hub_day
        out = headless_hub_day(Path({str(tmp_path / "hub")!r}))
        out["qt_imported"] = "PySide6" in sys.modules
        print(json.dumps(out, default=str))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["qt_imported"] is False
    assert out["opened"]["kiosk-printer"] == {
        "status": "online",
        "reason": None,
        "kind": "printer",
        "window": None,
    }
    assert out["opened"]["evaluator-1"]["kind"] == "evaluator"
    assert out["opened"]["evaluator-1"]["window"] == 1
    number = out["led"].removeprefix("请").removesuffix("号")
    assert out["led"] == f"请{number}号" and number
    assert out["rating_request"] == [1, number]
    assert out["rated"]["window"] == 1 and out["rated"]["score"] == 4
    assert out["rated"]["number"] == number
    assert out["led_after_finish"] == ""
    gone = out["unplugged"][-1]
    assert (gone["status"], gone["reason"]) == ("offline", "port_gone"), gone
    assert gone["kind"] == "printer" and "window" not in gone
    assert out["recorded"]["kiosk-printer"]["status"] == gone["status"]


def with_devices(node: Node, devices: list[dict[str, Any]]) -> Node:
    data = yaml.safe_load((node.data.root / "node.yaml").read_text())
    data["devices"] = devices
    (node.data.root / "node.yaml").write_text(yaml.safe_dump(data))
    return Node.open(node.data.root)


@pytest.mark.mqtt
@pytest.mark.slow
def test_a_window_pc_drives_its_devices_from_the_hub_and_reports_them_there(
    tmp_path: Path, hall_broker: Any
) -> None:
    """GIVEN a window PC (terminal ``window-1``, no screens) with an LED strip and an
    evaluator at window 1, reaching its hub over the hall LAN WHEN the hub calls and finishes
    a ticket at window 1 THEN the PC's LED shows the number, its evaluator is asked and the
    press is recorded at the hub; its devices' health is recorded at the hub under
    ``window-1/<device>`` with kind and window."""
    hub = make_node(tmp_path / "hub", hall_broker=hall_broker.login("hub"))
    led = start_simulator("led", link=tmp_path / "led")
    evaluator = start_simulator("evaluator", link=tmp_path / "evaluator")
    pc = with_devices(
        make_node(tmp_path / "pc", hall_broker=hall_broker.login("window-1")),
        [
            {
                "id": "led-1",
                "kind": "led",
                "profile": "led-rs485-generic",
                "port": led.port,
                "window": 1,
                "address": 1,
            },
            {
                "id": "evaluator-1",
                "kind": "evaluator",
                "profile": "evaluator-generic",
                "port": evaluator.port,
                "window": 1,
            },
        ],
    )
    try:
        with (
            start_node(hub, "hub") as hub_services,
            start_node(pc, "window", remote=True) as pc_services,
        ):
            runtime = hub_services.runtime
            assert runtime is not None and pc_services.lan_client is not None
            assert pc_services.lan_client.wait_hub(10)
            events: list[Any] = []
            runtime.subscribe(events.append)

            def devices() -> dict[str, Any]:
                rows: dict[str, Any] = runtime.read("hall_status")["devices"]
                return rows

            assert wait_until(lambda: len(devices()) == 2, 15), devices()
            assert devices()["window-1/led-1"] == {
                "status": "online",
                "reason": None,
                "kind": "led",
                "window": 1,
            }
            assert devices()["window-1/evaluator-1"]["kind"] == "evaluator"
            service = hub.hall.windows[0].services[0]
            number = runtime.execute(c.IssueTicket(service)).ticket.number
            runtime.execute(c.CallNext(1))
            assert wait_until(lambda: led.shown.get(1) == f"请{number}号", 15), led.history
            runtime.execute(c.StartService(1))
            runtime.execute(c.FinishService(1))
            assert evaluator.wait_request(15)
            assert evaluator.requests[-1] == (1, number)
            assert evaluator.press(5)
            assert wait_until(lambda: any(e.type == "EvaluationRecorded" for e in events), 15)
            rated = next(e.payload for e in events if e.type == "EvaluationRecorded")
            assert (rated["window"], rated["number"], rated["score"]) == (1, number, 5)
    finally:
        led.stop()
        evaluator.stop()


def test_device_health_sent_while_the_hub_is_away_lands_when_it_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GIVEN a terminal whose hub does not answer WHEN its printer goes online, then out of
    paper THEN nothing is dropped: once the hub answers, the latest status (with kind and
    window) is recorded, and the superseded one is not sent again."""
    monkeypatch.setattr(sync.node_devices, "HEALTH_RETRY_S", 0.05)
    hub_back = threading.Event()
    sent: list[c.Command] = []
    refused: list[c.Command] = []

    def execute(command: c.Command) -> None:
        if not hub_back.is_set():
            refused.append(command)
            raise HubUnreachable("no reply from the hub")
        sent.append(command)

    spec = DeviceSpec(id="printer", kind="printer", profile="escpos-80mm", port="x", window=2)
    health = DeviceHealth([spec], execute)
    try:
        health("printer", "online", None)
        health("printer", "fault", "paper_out")
        assert wait_until(lambda: len(refused) >= 3)  # tried again and again meanwhile
        assert sent == []
        hub_back.set()
        assert wait_until(lambda: bool(sent))
        assert sent == [
            c.DeviceStatusChanged("printer", "fault", "paper_out", kind="printer", window=2)
        ]
    finally:
        health.close()


@pytest.mark.slow
def test_an_led_strip_shows_the_current_call_at_start_and_after_a_replug(tmp_path: Path) -> None:
    """GIVEN window 1 called a number while the hub was down (its LED bus blank) WHEN the
    hub starts THEN the strip shows that number without a new call; WHEN the strip is
    unplugged and plugged in again THEN it shows it again (a new pty, blank till then)."""
    hub = make_node(tmp_path / "hub")
    service = hub.hall.windows[0].services[0]
    with hub.runtime() as runtime:
        number = runtime.execute(c.IssueTicket(service)).ticket.number
        runtime.execute(c.CallNext(1))
        runtime.execute(c.PauseWindow(2, "break"))
    led = start_simulator("led", link=tmp_path / "led")
    hub = with_devices(
        hub, [{"id": "led-bus", "kind": "led", "profile": "led-rs485-generic", "port": led.port}]
    )
    try:
        with start_node(hub, "hub") as services:
            assert wait_until(lambda: led.shown.get(1) == f"请{number}号", 15), led.history
            assert wait_until(lambda: led.shown.get(2) == "暂停服务", 15), led.history
            manager = services.devices
            assert manager is not None
            led.unplug()
            assert wait_until(lambda: manager.status("led-bus")[0] != "online", 15)
            led.shown.clear()
            led.replug()
            assert wait_until(lambda: led.shown.get(1) == f"请{number}号", 30), led.history
    finally:
        led.stop()
