"""Status: backlog alarm, ``hall-agent sync status`` and ``hall-agent central report``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from agent import commands as c
from agent.cli import main
from sync.central import CentralIngest
from sync.service import SyncSettings, start_sync
from sync.status import read_status
from tests.sync.conftest import Broker, free_port, issue_tickets, make_node, wait_until


def test_no_broker_means_offline_and_no_sync(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node")
    runtime = node.runtime().start()
    try:
        assert start_sync(node, runtime) is None
    finally:
        runtime.stop()
    assert read_status(node)["connection"] == "offline (no broker configured)"


def test_backlog_alarm_when_unsynced_passes_the_configured_size(tmp_path: Path) -> None:
    """GIVEN a broker nobody answers on and an alarm size of 5
    THEN 5 unsynced events raise no alarm, the 6th does; nothing is deleted."""
    node = make_node(tmp_path / "node", f"mqtt://127.0.0.1:{free_port()}", backlog_alarm_events=5)
    issue_tickets(node, 5)
    runtime = node.runtime().start()
    handle = start_sync(node, runtime, settings=SyncSettings(backoff_min_s=0.1))
    assert handle is not None
    try:
        time.sleep(0.3)
        status = handle.status()
        assert (status["backlog"], status["backlog_alarm"]) == (5, False)
        assert status["connection"] in ("disconnected", "connecting")
        runtime.execute(c.IssueTicket("household"))
        assert wait_until(lambda: handle.status()["backlog_alarm"], 5)
        assert handle.status()["backlog"] == 6
        assert wait_until(lambda: read_status(node)["connection"] != "not running", 5)
        live = read_status(node)
        assert (live["backlog"], live["backlog_alarm"]) == (6, True)
        assert live["last_error"].startswith("cannot connect")
    finally:
        handle.stop()
        runtime.stop()
    assert runtime is not None and read_status(node)["connection"] == "not running"
    assert read_status(node)["last_seq"] == 6  # the log is intact


@pytest.mark.mqtt
def test_sync_status_and_central_report_cli(
    broker: Broker, ingest: CentralIngest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = make_node(tmp_path / "node", broker.url)
    issue_tickets(node, 9)
    runtime = node.runtime().start()
    handle = start_sync(node, runtime)
    assert handle is not None
    try:
        assert handle.wait_synced(15)
        assert wait_until(lambda: read_status(node)["clock_offset_s"] is not None, 5)
        assert main(["--data-dir", str(node.data.root), "sync", "status", "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["connection"] == "connected"
        assert (status["last_seq"], status["acked_seq"], status["backlog"]) == (9, 9, 0)
        assert isinstance(status["clock_offset_s"], float)
        assert main(["--data-dir", str(node.data.root), "sync", "status"]) == 0
        assert "backlog     0" in capsys.readouterr().out
    finally:
        handle.stop()
        runtime.stop()
    db = str(tmp_path / "central.db")
    assert wait_until(lambda: _report(db, capsys)["nodes"][0]["state"] == "offline", 10)
    report = _report(db, capsys)
    (entry,) = report["nodes"]
    assert entry["node_id"] == node.node.node_id
    assert (entry["acked_seq"], entry["events"], entry["max_seq"], entry["backlog"]) == (9, 9, 9, 0)
    assert report["event_types"] == {"TicketIssued": 9}
    assert main(["central", "report", "--db", db]) == 0
    assert node.node.node_id in capsys.readouterr().out


def _report(db: str, capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["central", "report", "--db", db, "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]
