"""``hall-agent doctor``: each fault it knows, injected for real, gives its one-line fix."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.adminpin import hash_pin
from agent.cli import main
from agent.node_runtime import Node
from devices.simulators import start_simulator
from sync.doctor import Finding, Limits, check_service, run_checks
from tests.sync.conftest import Broker, free_port, make_node

NO_LIMITS = Limits(min_free_mb=0, broker_timeout_s=5)


def set_node(root: Path, **fields: Any) -> Node:
    path = root / "node.yaml"
    data = yaml.safe_load(path.read_text())
    data.update(fields)
    path.write_text(yaml.safe_dump(data))
    return Node.open(root)


def finding(findings: list[Finding], check: str) -> Finding:
    found = [f for f in findings if f.check == check]
    assert len(found) == 1, findings
    return found[0]


def problem(findings: list[Finding], check: str) -> Finding:
    f = finding(findings, check)
    assert f.status == "problem", f
    assert f.fix and "\n" not in f.fix
    return f


@pytest.fixture
def printer() -> Iterator[Any]:
    sim = start_simulator("printer")
    try:
        yield sim
    finally:
        sim.stop()


def test_a_printer_that_answers_then_whose_port_is_gone(tmp_path: Path, printer: Any) -> None:
    root = make_node(tmp_path / "kiosk").data.root
    spec = {"id": "kiosk-printer", "kind": "printer", "profile": "escpos-80mm"}
    set_node(root, devices=[{**spec, "port": printer.port}])
    ok = finding(run_checks(root, NO_LIMITS), "device kiosk-printer")
    assert (ok.status, ok.detail) == ("ok", f"printer at {printer.port}: online")
    printer.stop()
    gone = problem(run_checks(root, NO_LIMITS), "device kiosk-printer")
    assert gone.detail == f"printer port {printer.port} is not there"
    assert gone.fix == (
        "plug the printer in and check 'ls -l /dev/hall/'; else correct the port of "
        f"kiosk-printer in {root / 'node.yaml'}"
    )


def test_a_device_that_does_not_answer(tmp_path: Path) -> None:
    """GIVEN a pty with nothing behind it (a printer switched off at the cable end)."""
    import os
    import pty

    leader, follower = pty.openpty()
    try:
        port = os.ttyname(follower)
        root = make_node(tmp_path / "kiosk").data.root
        set_node(
            root,
            devices=[{"id": "p", "kind": "printer", "profile": "escpos-80mm", "port": port}],
        )
        f = problem(run_checks(root, NO_LIMITS), "device p")
        assert f.detail.startswith(f"printer at {port}: ")
        assert f.fix == (
            "check the cable, power and the profile 'escpos-80mm'; then "
            f"'hall-agent device probe --kind printer --port {port}'"
        )
    finally:
        os.close(leader)
        os.close(follower)


@pytest.mark.mqtt
def test_broker_down(tmp_path: Path) -> None:
    root = make_node(tmp_path / "hub", f"mqtt://127.0.0.1:{free_port()}").data.root
    f = problem(run_checks(root, NO_LIMITS), "central broker")
    assert f.detail.startswith("cannot reach mqtt://127.0.0.1:")
    assert f.fix == "start the broker there ('systemctl status mosquitto') or correct broker.url"


class PasswordBroker(Broker):
    def config_lines(self) -> list[str]:
        lines = [line for line in super().config_lines() if line != "allow_anonymous true"]
        return [*lines, "allow_anonymous false", f"password_file {self.workdir / 'passwd'}"]


@pytest.mark.mqtt
def test_hall_broker_with_the_right_then_a_wrong_password(tmp_path: Path) -> None:
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd not installed")
    workdir = tmp_path / "broker"
    workdir.mkdir()
    passwd = workdir / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(passwd), "kiosk-1", "right"],
        check=True,
        capture_output=True,
    )
    passwd.chmod(0o600)
    broker = PasswordBroker(workdir).start()
    try:
        root = make_node(tmp_path / "kiosk").data.root
        hall_broker = {"url": broker.url, "username": "kiosk-1", "password": "right"}
        set_node(root, hall_broker=hall_broker)
        ok = finding(run_checks(root, NO_LIMITS), "hall broker")
        assert (ok.status, ok.detail) == ("ok", f"{broker.url} as kiosk-1")
        set_node(root, hall_broker={**hall_broker, "password": "wrong"})
        f = problem(run_checks(root, NO_LIMITS), "hall broker")
        assert "refused user 'kiosk-1'" in f.detail
        assert f.fix == (
            "hall_broker.username/password differ from the broker's password file: "
            "apply this node's provisioning bundle again"
        )
    finally:
        broker.stop()


def test_clock_skew_measured_by_central(tmp_path: Path) -> None:
    """The offset is what the running sync last wrote to its status file (central's
    acknowledgement carries it)."""
    root = make_node(tmp_path / "hub").data.root
    assert finding(run_checks(root, NO_LIMITS), "clock").status == "skipped"
    (root / "sync-status.json").write_text(json.dumps({"clock_offset_s": 2.5}))
    assert finding(run_checks(root, NO_LIMITS), "clock").status == "ok"
    (root / "sync-status.json").write_text(json.dumps({"clock_offset_s": -95.0}))
    f = problem(run_checks(root, NO_LIMITS), "clock")
    assert f.detail == "central minus this PC: -95.0 s (more than 10 s)"
    assert f.fix == (
        "timedatectl set-ntp true (or 'chronyc makestep'); ticket times follow this clock"
    )


def test_disk_nearly_full(tmp_path: Path) -> None:
    root = make_node(tmp_path / "hub").data.root
    free_mb = shutil.disk_usage(root).free // 2**20
    f = problem(run_checks(root, Limits(min_free_mb=free_mb + 1000)), "disk")
    assert f.detail.endswith(f"(less than {free_mb + 1000} MB)")
    assert f.fix.startswith("free space there ('journalctl --vacuum-size=200M'")  # type: ignore[union-attr]


def test_no_chinese_font(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN fontconfig with no font folder at all (a PC without fonts-noto-cjk)."""
    if shutil.which("fc-list") is None:
        pytest.skip("fontconfig not installed")
    root = make_node(tmp_path / "kiosk").data.root
    assert finding(run_checks(root, NO_LIMITS), "fonts").status == "ok"
    empty = tmp_path / "fonts.conf"
    empty.write_text(
        f"<?xml version='1.0'?><fontconfig><cachedir>{tmp_path}</cachedir></fontconfig>"
    )
    monkeypatch.setenv("FONTCONFIG_FILE", str(empty))
    f = problem(run_checks(root, NO_LIMITS), "fonts")
    assert f.fix == "apt-get install fonts-noto-cjk"
    assert finding(run_checks(root, NO_LIMITS, role="hub"), "fonts").status == "skipped"


