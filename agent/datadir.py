"""Where a node keeps its files, creating them on first use, and the one-hub lock."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from agent import nodekey
from agent.config import HallConfig, load_hall_config, sample_config, sample_config_text
from agent.errors import ConfigError, DataDirUnusable, HubAlreadyRunning
from agent.node import NodeConfig, dump_node_config, load_node_config, new_node_config
from agent.privacy import load_or_create_secret

ENV_DATA_DIR = "HALL_AGENT_DATA_DIR"
#: Central's Ed25519 public key in the data dir: what central signs is checked with it.
CENTRAL_PUBLIC_KEY_FILE = "central_pub.pem"


def resolve_data_dir(explicit: str | Path | None) -> Path:
    """``--data-dir``, else ``$HALL_AGENT_DATA_DIR``, else the platform's user data dir."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_DATA_DIR):
        return Path(os.environ[ENV_DATA_DIR]).expanduser()
    return Path(platformdirs.user_data_dir("hall-agent", appauthor=False))


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def hall_config(self) -> Path:
        return self.root / "hall.yaml"

    @property
    def node_config(self) -> Path:
        return self.root / "node.yaml"

    @property
    def database(self) -> Path:
        return self.root / "hall.db"

    @property
    def secret(self) -> Path:
        return self.root / "secret.key"

    @property
    def node_key(self) -> Path:
        """The node's Ed25519 private key (mode 0600): it signs the head of the event log."""
        return self.root / nodekey.NODE_KEY_FILE

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def profiles(self) -> Path:
        """Device profiles pushed (signed) from the central platform; they win over the
        packaged ``firmware_profiles/`` of the same name."""
        return self.root / "profiles"

    @property
    def last_good_profiles(self) -> Path:
        """Each device's last good profile, kept by the device manager for rollbacks."""
        return self.profiles / "last-good"

    @property
    def hub_lock(self) -> Path:
        """The file a process running this data dir's core holds an ``flock`` on; a restore
        is refused while anyone holds it."""
        return self.root / "hub.lock"

    def exists(self) -> bool:
        if self.root.exists() and not self.root.is_dir():
            raise DataDirUnusable(
                f"{self.root}: is a file, not a data dir; move it aside or choose another"
                " --data-dir",
                file=str(self.root),
            )
        return self.hall_config.exists() and self.node_config.exists()

    def init(
        self, config_file: Path | None = None, *, make_key: bool = True
    ) -> tuple[HallConfig, NodeConfig]:
        """Create the data dir; the hall config is validated before anything is written.
        ``make_key=False``: no hall key is made (a provisioning bundle brings one, or the node
        reads no ID cards and needs none)."""
        if config_file is not None:
            hall = load_hall_config(config_file)
            text = config_file.read_text(encoding="utf-8")
        else:
            text = sample_config_text()
            hall = sample_config()
        if self.exists():
            existing = load_hall_config(self.hall_config)
            if existing.hall_id != hall.hall_id:
                raise ConfigError(
                    f"{self.root}: already holds hall {existing.hall_id!r}, not {hall.hall_id!r}"
                )
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        tmp = self.hall_config.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.hall_config)
        if self.node_config.exists():
            node = load_node_config(self.node_config)
        else:
            node = new_node_config(hall.hall_id)
            dump_node_config(node, self.node_config)
        if make_key:
            load_or_create_secret(self.secret)
        nodekey.load_or_create(self.node_key)
        return hall, node

    def load(self) -> tuple[HallConfig, NodeConfig]:
        if not self.exists():
            raise ConfigError(
                f"{self.root}: not initialised (run 'hall-agent init' first)", file=str(self.root)
            )
        return load_hall_config(self.hall_config), load_node_config(self.node_config)

    def load_or_init(self) -> tuple[HallConfig, NodeConfig]:
        return self.load() if self.exists() else self.init()

    def hall_key(self) -> bytes | None:
        """The hall key, or None on a node that was given none (it reads no ID cards)."""
        return load_or_create_secret(self.secret) if self.secret.exists() else None


class HubLock:
    """Held while a process runs the hub of a data dir: its core thread, central sync and
    hall LAN server. Two hubs on one store would both tick, sync and answer terminals.

    An exclusive ``flock`` on ``hub.lock`` in the data dir. The kernel drops it when the
    process ends, however it ends (a crash, SIGKILL, a power cut), so a stale lock never
    blocks an automatic restart; the file's text (pid, role, since when) only names the
    holder in the refusal. ``hall-agent queue …`` writers take no lock: they share the store
    through SQLite's own locking, as before.
    """

    def __init__(self, data: DataDir, role: str) -> None:
        self.path = data.hub_lock
        self.role = role
        self._fd: int | None = None

    def acquire(self) -> HubLock:
        """Take the lock, or raise :class:`HubAlreadyRunning` naming the running hub."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise HubAlreadyRunning(
                f"{self.path.parent}: a hub already runs on this data dir "
                f"(pid {holder.get('pid', '?')}, role {holder.get('role', '?')}, "
                f"since {holder.get('since', '?')}); stop it first, or give this one its "
                "own --data-dir",
                **{k: holder[k] for k in ("pid", "role", "since") if k in holder},
            ) from None
        except BaseException:
            os.close(fd)
            raise
        since = dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")
        text = json.dumps({"pid": os.getpid(), "role": self.role, "since": since})
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode() + b"\n", 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up (the file stays: it is only ever read by a refused hub)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> HubLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(fd: int) -> dict[str, Any]:
    """Who holds the lock, as it wrote (empty if it is still writing it, or wrote nothing)."""
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
        if isinstance(data, dict):
            return data
    return {}
