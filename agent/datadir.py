"""Where a node keeps its files, and creating them on first use."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from agent.config import HallConfig, load_hall_config, sample_config, sample_config_text
from agent.errors import ConfigError
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
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def profiles(self) -> Path:
        """Device profiles pushed (signed) from the central platform; they win over the
        packaged ``firmware_profiles/`` of the same name."""
        return self.root / "profiles"

    @property
    def hub_lock(self) -> Path:
        """The file a process running this data dir's core holds an ``flock`` on; a restore
        is refused while anyone holds it."""
        return self.root / "hub.lock"

    def exists(self) -> bool:
        return self.hall_config.exists() and self.node_config.exists()

    def init(self, config_file: Path | None = None) -> tuple[HallConfig, NodeConfig]:
        """Create the data dir; the hall config is validated before anything is written."""
        if config_file is not None:
            hall = load_hall_config(config_file)
            text = config_file.read_text(encoding="utf-8")
        else:
            text = sample_config_text()
            hall = sample_config()
        if self.hall_config.exists():
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
        load_or_create_secret(self.secret)
        return hall, node

    def load(self) -> tuple[HallConfig, NodeConfig]:
        if not self.exists():
            raise ConfigError(
                f"{self.root}: not initialised (run 'hall-agent init' first)", file=str(self.root)
            )
        return load_hall_config(self.hall_config), load_node_config(self.node_config)

    def load_or_init(self) -> tuple[HallConfig, NodeConfig]:
        return self.load() if self.exists() else self.init()

    def secret_bytes(self) -> bytes:
        return load_or_create_secret(self.secret)
