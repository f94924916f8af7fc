"""Fixtures for the sync tests: a real Mosquitto on a free loopback port, nodes, an ingest."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import commands as c
from agent import nodekey
from agent.config import HallConfig, always_open, sample_config
from agent.datadir import DataDir
from agent.node import BrokerConfig
from agent.node_runtime import Node
from sync.central import CentralIngest, CentralStore
from sync.lan import LanClient
from sync.lan.broker_files import write_broker_files
from sync.mqtt import parse_broker_url
from sync.service import SyncSettings, start_sync
from tests.support import PostgresServer, PostgresUnavailable, start_postgres, wait_until

REPO = Path(__file__).resolve().parents[2]
SHIPPED_BROKER = REPO / "packaging" / "mosquitto"
#: The terminals of the test hall's LAN (hall.yaml ``terminals``); ``probe`` sends raw MQTT.
LAN_TERMINALS: list[dict[str, object]] = [
    {"id": "kiosk-1", "role": "kiosk"},
    {"id": "kiosk-2", "role": "kiosk"},
    {"id": "probe", "role": "kiosk"},
    {"id": "window-1", "role": "window", "windows": [1]},
    {"id": "window-3", "role": "window", "windows": [3]},
    {"id": "window-pc-1", "role": "window", "windows": [1, 2]},
    {"id": "display-1", "role": "display"},
    {"id": "display-2", "role": "display"},
]
FAST_SYNC = SyncSettings(
    batch_max_events=50, ack_timeout_s=2.0, backoff_min_s=0.1, backoff_max_s=0.5
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Broker:
    """A Mosquitto child process; ``kill`` and ``start`` keep the port and persistence dir."""

    workdir: Path
    port: int = field(default_factory=free_port)
    persistence: bool = True
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        path = self.workdir / "mosquitto.conf"
        path.write_text("\n".join(self.config_lines()) + "\n")
        return path

    def config_lines(self) -> list[str]:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "max_queued_messages 0",
            "max_inflight_messages 0",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "autosave_interval 1",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        return lines

    def start(self) -> Broker:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        config = self.write_config()
        self.proc = subprocess.Popen(
            [exe, "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.workdir / "mosquitto.log", "ab"),  # noqa: SIM115
        )
        if not wait_until(self._accepts, 10):
            raise RuntimeError(f"mosquitto did not start on port {self.port}")
        return self

    def _accepts(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
            return True
        return False

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no last save."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None


def shipped_config_lines(conf: Path, workdir: Path, port: int, acl: Path) -> list[str]:
    """A shipped Mosquitto config with only the site's lines changed, each in its place (a
    listener's settings follow its ``listener`` line): one loopback listener, no TLS, the
    password, ACL, persistence and log files in ``workdir``. Every limit stays as shipped."""
    site = {
        "listener": f"listener {port} 127.0.0.1",
        "log_dest": "log_dest stderr",
        "persistence_location": f"persistence_location {workdir}/",
        "password_file": f"password_file {workdir}/passwd",
        "acl_file": f"acl_file {acl}",
    }
    dropped = {"protocol", "certfile", "keyfile", "cafile", "require_certificate", "tls_version"}
    lines: list[str] = []
    for line in conf.read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key in dropped:
            continue
        if key in site:
            lines.append(site.pop(key))  # the first one; a second listener is dropped
        elif key != "listener":
            lines.append(line)
    assert "listener" not in site, f"{conf} has no listener line"
    lines += site.values()  # a site line the shipped config lacks
    if os.geteuid() == 0:
        lines.append("user root")
    return lines


def lan_hall(terminals: list[dict[str, object]] | None = None) -> HallConfig:
    """The sample hall open around the clock (tests run at any hour), with no daily cap in
    reach, and the test LAN's terminals."""
    hall = always_open(sample_config())
    services = [s.model_copy(update={"daily_cap": 9999}) for s in hall.services]
    data = {**hall.model_dump(mode="json"), "services": [s.model_dump() for s in services]}
    data["terminals"] = LAN_TERMINALS if terminals is None else terminals
    return HallConfig.model_validate(data)


@dataclass
class HallBroker(Broker):
    """Mosquitto with exactly the shipped hall-broker.conf, and the ACL and passwords
    ``hall-agent hall broker-files`` writes for ``hall`` (one login per terminal + the hub)."""

    hall: HallConfig = field(default_factory=lan_hall)
    logins: dict[str, str] = field(default_factory=dict)

    def config_lines(self) -> list[str]:
        files = write_broker_files(self.hall, self.workdir / "broker-files")
        files.passwords.replace(self.workdir / "passwd")
        self.logins = yaml.safe_load(files.logins.read_text())
        conf = SHIPPED_BROKER / "hall-broker.conf"
        return shipped_config_lines(conf, self.workdir, self.port, files.acl)

    def login(self, name: str, password: str | None = None) -> BrokerConfig:
        """The hall_broker settings of login ``name`` (a terminal id, or ``hub``)."""
        return BrokerConfig(
            url=self.url, username=name, password=password or self.logins.get(name, "unknown")
        )


def _need_mosquitto() -> None:
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("mosquitto is not installed (packaging/dev.sh installs it)")


