"""Personal data from ID cards: what may be stored, shown or logged.

The store keeps only a masked ID number (first 6 + last 4) and a keyed hash (HMAC-SHA256 with
the hall secret) used for per-citizen limits and matching. Names are masked for display.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from pathlib import Path

SECRET_BYTES = 32


def mask_id_number(number: str) -> str:
    """Keep the first 6 and last 4 characters: ``110105********002X``."""
    number = number.strip()
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_name(name: str) -> str:
    """Keep the first character (the family name in most Chinese names): ``张*`` / ``张**``."""
    name = name.strip()
    if not name:
        return ""
    if " " in name:  # Latin-script names: initial of each word
        return " ".join(part[0] + "." for part in name.split() if part)
    return name[0] + "*" * max(1, len(name) - 1)


_MASKED = re.compile(r"[^\W\d_]\*{1,63}|[^\W\d_]\.(?: [^\W\d_]\.){0,7}")


def is_masked_name(value: str) -> bool:
    """True for what :func:`mask_name` gives (``张**``, ``J. S.``) or an empty name: never a
    full name, never an ID number."""
    return value == "" or _MASKED.fullmatch(value) is not None


def citizen_hash(secret: bytes, number: str) -> str:
    """Keyed hash of an ID number; the same citizen gives the same hash in one hall."""
    digest = hmac.new(secret, number.strip().upper().encode("ascii", "replace"), hashlib.sha256)
    return digest.hexdigest()


def load_or_create_secret(path: Path) -> bytes:
    """The hall secret for citizen hashes; created once with mode 0600. Processes starting
    together agree on it: only one can create the file, the others read what it wrote."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return _read_secret(path)
    data = secrets.token_bytes(SECRET_BYTES)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return data


def _read_secret(path: Path) -> bytes:
    for _ in range(50):  # a creator may be between open and write: wait for it, bounded
        data = path.read_bytes()
        if len(data) >= SECRET_BYTES:
            return data
        time.sleep(0.02)
    raise ValueError(f"{path}: hall secret is too short ({len(data)} bytes)")
