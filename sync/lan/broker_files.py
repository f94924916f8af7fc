"""The hall broker's ACL and password file, generated from hall.yaml ``terminals``.

One login per terminal (its ``id``) plus the hub's (:data:`~agent.config.HUB_LOGIN`). The
ACL lets each terminal write only its own request topic, read only its own replies, the
hub's presence, the event feed of its role, the device profiles the hub relays and the
device requests (remote probe, re-open) for itself, and write its answers to those; the hub
reads every request and device answer and writes replies, feeds, its presence, the relayed
profiles and the device requests. With
``use_username_as_clientid`` in the shipped hall-broker.conf a login is also its client
id, so no terminal can take over another's (or the hub's) connection. Passwords are random
and written in the PBKDF2-SHA512 form Mosquitto 2 reads (``$7$``, as ``mosquitto_passwd``
writes them); the plain ones go to ``hall-logins.yaml`` (mode 0600) for the terminals'
node.yaml. Run again after editing ``terminals``: known logins keep their passwords, new
ones get one, removed ones are gone.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from agent.config import HUB_LOGIN, HallConfig
from sync.lan import wire

ACL_FILE = "hall-acl.conf"
PASSWORD_FILE = "passwd"
LOGINS_FILE = "hall-logins.yaml"
#: Mosquitto 2's default for ``mosquitto_passwd``; the passwords are random 192-bit tokens.
PBKDF2_ITERATIONS = 101


@dataclass(frozen=True)
class BrokerFiles:
    acl: Path
    passwords: Path
    logins: Path


def acl_text(config: HallConfig) -> str:
    """The hall LAN's ACL lines for ``config``'s hall (Mosquitto's acl_file format)."""
    hall = config.hall_id
    request = wire.request_topic(hall, "%u")
    reply = wire.reply_topic(hall, "%u")
    lines = [
        f"# Hall broker ACL of hall {hall}: generated from hall.yaml terminals by",
        "# 'hall-agent hall broker-files' (docs/operator.md, 'A hall on several PCs').",
        "",
        "# Every login: its own requests and replies (%u is the login).",
        f"pattern write {request}",
        f"pattern read {reply}",
        "# Its own devices' remote probes and re-opens (from the hub only), and its answers.",
        f"pattern read {wire.device_request_topic(hall, '%u')}",
        f"pattern write {wire.device_answer_topic(hall, '%u')}",
        "",
        "# The hub: every terminal's requests and device answers; replies, the role feeds, its",
        "# presence, the relayed profiles and the device requests.",
        f"user {HUB_LOGIN}",
        f"topic read {wire.request_subscription(hall)}",
        f"topic write {wire.reply_topic(hall, '+')}",
        f"topic write {wire.events_topic(hall, '+')}",
        f"topic write {wire.hub_topic(hall)}",
        f"topic write {wire.profile_subscription(hall)}",
        f"topic write {wire.device_request_topic(hall, '+')}",
        f"topic read {wire.device_answer_topic(hall, '+')}",
    ]
    for terminal in config.terminals:
        windows = f", windows {', '.join(map(str, terminal.windows))}" if terminal.windows else ""
        lines += [
            "",
            f"# {terminal.role}{windows}",
            f"user {terminal.id}",
            f"topic read {wire.hub_topic(hall)}",
            f"topic read {wire.events_topic(hall, terminal.role)}",
            f"topic read {wire.profile_subscription(hall)}",
        ]
    return "\n".join(lines) + "\n"


def password_hash(password: str, salt: bytes | None = None) -> str:
    """``$7$iterations$salt$hash``: PBKDF2-SHA512 as Mosquitto 2 reads it."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, PBKDF2_ITERATIONS)
    b64 = base64.b64encode
    return f"$7${PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def logins_for(config: HallConfig, known: dict[str, str]) -> dict[str, str]:
    """Login → password for the hub and every terminal; ``known`` ones are kept."""
    names = [HUB_LOGIN, *(t.id for t in config.terminals)]
    return {name: known.get(name) or secrets.token_urlsafe(24) for name in names}


def write_broker_files(config: HallConfig, out: Path) -> BrokerFiles:
    """Write the ACL, the password file and the plain logins into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    files = BrokerFiles(out / ACL_FILE, out / PASSWORD_FILE, out / LOGINS_FILE)
    known: dict[str, str] = {}
    if files.logins.exists():
        data = yaml.safe_load(files.logins.read_text(encoding="utf-8")) or {}
        known = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    logins = logins_for(config, known)
    _write(files.acl, acl_text(config), 0o644)
    hashed = "".join(f"{name}:{password_hash(pw)}\n" for name, pw in logins.items())
    _write(files.passwords, hashed, 0o600)
    _write(files.logins, yaml.safe_dump(logins, sort_keys=False), 0o600)
    return files


def _write(path: Path, text: str, mode: int) -> None:
    """Atomically, created with ``mode`` (a password never sits in a world-readable file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    tmp.replace(path)
