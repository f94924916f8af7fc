"""Provisioning a node on the central side: ``hall-agent central provision``.

Central keeps a folder (``--central-dir``) with its signing key, a registry of the nodes it
provisioned (``nodes.yaml``: hall, role, window and the *hash* of each node's broker
password) and the central broker's files generated from that registry: ``central-passwd``
(Mosquitto's PBKDF2-SHA512 form) and ``central-acl.conf`` (each node writes only its own
topics in its own hall, reads its hall's pushes; the central accounts read and push).

A node's bundle (one tar file, 0600) holds what ``hall-agent init --bundle`` needs: the hall
config, the node's node.yaml (node id, role, the central broker with its new password, the
hall broker with its login from the hall's ``hall-logins.yaml``), central's public key, and
the hall key (``secret.key``: a citizen's day hash is the same at every kiosk) for the hub
and the roles that read ID cards only (docs/operator.md, "Personal data: the citizen hash").
No password is printed or logged.

Terminals are checked against hall.yaml ``terminals: [{id, role, windows}]`` (the hall LAN
issue's shape): a kiosk, window or display node must be listed there with its role.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import secrets
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agent.bundle import BUNDLE_FILES
from agent.config import HallConfig
from agent.datadir import CENTRAL_PUBLIC_KEY_FILE
from agent.errors import ConfigError
from agent.node import BrokerConfig, NodeConfig, Role
from sync import contract as ct
from sync.signing import generate_key, private_pem, public_pem

CENTRAL_ACCOUNTS = ("central-ingest", "central-publisher")
#: The hall LAN's hub login (the hall LAN issue's ``agent.config.HUB_LOGIN``).
HUB_LOGIN = "hub"
#: The hall LAN issue's plain logins file (``hall-agent hall broker-files``).
HALL_LOGINS = "hall-logins.yaml"
PBKDF2_ITERATIONS = 101  # mosquitto_passwd's default for $7$
CARD_ROLES = ("kiosk", "all", "hub")
NODE_WRITES = ("events", "status", "result", "reply")
NODE_READS = ("ack", "command")


@dataclass(frozen=True)
class ProvisionRequest:
    hall_id: str
    node_id: str
    role: Role
    central_url: str
    window: int | None = None
    hall_broker_url: str | None = None
    ca_file: str | None = None


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    """``$7$iterations$salt$hash`` (PBKDF2-SHA512), the form Mosquitto 2 reads."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    b64 = base64.b64encode
    return f"$7${PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


class CentralDir:
    """Central's provisioning folder; created on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)

    @property
    def registry(self) -> Path:
        return self.root / "nodes.yaml"

    def private_key(self) -> bytes:
        path = self.root / "central_key.pem"
        if not path.exists():
            key = generate_key()
            _write(path, private_pem(key), 0o600)
            _write(self.root / CENTRAL_PUBLIC_KEY_FILE, public_pem(key), 0o644)
        return path.read_bytes()

    def public_key(self) -> bytes:
        self.private_key()
        return (self.root / CENTRAL_PUBLIC_KEY_FILE).read_bytes()

    def hall_dir(self, hall_id: str) -> Path:
        """``halls/<hall>/``: its hall.yaml (put there by IT), its key (made here) and its
        hall broker files (``hall-agent hall broker-files --out`` this folder)."""
        return self.root / "halls" / hall_id

    def hall_key(self, hall_id: str) -> bytes:
        path = self.hall_dir(hall_id) / "secret.key"
        if not path.exists():
            _write(path, secrets.token_bytes(32), 0o600)
        return path.read_bytes()

    def central_logins(self) -> dict[str, str]:
        """The central accounts' plain passwords (for the ingest's and pusher's URLs)."""
        path = self.root / "central-logins.yaml"
        known = _read_yaml(path)
        logins = {
            name: str(known.get(name) or secrets.token_urlsafe(24)) for name in CENTRAL_ACCOUNTS
        }
        if logins != known:
            _write(path, yaml.safe_dump(logins).encode(), 0o600)
        return logins

    def nodes(self) -> dict[str, dict[str, Any]]:
        return _read_yaml(self.registry)

    def register(self, node_id: str, entry: dict[str, Any]) -> None:
        nodes = self.nodes()
        nodes[node_id] = entry
        _write(self.registry, yaml.safe_dump(nodes, sort_keys=True).encode(), 0o600)
        self.write_broker_files()

    def write_broker_files(self) -> None:
        """``central-passwd`` and ``central-acl.conf`` for every node and central account."""
        nodes = self.nodes()
        hashes = {name: mosquitto_hash(pw) for name, pw in self.central_logins().items()}
        hashes |= {node_id: entry["password_hash"] for node_id, entry in nodes.items()}
        passwd = "".join(f"{name}:{digest}\n" for name, digest in hashes.items())
        _write(self.root / "central-passwd", passwd.encode(), 0o600)
        _write(self.root / "central-acl.conf", central_acl(nodes).encode(), 0o644)


