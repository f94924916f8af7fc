"""Stable device names: by unique USB ids, else by the USB port path read at install."""

from __future__ import annotations

from pathlib import Path

import yaml

from agent.node import DeviceSpec
from devices.profiles import default_profiles_dir
from devices.udev import udev_rules


def profile_with_ids(folder: Path, name: str, base: str, vid: int, pid: int) -> None:
    data = yaml.safe_load((default_profiles_dir() / f"{base}.yaml").read_text())
    data["transport"] = {**data.get("transport", {}), "usb_vid": vid, "usb_pid": pid}
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(data))


def specs() -> list[DeviceSpec]:
    return [
        DeviceSpec(id="printer", kind="printer", profile="hprt-80", port="/dev/ttyACM0"),
        DeviceSpec(id="idreader", kind="idreader", profile="ch340-reader", port="/dev/ttyUSB0"),
        DeviceSpec(id="led-bus", kind="led", profile="ch340-led", port="/dev/ttyUSB1"),
        DeviceSpec(id="scanner", kind="scanner", profile="scanner-serial", port="/dev/ttyUSB2"),
        DeviceSpec(id="sim", kind="printer", profile="escpos-80mm", port="sim", simulated=True),
    ]


def test_unique_ids_by_ids_shared_ones_by_port_path(tmp_path: Path) -> None:
    """GIVEN a printer with its own USB ids, an ID reader and an RS-485 adapter that share
    the CH340's ids, and a scanner whose profile has none WHEN the rules are written with the
    install-time probe THEN the printer is matched by ids and the others by their port."""
    profile_with_ids(tmp_path, "hprt-80", "escpos-80mm", 0x0FE6, 0x811E)
    profile_with_ids(tmp_path, "ch340-reader", "ga467-serial", 0x1A86, 0x7523)
    profile_with_ids(tmp_path, "ch340-led", "led-rs485-generic", 0x1A86, 0x7523)
    ports = {"/dev/ttyUSB0": "usb-0:1.2:1.0", "/dev/ttyUSB1": "usb-0:1.3:1.0"}
    rules = udev_rules(specs(), tmp_path, lambda port: ports.get(port, "usb-0:1.4:1.0"))
    lines = [line for line in rules.splitlines() if not line.startswith("#")]
    tail = 'GROUP="dialout", MODE="0660"'
    assert lines == [
        'SUBSYSTEM=="tty", ATTRS{idVendor}=="0fe6", ATTRS{idProduct}=="811e", '
        f'SYMLINK+="hall/printer", {tail}',
        f'SUBSYSTEM=="tty", ENV{{ID_PATH}}=="usb-0:1.2:1.0", SYMLINK+="hall/idreader", {tail}',
        f'SUBSYSTEM=="tty", ENV{{ID_PATH}}=="usb-0:1.3:1.0", SYMLINK+="hall/led-bus", {tail}',
        f'SUBSYSTEM=="tty", ENV{{ID_PATH}}=="usb-0:1.4:1.0", SYMLINK+="hall/scanner", {tail}',
    ]
    assert "# idreader: idreader, shares its USB ids with another device" in rules
    assert "# scanner: scanner, has no USB ids in its profile" in rules
    assert "sim" not in "".join(lines)


def test_without_the_probe_the_shared_ones_say_what_to_do(tmp_path: Path) -> None:
    profile_with_ids(tmp_path, "hprt-80", "escpos-80mm", 0x0FE6, 0x811E)
    profile_with_ids(tmp_path, "ch340-reader", "ga467-serial", 0x1A86, 0x7523)
    profile_with_ids(tmp_path, "ch340-led", "led-rs485-generic", 0x1A86, 0x7523)
    rules = udev_rules(specs(), tmp_path)
    assert [line for line in rules.splitlines() if not line.startswith("#")] == [
        'SUBSYSTEM=="tty", ATTRS{idVendor}=="0fe6", ATTRS{idProduct}=="811e", '
        'SYMLINK+="hall/printer", GROUP="dialout", MODE="0660"'
    ]
    assert (
        "# led-bus: shares its USB ids with another device; plug it in, set its port in "
        "node.yaml and run 'hall-agent device udev-rules --probe'"
    ) in rules
