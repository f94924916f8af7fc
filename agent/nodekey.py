"""This node's Ed25519 key pair: it signs the head of its event chain for the central platform.

Created at ``init`` (or on first use in a data dir made before) as ``node_key.pem``, mode
0600; the private key never leaves the node. Central learns the public key with the node's
first events and checks every signed head against it.
"""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.chain import head_statement
from agent.errors import ConfigError
from agent.files import create_once

NODE_KEY_FILE = "node_key.pem"


def load_or_create(path: Path) -> Ed25519PrivateKey:
    """The node's key; created once with mode 0600 (only one of several processes starting
    together creates it; the others read what it wrote)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key if create_once(path, pem) else _load(path)


def _load(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a PEM private key: {exc}", file=str(path)) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: not an Ed25519 private key", file=str(path))
    return key


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The raw 32-byte public key in base64, as it travels to central."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def sign_head(key: Ed25519PrivateKey, node_id: str, seq: int, chain: str) -> str:
    """Base64 Ed25519 signature over :func:`agent.chain.head_statement`."""
    return base64.b64encode(key.sign(head_statement(node_id, seq, chain))).decode("ascii")
