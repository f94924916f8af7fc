"""Every way a CLI run can go wrong ends in one line (or one JSON object) and a documented
exit code; tracebacks go to the log file only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agent import commands as c
from agent.cli import (
    EXIT_CONFIG,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_PIPE_CLOSED,
    EXIT_STORAGE,
    main,
)
from agent.config import always_open, sample_config
from agent.node_runtime import Node
from tests.support import SmallDisk

REPO = Path(__file__).resolve().parents[2]


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def initialised(root: Path, tickets: int = 0) -> Path:
    config = root.parent / f"{root.name}-hall.yaml"
    hall = always_open(sample_config()).model_dump(mode="json")
    config.write_text(yaml.safe_dump(hall, allow_unicode=True), encoding="utf-8")
    assert main(["--data-dir", str(root), "init", "--config", str(config)]) == 0
    if tickets:
        store = Node.open(root).store()
        services = [s.code for s in store.config.services]
        for n in range(tickets):
            store.execute(c.IssueTicket(services[n % len(services)]))
        store.close()  # (the last connection checkpoints the WAL into hall.db)
    return root


def damage_text(db: Path) -> None:
    db.write_text("these are the hall's notes, not a database\n", encoding="utf-8")


def damage_truncate(db: Path) -> None:
    os.truncate(db, db.stat().st_size * 2 // 5)


def damage_header(db: Path) -> None:
    with db.open("r+b") as handle:
        handle.write(b"NOT SQLITE AT AL")


@pytest.mark.parametrize("damage", [damage_text, damage_truncate, damage_header])
def test_a_damaged_store_is_named_with_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage
) -> None:
    root = initialised(tmp_path / "node", tickets=120)
    damage(root / "hall.db")
    capsys.readouterr()
    assert main(["--data-dir", str(root), "queue", "status"]) == EXIT_STORAGE
    line = one_line_error(capsys)
    assert line.startswith(f"hall-agent: {root / 'hall.db'}: not a readable SQLite store (")
    assert "move it aside and restore the last backup" in line
    assert main(["--data-dir", str(root), "events", "--json"]) == EXIT_STORAGE
    assert json.loads(capsys.readouterr().out)["code"] == "store_unreadable"


def test_a_data_dir_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "data"
    path.write_text("not a folder", encoding="utf-8")
    for command in (["queue", "status"], ["init"]):
        assert main(["--data-dir", str(path), *command]) == EXIT_STORAGE
        line = one_line_error(capsys)
        assert line == f"hall-agent: {path}: is a file, not a data dir; move it aside or choose" + (
            " another --data-dir"
        )


def test_a_read_only_data_dir_and_one_with_only_logs_writable(
    tmp_path: Path, small_disk: SmallDisk, capsys: pytest.CaptureFixture[str]
) -> None:
    root = initialised(small_disk.path / "node")
    small_disk.read_only()
    capsys.readouterr()
    assert main(["--data-dir", str(root), "queue", "issue", "--service", "household"]) == 3
    line = one_line_error(capsys)
    assert line.startswith(f"hall-agent: {root / 'hall.db'}: cannot open for writing")
    assert "must be writable by the user running hall-agent" in line
    fresh = small_disk.path / "fresh"
    assert main(["--data-dir", str(fresh), "init"]) == EXIT_STORAGE
    assert one_line_error(capsys).startswith(f"hall-agent: {fresh}: Read-only file system;")

    logs = SmallDisk(root / "logs", size_kb=512)  # only logs/ writable
    assert logs.mount()
    try:
        assert main(["--data-dir", str(root), "queue", "status", "--json"]) == EXIT_STORAGE
        assert json.loads(capsys.readouterr().out)["code"] == "store_unreadable"
        logged = (root / "logs" / "agent.log").read_text(encoding="utf-8")
        assert "cannot open for writing" in logged
    finally:
        logs.unmount()


def test_closing_the_pipe_early_is_quiet(tmp_path: Path) -> None:
    """GIVEN more events than a pipe holds WHEN the reader takes one line and goes away
    (``hall-agent events --json | head -1``) THEN no traceback, exit 141."""
    root = initialised(tmp_path / "node", tickets=400)
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "--data-dir", str(root), "events", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert json.loads(proc.stdout.readline())["seq"] == 1
    proc.stdout.close()
    assert proc.wait(timeout=60) == EXIT_PIPE_CLOSED
    assert proc.stderr.read() == b""
    proc.stderr.close()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("services: " + "[" * 20_000, "(whole file): nested deeper than 32 (line 1)"),
        ("hall_id: x\nservices:\n  - daily_cap: " + "9" * 5000, "services.1.daily_cap: a number"),
    ],
)
def test_a_hostile_config_file_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, reason: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    target = tmp_path / "node"
    assert main(["--data-dir", str(target), "init", "--config", str(bad)]) == EXIT_CONFIG
    assert one_line_error(capsys).startswith(f"hall-agent: {bad}: {reason}")
    assert not (target / "hall.yaml").exists()


def test_a_bug_is_one_line_for_the_user_and_a_traceback_in_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = initialised(tmp_path / "node")

    def broken(store: object) -> dict[str, object]:
        raise RuntimeError("a bug in the view")

    monkeypatch.setattr("agent.views.hall_status", broken)
    capsys.readouterr()
    assert main(["--data-dir", str(root), "queue", "status"]) == EXIT_INTERNAL
    log_file = root / "logs" / "agent.log"
    assert one_line_error(capsys) == (
        f"hall-agent: internal error (RuntimeError: a bug in the view); details in {log_file}"
    )
    assert main(["--data-dir", str(root), "queue", "status", "--json"]) == EXIT_INTERNAL
    assert json.loads(capsys.readouterr().out)["code"] == "internal_error"
    entries = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    assert any("Traceback" in e.get("exc", "") and "a bug in the view" in e["exc"] for e in entries)


def test_ctrl_c_is_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = initialised(tmp_path / "node")

    def interrupted(store: object) -> dict[str, object]:
        raise KeyboardInterrupt

    monkeypatch.setattr("agent.views.hall_status", interrupted)
    capsys.readouterr()
    assert main(["--data-dir", str(root), "queue", "status"]) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == ""


def test_registered_commands_share_the_net(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sync status`` (sync/cli.py) and ``central report`` (its own database) on damaged files."""
    root = initialised(tmp_path / "node")
    damage_text(root / "hall.db")
    capsys.readouterr()
    assert main(["--data-dir", str(root), "sync", "status", "--json"]) == EXIT_STORAGE
    assert json.loads(capsys.readouterr().out)["code"] == "store_unreadable"
    central = tmp_path / "central.db"
    damage_text(central)
    assert main(["central", "report", "--db", str(central)]) == EXIT_STORAGE
    assert one_line_error(capsys).startswith(f"hall-agent: {central}: not a readable SQLite store")


def test_central_push_refuses_a_bad_key_or_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys"
    assert main(["central", "keygen", "--out", str(keys)]) == 0
    deep = tmp_path / "notice.yaml"
    deep.write_text("notice_id: " + "[" * 20_000, encoding="utf-8")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key", encoding="utf-8")
    push = ["central", "push", "notice", "--broker", "mqtt://127.0.0.1:1", "--hall-id", "h"]
    capsys.readouterr()
    for key, file, reason in (
        (keys / "central_key.pem", deep, f"{deep}: (whole file): nested deeper than 32"),
        (garbage, deep, f"{garbage}: not a PEM key file"),
        (tmp_path / "missing.pem", deep, f"{tmp_path / 'missing.pem'}: cannot read"),
    ):
        args = [*push, "--key", str(key), "--version", "1", "--file", str(file)]
        assert main(args) == EXIT_CONFIG
        assert one_line_error(capsys).startswith(f"hall-agent: {reason}")
