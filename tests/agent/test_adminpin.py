"""The kiosk's admin PIN: only a salted hash is kept, and only the right PIN matches."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from agent import commands as c
from agent.adminpin import (
    ATTEMPTS_FILE,
    LOCKOUT_S,
    MAX_FAILURES,
    MAX_LOCKOUT_S,
    PinGuard,
    PinLocked,
    hash_pin,
    verify_pin,
)
from agent.cli import main
from agent.codec import decode_command, encode_command
from agent.errors import ConfigError, DomainError
from agent.node import load_node_config


def test_the_right_pin_matches_and_the_hash_is_salted() -> None:
    stored = hash_pin("24680135")
    assert "24680135" not in stored
    assert verify_pin("24680135", stored)
    assert not verify_pin("24680136", stored)
    assert hash_pin("24680135") != stored  # a new salt each time


@pytest.mark.parametrize("pin", ["1234", "abcdef12", "1234567890123", ""])
def test_short_or_non_digit_pins_are_refused(pin: str) -> None:
    with pytest.raises(ConfigError):
        hash_pin(pin)


@pytest.mark.parametrize("stored", ["", "scrypt$x", "md5$1$2$3$aa$bb", "scrypt$16384$8$1$!!$!!"])
def test_a_damaged_hash_never_matches(stored: str) -> None:
    assert not verify_pin("24680135", stored)


def test_set_pin_stores_only_the_hash(tmp_path: Path, monkeypatch, capsys) -> None:
    root = tmp_path / "node"
    assert main(["--data-dir", str(root), "init"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("97531864\n97531864\n"))
    assert main(["--data-dir", str(root), "admin", "set-pin"]) == 0
    text = (root / "node.yaml").read_text()
    assert "97531864" not in text
    stored = load_node_config(root / "node.yaml").admin_pin_hash
    assert stored is not None and verify_pin("97531864", stored)
    monkeypatch.setattr("sys.stdin", io.StringIO("11112222\n11113333\n"))
    assert main(["--data-dir", str(root), "admin", "set-pin"]) == 2
    assert "differ" in capsys.readouterr().err
    assert load_node_config(root / "node.yaml").admin_pin_hash == stored


# ---- attempts: slowed, then locked out (an injected wall clock) --------------------------
class WallClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


RIGHT = "24680135"
WRONG = "11111111"


@pytest.fixture(scope="module")
def pin_hash() -> str:
    return hash_pin(RIGHT)


def guard_at(tmp_path: Path, pin_hash: str, clock: WallClock) -> PinGuard:
    return PinGuard(pin_hash, tmp_path / ATTEMPTS_FILE, clock)


def test_wrong_pins_wait_longer_each_time_and_nothing_is_checked_meanwhile(
    tmp_path: Path, pin_hash: str
) -> None:
    clock = WallClock()
    guard = guard_at(tmp_path, pin_hash, clock)
    waits = []
    for _ in range(MAX_FAILURES - 1):
        result = guard.check(WRONG)
        assert not result.ok and result.lockout_s is None
        waits.append(result.retry_after_s)
        with pytest.raises(PinLocked) as early:  # even the right PIN is not checked now
            guard.check(RIGHT)
        assert early.value.code == "admin_pin_locked"
        assert early.value.details == {"retry_after_s": result.retry_after_s, "locked_out": False}
        clock.now += result.retry_after_s
    assert waits == [1, 2, 4, 8]
    assert guard.check(RIGHT).ok
    assert guard.check(WRONG).retry_after_s == 1  # a right PIN starts the count again


def test_a_lockout_after_five_wrong_pins_survives_a_restart(tmp_path: Path, pin_hash: str) -> None:
    clock = WallClock()
    guard = guard_at(tmp_path, pin_hash, clock)
    for _ in range(MAX_FAILURES - 1):
        clock.now += guard.check(WRONG).retry_after_s
    result = guard.check(WRONG)
    assert result.lockout_s == LOCKOUT_S
    restarted = guard_at(tmp_path, pin_hash, clock)  # the kiosk (or the PC) restarts
    assert restarted.retry_after_s() == LOCKOUT_S
    clock.now += LOCKOUT_S - 1
    with pytest.raises(PinLocked) as locked:
        restarted.check(RIGHT)
    assert locked.value.details == {"retry_after_s": 1, "locked_out": True}
    clock.now += 1
    assert restarted.check(RIGHT).ok
    assert json.loads((tmp_path / ATTEMPTS_FILE).read_text())["failures"] == 0
    assert RIGHT not in (tmp_path / ATTEMPTS_FILE).read_text()


def test_guessing_as_fast_as_allowed_takes_hours_then_a_day_per_five(
    tmp_path: Path, pin_hash: str
) -> None:
    """GIVEN an attacker who tries a PIN the moment one is checked WHEN twenty wrong PINs
    are spent THEN the lockouts (15 min, doubling, at most a day) cost hours already."""
    clock = WallClock()
    guard = guard_at(tmp_path, pin_hash, clock)
    start, lockouts = clock.now, []
    for _ in range(20):
        result = guard.check(WRONG)
        if result.lockout_s is not None:
            lockouts.append(result.lockout_s)
        clock.now += result.retry_after_s
    assert lockouts == [LOCKOUT_S, 2 * LOCKOUT_S, 4 * LOCKOUT_S, 8 * LOCKOUT_S]
    assert clock.now - start >= 15 * LOCKOUT_S  # 3 h 45 min for 20 guesses
    for _ in range(4 * MAX_FAILURES):  # 4, 8 and 16 hours, then the cap
        result = guard.check(WRONG)
        clock.now += result.retry_after_s
    assert result.lockout_s == MAX_LOCKOUT_S  # capped at a day


def test_a_damaged_attempts_file_locks_as_a_precaution(tmp_path: Path, pin_hash: str) -> None:
    (tmp_path / ATTEMPTS_FILE).write_text("{not json", encoding="utf-8")
    clock = WallClock()
    guard = guard_at(tmp_path, pin_hash, clock)
    assert guard.retry_after_s() == LOCKOUT_S
    with pytest.raises(PinLocked):
        guard.check(RIGHT)


def test_a_wall_clock_set_back_does_not_stretch_a_wait(tmp_path: Path, pin_hash: str) -> None:
    clock = WallClock()
    guard = guard_at(tmp_path, pin_hash, clock)
    guard.check(WRONG)
    clock.now -= 10 * 365 * 86400
    assert guard.retry_after_s() == 1  # (not ten years)
    clock.now += 1
    assert guard.check(RIGHT).ok


def test_a_lockout_is_an_event_and_impossible_reports_are_refused(store) -> None:
    result = store.execute(c.ReportAdminPinLockout("kiosk-1", MAX_FAILURES, LOCKOUT_S))
    [event] = result.events
    assert event.type == "AdminPinLockedOut"
    assert {k: event.payload[k] for k in ("terminal", "failures", "locked_for_s")} == {
        "terminal": "kiosk-1",
        "failures": MAX_FAILURES,
        "locked_for_s": LOCKOUT_S,
    }
    for bad in (
        c.ReportAdminPinLockout("kiosk 1/#", 5, 900),
        c.ReportAdminPinLockout("kiosk-1", 0, 900),
        c.ReportAdminPinLockout("kiosk-1", 5, 10**9),
    ):
        with pytest.raises(DomainError):
            store.execute(bad)
    command = c.ReportAdminPinLockout("kiosk-1", MAX_FAILURES, LOCKOUT_S)
    assert decode_command(encode_command(command)) == command  # a remote kiosk sends it
