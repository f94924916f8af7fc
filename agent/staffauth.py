"""Staff credentials, held by the hub alone, and the gate every sign-in passes first.

``staff-credentials.json`` in the hub's data dir (mode 0600) holds, per staff id (工号), a
salted scrypt hash of the PIN and the SHA-256 of the staff card's code. It is never part of
the hall config, never on the hall LAN's feed and never in an event: a sign-in's event says
who signed in where and how (``pin`` | ``card``), nothing more.

A staff card is recognised by its code, whatever read it: the QR or barcode printed on the
staff badge (``HS1:`` and 16-64 letters, digits, ``-`` or ``_``), scanned at the window. The
hub keeps only the code's SHA-256 (a badge code is random and long, so no slow hash is
needed to find its holder). Wrong PINs and unknown cards are slowed and locked out like the
kiosk's admin PIN (agent/pinlock.py), per member of staff and per window, across restarts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

from agent import commands as c
from agent import errors
from agent.files import write_atomically
from agent.pinlock import HASH_PATTERN, AttemptLock, Failure, WallClock, hash_pin, verify_pin
from agent.staffconfig import STAFF_ID_PATTERN

log = logging.getLogger(__name__)

CREDENTIALS_FILE = "staff-credentials.json"
ATTEMPTS_DIR = "staff-pin-attempts"
CARD_PATTERN = re.compile(r"^HS1:[A-Za-z0-9_-]{16,64}$")
_STAFF_ID = re.compile(STAFF_ID_PATTERN)
_HASH = re.compile(HASH_PATTERN)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def card_digest(code: str) -> str:
    """What the hub keeps of a staff card's code."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def is_staff_card(code: str) -> bool:
    """A scanned code that is a staff badge's (not a citizen's appointment or ticket)."""
    return CARD_PATTERN.match(code) is not None


class Credentials:
    """The hub's file of staff PIN hashes and card digests."""

    def __init__(self, root: Path) -> None:
        self.path = root / CREDENTIALS_FILE

    def read(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise errors.ConfigError(
                f"{self.path}: unreadable ({exc}); set the PINs again with "
                "'hall-agent staff set-pin'",
                file=str(self.path),
            ) from exc
        members = data.get("members") if isinstance(data, dict) else None
        if not isinstance(members, dict):
            raise errors.ConfigError(f"{self.path}: no 'members' object", file=str(self.path))
        return members

    def write(self, members: dict[str, dict[str, str]]) -> None:
        text = json.dumps({"members": members}, sort_keys=True, indent=1)
        write_atomically(self.path, text, mode=0o600)

    def set_pin(self, staff_id: str, pin: str) -> None:
        _check_staff_id(staff_id)
        members = self.read()
        members.setdefault(staff_id, {})["pin"] = hash_pin(pin, "a staff PIN")
        self.write(members)

    def set_card(self, staff_id: str, code: str) -> None:
        _check_staff_id(staff_id)
        if not is_staff_card(code):
            raise errors.ConfigError("a staff card's code is HS1: and 16-64 letters or digits")
        members = self.read()
        digest = card_digest(code)
        for other, entry in members.items():
            if other != staff_id and entry.get("card") == digest:
                raise errors.ConfigError(f"this card is {other}'s already")
        members.setdefault(staff_id, {})["card"] = digest
        self.write(members)

    def merge_roster(self, entries: list[dict[str, Any]]) -> None:
        """Take the PIN hashes and card digests a signed roster from central carries
        (``pin_hash``, ``card_sha256``); each is checked for its form first, all or none."""
        members = self.read()
        for entry in entries:
            staff_id = str(entry.get("id", ""))
            _check_staff_id(staff_id)
            own = members.setdefault(staff_id, {})
            if (pin_hash := entry.get("pin_hash")) is not None:
                if not (isinstance(pin_hash, str) and _HASH.match(pin_hash)):
                    raise errors.ConfigError(f"roster: {staff_id}: pin_hash is not a scrypt hash")
                own["pin"] = pin_hash
            if (card := entry.get("card_sha256")) is not None:
                if not (isinstance(card, str) and _SHA256.match(card)):
                    raise errors.ConfigError(f"roster: {staff_id}: card_sha256 is not SHA-256")
                own["card"] = card
        self.write(members)


def _check_staff_id(staff_id: str) -> None:
    if not _STAFF_ID.match(staff_id):
        raise errors.ConfigError(f"staff id {staff_id[:40]!r}: 1-32 letters, digits, _ . -")


class StaffGate:
    """Checks a sign-in's PIN or card before the core runs it; returns the command without
    its secret. Refusals name no more than "wrong staff number or PIN"."""

    def __init__(self, root: Path, clock: WallClock = time.time) -> None:
        self.credentials = Credentials(root)
        self.attempts = root / ATTEMPTS_DIR
        self.clock = clock

    def verify(self, command: c.SignIn) -> c.SignIn:
        if command.method or (command.pin is None) == (command.card is None):
            raise errors.SignInRefused("a sign-in carries a PIN or a staff card, not both")
        members = self.credentials.read()
        window = self._lock(f"window-{command.window}")
        if command.card is not None:
            _wait(window)
            digest = card_digest(command.card)
            staff_id = next((s for s, e in members.items() if e.get("card") == digest), None)
            if staff_id is None:
                failure = window.failed("staff card")
                raise _refused("this staff card is not known here", [failure], None)
            window.succeeded()
            return dataclasses.replace(command, staff_id=staff_id, card=None, method="card")
        assert command.pin is not None
        known = command.staff_id in members and _STAFF_ID.match(command.staff_id)
        # Only staff the hub knows get an attempts file of their own (a flood of made-up
        # ids cannot fill the disk); every wrong guess counts against the window.
        locks = [window, self._lock(f"staff-{command.staff_id}")] if known else [window]
        for lock in locks:
            _wait(lock)
        stored = members.get(command.staff_id, {}).get("pin") if known else None
        if stored is None or not verify_pin(command.pin, stored):
            failures = [lock.failed(f"staff sign-in ({lock.state_file.stem})") for lock in locks]
            staff = command.staff_id if known else None
            raise _refused("wrong staff number or PIN", failures, staff)
        for lock in locks:
            lock.succeeded()
        return dataclasses.replace(command, pin=None, method="pin")

    def _lock(self, name: str) -> AttemptLock:
        self.attempts.mkdir(mode=0o700, exist_ok=True)
        return AttemptLock(self.attempts / f"{name}.json", self.clock)


def _wait(lock: AttemptLock) -> None:
    wait = lock.wait_whole_s()
    if wait > 0:
        raise errors.SignInLocked(
            f"no PIN is checked here for {wait} s", retry_after_s=wait, locked_out=lock.locked_out
        )


def _refused(message: str, failures: list[Failure], staff_id: str | None) -> errors.SignInRefused:
    """The refusal; when a wrong PIN starts a lockout, ``lockout_s`` and the member of staff
    (one the hub knows) for the event that tells central (``StaffSignInLockedOut``)."""
    lockouts = [f.lockout_s for f in failures if f.lockout_s is not None]
    refused = errors.SignInRefused(
        message,
        retry_after_s=max(f.retry_after_s for f in failures),
        locked_out=bool(lockouts),
        lockout_s=max(lockouts) if lockouts else None,
    )
    refused.staff_id = staff_id
    return refused
