"""The kiosk's admin PIN: only a salted hash is kept, and only the right PIN matches."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from agent.adminpin import hash_pin, verify_pin
from agent.cli import main
from agent.errors import ConfigError
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
