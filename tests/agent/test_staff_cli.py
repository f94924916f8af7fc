"""Staff through the CLI on the hub: PINs set from stdin, sign-in with the PIN from stdin,
pause with a reason, sign-out; the PIN is never in the log."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from agent.cli import main
from agent.config import load_hall_config
from agent.staffauth import CREDENTIALS_FILE
from tests.support import STAFF_PINS, staffed


@pytest.fixture
def staffed_node(node: Path) -> Path:
    hall = staffed(load_hall_config(node / "hall.yaml"))
    text = yaml.safe_dump(hall.model_dump(mode="json"), allow_unicode=True)
    (node / "hall.yaml").write_text(text, encoding="utf-8")
    return node


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str, *argv: str
) -> tuple[int, dict]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main([*argv, "--json"] if argv[0] == "queue" else list(argv))
    out = capsys.readouterr().out.strip().splitlines()
    return code, (json.loads(out[-1]) if argv[0] == "queue" and out else {})


def test_staff_sign_in_pause_and_sign_out_through_the_cli(
    staffed_node: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pin = STAFF_PINS["S-0001"]
    assert (
        run(monkeypatch, capsys, "111111\n222222\n", "staff", "set-pin", "--staff", "S-0001")[0]
        == 2
    )  # the two PINs differ: nothing set
    assert not (staffed_node / CREDENTIALS_FILE).exists()
    assert (
        run(monkeypatch, capsys, f"{pin}\n{pin}\n", "staff", "set-pin", "--staff", "S-0001")[0] == 0
    )
    run(monkeypatch, capsys, "", "queue", "issue", "--service", "social-security")
    code, refused = run(monkeypatch, capsys, "", "queue", "call", "--window", "1")
    assert (code, refused["code"]) == (1, "not_signed_in")
    code, wrong = run(  # (S-0003 has no PIN at the hub: only window 3 counts the guess)
        monkeypatch, capsys, "000000\n", "queue", "sign-in", "--window", "3", "--staff", "S-0003"
    )
    assert (code, wrong["code"]) == (1, "sign_in_refused")
    code, done = run(
        monkeypatch, capsys, f"{pin}\n", "queue", "sign-in", "--window", "1", "--staff", "S-0001"
    )
    assert (code, done["events"]) == (0, ["StaffSignedIn"])
    code, bad = run(monkeypatch, capsys, "", "queue", "pause", "--window", "1", "--reason", "nap")
    assert (code, bad["code"]) == (1, "unknown_pause_reason")
    assert (
        run(monkeypatch, capsys, "", "queue", "pause", "--window", "1", "--reason", "break")[0] == 0
    )
    assert main(["queue", "status"]) == 0
    assert "window 1   paused  -  staff S-0001  (break)" in capsys.readouterr().out
    run(monkeypatch, capsys, "", "queue", "resume", "--window", "1")
    code, out = run(monkeypatch, capsys, "", "queue", "sign-out", "--window", "1")
    assert (code, out["events"]) == (0, ["StaffSignedOut"])
    logged = "".join(p.read_text() for p in (staffed_node / "logs").glob("*"))
    assert pin not in logged and "000000" not in logged
