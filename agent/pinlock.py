"""PINs kept as salted scrypt hashes, and the attempt lock that slows wrong guesses and
locks them out across restarts. Shared by the kiosk's admin PIN (agent/adminpin.py) and
staff sign-in (agent/staffauth.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from agent.errors import ConfigError
from agent.files import write_atomically

log = logging.getLogger(__name__)

PIN_PATTERN = re.compile(r"^[0-9]{6,12}$")
HASH_PATTERN = r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$"
_N, _R, _P = 2**14, 8, 1

#: Wrong PINs in a row before a lockout; before that each wrong PIN makes the next attempt
#: wait FIRST_DELAY_S, doubling (1, 2, 4, 8 s).
MAX_FAILURES = 5
FIRST_DELAY_S = 1.0
#: The first lockout; each further one (without a right PIN between) doubles, up to a day.
LOCKOUT_S = 15 * 60
MAX_LOCKOUT_S = 24 * 3600

WallClock = Callable[[], float]


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p, dklen=32)


def hash_pin(pin: str, what: str = "the admin PIN") -> str:
    """``scrypt$N$r$p$salt$hash``; a PIN is 6 to 12 digits."""
    if not PIN_PATTERN.match(pin):
        raise ConfigError(f"{what} must be 6 to 12 digits")
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


@dataclass
class _Attempts:
    failures: int = 0  # wrong PINs in a row since the last lockout or right PIN
    lockouts: int = 0  # lockouts since the last right PIN
    not_before: float = 0.0  # wall-clock time (epoch s) before which no PIN is checked
    wait_s: float = 0.0  # how long that wait is
    locked_out: bool = False


@dataclass(frozen=True)
class Failure:
    """A wrong PIN counted: how long until the next is checked, and whether it started a
    lockout (``lockout_s``, to be reported upward)."""

    retry_after_s: int
    lockout_s: int | None


class AttemptLock:
    """Counts wrong PINs for one subject (the kiosk, a member of staff, a window) in a file,
    so that a restart does not reset them.

    The file holds counts and a time, no PIN. A damaged file counts as a lockout starting
    now (it fails safe); if the file cannot be written, memory still counts.
    """

    def __init__(self, state_file: Path, clock: WallClock = time.time) -> None:
        self.state_file = state_file
        self.clock = clock
        self._attempts = self._load()

    @property
    def locked_out(self) -> bool:
        return self._attempts.locked_out

    def retry_after_s(self) -> float:
        """Seconds until a PIN will be checked (0: now). A wall clock set back does not
        stretch a wait: it starts again from the clock's new time, no longer than it was."""
        attempts, now = self._attempts, self.clock()
        if attempts.not_before - now > attempts.wait_s:
            attempts.not_before = now + attempts.wait_s
        return max(0.0, attempts.not_before - now)

    def wait_whole_s(self) -> int:
        return math.ceil(self.retry_after_s())

    def succeeded(self) -> None:
        if self._attempts != _Attempts():
            self._attempts = _Attempts()
            self._save()

    def failed(self, what: str = "PIN") -> Failure:
        attempts = self._attempts
        attempts.failures += 1
        attempts.locked_out = attempts.failures >= MAX_FAILURES
        if attempts.locked_out:
            attempts.lockouts += 1
            attempts.failures = 0
            seconds = min(LOCKOUT_S * 2 ** (attempts.lockouts - 1), MAX_LOCKOUT_S)
            log.warning("%s locked out for %d s after %d wrong PINs", what, seconds, MAX_FAILURES)
        else:
            seconds = FIRST_DELAY_S * 2 ** (attempts.failures - 1)
        attempts.not_before, attempts.wait_s = self.clock() + seconds, seconds
        self._save()
        lockout = int(seconds) if attempts.locked_out else None
        return Failure(retry_after_s=math.ceil(seconds), lockout_s=lockout)

    def _load(self) -> _Attempts:
        try:
            text = self.state_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return _Attempts()
        except OSError as exc:
            log.error("cannot read %s (%s): locked out as a precaution", self.state_file, exc)
            return self._precaution()
        try:
            data = json.loads(text)
            return _Attempts(
                failures=int(data["failures"]),
                lockouts=int(data["lockouts"]),
                not_before=float(data["not_before"]),
                wait_s=float(data["wait_s"]),
                locked_out=bool(data["locked_out"]),
            )
        except (ValueError, KeyError, TypeError):
            log.error("%s is damaged: locked out as a precaution", self.state_file)
            return self._precaution()

    def _precaution(self) -> _Attempts:
        now = self.clock()
        return _Attempts(lockouts=1, not_before=now + LOCKOUT_S, wait_s=LOCKOUT_S, locked_out=True)

    def _save(self) -> None:
        try:
            write_atomically(self.state_file, json.dumps(asdict(self._attempts)))
        except OSError as exc:  # memory still counts; a restart would start from the file
            log.error("cannot write %s: %s", self.state_file, exc)
