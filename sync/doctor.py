"""``hall-agent doctor``: check a node as an installer would, each problem with its fix.

Fonts (for roles with screens), each configured device (port present and usable, answers its
probe), the central and hall brokers (reachable with the configured credentials and TLS),
the clock offset against central (when a sync has measured it), free disk space, the data
dir's permissions and the role's systemd unit. Exit code 1 when anything is a problem.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.datadir import DataDir, resolve_data_dir
from agent.errors import ConfigError, HallError
from agent.node import BrokerConfig, DeviceSpec
from agent.node_runtime import Node

OK, PROBLEM, SKIPPED = "ok", "problem", "skipped"
SCREEN_ROLES = ("kiosk", "window", "display", "all")
#: MQTT 5 CONNACK reason codes that mean "these credentials are not accepted".
BAD_CREDENTIALS = (134, 135)


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # ok | problem | skipped
    detail: str
    fix: str | None = None


@dataclass(frozen=True)
class Limits:
    min_free_mb: int = 500
    max_clock_offset_s: float = 10.0
    broker_timeout_s: float = 5.0


def unit_name(role: str) -> str:
    """The systemd unit the Debian package installs for ``role``."""
    return f"hall-agent-{role}.service"


def run_checks(data_root: Path, limits: Limits, role: str | None = None) -> list[Finding]:
    data = DataDir(data_root)
    if not data.exists():
        return [
            Finding(
                "data-dir",
                PROBLEM,
                f"{data.root} is not initialised",
                f"hall-agent --data-dir {data.root} init --config HALL.yaml",
            ),
            check_disk(data.root, limits),
        ]
    try:
        node = Node.open(data.root)
    except HallError as exc:
        return [Finding("config", PROBLEM, str(exc), "correct the file named above and re-run")]
    role = role or node.node.role
    findings = [check_fonts(role), check_kiosk_pin(node, role)]
    findings += [check_device(node, spec) for spec in node.node.devices]
    for name, broker in (("central", node.node.broker), ("hall", node.node.hall_broker)):
        findings.append(check_broker(name, broker, node.node.node_id, limits))
    findings += [
        check_clock(node, limits),
        check_disk(data.root, limits),
        check_data_dir(data),
        check_service(role),
    ]
    return findings


# ---- each check -----------------------------------------------------------------------------
def check_fonts(role: str) -> Finding:
    if role not in SCREEN_ROLES:
        return Finding("fonts", SKIPPED, f"role {role} has no screens")
    fix = "apt-get install fonts-noto-cjk"
    if shutil.which("fc-list") is None:
        return Finding("fonts", PROBLEM, "fontconfig's fc-list is not installed", fix)
    listed = subprocess.run(
        ["fc-list", ":lang=zh-cn", "family"], capture_output=True, text=True, timeout=30
    )
    families = sorted({f for line in listed.stdout.splitlines() for f in line.split(",") if f})
    if not families:
        return Finding("fonts", PROBLEM, "no Simplified Chinese font: screens show boxes", fix)
    best = "Noto Sans CJK SC" if "Noto Sans CJK SC" in families else families[0]
    return Finding("fonts", OK, best)


def check_kiosk_pin(node: Node, role: str) -> Finding:
    """The kiosk session runs full screen, which refuses to start without an admin PIN
    (systemd would restart it every few seconds)."""
    if role not in ("kiosk", "all"):
        return Finding("kiosk PIN", SKIPPED, f"role {role} shows no kiosk")
    if node.node.admin_pin_hash is None:
        return Finding(
            "kiosk PIN",
            PROBLEM,
            "no admin PIN: the full-screen kiosk will not start",
            "runuser -u hall-agent -- hall-agent admin set-pin",
        )
    return Finding("kiosk PIN", OK, "set")


def check_device(node: Node, spec: DeviceSpec) -> Finding:
    name = f"device {spec.id}"
    if spec.simulated:
        return Finding(name, SKIPPED, f"{spec.kind} simulated")
    if spec.port.startswith("/"):
        port = Path(spec.port)
        if not port.exists():
            return Finding(
                name,
                PROBLEM,
                f"{spec.kind} port {spec.port} is not there",
                f"plug the {spec.kind} in and check 'ls -l /dev/hall/'; else correct the port "
                f"of {spec.id} in {node.data.node_config}",
            )
        if not os.access(port, os.R_OK | os.W_OK):
            return Finding(
                name,
                PROBLEM,
                f"{spec.port}: no read/write permission for this user",
                "usermod -aG dialout,lp,input hall-agent (then restart the service)",
            )
    try:
        answered, detail = _probe(node, spec)
    except HallError as exc:  # DeviceFault (no answer, port gone) or a bad profile
        answered, detail = False, f"{getattr(exc, 'reason', None) or type(exc).__name__}: {exc}"
    if not answered:
        return Finding(
            name,
            PROBLEM,
            f"{spec.kind} at {spec.port}: {detail}",
            f"check the cable, power and the profile {spec.profile!r}; then "
            f"'hall-agent device probe --kind {spec.kind} --port {spec.port}'",
        )
    return Finding(name, OK, f"{spec.kind} at {spec.port}: {detail}")


def _probe(node: Node, spec: DeviceSpec) -> tuple[bool, str]:
    """The device's own harmless question: printer status, ID reader SAM; the others only
    open their port (an LED probe would change the text, an evaluator's would ask a citizen)."""
    from devices.idcard import IdCardReader
    from devices.printer import TicketPrinter
    from devices.profiles import load_profile
    from devices.transport import open_transport

    profile = load_profile(spec.profile, pushed_dir=node.data.profiles)
    if spec.kind == "scanner" and getattr(profile, "mode", "serial") != "serial":
        return True, f"{getattr(profile, 'mode', '')} scanner: not probed"
    transport = open_transport(spec.port, profile.transport.link(spec.baud))
    try:
        if spec.kind == "printer":
            status = TicketPrinter(transport, profile, spec.id).status()  # type: ignore[arg-type]
            if not status.can_print:
                return False, f"the printer says {status.reason}"
            return True, "online" + ("" if status.known else " (no real-time status)")
        if spec.kind == "idreader":
            reader = IdCardReader(transport, profile, node.secret, spec.id)  # type: ignore[arg-type]
            if not reader.sam_ok():
                return False, "the reader's security module (SAM) is not ready"
            return True, "SAM ready"
        return True, "port opens"
    finally:
        transport.close()


def check_broker(name: str, broker: BrokerConfig | None, node_id: str, limits: Limits) -> Finding:
    """Connect as this node would (credentials, TLS), under another client id so the
    running agent's own session is not taken over."""
    check = f"{name} broker"
    if broker is None:
        what = "offline: no central link" if name == "central" else "single-PC hall"
        return Finding(check, SKIPPED, f"not configured ({what})")
    from sync.mqtt import BrokerUrlError, client_for, parse_broker_url

    setting = "broker" if name == "central" else "hall_broker"
    try:
        address = parse_broker_url(broker.url)
        client = client_for(broker, f"{node_id}-doctor", address)
    except (BrokerUrlError, ConfigError) as exc:
        return Finding(check, PROBLEM, str(exc), f"correct {setting} in node.yaml")
    answer: dict[str, Any] = {}
    done = threading.Event()

    def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        answer["reason"] = reason
        done.set()

    client.on_connect = on_connect
    try:
        client.connect(address.host, address.port, keepalive=10)
    except ssl.SSLError as exc:
        return Finding(
            check,
            PROBLEM,
            f"TLS with {address} failed: {exc}",
            f"check {setting}.ca_file (the broker's CA) and this PC's clock",
        )
    except OSError as exc:
        return Finding(
            check,
            PROBLEM,
            f"cannot reach {address}: {exc}",
            f"start the broker there ('systemctl status mosquitto') or correct {setting}.url",
        )
    client.loop_start()
    try:
        answered = done.wait(limits.broker_timeout_s)
    finally:
        client.disconnect()
        client.loop_stop()
    reason = answer.get("reason")
    if not answered or reason is None:
        return Finding(check, PROBLEM, f"{address}: no answer", "check the firewall and the URL")
    if reason.is_failure:
        if reason.value in BAD_CREDENTIALS:
            return Finding(
                check,
                PROBLEM,
                f"{address} refused user {broker.username!r}: {reason}",
                f"{setting}.username/password differ from the broker's password file: "
                "apply this node's provisioning bundle again",
            )
        return Finding(check, PROBLEM, f"{address} refused: {reason}", "see the broker's log")
    return Finding(check, OK, f"{address} as {broker.username or 'anonymous'}")


def check_clock(node: Node, limits: Limits) -> Finding:
    """The offset central measured at the last acknowledgement, as the sync wrote it to its
    status file (read directly: the doctor opens no store)."""
    from sync.status import STATUS_FILE

    try:
        status = json.loads((node.data.root / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        status = {}
    offset = status.get("clock_offset_s")
    if not isinstance(offset, int | float):
        return Finding("clock", SKIPPED, "offset to central not measured yet (first sync)")
    text = f"central minus this PC: {offset:+.1f} s"
    if abs(offset) > limits.max_clock_offset_s:
        return Finding(
            "clock",
            PROBLEM,
            f"{text} (more than {limits.max_clock_offset_s:g} s)",
            "timedatectl set-ntp true (or 'chronyc makestep'); ticket times follow this clock",
        )
    return Finding("clock", OK, text)


def check_disk(root: Path, limits: Limits) -> Finding:
    where = root if root.exists() else next(p for p in root.parents if p.exists())
    free_mb = shutil.disk_usage(where).free // 2**20
    text = f"{free_mb} MB free on the disk of {where}"
    if free_mb < limits.min_free_mb:
        return Finding(
            "disk",
            PROBLEM,
            f"{text} (less than {limits.min_free_mb} MB)",
            "free space there ('journalctl --vacuum-size=200M', old backups in "
            "/var/backups/hall-agent); the store stops taking tickets on a full disk",
        )
    return Finding("disk", OK, text)


def check_data_dir(data: DataDir) -> Finding:
    unwritable = [
        p for p in (data.root, data.database, data.logs) if p.exists() and not os.access(p, os.W_OK)
    ]
    if unwritable:
        return Finding(
            "data dir",
            PROBLEM,
            f"not writable by this user: {', '.join(map(str, unwritable))}",
            f"chown -R hall-agent:hall-agent {data.root}",
        )
    if data.secret.exists() and data.secret.stat().st_mode & 0o077:
        return Finding(
            "data dir",
            PROBLEM,
            f"{data.secret} is readable by other users",
            f"chmod 600 {data.secret}",
        )
    return Finding("data dir", OK, str(data.root))


def check_service(role: str, systemctl: Callable[[str], str] | None = None) -> Finding:
    unit = unit_name(role)
    if systemctl is None:
        if not Path("/run/systemd/system").is_dir() or shutil.which("systemctl") is None:
            return Finding("service", SKIPPED, "systemd is not running here")
        systemctl = _is_active
    state = systemctl(unit)
    if state != "active":
        return Finding(
            "service",
            PROBLEM,
            f"{unit} is {state}",
            f"systemctl enable --now {unit}; 'journalctl -u {unit}' says why it stopped",
        )
    return Finding("service", OK, f"{unit} is active")


def _is_active(unit: str) -> str:
    result = subprocess.run(
        ["systemctl", "is-active", unit], capture_output=True, text=True, timeout=30
    )
    return result.stdout.strip() or "unknown"


# ---- the command ----------------------------------------------------------------------------
def register(subparsers: Any) -> None:
    doctor = subparsers.add_parser("doctor", help="check this node; each problem with its fix")
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    doctor.add_argument("--role", help="check for this role (default: node.yaml's)")
    doctor.add_argument("--min-free-mb", type=int, default=Limits.min_free_mb)
    doctor.add_argument("--max-clock-offset", type=float, default=Limits.max_clock_offset_s)
    doctor.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    limits = Limits(min_free_mb=args.min_free_mb, max_clock_offset_s=args.max_clock_offset)
    findings = run_checks(resolve_data_dir(args.data_dir), limits, args.role)
    problems = [f for f in findings if f.status == PROBLEM]
    if args.json:
        out = {"ok": not problems, "checks": [dataclasses.asdict(f) for f in findings]}
        print(json.dumps(out, ensure_ascii=False))
    else:
        for f in findings:
            print(f"{f.status.upper():<8} {f.check:<24} {f.detail}")
            if f.fix:
                print(f"{'':<8} {'':<24} fix: {f.fix}")
        print(f"{len(problems)} problem(s)" if problems else "no problems")
    return 1 if problems else 0
