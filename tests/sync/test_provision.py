"""Provisioning: ``central provision`` → ``init --bundle`` → the node syncs through a central
broker that runs on the generated password file and ACL; terminals checked against hall.yaml
``terminals``; no secret printed."""

from __future__ import annotations

import datetime as dt
import logging
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import commands as c
from agent.bundle import apply_bundle
from agent.cli import main
from agent.config import always_open, sample_config
from agent.datadir import DataDir
from agent.errors import ConfigError
from agent.node_runtime import Node
from sync.central import CentralIngest, CentralStore
from sync.fleet.commands import CommandLedger, Target, sign_command
from sync.fleet.push import publish
from sync.mqtt import parse_broker_url
from sync.node import start_node
from sync.provision import CentralDir, ProvisionRequest, provision
from tests.support import wait_until
from tests.sync.conftest import Broker, assert_exactly_once

HALL = "demo-town"


def central_dir(root: Path, terminals: list[dict[str, Any]] | None = None) -> CentralDir:
    central = CentralDir(root)
    hall = always_open(sample_config()).model_dump(mode="json")
    if terminals is not None:
        hall["terminals"] = terminals  # the hall LAN issue's shape
    central.hall_dir(HALL).mkdir(parents=True, exist_ok=True)
    (central.hall_dir(HALL) / "hall.yaml").write_text(yaml.safe_dump(hall, allow_unicode=True))
    return central


class CentralBroker(Broker):
    """Mosquitto with the central dir's generated password file and ACL, no anonymous."""

    central: Path = Path()

    def config_lines(self) -> list[str]:
        lines = [line for line in super().config_lines() if line != "allow_anonymous true"]
        return [
            *lines,
            "allow_anonymous false",
            f"password_file {self.central / 'central-passwd'}",
            f"acl_file {self.central / 'central-acl.conf'}",
        ]


def bundle_files(bundle: Path) -> dict[str, bytes]:
    with tarfile.open(bundle) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


@pytest.mark.mqtt
def test_provision_init_bundle_and_sync_through_the_generated_acl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN central's folder with the hall's config WHEN a hub is provisioned, the bundle
    applied on a fresh PC and the node started THEN its events reach the ingest through a
    broker that knows only the generated logins, and no password was printed or logged."""
    caplog.set_level(logging.DEBUG)
    central = central_dir(tmp_path / "central")
    workdir = tmp_path / "broker"
    workdir.mkdir()
    broker = CentralBroker(workdir)
    broker.central = central.root
    bundle = tmp_path / "hub.bundle"
    assert (
        main(
            ["central", "provision", "--central-dir", str(central.root), "--hall", HALL,
             "--node", "demo-town-hub", "--role", "hub", "--central-url", broker.url,
             "--out", str(bundle)]
        )
        == 0
    )  # fmt: skip
    assert oct(bundle.stat().st_mode & 0o777) == "0o600"
    node_yaml = yaml.safe_load(bundle_files(bundle)["node.yaml"])
    password = node_yaml["broker"]["password"]
    assert node_yaml["broker"]["username"] == "demo-town-hub"
    assert "user demo-town-hub" in (central.root / "central-acl.conf").read_text()

    root = tmp_path / "new-pc"
    assert main(["--data-dir", str(root), "init", "--bundle", str(bundle)]) == 0
    printed = capsys.readouterr()
    assert password not in printed.out + printed.err
    assert password not in caplog.text
    data = DataDir(root)
    assert data.secret.read_bytes() == central.hall_key(HALL)
    assert (root / "central_pub.pem").read_bytes() == central.public_key()

    broker.start()
    ingest_pw = central.central_logins()["central-ingest"]
    ingest = CentralIngest(
        parse_broker_url(broker.url), tmp_path / "central.db", username="central-ingest",
        password=ingest_pw,
    ).start()  # fmt: skip
    try:
        assert ingest.wait_ready(10)
        node = Node.open(root)
        with start_node(node, "hub") as services:
            assert services.runtime is not None
            for _ in range(5):
                services.runtime.execute(c.IssueTicket("household", channel="cli"))
            assert services.sync is not None
            sync = services.sync
            assert wait_until(lambda: sync.status()["acked_seq"] >= 5, 20), sync.status()
            # a remote command from the publisher account, its reply back to the ingest
            publisher = central.central_logins()["central-publisher"]
            address = parse_broker_url(
                f"mqtt://central-publisher:{publisher}@127.0.0.1:{broker.port}"
            )
            key = serialization.load_pem_private_key(central.private_key(), None)
            assert isinstance(key, Ed25519PrivateKey)
            now = dt.datetime.now(dt.UTC)
            command = sign_command(
                key, Target(HALL, "demo-town-hub"), 7, {"name": "report_status"}, now,
                dt.timedelta(minutes=5),
            )  # fmt: skip
            assert publish(address, "central-publisher", [command]) == []

            def replied() -> bool:
                store = CentralStore(tmp_path / "central.db")
                try:
                    commands = CommandLedger(store)
                    rows = commands.store.conn.execute(
                        "SELECT status FROM command_replies WHERE version = 7"
                    ).fetchall()
                finally:
                    store.close()
                return rows == [("done",)]

            assert wait_until(replied, 20)
        assert_exactly_once(tmp_path / "central.db", node)
    finally:
        ingest.stop()
        broker.stop()


@pytest.mark.mqtt
def test_a_wrong_password_is_refused_by_the_generated_files(tmp_path: Path) -> None:
    """Re-provisioning gives a new password: the old bundle's login no longer connects."""
    from sync.doctor import Limits, check_broker

    central = central_dir(tmp_path / "central")
    workdir = tmp_path / "broker"
    workdir.mkdir()
    broker = CentralBroker(workdir)
    broker.central = central.root
    request = ProvisionRequest(HALL, "demo-town-hub", "hub", broker.url)
    old = yaml.safe_load(bundle_files(provision(central, request, tmp_path / "a"))["node.yaml"])
    new = yaml.safe_load(bundle_files(provision(central, request, tmp_path / "b"))["node.yaml"])
    broker.start()
    try:
        from agent.node import BrokerConfig

        limits = Limits(broker_timeout_s=5)
        ok = check_broker("central", BrokerConfig(**new["broker"]), "t", limits)
        assert ok.status == "ok", ok
        refused = check_broker("central", BrokerConfig(**old["broker"]), "t", limits)
        assert refused.status == "problem" and "refused user 'demo-town-hub'" in refused.detail
    finally:
        broker.stop()