def test_data_dir_secret_readable_by_others(tmp_path: Path) -> None:
    root = make_node(tmp_path / "hub").data.root
    (root / "secret.key").chmod(0o644)
    f = problem(run_checks(root, NO_LIMITS), "data dir")
    assert f.fix == f"chmod 600 {root / 'secret.key'}"


def test_service_not_running() -> None:
    f = check_service("kiosk", systemctl=lambda unit: "failed")
    assert (f.status, f.detail) == ("problem", "hall-agent-kiosk.service is failed")
    assert f.fix == (
        "systemctl enable --now hall-agent-kiosk.service; "
        "'journalctl -u hall-agent-kiosk.service' says why it stopped"
    )
    assert check_service("kiosk", systemctl=lambda unit: "active").status == "ok"


def test_cli_exit_code_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_node(tmp_path / "hub").data.root
    set_node(root, admin_pin_hash=hash_pin("246813"))
    assert main(["--data-dir", str(root), "doctor", "--json", "--min-free-mb", "0"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and {c["status"] for c in report["checks"]} <= {"ok", "skipped"}
    (root / "sync-status.json").write_text(json.dumps({"clock_offset_s": 60.0}))
    assert main(["--data-dir", str(root), "doctor", "--min-free-mb", "0"]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM  clock" in out and "fix: timedatectl set-ntp true" in out
    assert out.rstrip().endswith("1 problem(s)")


def test_not_initialised(tmp_path: Path) -> None:
    f = problem(run_checks(tmp_path / "nothing", NO_LIMITS), "data-dir")
    assert f.fix == f"hall-agent --data-dir {tmp_path / 'nothing'} init --config HALL.yaml"


def test_a_kiosk_without_an_admin_pin(tmp_path: Path) -> None:
    """GIVEN a kiosk PC nobody set a PIN on (its full-screen session refuses to start)."""
    root = make_node(tmp_path / "kiosk").data.root
    set_node(root, role="kiosk")
    f = problem(run_checks(root, NO_LIMITS), "kiosk PIN")
    assert f.fix == "runuser -u hall-agent -- hall-agent admin set-pin"
    set_node(root, admin_pin_hash=hash_pin("246813"))
    assert finding(run_checks(root, NO_LIMITS), "kiosk PIN").status == "ok"
    assert finding(run_checks(root, NO_LIMITS, role="hub"), "kiosk PIN").status == "skipped"
