"""Crash and concurrency: SIGKILL at random moments, several processes on one data dir."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from agent.config import always_open, sample_config
from agent.datadir import DataDir
from tests.agent.conftest import write_hall

WORKER = """
import sys
from agent import commands as c
from agent.node_runtime import Node
store = Node.open(sys.argv[1]).store()
services = ["social-security", "household"]
i = 0
while True:
    result = store.execute(c.IssueTicket(services[i % 2]))
    print(result.ticket.number, result.ticket.service, flush=True)
    i += 1
"""


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "node"
    DataDir(root).init(write_hall(tmp_path / "hall.yaml", always_open(sample_config())))
    return root


def check_store(root: Path, reported: set[tuple[str, str]]) -> None:
    db = sqlite3.connect(root / "hall.db")
    rows = db.execute("SELECT number, service FROM tickets WHERE leg = 1").fetchall()
    stored = set(rows)
    assert len(stored) == len(rows)
    missing = reported - stored
    assert not missing, f"tickets reported as issued but not in the store: {missing}"
    numbers = defaultdict(list)
    for number, service in rows:
        numbers[service].append(int(number[1:]))
    for service, values in numbers.items():
        assert sorted(values) == list(range(1, len(values) + 1)), f"gap in {service}"
    seqs = [s for (s,) in db.execute("SELECT seq FROM events ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))
    db.close()


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_no_reported_ticket(data_dir: Path) -> None:
    rng = random.Random(20261127)
    reported: set[tuple[str, str]] = set()
    for _round in range(20):
        proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(data_dir)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        for _ in range(rng.randint(1, 40)):
            line = proc.stdout.readline()
            if not line:
                break
            number, service = line.split()
            reported.add((number, service))
        # the worker keeps issuing: the kill lands anywhere in BEGIN … COMMIT … print
        time.sleep(rng.uniform(0, 0.02))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        for line in proc.stdout:  # printed before the kill = shown to a citizen
            if line.endswith("\n"):  # (a line cut by the kill was never shown whole)
                number, service = line.split()
                reported.add((number, service))
        proc.stdout.close()
        check_store(data_dir, reported)
    assert len(reported) >= 20


def test_four_cli_processes_issue_unique_gap_free_numbers(data_dir: Path) -> None:
    env = {**os.environ, "HALL_AGENT_DATA_DIR": str(data_dir)}
    script = (
        "import sys\nfrom agent.cli import main\n"
        "for _ in range(15):\n"
        "    main(['queue', 'issue', '--service', 'social-security', '--json'])\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(4)
    ]
    numbers = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        numbers += [json.loads(line)["number"] for line in out.splitlines()]
    assert sorted(numbers) == [f"A{n:03d}" for n in range(1, 61)]
    check_store(data_dir, {(n, "social-security") for n in numbers})
