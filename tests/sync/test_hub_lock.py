"""One hub per data dir: a second one refuses to start and names the first; a killed hub
leaves no lock behind; ``queue …`` writers share the data dir as before."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agent.datadir import DataDir, HubLock
from agent.errors import HubAlreadyRunning
from tests.sync.conftest import REPO, make_node, spawn_cli, wait_line


def hall_agent(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_a_second_lock_on_one_data_dir_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    with HubLock(data, "hub"):
        with pytest.raises(HubAlreadyRunning) as refused:
            HubLock(data, "all").acquire()
        assert refused.value.details["pid"] == os.getpid()
        assert refused.value.details["role"] == "hub"
        assert f"pid {os.getpid()}, role hub, since " in str(refused.value)
    with HubLock(data, "all"):  # released: the next one takes it
        assert json.loads(data.hub_lock.read_text())["role"] == "all"


@pytest.mark.slow
def test_two_hubs_on_one_data_dir_the_second_refuses_and_a_killed_one_leaves_no_lock(
    tmp_path: Path,
) -> None:
    """GIVEN a hub running on a data dir WHEN a second hub, or ``run --role all``, starts on
    it THEN it exits naming the running one, while ``queue issue`` still works; WHEN the first
    is killed (SIGKILL: no clean-up, as in a power cut) THEN a new hub starts at once."""
    root = make_node(tmp_path / "node").data.root
    first = spawn_cli("--data-dir", str(root), "run", "--role", "hub")
    try:
        wait_line(first, "hub running")
        second = hall_agent("--data-dir", str(root), "run", "--role", "hub")
        assert second.returncode == 1
        assert "a hub already runs on this data dir" in second.stderr
        assert f"pid {first.pid}, role hub, since " in second.stderr
        village = hall_agent(
            "--data-dir", str(root), "run", "--role", "all", "--quit-after", "1",
            QT_QPA_PLATFORM="offscreen",
        )  # fmt: skip
        assert village.returncode == 1
        assert f"pid {first.pid}, role hub" in village.stderr
        issued = hall_agent("--data-dir", str(root), "queue", "issue", "--service", "household")
        assert issued.returncode == 0, issued.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    again = spawn_cli("--data-dir", str(root), "run", "--role", "hub")
    try:
        wait_line(again, "hub running")
    finally:
        again.terminate()
        again.wait(30)
