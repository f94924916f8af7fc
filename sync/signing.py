"""Ed25519 signatures on what the central platform sends down.

The node holds the central platform's public key in ``<data dir>/central_pub.pem``; the
central side signs the exact UTF-8 bytes of the body, so no JSON canonicalisation is needed
on either side.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from agent.datadir import CENTRAL_PUBLIC_KEY_FILE as CENTRAL_PUBLIC_KEY_FILE  # (re-exported)
from agent.errors import ConfigError
from sync.contract import SCHEMA_VERSION


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(_read_pem(path), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{path}: not a PEM private key ({exc})", file=str(path)) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: not an Ed25519 private key", file=str(path))
    return key


def load_public_key(path: Path) -> Ed25519PublicKey | None:
    """The central public key, or None when the file does not exist."""
    if not path.exists():
        return None
    try:
        key = serialization.load_pem_public_key(_read_pem(path))
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{path}: not a PEM public key ({exc})", file=str(path)) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path}: not an Ed25519 public key", file=str(path))
    return key


def _read_pem(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}", file=str(path)) from exc
    if b"-----BEGIN" not in data:
        raise ConfigError(f"{path}: not a PEM key file", file=str(path))
    return data


def sign_body(key: Ed25519PrivateKey, body: dict[str, Any]) -> bytes:
    """The MQTT payload of a signed message: an envelope around the body's JSON text."""
    text = json.dumps(body, ensure_ascii=False, default=_json_default)
    signature = base64.b64encode(key.sign(text.encode("utf-8"))).decode("ascii")
    envelope = {"schema_version": SCHEMA_VERSION, "body": text, "signature": signature}
    return json.dumps(envelope, ensure_ascii=False).encode("utf-8")


def verify(public: Ed25519PublicKey, body: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        public.verify(raw, body.encode("utf-8"))
    except InvalidSignature:
        return False
    return True


def make_body(
    kind: str,
    hall_id: str,
    version: int,
    data: dict[str, Any],
    *,
    node_id: str | None = None,
    expires_in: dt.timedelta | None = None,
    issued_at: dt.datetime | None = None,
) -> dict[str, Any]:
    now = issued_at or dt.datetime.now(dt.UTC)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "hall_id": hall_id,
        "node_id": node_id,
        "version": version,
        "issued_at": now.isoformat(),
        "expires_at": (now + expires_in).isoformat() if expires_in else None,
        "data": data,
    }


def _json_default(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")
