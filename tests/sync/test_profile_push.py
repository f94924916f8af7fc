"""Device profiles pushed by central reach every device of a hall while it runs: the hub's
own, and the terminals' on other PCs through the hall LAN; a profile a device does not
answer with is rolled back, and central hears of each outcome (real Mosquitto brokers: the
central one and the shipped hall broker with its ACL; devices on ptys)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent import commands as c
from agent.cli import main
from agent.node import DeviceSpec
from agent.node_runtime import Node
from devices.printer import sample_ticket
from devices.simulators import start_simulator
from sync.node import start_node
from sync.signing import CENTRAL_PUBLIC_KEY_FILE, generate_key, private_pem, public_pem
from tests.support import wait_until
from tests.sync.conftest import (
    FAST_SYNC,
    REPO,
    Broker,
    HallBroker,
    free_port,
    make_node,
    run_cli,
    scrape_metrics,
    spawn_cli,
    wait_line,
)

KEY = generate_key()
PROFILES = REPO / "firmware_profiles"


@pytest.fixture
def central_key(tmp_path: Path) -> Path:
    path = tmp_path / "central_key.pem"
    path.write_bytes(private_pem(KEY))
    return path


@pytest.fixture
def central(broker: Broker, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """``hall-agent central`` in its own process: (its SQLite store, its metrics URL)."""
    db = tmp_path / "central.db"
    proc = spawn_cli(
        "central", "--broker", broker.url, "--db", str(db), "--metrics-port", str(free_port())
    )
    try:
        yield db, wait_line(proc, "fleet metrics: ").split()[-1]
    finally:
        proc.terminate()
        proc.wait(10)


def push_profile(
    broker: Broker, key: Path, hall: str, name: str, document: dict[str, Any], version: int
) -> None:
    path = key.parent / f"{name}-v{version}.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    done = run_cli(
        *("central", "push", "profile", name, str(path), "--hall", hall),
        *("--version", str(version), "--broker", broker.url, "--key", str(key)),
    )
    assert done.returncode == 0, done.stderr


def shipped(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PROFILES / f"{name}.yaml").read_text())
    return data


def terminal_pc(root: Path, hall_broker: HallBroker, login: str, devices: list[Any]) -> Node:
    """A terminal PC's data dir: its hall broker login, its devices, a 1 s health check."""
    make_node(root, hall_broker=hall_broker.login(login))
    data = yaml.safe_load((root / "node.yaml").read_text())
    data.update(devices=devices, device_health_timeout_s=1.0)
    (root / "node.yaml").write_text(yaml.safe_dump(data))
    return Node.open(root)


def kiosk_pc(root: Path, hall_broker: HallBroker, printer_port: str) -> Node:
    """Terminal PC kiosk-1 with its ESC/POS printer (``printer``) on ``printer_port``."""
    printer = {"id": "printer", "kind": "printer", "profile": "escpos-80mm", "port": printer_port}
    return terminal_pc(root, hall_broker, "kiosk-1", [printer])


