"""A full disk under the data dir, for real (a small tmpfs): a clear ``disk_full`` everywhere,
a store that stays consistent and continues once space is freed, an alarm upward, a log
that goes to stderr while its file cannot be written."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from agent import commands as c
from agent.cli import EXIT_STORAGE, main
from agent.config import always_open, sample_config
from agent.errors import DiskFull
from agent.logs import setup_logging
from agent.node_runtime import Node
from agent.runtime import CoreRuntime
from agent.storage import DiskReserve
from agent.store import Store
from tests.support import SmallDisk, set_node_field, wait_until

Run = Callable[..., int]


def open_hall_on(disk: SmallDisk, reserve_mb: int = 0) -> Path:
    """A data dir on the small disk (an always-open hall) with the given disk reserve."""
    root = disk.path / "data"
    config = disk.path.parent / "open-hall.yaml"  # (not on the small disk)
    config.write_text(
        yaml.safe_dump(always_open(sample_config()).model_dump(mode="json"), allow_unicode=True),
        encoding="utf-8",
    )
    assert main(["--data-dir", str(root), "init", "--config", str(config)]) == 0
    set_node_field(root, "disk_reserve_mb", reserve_mb)
    return root


def cli(root: Path) -> Run:
    return lambda *args: main(["--data-dir", str(root), *args])


def storage_alarms(runtime: CoreRuntime) -> list[tuple[str, str | None]]:
    events = runtime._query(lambda s: list(s.events_since(0)))
    return [
        (e.payload["status"], e.payload["reason"])
        for e in events
        if e.type == "DeviceStatusChanged" and e.payload["device"] == "storage"
    ]


def test_a_full_disk_is_disk_full_in_json_and_the_store_continues_once_freed(
    small_disk: SmallDisk, capsys: pytest.CaptureFixture[str]
) -> None:
    root = open_hall_on(small_disk)
    run = cli(root)
    assert run("queue", "issue", "--service", "household") == 0
    assert run("queue", "issue", "--service", "household") == 0
    small_disk.fill()
    capsys.readouterr()

    assert run("queue", "issue", "--service", "household", "--json") == EXIT_STORAGE
    out = capsys.readouterr()
    error = json.loads(out.out)
    assert error["code"] == "disk_full"
    assert error["error"].startswith(f"{root / 'hall.db'}: the disk is full; free disk space")
    assert "Traceback" not in out.err

    assert run("queue", "call", "--window", "1") == EXIT_STORAGE
    err = capsys.readouterr().err
    assert f"hall-agent: {root / 'hall.db'}: the disk is full" in err
    assert "Traceback" not in err

    small_disk.make_room()
    assert run("queue", "issue", "--service", "household", "--json") == 0
    assert json.loads(capsys.readouterr().out)["number"] == "B003"  # nothing lost, no gap
    conn = sqlite3.connect(root / "hall.db")
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    seqs = [row[0] for row in conn.execute("SELECT seq FROM events ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))
    conn.close()


def test_below_the_reserve_new_tickets_are_refused_while_windows_go_on(
    small_disk: SmallDisk, capsys: pytest.CaptureFixture[str]
) -> None:
    root = open_hall_on(small_disk, reserve_mb=1)
    run = cli(root)
    assert run("queue", "issue", "--service", "household") == 0
    small_disk.fill(leave_bytes=512 * 1024)
    capsys.readouterr()

    assert run("queue", "issue", "--service", "household", "--json") == EXIT_STORAGE
    error = json.loads(capsys.readouterr().out)
    assert error["code"] == "disk_full" and "new tickets need 1 MB" in error["error"]
    assert run("queue", "call", "--window", "2", "--json") == 0  # who waits is still served
    assert json.loads(capsys.readouterr().out)["number"] == "B001"

    small_disk.make_room()
    assert run("queue", "issue", "--service", "household", "--json") == 0
    assert json.loads(capsys.readouterr().out)["number"] == "B002"


def test_the_hub_alarms_upward_once_there_is_room_and_carries_on(small_disk: SmallDisk) -> None:
    """GIVEN a running hub whose disk fills up WHEN a ticket fails for space and space comes
    back THEN the storage fault and its end are in the log (for central) and numbering goes
    on without a gap."""
    root = open_hall_on(small_disk)
    runtime = Node.open(root).runtime(tick_seconds=0.05).start()
    try:
        runtime.execute(c.IssueTicket("household"))
        small_disk.fill()
        with pytest.raises(DiskFull):
            runtime.execute(c.IssueTicket("household"))
        assert storage_alarms(runtime) == []  # (no room to write it yet)
        small_disk.make_room()
        assert wait_until(lambda: len(storage_alarms(runtime)) == 2)
        assert storage_alarms(runtime) == [("fault", "disk_full"), ("online", None)]
        result = runtime.execute(c.IssueTicket("household"))
        assert result.ticket is not None and result.ticket.number == "B002"
    finally:
        runtime.stop()


def test_below_the_reserve_the_hub_reports_at_once(small_disk: SmallDisk) -> None:
    root = open_hall_on(small_disk, reserve_mb=1)
    runtime = Node.open(root).runtime(tick_seconds=0.05).start()
    try:
        runtime.execute(c.IssueTicket("household"))  # (the store's files exist)
        small_disk.fill(leave_bytes=512 * 1024)
        assert wait_until(lambda: storage_alarms(runtime) == [("fault", "disk_full")])
        small_disk.make_room()
        assert wait_until(lambda: len(storage_alarms(runtime)) == 2)
        assert storage_alarms(runtime)[-1] == ("online", None)
    finally:
        runtime.stop()


def test_the_log_goes_to_stderr_while_its_disk_is_full(
    small_disk: SmallDisk, capfd: pytest.CaptureFixture[str]
) -> None:
    logs = small_disk.path / "logs"
    setup_logging(logs, stderr=False)
    log = logging.getLogger("test.disk")
    try:
        log.warning("before the disk filled")
        small_disk.fill()
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("while the disk is full %s", "x" * 5000)  # (past the file's page)
        log.warning("still full")
        err = capfd.readouterr().err
        assert err.count("cannot write") == 1  # said once, not per record
        lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        assert [entry["msg"][:22] for entry in lines] == ["while the disk is full", "still full"]
        assert "RuntimeError: boom" in lines[0]["exc"]  # the journal keeps the traceback
        small_disk.make_room()
        log.warning("after space came back")
        assert "writing" in capfd.readouterr().err
        text = (logs / "agent.log").read_text(encoding="utf-8")
        assert "before the disk filled" in text and "after space came back" in text
    finally:
        setup_logging(None, stderr=False)


def test_below_the_reserve_a_retry_still_gets_its_ticket(tmp_path: Path) -> None:
    """GIVEN a ticket committed for a terminal's request WHEN the disk drops below the
    reserve and the terminal retries the same request THEN it gets that ticket (a citizen
    is never left without the number already taken), while a new ticket is refused."""
    store = Store(tmp_path / "hall.db", "n", always_open(sample_config()))
    try:
        first = store.execute(c.IssueTicket("household"), request_id="kiosk-1/1")
        store.reserve = DiskReserve(tmp_path, 10**18)  # more than any disk has free
        again = store.execute(c.IssueTicket("household"), request_id="kiosk-1/1")
        assert first.ticket is not None and again.ticket is not None
        assert again.ticket.number == first.ticket.number == "B001"
        with pytest.raises(DiskFull):
            store.execute(c.IssueTicket("household"), request_id="kiosk-1/2")
        called = store.execute(c.CallNext(2))
        assert called.ticket is not None and called.ticket.number == "B001"
    finally:
        store.close()
