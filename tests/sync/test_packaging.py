"""The shipped Mosquitto configs start, and the ACL example keeps a node to its own topics."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from sync import contract as ct
from sync.mqtt import BrokerAddress, new_client
from tests.sync.conftest import REPO, free_port, wait_until

pytestmark = pytest.mark.mqtt
SHIPPED = REPO / "packaging" / "mosquitto"


def _adapt(conf: Path, tmp: Path, port: int) -> Path:
    """The shipped config as installed: a drop-in in ``conf.d/`` included by a main config
    like Debian's ``/etc/mosquitto/mosquitto.conf`` (which sets persistence and its
    location), with test paths: one loopback listener, files in ``tmp``."""
    keep = []
    for line in conf.read_text().splitlines():
        if re.match(
            r"^(listener|protocol|certfile|keyfile|cafile|require_certificate|tls_version|"
            r"log_dest|password_file|acl_file)\b",
            line,
        ):
            continue
        keep.append(line)
    keep += [
        f"listener {port} 127.0.0.1",
        f"password_file {tmp}/passwd",
        f"acl_file {SHIPPED / 'hall-acl.example.conf'}",
    ]
    drop_in = tmp / "conf.d" / conf.name
    drop_in.parent.mkdir()
    drop_in.write_text("\n".join(keep) + "\n")
    main = [  # Debian 12's mosquitto.conf, with test paths
        "persistence true",
        f"persistence_location {tmp}/",
        "log_dest stderr",
        f"include_dir {drop_in.parent}",
    ]
    if os.geteuid() == 0:
        main.insert(0, "user root")
    out = tmp / "mosquitto.conf"
    out.write_text("\n".join(main) + "\n")
    return out


@pytest.mark.parametrize("name", ["central-broker.conf", "hall-broker.conf"])
def test_shipped_config_starts_and_acl_confines_a_node(name: str, tmp_path: Path) -> None:
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd not installed")
    passwd = tmp_path / "passwd"
    for user in ("demo-town-1a2b3c4d", "central-ingest"):
        subprocess.run(
            [
                "mosquitto_passwd",
                *(["-c"] if not passwd.exists() else []),
                "-b",
                str(passwd),
                user,
                "pw",
            ],
            check=True,
            capture_output=True,
        )
    passwd.chmod(0o600)
    port = free_port()
    config = _adapt(SHIPPED / name, tmp_path, port)
    assert "max_queued_messages" in (tmp_path / "conf.d" / name).read_text()
    broker = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(config)],
        stderr=subprocess.PIPE,
    )
    address = BrokerAddress("127.0.0.1", port, False)
    got: list[str] = []
    central = new_client("acl-central", address, username="central-ingest", password="pw")
    node = new_client("acl-node", address, username="demo-town-1a2b3c4d", password="pw")
    try:
        central.on_message = lambda c, u, m: got.append(m.topic)
        central.on_subscribe = lambda *a: got.append("subscribed")
        deadline = time.monotonic() + 10
        while True:
            try:
                central.connect("127.0.0.1", port)
                break
            except OSError:
                assert broker.poll() is None, broker.stderr.read() if broker.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
        central.loop_start()
        central.subscribe(ct.ingest_subscription(), qos=1)
        assert wait_until(lambda: "subscribed" in got, 5)
        node.on_connect = lambda *a: got.append("node connected")
        node.connect("127.0.0.1", port)
        node.loop_start()
        assert wait_until(lambda: "node connected" in got, 5)
        other = ct.events_topic("demo-town", "someone-else")
        own = ct.events_topic("demo-town", "demo-town-1a2b3c4d")
        node.publish(own, b"{}", qos=1).wait_for_publish(5)
        assert wait_until(lambda: own in got, 5)
        node.publish(other, b"{}", qos=1)  # denied (Mosquitto may also drop the connection)
        time.sleep(0.5)
        assert other not in got
    finally:
        for client in (central, node):
            client.loop_stop()
            client.disconnect()
        broker.terminate()
        broker.wait(10)