B = TypeVar("B", bound=Broker)


def _running(kind: type[B], workdir: Path) -> Iterator[B]:
    _need_mosquitto()
    workdir.mkdir()
    b = kind(workdir)
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    yield from _running(Broker, tmp_path / "broker")


@pytest.fixture
def hall_broker(tmp_path: Path) -> Iterator[HallBroker]:
    """The hall LAN's broker as shipped, with the test hall's generated logins."""
    yield from _running(HallBroker, tmp_path / "hall-broker")


def terminal_client(broker: HallBroker, terminal_id: str) -> LanClient:
    """A LanClient logged in as ``terminal_id``, reading its role's feed."""
    role = next((t["role"] for t in LAN_TERMINALS if t["id"] == terminal_id), "kiosk")
    return LanClient(broker.hall.hall_id, terminal_id, broker.login(terminal_id), role=str(role))


def make_node(
    root: Path,
    broker_url: str | None = None,
    hall_broker: BrokerConfig | None = None,
    terminals: list[dict[str, object]] | None = None,
    *,
    hall_id: str | None = None,
    **broker: object,
) -> Node:
    """A data dir with the test hall (:func:`lan_hall`); ``hall_broker`` for a hub;
    ``hall_id`` gives it another hall id than the sample's."""
    root.mkdir(parents=True, exist_ok=True)
    config_file = root.parent / f"{root.name}-hall.yaml"
    hall = lan_hall(terminals)
    if hall_id is not None:
        hall = hall.model_copy(update={"hall_id": hall_id})
    config_file.write_text(yaml.safe_dump(hall.model_dump(mode="json"), allow_unicode=True))
    if not (root / "node.yaml").exists():
        DataDir(root).init(config_file)
    node_file = root / "node.yaml"
    data = yaml.safe_load(node_file.read_text())
    if broker_url is not None:
        data["broker"] = {"url": broker_url, **broker}
    if hall_broker is not None:
        data["hall_broker"] = hall_broker.model_dump(mode="json", exclude_none=True)
    node_file.write_text(yaml.safe_dump(data))
    return Node.open(root)


def node_key(node: Node) -> Ed25519PrivateKey:
    """The node's own signing key (made at init)."""
    return nodekey.load_or_create(node.data.node_key)


def sync_all(node: Node, settings: SyncSettings | None = None) -> None:
    """Run the node's core and sync until everything committed is acknowledged, then stop."""
    runtime = node.runtime().start()
    try:
        handle = start_sync(node, runtime, settings=settings or FAST_SYNC)
        assert handle is not None
        assert handle.wait_synced(30)
        handle.stop()
    finally:
        runtime.stop()


def issue_tickets(node: Node, count: int) -> None:
    """Commit ``count`` tickets straight to the store (as ``hall-agent queue issue`` does)."""
    services = [s.code for s in node.hall.services]
    store = node.store()
    try:
        for i in range(count):
            store.execute(c.IssueTicket(services[i % len(services)], channel="cli"))
    finally:
        store.close()


def node_events(node: Node) -> list[tuple[int, str, str]]:
    store = node.store()
    try:
        return [(e.seq, e.type, e.at) for e in store.events_since(0)]
    finally:
        store.close()


def central_rows(db: Path, node_id: str) -> list[tuple[int, str, str]]:
    store = CentralStore(db)
    try:
        return store.conn.execute(
            "SELECT seq, type, at FROM events WHERE node_id = ? ORDER BY seq", (node_id,)
        ).fetchall()
    finally:
        store.close()


def assert_exactly_once(db: Path, node: Node) -> None:
    """Central holds each (node_id, seq) once, none missing, same content as the node."""
    expected = node_events(node)
    got = central_rows(db, node.node.node_id)
    assert [row[0] for row in got] == list(range(1, len(expected) + 1))
    assert got == expected


@pytest.fixture
def ingest(broker: Broker, tmp_path: Path) -> Iterator[CentralIngest]:
    service = CentralIngest(parse_broker_url(broker.url), tmp_path / "central.db", workers=1)
    service.start()
    assert service.wait_ready(10)
    try:
        yield service
    finally:
        service.stop()


def spawn_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``hall-agent ARGS`` as a child process (stdout piped, text)."""
    return subprocess.Popen(
        [sys.executable, "-m", "agent.cli", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``hall-agent ARGS`` as a child process, run to its end (output captured as text)."""
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def scrape_metrics(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A Prometheus ``/metrics`` page: ``(name, sorted labels) -> value`` of every sample."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def wait_line(proc: subprocess.Popen[str], prefix: str, timeout: float = 30) -> str:
    """Read the child's stdout until a line starts with ``prefix`` (bounded by ``timeout``)."""
    import selectors

    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
            break
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(prefix):
            return line
    stderr = proc.stderr.read() if proc.stderr and proc.poll() is not None else ""
    raise AssertionError(f"no line starting with {prefix!r} in time; stderr: {stderr}")


# ---- PostgreSQL (the central store at city scale) -------------------------------------------
@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the session's own; skipped when it cannot start here."""
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    """A fresh database for one test."""
    import uuid

    return postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
