"""Personal data from ID cards: what may be stored, shown or logged.

The store keeps only a masked ID number (first 6 + last 4) and a day's keyed hash used for the
per-citizen queue rules. The hash is made in two steps (docs/operator.md, "Personal data"):
the card reader's node turns the number into a citizen key with the hall key, and the kiosk
turns that key into the hash of one business day. Neither the number nor the citizen key is
stored, logged or sent; a hash says nothing about another day. Names are masked for display.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from datetime import date
from pathlib import Path

from agent.files import create_once

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


#: The label of the day step (a new scheme gets a new label, so hashes never mix).
DAY_LABEL = "hall-agent citizen v1 "


def citizen_key(hall_key: bytes, number: str) -> bytes:
    """HMAC-SHA256(hall key, ID number stripped and upper-cased): the same citizen gives the
    same key in one hall. Held in memory for one card read only."""
    normal = number.strip().upper().encode("ascii", "replace")
    return hmac.new(hall_key, normal, hashlib.sha256).digest()


def citizen_hash(key: bytes, business_date: date) -> str:
    """The citizen's hash for one business day: HMAC-SHA256(citizen key, DAY_LABEL + ISO
    date), hex. Same citizen and day, same hash; another day gives an unrelated one."""
    message = (DAY_LABEL + business_date.isoformat()).encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def load_or_create_secret(path: Path) -> bytes:
    """The hall secret for citizen hashes; created once with mode 0600. Processes starting
    together agree on it: only one can create the file, the others read what it wrote."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = secrets.token_bytes(SECRET_BYTES)
    return data if create_once(path, data) else _read_secret(path)


def _read_secret(path: Path) -> bytes:
    for _ in range(50):  # a creator may be between open and write: wait for it, bounded
        data = path.read_bytes()
        if len(data) >= SECRET_BYTES:
            return data
        time.sleep(0.02)
    raise ValueError(f"{path}: hall secret is too short ({len(data)} bytes)")
