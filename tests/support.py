"""Helpers every test folder (and the benchmarks) share: poll a condition with a deadline
instead of sleeping; a throwaway PostgreSQL server."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> bool:
    """True as soon as ``predicate()`` holds; its last value once ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


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
