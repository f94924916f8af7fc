"""Applying a provisioning bundle on a node: ``hall-agent init --bundle FILE``.

The bundle (made by ``hall-agent central provision``) holds the hall config, this node's
node.yaml with its broker logins, central's public key and, for PCs that read ID cards, the
hall key (``secret.key``). Everything is validated before anything is written; an existing
store keeps its key (its citizens' hashes were made with it): a bundle with another key is
refused there.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from agent.config import HallConfig, load_hall_config
from agent.datadir import CENTRAL_PUBLIC_KEY_FILE, DataDir
from agent.errors import ConfigError
from agent.node import NodeConfig, dump_node_config, load_node_config
from agent.tarfiles import extract_files

REQUIRED = ("hall.yaml", "node.yaml", CENTRAL_PUBLIC_KEY_FILE)
BUNDLE_FILES = (*REQUIRED, "secret.key")


def apply_bundle(data: DataDir, bundle: Path) -> tuple[HallConfig, NodeConfig]:
    with tempfile.TemporaryDirectory(prefix=".bundle-") as tmp:
        unpacked = Path(tmp)
        extract_files(bundle, unpacked, BUNDLE_FILES.__contains__, REQUIRED, "provisioning bundle")
        hall = load_hall_config(unpacked / "hall.yaml")
        node = load_node_config(unpacked / "node.yaml")
        key = unpacked / "secret.key"
        if key.exists() and len(key.read_bytes()) != 32:
            raise ConfigError(f"{bundle}: secret.key: not a 32-byte key")
        kept = data.secret.read_bytes() if data.database.exists() and data.secret.exists() else None
        if key.exists() and kept is not None and kept != key.read_bytes():
            raise ConfigError(
                f"{data.root}: its store was made with another hall key; a bundle "
                "cannot replace it (restore a backup of this node instead)"
            )
        data.init(unpacked / "hall.yaml")
        dump_node_config(node, data.node_config)
        (unpacked / CENTRAL_PUBLIC_KEY_FILE).replace(data.root / CENTRAL_PUBLIC_KEY_FILE)
        if key.exists():
            os.chmod(key, 0o600)
            key.replace(data.secret)
    return hall, node
