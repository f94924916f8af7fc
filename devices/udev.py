"""udev rules that give each of a PC's devices a stable name: ``/dev/hall/<device id>``.

The kernel names USB serial adapters in the order they appear (``ttyUSB0`` today,
``ttyUSB1`` tomorrow when the reader was plugged first). A device whose profile names USB
ids that no other device of this PC shares is matched by those ids. Readers, RS-485
adapters and scanners often share the same CH340/PL2303 chip ids: those are matched by the
USB port they are plugged into (``ID_PATH``), read with ``udevadm`` from the port node.yaml
names now, while the device is plugged in (``--probe``, once at install time).
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from agent.errors import ConfigError
from agent.node import DeviceSpec
from devices.profiles import load_profile

RULES_FILE = Path("/etc/udev/rules.d/71-hall-agent-devices.rules")
#: Where the stable names live; node.yaml's ports point there after install.
STABLE_DIR = "/dev/hall"

IdPath = Callable[[str], str | None]


def udev_id_path(port: str) -> str | None:
    """The ``ID_PATH`` udev knows for the device node ``port`` (None when it has none)."""
    if shutil.which("udevadm") is None:
        raise ConfigError("udevadm not found: the probe needs udev (apt-get install udev)")
    result = subprocess.run(
        ["udevadm", "info", "--query=property", f"--name={port}"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        if key == "ID_PATH" and value:
            return value
    return None


def usb_ids(spec: DeviceSpec, pushed_profiles: Path | None) -> tuple[int, int] | None:
    transport = getattr(load_profile(spec.profile, pushed_dir=pushed_profiles), "transport", None)
    if transport is None or transport.usb_vid is None or transport.usb_pid is None:
        return None
    return transport.usb_vid, transport.usb_pid


def udev_rules(
    specs: list[DeviceSpec],
    pushed_profiles: Path | None = None,
    id_path: IdPath | None = None,
) -> str:
    """The rules file for ``specs``; ``id_path`` (the ``--probe``) reads each plugged-in
    device's USB port path; without it a device without unique ids gets a comment saying
    what to do."""
    real = [s for s in specs if not s.simulated]
    ids = {s.id: usb_ids(s, pushed_profiles) for s in real}
    shared = Counter(i for i in ids.values() if i is not None)
    lines = [
        "# Written by 'hall-agent device udev-rules': stable names for this PC's devices.",
        f"# Each device appears as {STABLE_DIR}/<device id>; node.yaml ports point there.",
    ]
    for spec in real:
        name = f'SYMLINK+="hall/{spec.id}", GROUP="dialout", MODE="0660"'
        usb = ids[spec.id]
        if usb is not None and shared[usb] == 1:
            vid, pid = usb
            lines.append(f"# {spec.id}: {spec.kind}, profile {spec.profile}, by its USB ids")
            lines.append(
                f'SUBSYSTEM=="tty", ATTRS{{idVendor}}=="{vid:04x}", '
                f'ATTRS{{idProduct}}=="{pid:04x}", {name}'
            )
            continue
        path = id_path(spec.port) if id_path is not None and spec.port.startswith("/") else None
        why = "shares its USB ids with another device" if usb else "has no USB ids in its profile"
        if path is None:
            lines.append(
                f"# {spec.id}: {why}; plug it in, set its port in node.yaml and run "
                "'hall-agent device udev-rules --probe'"
            )
            continue
        lines.append(f"# {spec.id}: {spec.kind}, {why}: by the USB port it is plugged into")
        lines.append(f'SUBSYSTEM=="tty", ENV{{ID_PATH}}=="{path}", {name}')
    return "\n".join(lines) + "\n"
