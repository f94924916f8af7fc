"""Helpers every test folder (and the benchmarks) share: poll a condition with a deadline
instead of sleeping; a small disk to fill; a throwaway PostgreSQL server; a node's log
chained and signed as its sync sends it, without a node; a staffed hall and its PINs."""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import chain as ch
from agent import commands as c
from agent import nodekey
from agent.config import HallConfig
from agent.staffauth import Credentials
from agent.staffconfig import StaffMember
from sync import contract as ct

#: One event before it is chained: (type, business_date, at, wall_time, payload JSON text).
EventRow = tuple[str, str, str, str, str]


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> bool:
    """True as soon as ``predicate()`` holds; its last value once ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class SmallDisk:
    """A tmpfs of a few MB mounted in a test's folder (root only), to fill up for real."""

    def __init__(self, path: Path, size_kb: int = 4096) -> None:
        self.path = path
        self.size_kb = size_kb
        self.fillers: list[Path] = []

    def mount(self) -> bool:
        self.path.mkdir(parents=True, exist_ok=True)
        command = ["mount", "-t", "tmpfs", "-o", f"size={self.size_kb}k", "tmpfs", str(self.path)]
        try:
            done = subprocess.run(command, capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0

    def read_only(self) -> None:
        command = ["mount", "-o", "remount,ro", str(self.path)]
        subprocess.run(command, capture_output=True, timeout=30, check=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True, timeout=30)

    def fill(self, leave_bytes: int = 0) -> None:
        """Write a filler file until the disk is full (or only ``leave_bytes`` are left)."""
        filler = self.path / f"filler-{len(self.fillers)}"
        self.fillers.append(filler)
        with filler.open("wb", buffering=0) as handle:
            for chunk in (65536, 4096):
                try:
                    while self.free() - chunk >= leave_bytes:
                        handle.write(b"\0" * chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise

    def free(self) -> int:
        stats = os.statvfs(self.path)
        return stats.f_bavail * stats.f_frsize

    def make_room(self) -> None:
        for filler in self.fillers:
            filler.unlink()
        self.fillers.clear()


def set_node_field(data_root: Path, key: str, value: object) -> None:
    """Change one field of a data dir's node.yaml (as an operator would)."""
    path = data_root / "node.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data[key] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def chained_events(node_id: str, rows: Iterable[EventRow]) -> list[ct.WireEvent]:
    """A node's log from seq 1 with each event's chain link (agent/chain.py)."""
    prev, events = "", []
    for seq, (type_, day, at, wall, payload) in enumerate(rows, start=1):
        data = ch.canonical_bytes(prev, node_id, seq, type_, day, at, wall, payload)
        prev = ch.link(ch.DEFAULT_ALGORITHM, data)
        events.append(
            ct.WireEvent(seq=seq, type=type_, business_date=day, at=at, wall_time=wall,
                         payload=payload, chain=prev)
        )  # fmt: skip
    return events


def signed_batch(
    hall_id: str,
    node_id: str,
    key: Ed25519PrivateKey,
    events: list[ct.WireEvent],
    sent_at: str,
) -> ct.EventBatch:
    """Consecutive ``events`` as one batch, its head signed by ``key`` as the node's sync
    signs it."""
    return ct.EventBatch(
        schema_version=2,
        hall_id=hall_id,
        node_id=node_id,
        public_key=nodekey.public_key_text(key),
        head_signature=nodekey.sign_head(key, node_id, events[-1].seq, events[-1].chain),
        first=events[0].seq,
        last=events[-1].seq,
        sent_at=sent_at,
        events=events,
    )


class PostgresUnavailable(Exception):
    """PostgreSQL is not installed or cannot start here (tests skip, benchmarks say so)."""


@dataclass
class PostgresServer:
    """A PostgreSQL server in a temp dir on a free loopback port, user ``central``."""

    root: Path
    port: int
    pg_ctl: list[str] = field(default_factory=list)  # the command, as the right user

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://central@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.pg_ctl, *args], check=check, timeout=120, cwd=self.root,
            capture_output=True, text=True,
        )  # fmt: skip

    def restart(self) -> None:
        """A fast restart: every connection is cut."""
        self._ctl("-m", "fast", "-w", "restart")

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(durable: bool = False) -> PostgresServer:
    """initdb refuses to run as root: as root, the dir belongs to the package's ``postgres``
    user and every server command runs as that user (see STACK-NOTES.md). Tests run it with
    ``fsync=off``; ``durable`` keeps PostgreSQL's default (every commit flushed)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise PostgresUnavailable("PostgreSQL is not installed (packaging/dev.sh installs it)")
    bin_dir = found[-1].parent
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="hall-pg-"))
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            shutil.rmtree(root, ignore_errors=True)
            raise PostgresUnavailable("running as root and there is no postgres user") from exc
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    root.chmod(0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    data = root / "data"
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    if not durable:
        options += " -c fsync=off"
    server = PostgresServer(
        root, port, [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
                     "-l", str(root / "server.log")],
    )  # fmt: skip
    init = subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "central",
         "-E", "UTF8", "--no-sync"],
        capture_output=True, text=True, timeout=120, cwd=root,
    )  # fmt: skip
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[-300:]}")
    start = server._ctl("-w", "-t", "60", "start", check=False)
    if start.returncode != 0:
        log = (root / "server.log").read_text(errors="replace")[-300:]
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"PostgreSQL did not start: {start.stderr.strip()} {log}")
    return server


# ---- staff: a hall with a staff list, and their PINs at the hub -------------------------
#: Staff of the test halls and their PINs (S-0002 serves only window 2).
STAFF_PINS = {"S-0001": "135790", "S-0002": "246802", "S-0003": "975310"}
STAFF_CARD = "HS1:badge-of-s0003-0123456789"


def staffed(config: HallConfig, **rules: Any) -> HallConfig:
    """``config`` with S-0001 (any window), S-0002 (window 2), S-0003 (any) on its staff
    list, and the ``staff`` rules given (e.g. ``sign_out_at``)."""
    members = [
        StaffMember(id="S-0001", name="王*"),
        StaffMember(id="S-0002", name="李*", windows=[2]),
        StaffMember(id="S-0003", name="张*"),
    ]
    staff = config.staff.model_copy(update={"members": members, **rules})
    return config.model_copy(update={"staff": staff})


def give_staff_credentials(root: Path) -> None:
    """The hub's credentials for :data:`STAFF_PINS` and S-0003's card, in data dir ``root``."""
    credentials = Credentials(root)
    for staff_id, pin in STAFF_PINS.items():
        credentials.set_pin(staff_id, pin)
    credentials.set_card("S-0003", STAFF_CARD)


def sign_in(staff_id: str, window: int) -> c.SignIn:
    return c.SignIn(window, staff_id, pin=STAFF_PINS[staff_id])
