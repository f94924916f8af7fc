"""The admin PIN that lets staff leave a locked kiosk, kept only as a salted scrypt hash,
and the guard that slows wrong guesses and locks them out (agent/pinlock.py)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from agent.errors import HallError
from agent.pinlock import (
    FIRST_DELAY_S,
    HASH_PATTERN,
    LOCKOUT_S,
    MAX_FAILURES,
    MAX_LOCKOUT_S,
    PIN_PATTERN,
    AttemptLock,
    WallClock,
    hash_pin,
    verify_pin,
)

__all__ = [
    "ATTEMPTS_FILE",
    "FIRST_DELAY_S",
    "HASH_PATTERN",
    "LOCKOUT_S",
    "MAX_FAILURES",
    "MAX_LOCKOUT_S",
    "PIN_PATTERN",
    "PinGuard",
    "PinLocked",
    "PinResult",
    "hash_pin",
    "verify_pin",
]

ATTEMPTS_FILE = "admin-pin-attempts.json"


class PinLocked(HallError):
    """No PIN is checked now: too soon after a wrong one, or locked out. ``retry_after_s``
    says when; ``locked_out`` tells a lockout from the short delay."""

    code = "admin_pin_locked"


@dataclass(frozen=True)
class PinResult:
    """A checked PIN: right or wrong, how long until the next one is checked, and whether
    this wrong PIN started a lockout (``lockout_s``: to be reported upward)."""

    ok: bool
    retry_after_s: int = 0
    lockout_s: int | None = None


class PinGuard:
    """Checks admin PINs with a growing delay and a lockout, kept in a file in the data dir
    so that restarting the kiosk (or the PC) does not reset them."""

    def __init__(self, pin_hash: str, state_file: Path, clock: WallClock = time.time) -> None:
        self.pin_hash = pin_hash
        self._lock = AttemptLock(state_file, clock)

    def retry_after_s(self) -> float:
        """Seconds until a PIN will be checked (0: now)."""
        return self._lock.retry_after_s()

    def check(self, pin: str) -> PinResult:
        """Check ``pin``; raises :class:`PinLocked`, the PIN unchecked, while a delay or a
        lockout lasts (so the right PIN does not open a locked-out kiosk either)."""
        wait = self.retry_after_s()
        if wait > 0:
            raise PinLocked(
                f"no PIN is checked for {math.ceil(wait)} s",
                retry_after_s=math.ceil(wait),
                locked_out=self._lock.locked_out,
            )
        if verify_pin(pin, self.pin_hash):
            self._lock.succeeded()
            return PinResult(ok=True)
        failure = self._lock.failed("admin PIN")
        return PinResult(ok=False, retry_after_s=failure.retry_after_s, lockout_s=failure.lockout_s)
