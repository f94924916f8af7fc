"""``hall-agent run --role hub``: the core and the sync without any screen or Qt."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from sync.central import CentralIngest
from tests.sync.conftest import (
    Broker,
    assert_exactly_once,
    central_rows,
    issue_tickets,
    make_node,
    wait_until,
)

SCRIPT = """
import sys
from agent.cli import main
code = main(["--data-dir", sys.argv[1], "run", "--role", "hub", "--quit-after", "0.5"])
print("qt imported" if "PySide6" in sys.modules else "no qt", flush=True)
sys.exit(code)
"""


def test_hub_role_runs_offline_without_qt(tmp_path: Path) -> None:
    root = tmp_path / "hub"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(root)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "offline (no broker configured)" in done.stdout
    assert done.stdout.strip().endswith("no qt")
    assert (root / "hall.db").exists()


def test_hub_role_drains_the_outbox_when_a_broker_is_given(
    tmp_path: Path, broker: Broker, ingest: CentralIngest
) -> None:
    node = make_node(tmp_path / "hub")
    issue_tickets(node, 5)
    hub = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent.cli",
            "--data-dir",
            str(node.data.root),
            "run",
            "--role",
            "hub",
            "--broker",
            broker.url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        drained = wait_until(
            lambda: len(central_rows(tmp_path / "central.db", node.node.node_id)) == 5, 60
        )
    finally:
        hub.send_signal(signal.SIGTERM)
        out, err = hub.communicate(timeout=30)
    assert drained, err
    assert hub.returncode == 0, err
    assert f"broker {broker.url}" in out
    assert_exactly_once(tmp_path / "central.db", node)
