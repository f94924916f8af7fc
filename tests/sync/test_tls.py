"""The central link over TLS (``mqtts://``), against a real Mosquitto with a TLS listener.

A city platform's broker is reached over networks the hall does not own: the node checks
the broker's certificate against the CA file in node.yaml and refuses any other. The
certificates are made here, for 127.0.0.1 only, with the cryptography package.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent import commands as c
from agent.errors import ConfigError
from agent.node import BrokerConfig
from agent.node_runtime import Node
from agent.runtime import CoreRuntime
from sync.central import CentralIngest
from sync.mqtt import client_for, parse_broker_url
from sync.service import SyncService, SyncSettings, start_sync
from tests.sync.conftest import (
    Broker,
    assert_exactly_once,
    central_rows,
    free_port,
    make_node,
    wait_until,
)

pytestmark = pytest.mark.mqtt

FAST = SyncSettings(batch_max_events=50, ack_timeout_s=2.0, backoff_min_s=0.1, backoff_max_s=0.5)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None = None,
) -> x509.Certificate:
    """A CA certificate (no issuer) or a server certificate for 127.0.0.1 signed by it."""
    now = dt.datetime.now(dt.UTC)
    issuer_name, signing_key = issuer if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            False,
        )
    return builder.sign(signing_key, hashes.SHA256())


def _write_certificate(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    other_ca: Path  # a CA that signed nothing of this broker


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    other_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("hall test CA", ca_key)
    server = _certificate("127.0.0.1", server_key, issuer=("hall test CA", ca_key))
    return Pki(
        ca=_write_certificate(ca, directory / "ca.pem"),
        server_cert=_write_certificate(server, directory / "server.pem"),
        server_key=_write_key(server_key, directory / "server.key"),
        other_ca=_write_certificate(_certificate("another CA", other_key), directory / "other.pem"),
    )


@dataclass
class TlsBroker(Broker):
    """Mosquitto with a plain listener (for the reference ingest) and a TLS one (the node's)."""

    pki: Pki | None = None
    tls_port: int = field(default_factory=free_port)

    def config_lines(self) -> list[str]:
        assert self.pki is not None
        return [
            *super().config_lines(),
            f"listener {self.tls_port} 127.0.0.1",
            f"cafile {self.pki.ca}",
            f"certfile {self.pki.server_cert}",
            f"keyfile {self.pki.server_key}",
        ]

    @property
    def tls_url(self) -> str:
        return f"mqtts://127.0.0.1:{self.tls_port}"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_broker(broker: Broker, pki: Pki) -> Iterator[TlsBroker]:
    """The ``broker`` fixture's Mosquitto (so it is skipped where there is none), restarted
    with a TLS listener too, on the same plain port."""
    broker.stop()
    tls = TlsBroker(broker.workdir, port=broker.port, pki=pki).start()
    try:
        yield tls
    finally:
        tls.stop()


@pytest.fixture
def tls_ingest(tls_broker: TlsBroker, ingest: CentralIngest) -> CentralIngest:
    """The reference ingest, connected before the restart: it reconnects on its own."""
    assert ingest.wait_ready(20)
    return ingest


@contextlib.contextmanager
def syncing(root: Path, url: str, ca_file: Path) -> Iterator[tuple[CoreRuntime, SyncService]]:
    """A node whose ``node.yaml`` names ``url`` and ``ca_file``, its core and its sync."""
    node = make_node(root, url, ca_file=str(ca_file))
    runtime = node.runtime().start()
    try:
        handle = start_sync(node, runtime, settings=FAST)
        assert handle is not None
        try:
            yield runtime, handle
        finally:
            handle.stop()
    finally:
        runtime.stop()


def issue(runtime: CoreRuntime, count: int) -> None:
    services = [s.code for s in runtime._query(lambda store: store.config.services)]
    for i in range(count):
        runtime.execute(c.IssueTicket(services[i % len(services)]))


def test_a_node_syncs_over_tls_with_the_platform_ca(
    tls_broker: TlsBroker, tls_ingest: CentralIngest, pki: Pki, tmp_path: Path
) -> None:
    """GIVEN node.yaml with an ``mqtts://`` broker and the CA that signed its certificate
    WHEN tickets are issued THEN every event reaches central once, in order."""
    with syncing(tmp_path / "node", tls_broker.tls_url, pki.ca) as (runtime, handle):
        issue(runtime, 40)
        assert handle.wait_synced(30), handle.status()
        assert handle.status()["connection"] == "connected"
    node = Node.open(tmp_path / "node")
    db = tmp_path / "central.db"
    assert wait_until(lambda: len(central_rows(db, node.node.node_id)) == 40, 10)
    assert_exactly_once(db, node)


def test_a_broker_certificate_from_another_ca_is_refused(
    tls_broker: TlsBroker, tls_ingest: CentralIngest, pki: Pki, tmp_path: Path
) -> None:
    """GIVEN a CA file that did not sign the broker's certificate (a wrong or an intercepting
    broker) WHEN the node tries to sync THEN it does not connect, says why in its status,
    and keeps every event for later: nothing is acknowledged, nothing reaches central."""
    with syncing(tmp_path / "node", tls_broker.tls_url, pki.other_ca) as (runtime, handle):
        issue(runtime, 10)
        assert wait_until(
            lambda: "CERTIFICATE_VERIFY_FAILED" in (handle.status()["last_error"] or ""), 20
        ), handle.status()
        assert wait_until(lambda: handle.status()["backlog"] == 10, 10), handle.status()
        status = handle.status()
        assert status["connection"] != "connected"
        assert status["acked_seq"] == 0
    node = Node.open(tmp_path / "node")
    assert central_rows(tmp_path / "central.db", node.node.node_id) == []


def test_a_missing_ca_file_is_reported_and_nothing_is_lost(
    tls_broker: TlsBroker, pki: Pki, tmp_path: Path
) -> None:
    """GIVEN node.yaml naming a CA file that is not there WHEN the sync starts THEN it stays
    offline with the file named in its status, and the hall keeps issuing tickets."""
    missing = tmp_path / "no-such-ca.pem"
    with syncing(tmp_path / "node", tls_broker.tls_url, missing) as (runtime, handle):
        issue(runtime, 1)
        assert wait_until(lambda: str(missing) in (handle.status()["last_error"] or ""), 20), (
            handle.status()
        )
        assert wait_until(lambda: handle.status()["backlog"] == 1, 10), handle.status()
        issue(runtime, 1)  # the core goes on
        assert wait_until(lambda: handle.status()["backlog"] == 2, 10)


@pytest.mark.parametrize("case", ["not a certificate", "key without certificate"])
def test_tls_files_that_cannot_be_used_are_a_config_error(tmp_path: Path, case: str) -> None:
    """Caught when the client is made: the hub exits 2 naming the setting, the central sync
    reports it and retries (a missing file: see above)."""
    junk = tmp_path / "junk.pem"
    junk.write_text("not PEM at all")
    settings = {"ca_file": junk} if case == "not a certificate" else {"key_file": junk}
    broker = BrokerConfig(url="mqtts://127.0.0.1:8883", **settings)
    with pytest.raises(ConfigError, match=r"node\.yaml"):
        client_for(broker, "t", parse_broker_url(broker.url))