def fleet_node(db: Path, node: Node, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["central", "report", "--db", str(db), "--json"]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    (entry,) = [n for n in report["nodes"] if n["node_id"] == node.node.node_id]
    return {**entry, "rollbacks": report["rollbacks"], "alarms": report["alarms"]}


@pytest.mark.mqtt
@pytest.mark.slow
def test_a_pushed_profile_reaches_a_kiosk_printer_and_a_broken_one_is_rolled_back(
    broker: Broker,
    hall_broker: HallBroker,
    central: tuple[Path, str],
    central_key: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GIVEN central, a hub with its own printer, a kiosk PC with a printer and a window PC
    with an LED strip (devices on ptys), the PCs reaching the hub over the shipped hall broker
    WHEN IT pushes a good printer profile THEN the hub's and the kiosk's printers re-open with
    it while running (and print), and central's fleet report shows the new version per device
    WHEN IT then pushes an LED profile whose checksum the strip's firmware does not speak
    THEN the strip fails its health check, is rolled back to its last good profile and keeps
    working, and central reports the rollback with its reason (report and metrics)."""
    db, metrics = central
    hall_id = hall_broker.hall.hall_id
    hub = make_node(tmp_path / "hub", broker.url, hall_broker=hall_broker.login("hub"))
    (hub.data.root / CENTRAL_PUBLIC_KEY_FILE).write_bytes(public_pem(KEY))
    hub_printer = DeviceSpec(
        id="hub-printer", kind="printer", profile="escpos-80mm", port="-", simulated=True
    )
    printer = start_simulator("printer", link=tmp_path / "printer")
    led = start_simulator("led", link=tmp_path / "led")
    kiosk = kiosk_pc(tmp_path / "kiosk", hall_broker, printer.port)
    window = terminal_pc(
        tmp_path / "window",
        hall_broker,
        "window-1",
        [
            {
                "id": "led-1",
                "kind": "led",
                "profile": "led-rs485-generic",
                "port": led.port,
                "window": 1,
                "address": 1,
            }
        ],
    )
    try:
        with (
            start_node(hub, "hub", settings=FAST_SYNC, devices=[hub_printer]) as hub_side,
            start_node(kiosk, "kiosk", remote=True) as kiosk_side,
            start_node(window, "window", remote=True) as window_side,
        ):
            runtime = hub_side.runtime
            assert runtime is not None
            assert kiosk_side.devices is not None and window_side.devices is not None

            def states() -> dict[str, Any]:
                rows: dict[str, Any] = runtime.read("device_states")
                return rows

            wanted = {"hub-printer", "kiosk-1/printer", "window-1/led-1"}
            assert wait_until(
                lambda: {n for n, d in states().items() if d["status"] == "online"} >= wanted, 20
            ), states()

            # ---- a good profile: 42 columns instead of 48 ---------------------------------
            good = {**shipped("escpos-80mm"), "chars_per_line": 42, "name": "ESC/POS 80 mm, 42"}
            push_profile(broker, central_key, hall_id, "escpos-80mm", good, 2)
            kiosk_devices = kiosk_side.devices
            assert wait_until(
                lambda: getattr(kiosk_devices.profile("printer"), "chars_per_line", 0) == 42, 30
            )
            assert wait_until(
                lambda: all(
                    states()[d].get("profile", {}).get("outcome") == "applied"
                    for d in ("hub-printer", "kiosk-1/printer")
                ),
                20,
            ), states()
            assert states()["kiosk-1/printer"]["profile"]["version"] == 2
            printer_handle = kiosk_devices.printer()
            assert printer_handle is not None
            assert printer_handle.print_ticket(sample_ticket()).ok  # the same open agent
            assert printer.wait_tickets(1)

            def kiosk_printer_row() -> dict[str, Any]:
                row: dict[str, Any] = fleet_node(db, hub, capsys)["devices"]["kiosk-1/printer"]
                return row

            assert wait_until(lambda: kiosk_printer_row().get("profile_version") == 2, 30)
            assert kiosk_printer_row()["profile_outcome"] == "applied"
            assert kiosk_printer_row()["profile"] == "escpos-80mm"

            # ---- a broken one: the strip's frames checksummed xor8, the strip wants sum8 --
            broken = shipped("led-rs485-generic")
            broken["framing"] = {**broken["framing"], "checksum": {"kind": "xor8"}}
            push_profile(broker, central_key, hall_id, "led-rs485-generic", broken, 5)
            assert wait_until(
                lambda: (
                    states()["window-1/led-1"].get("profile", {}).get("outcome") == "rolled_back"
                ),
                30,
            ), states()
            reason = states()["window-1/led-1"]["profile"]["reason"]
            assert "health check failed" in reason and "no_answer" in reason
            led_profile = window_side.devices.profile("led-1")
            assert led_profile.framing.checksum.kind == "sum8"  # type: ignore[union-attr]
            number = runtime.execute(c.IssueTicket(hub.hall.windows[0].services[0])).ticket
            assert number is not None
            runtime.execute(c.CallNext(1))
            assert wait_until(lambda: led.shown.get(1) == f"请{number.number}号", 15)

            def rollbacks() -> list[dict[str, Any]]:
                found: list[dict[str, Any]] = fleet_node(db, hub, capsys)["rollbacks"]
                return found

            assert wait_until(lambda: len(rollbacks()) == 1, 30)
            (rollback,) = rollbacks()
            assert rollback["topic"] == f"hall/v1/{hall_id}/hall/profile/led-rs485-generic"
            assert rollback["version"] == 5
            assert "window-1/led-1" in rollback["reason"] and "no_answer" in rollback["reason"]
            node = fleet_node(db, hub, capsys)
            assert wait_until(
                lambda: (
                    fleet_node(db, hub, capsys)["devices"]["window-1/led-1"].get("profile_outcome")
                    == "rolled_back"
                ),
                30,
            )
            assert any(a["kind"] == "rollback" for a in node["alarms"])
            figures = scrape_metrics(metrics)
            assert figures[("hall_profile_rollbacks_total", ())] == 1
            labels = (
                ("device", "window-1/led-1"),
                ("hall", hall_id),
                ("node", hub.node.node_id),
                ("profile", "led-rs485-generic"),
            )
            assert figures[("hall_device_profile_rolled_back", labels)] == 1
    finally:
        printer.stop()
        led.stop()


@pytest.mark.mqtt
@pytest.mark.slow
def test_a_terminal_takes_profiles_only_from_the_hub_and_only_newer_versions(
    hall_broker: HallBroker, tmp_path: Path
) -> None:
    """GIVEN a hub and a kiosk PC with a printer on the shipped hall broker
    WHEN another terminal's login publishes a profile (v9) on the relay topic, then the hub
    relays v1 (the marker), v3, an older v2 and v4
    THEN the kiosk re-opens its printer with v1, v3 and v4 only: the other login could not
    write the topic (else v1 would have been older), and v2 was refused as older than v3."""
    from sync.lan import wire
    from sync.mqtt import client_for, parse_broker_url

    hall_id = hall_broker.hall.hall_id
    hub = make_node(tmp_path / "hub", hall_broker=hall_broker.login("hub"))
    printer = start_simulator("printer", link=tmp_path / "printer")
    kiosk = kiosk_pc(tmp_path / "kiosk", hall_broker, printer.port)

    def columns(n: int) -> dict[str, Any]:
        return {**shipped("escpos-80mm"), "chars_per_line": n}

    intruder = client_for(hall_broker.login("probe"), "probe", parse_broker_url(hall_broker.url))
    try:
        with (
            start_node(hub, "hub") as hub_side,
            start_node(kiosk, "kiosk", remote=True) as kiosk_side,
        ):
            runtime, server = hub_side.runtime, hub_side.lan_server
            assert runtime is not None and server is not None and kiosk_side.devices is not None
            events: list[Any] = []
            runtime.subscribe(events.append)
            assert kiosk_side.lan_client is not None and kiosk_side.lan_client.wait_hub(10)
            intruder.connect("127.0.0.1", hall_broker.port)
            intruder.loop_start()
            forged = wire.profile_payload("escpos-80mm", 9, columns(30))
            intruder.publish(
                wire.profile_topic(hall_id, "escpos-80mm"), forged, qos=1, retain=True
            ).wait_for_publish(10)

            def applied() -> list[int]:
                return [
                    e.payload["version"]
                    for e in events
                    if e.type == "DeviceProfileApplied" and e.payload["outcome"] == "applied"
                ]

            for version, width in ((1, 40), (3, 44), (2, 36), (4, 46)):
                assert server.relay_profile("escpos-80mm", version, columns(width))
                if version != 2:
                    assert wait_until(lambda v=version: v in applied(), 20), applied()
            assert applied() == [1, 3, 4]
            assert getattr(kiosk_side.devices.profile("printer"), "chars_per_line", 0) == 46
            assert all(
                e.payload["device"] == "kiosk-1/printer"
                for e in events
                if e.type == "DeviceProfileApplied"
            )
    finally:
        intruder.loop_stop()
        intruder.disconnect()
        printer.stop()