def central_acl(nodes: dict[str, dict[str, Any]]) -> str:
    """Central's two accounts, then one block per node: its own topics in its own hall."""
    any_node = ct.node_topic("+", "+", "{}")
    lines = [
        "# Central broker ACL: generated by 'hall-agent central provision'; do not edit.",
        "user central-ingest",
        *(f"topic read {any_node.format(leaf)}" for leaf in NODE_WRITES),
        f"topic write {any_node.format('ack')}",
        "",
        "user central-publisher",
        f"topic write {_hall_pushes('+')}",
        f"topic write {any_node.format('command')}",
        f"topic read {any_node.format('result')}",
    ]
    for node_id, entry in sorted(nodes.items()):
        hall = entry["hall"]
        lines += ["", f"# {entry['role']} of hall {hall}", f"user {node_id}"]
        lines += [f"topic write {ct.node_topic(hall, node_id, leaf)}" for leaf in NODE_WRITES]
        lines += [f"topic read {ct.node_topic(hall, node_id, leaf)}" for leaf in NODE_READS]
        lines.append(f"topic read {_hall_pushes(hall)}")
    return "\n".join(lines) + "\n"


def _hall_pushes(hall: str) -> str:
    """Everything central pushes to a hall (config, roster, notices, profiles)."""
    return ct.config_topic(hall).rsplit("/", 1)[0] + "/#"


def provision(central: CentralDir, request: ProvisionRequest, bundle: Path) -> Path:
    """Register ``request``'s node (a new broker password each time) and write its bundle."""
    hall_file = central.hall_dir(request.hall_id) / "hall.yaml"
    if not hall_file.exists():
        raise ConfigError(f"{hall_file}: no such file: put hall {request.hall_id}'s config there")
    hall_text = hall_file.read_text(encoding="utf-8")
    raw = yaml.safe_load(hall_text)
    hall = HallConfig.model_validate({k: v for k, v in raw.items() if k in HallConfig.model_fields})
    if hall.hall_id != request.hall_id:
        raise ConfigError(f"{hall_file}: hall_id is {hall.hall_id!r}, not {request.hall_id!r}")
    _check_terminal(raw.get("terminals") or [], hall, request)
    password = secrets.token_urlsafe(24)
    try:
        node = _node_config(request, password, central.hall_dir(request.hall_id) / HALL_LOGINS)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"node {request.node_id}: {problems}") from exc
    entry = {
        "hall": hall.hall_id,
        "role": request.role,
        "window": request.window,
        "password_hash": mosquitto_hash(password),
    }
    files = {
        "hall.yaml": hall_text.encode(),
        "node.yaml": yaml.safe_dump(node.model_dump(mode="json", exclude_none=True)).encode(),
        CENTRAL_PUBLIC_KEY_FILE: central.public_key(),
    }
    if request.role in CARD_ROLES:
        files["secret.key"] = central.hall_key(hall.hall_id)
    assert set(files) <= set(BUNDLE_FILES)
    _write_tar(bundle, files)
    central.register(request.node_id, entry)
    return bundle


def _node_config(request: ProvisionRequest, password: str, hall_logins: Path) -> NodeConfig:
    return NodeConfig(
        node_id=request.node_id,
        role=request.role,
        broker=BrokerConfig(
            url=request.central_url,
            username=request.node_id,
            password=password,
            ca_file=Path(request.ca_file) if request.ca_file else None,
        ),
        hall_broker=_hall_broker(request, hall_logins),
    )


def _check_terminal(
    terminals: list[dict[str, Any]], hall: HallConfig, request: ProvisionRequest
) -> None:
    windows = {w.number for w in hall.windows}
    if request.window is not None and request.window not in windows:
        raise ConfigError(
            f"--window {request.window}: hall {hall.hall_id} has windows {sorted(windows)}"
        )
    if request.role in ("hub", "all"):
        return
    listed = next((t for t in terminals if t.get("id") == request.node_id), None)
    if listed is None:
        raise ConfigError(
            f"hall {request.hall_id}: terminals: no {request.node_id!r}; add "
            f"{{id: {request.node_id}, role: {request.role}}} first (its hall broker login)"
        )
    if listed.get("role") != request.role:
        raise ConfigError(
            f"{request.node_id} is a {listed.get('role')} in hall.yaml, not a {request.role}"
        )
    if request.window is not None and request.window not in (listed.get("windows") or []):
        raise ConfigError(f"{request.node_id} does not show window {request.window} in hall.yaml")


def _hall_broker(request: ProvisionRequest, logins_file: Path) -> BrokerConfig | None:
    if request.hall_broker_url is None:
        return None
    login = HUB_LOGIN if request.role in ("hub", "all") else request.node_id
    logins = _read_yaml(logins_file)
    if login not in logins:
        raise ConfigError(
            f"no hall broker login {login!r} in {logins_file}: run 'hall-agent hall "
            f"broker-files --out {logins_file.parent}' for the hall first"
        )
    return BrokerConfig(url=request.hall_broker_url, username=login, password=str(logins[login]))


def _read_yaml(path: Path | None) -> dict[str, Any]:
    if path is None or not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _write(path: Path, data: bytes, mode: int) -> None:
    """Atomically, created with ``mode`` (a secret never sits in a world-readable file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, mode)
    tmp.replace(path)


def _write_tar(path: Path, files: dict[str, bytes]) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
    _write(path, buffer.getvalue(), 0o600)
