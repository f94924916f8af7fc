"""Small paho-mqtt 2.x helpers shared by the node side and the reference ingest."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.errors import ConfigError
from agent.node import BrokerConfig


class BrokerUrlError(ConfigError, ValueError):
    """A broker URL that cannot be used (``--broker`` or ``broker.url`` in ``node.yaml``)."""

    code = "broker_url_invalid"


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    def __str__(self) -> str:  # never shows the password
        scheme = "mqtts" if self.tls else "mqtt"
        return f"{scheme}://{self.host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://[user[:pass]@]host[:1883]`` or ``mqtts://host[:8883]``."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise BrokerUrlError(f"{url!r}: scheme must be mqtt:// or mqtts://")
    if not parts.hostname:
        raise BrokerUrlError(f"{url!r}: no host")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise BrokerUrlError(f"{url!r}: bad port") from exc
    return BrokerAddress(
        parts.hostname,
        port,
        tls,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


def new_client(
    client_id: str,
    address: BrokerAddress,
    *,
    username: str | None = None,
    password: str | None = None,
    ca_file: Path | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    manual_ack: bool = False,
) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    user = username or address.username
    if user:
        client.username_pw_set(user, password or address.password)
    if address.tls:
        for setting, path in (
            ("ca_file", ca_file),
            ("cert_file", cert_file),
            ("key_file", key_file),
        ):
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"node.yaml: {setting}: {path} is not a file", field=setting)
        if key_file is not None and cert_file is None:
            raise ConfigError("node.yaml: key_file: set without cert_file", field="key_file")
        try:
            client.tls_set(
                ca_certs=str(ca_file) if ca_file else None,
                certfile=str(cert_file) if cert_file else None,
                keyfile=str(key_file) if key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        except (ssl.SSLError, ValueError) as exc:  # not PEM, key and certificate do not match
            raise ConfigError(f"node.yaml: TLS files cannot be used: {exc}") from exc
    # our own windows bound what is in flight; paho's defaults (20 / unbounded) are not the limit
    client.max_inflight_messages_set(1000)
    client.on_socket_open = _no_delay
    return client


def _no_delay(client: mqtt.Client, userdata: object, sock: object) -> None:
    """Send each MQTT packet at once. With Nagle's algorithm on, a small packet waits for the
    peer's ACK of the previous one, which the peer delays (up to 40 ms on Linux): a request,
    its PUBACK and its reply then cost tens of milliseconds on loopback instead of tenths."""
    setsockopt = getattr(sock, "setsockopt", None)
    if setsockopt is not None:  # (a WebSocket wrapper has none; its socket is set by paho)
        setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def client_for(
    broker: BrokerConfig, client_id: str, address: BrokerAddress, manual_ack: bool = False
) -> mqtt.Client:
    """A client with a node's broker settings (credentials, TLS files) from node.yaml."""
    return new_client(
        client_id,
        address,
        username=broker.username,
        password=broker.password,
        ca_file=broker.ca_file,
        cert_file=broker.cert_file,
        key_file=broker.key_file,
        manual_ack=manual_ack,
    )


def session_properties(expiry_s: int, receive_maximum: int | None = None) -> Properties:
    """CONNECT properties of a persistent session; ``receive_maximum`` bounds the QoS 1
    messages the broker sends before we acknowledge (it holds the rest: flow control)."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = expiry_s
    if receive_maximum is not None:
        props.ReceiveMaximum = receive_maximum
    return props
