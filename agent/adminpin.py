"""The admin PIN that lets staff leave a locked kiosk, kept only as a salted scrypt hash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from agent.errors import ConfigError

PIN_PATTERN = re.compile(r"^[0-9]{6,12}$")
HASH_PATTERN = r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$"
_N, _R, _P = 2**14, 8, 1


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p, dklen=32)


def hash_pin(pin: str) -> str:
    """``scrypt$N$r$p$salt$hash``; a PIN is 6 to 12 digits."""
    if not PIN_PATTERN.match(pin):
        raise ConfigError("the admin PIN must be 6 to 12 digits")
    salt = secrets.token_bytes(16)
    digest = _scrypt(pin, salt, _N, _R, _P)
    encode = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        _name, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = _scrypt(pin, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(actual, expected)
