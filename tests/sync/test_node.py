"""One start-up for every role: what it logs, what it tells systemd, when it stops feeding the
watchdog."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import sync.node
from agent.node_runtime import Node
from sync.node import start_node
from tests.support import wait_until
from tests.sync.conftest import REPO, free_port, make_node


class NotifySocket:
    """systemd's side of ``$NOTIFY_SOCKET``: a datagram socket in the test's folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(5)

    def receive(self) -> str:
        return self.sock.recv(4096).decode()

    def drain(self) -> list[str]:
        out = []
        self.sock.setblocking(False)
        try:
            while True:
                out.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            return out
        finally:
            self.sock.settimeout(5)


@pytest.fixture
def systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    notify = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify.path))
    monkeypatch.setenv("WATCHDOG_USEC", str(600 * 1_000_000))  # the test steps the monitor
    try:
        yield notify
    finally:
        notify.sock.close()


def with_device(node_root: Path, port: Path) -> Node:
    data = yaml.safe_load((node_root / "node.yaml").read_text())
    data["devices"] = [
        {"id": "kiosk-printer", "kind": "printer", "profile": "escpos-80mm", "port": str(port)}
    ]
    data["broker"] = {"url": "mqtt://127.0.0.1:1", "username": "hub-1", "password": "s3cret"}
    (node_root / "node.yaml").write_text(yaml.safe_dump(data))
    return Node.open(node_root)


def test_hub_start_logs_what_runs_tells_systemd_and_logs_again_on_a_change(
    tmp_path: Path, systemd: NotifySocket, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN a hub with a printer on a device file and a central broker with a password
    WHEN it starts THEN one log line says version, node, hall, role, data dir, the device and
    its port, the brokers (no password), systemd hears READY with the same line; WHEN the
    device file goes away THEN it is logged again, saying absent."""
    port = tmp_path / "ttyUSB-printer"
    port.write_text("")
    node = with_device(make_node(tmp_path / "hub").data.root, port)
    caplog.set_level(logging.INFO, logger="agent.watchdog")
    with start_node(node, "hub") as services:
        started = [r.getMessage() for r in caplog.records if "hall-agent started" in r.message]
        assert len(started) == 1
        line = started[0]
        for part in (
            "version 0.1.0",
            f"node {node.node.node_id}",
            "hall demo-town",
            "role hub",
            f"data dir {node.data.root}",
            f"kiosk-printer printer at {port}",
            "central mqtt://127.0.0.1:1 as hub-1",
        ):
            assert part in line, (part, line)
        assert "s3cret" not in caplog.text
        assert "absent" not in line
        ready = systemd.receive()
        assert ready.startswith("READY=1\nSTATUS=version 0.1.0")
        port.unlink()
        services.monitor.step()
        changed = [r.getMessage() for r in caplog.records if "hall-agent changed" in r.message]
        assert len(changed) == 1 and f"kiosk-printer printer at {port} (absent)" in changed[0]
        services.monitor.step()  # nothing changed since: no third line
        assert len([r for r in caplog.records if "hall-agent " in r.message]) == 2
    assert "STOPPING=1" in systemd.drain()


def test_watchdog_is_fed_only_while_the_core_answers(
    tmp_path: Path,
    systemd: NotifySocket,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GIVEN a running node under systemd WHEN its core thread is stuck THEN the monitor
    stops pinging (systemd will restart the service) and says why; WHEN it answers again
    THEN the pings resume."""
    monkeypatch.setattr(sync.node, "CORE_SILENT_S", 0.3)
    node = make_node(tmp_path / "hub")
    with start_node(node, "all") as services:
        assert systemd.receive().startswith("READY=1")
        assert services.monitor.step()
        assert systemd.receive() == "WATCHDOG=1"
        assert services.runtime is not None
        release = threading.Event()
        services.runtime._call(lambda store: release.wait(30))
        assert wait_until(lambda: not services.runtime.heartbeat.fresh(0.3), 10)  # type: ignore[union-attr]
        assert not services.monitor.step()
        assert "watchdog not fed: core not answering" in caplog.text
        assert systemd.drain() == []
        release.set()
        assert wait_until(services.monitor.step, 10)
        assert "WATCHDOG=1" in systemd.drain()


def test_outside_systemd_nothing_is_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    with start_node(make_node(tmp_path / "hub"), "hub") as services:
        assert not services.monitor.notifier.enabled
        assert not services.monitor.step()  # every part answers, but there is no one to tell


@pytest.mark.slow
@pytest.mark.qt
def test_a_kiosk_terminal_logs_its_start_in_the_data_dir(tmp_path: Path) -> None:
    """GIVEN a kiosk PC whose hub is down WHEN ``hall-agent run --role kiosk`` starts THEN
    agent.log in its data dir says what it runs (it stayed empty before)."""
    root = tmp_path / "kiosk"
    node = make_node(root)
    data = yaml.safe_load(node.data.node_config.read_text())
    data["hall_broker"] = {"url": f"mqtt://127.0.0.1:{free_port()}"}
    data["role"] = "kiosk"
    node.data.node_config.write_text(yaml.safe_dump(data))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "agent.cli", "--data-dir", str(root), "run", "--quit-after", "1"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    log_text = (root / "logs" / "agent.log").read_text()
    assert "hall-agent started: version" in log_text
    assert f"node {node.node.node_id}, hall demo-town, role kiosk" in log_text


def test_a_terminal_without_a_hall_broker_is_refused(tmp_path: Path) -> None:
    from agent.errors import ConfigError

    with (
        pytest.raises(ConfigError, match="hall_broker"),
        start_node(make_node(tmp_path / "kiosk"), "kiosk", remote=True),
    ):
        pass