TERMINALS = [
    {"id": "kiosk-1", "role": "kiosk"},
    {"id": "window-3", "role": "window", "windows": [3]},
    {"id": "display-1", "role": "display"},
]


def test_terminals_are_checked_against_hall_yaml(tmp_path: Path) -> None:
    central = central_dir(tmp_path / "central", TERMINALS)
    url = "mqtt://central.example:1883"
    for request, reason in [
        (ProvisionRequest(HALL, "kiosk-9", "kiosk", url), "terminals: no 'kiosk-9'"),
        (ProvisionRequest(HALL, "kiosk-1", "window", url, 3), "kiosk-1 is a kiosk in hall.yaml"),
        (ProvisionRequest(HALL, "window-3", "window", url, 2), "does not show window 2"),
        (ProvisionRequest(HALL, "window-3", "window", url, 99), "--window 99"),
        (ProvisionRequest("other-hall", "kiosk-1", "kiosk", url), "no such file"),
        (ProvisionRequest(HALL, "kiosk 1", "hub", url), "node kiosk 1: node_id"),
    ]:
        with pytest.raises(ConfigError, match=reason):
            provision(central, request, tmp_path / "x.bundle")
    assert not (tmp_path / "x.bundle").exists()
    assert not central.registry.exists()


def test_a_terminal_gets_its_hall_broker_login_and_the_hall_key_only_to_read_cards(
    tmp_path: Path,
) -> None:
    central = central_dir(tmp_path / "central", TERMINALS)
    hall_broker = "mqtt://192.168.10.2:1883"
    kiosk = ProvisionRequest(HALL, "kiosk-1", "kiosk", "mqtts://c:8883", None, hall_broker)
    with pytest.raises(ConfigError, match="no hall broker login 'kiosk-1'"):
        provision(central, kiosk, tmp_path / "k.bundle")
    logins = {"hub": "hub-pw", "kiosk-1": "kiosk-pw", "display-1": "display-pw"}
    (central.hall_dir(HALL) / "hall-logins.yaml").write_text(yaml.safe_dump(logins))
    files = bundle_files(provision(central, kiosk, tmp_path / "k.bundle"))
    node = yaml.safe_load(files["node.yaml"])
    assert node["role"] == "kiosk"
    login = {k: node["hall_broker"][k] for k in ("url", "username", "password")}
    assert login == {"url": hall_broker, "username": "kiosk-1", "password": "kiosk-pw"}
    assert files["secret.key"] == central.hall_key(HALL)
    display = ProvisionRequest(HALL, "display-1", "display", "mqtts://c:8883", None, hall_broker)
    files = bundle_files(provision(central, display, tmp_path / "d.bundle"))
    assert "secret.key" not in files
    assert set(central.nodes()) == {"kiosk-1", "display-1"}


def test_a_bundle_does_not_replace_the_key_of_an_existing_store(tmp_path: Path) -> None:
    central = central_dir(tmp_path / "central")
    request = ProvisionRequest(HALL, "demo-town-hub", "hub", "mqtt://c:1883")
    bundle = provision(central, request, tmp_path / "hub.bundle")
    root = tmp_path / "pc"
    data = DataDir(root)
    data.init(None)
    Node.open(root).store().close()  # a store made with this PC's own random key
    before = data.node_config.read_bytes()
    with pytest.raises(ConfigError, match="made with another hall key"):
        apply_bundle(data, bundle)
    assert main(["--data-dir", str(root), "init", "--bundle", str(bundle)]) == 2
    assert data.node_config.read_bytes() == before


def test_a_display_gets_no_hall_key_and_opens_without_one(tmp_path: Path) -> None:
    """GIVEN a display provisioned by central (it reads no ID cards)
    WHEN its PC is set up from the bundle and opened
    THEN it has no secret.key, none is made for it, and it opens; a node that lists an ID-card
    reader but has no key is refused with the file named."""
    central = central_dir(tmp_path / "central", TERMINALS)
    hall_broker = "mqtt://192.168.10.2:1883"
    (central.hall_dir(HALL) / "hall-logins.yaml").write_text(yaml.safe_dump({"display-1": "pw"}))
    request = ProvisionRequest(HALL, "display-1", "display", "mqtts://c:8883", None, hall_broker)
    bundle = provision(central, request, tmp_path / "d.bundle")
    data = DataDir(tmp_path / "display-pc")
    apply_bundle(data, bundle)
    node = Node.open(data.root)
    assert node.secret is None
    assert not data.secret.exists()
    with_reader = node.node.model_dump(mode="json", exclude_none=True)
    reader = {"id": "r", "kind": "idreader", "profile": "ga467-serial", "port": "/dev/x"}
    with_reader["devices"] = [reader]
    data.node_config.write_text(yaml.safe_dump(with_reader))
    with pytest.raises(ConfigError, match=r"secret.key: missing: this node reads ID cards"):
        Node.open(data.root)
