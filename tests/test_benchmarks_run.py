"""The benchmark scripts still run (tiny sizes; the figures are not checked here: speed
lives in benchmarks/, not in tests)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def run(script: str, *args: str) -> list[dict]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_queue_ops_prints_each_operation_next_to_its_floor() -> None:
    lines = run("queue_ops.py", "--n", "30")
    assert [line["op"] for line in lines] == ["issue", "call_start_finish"]
    assert all(line["n"] == 30 and line["floor_p50_ms"] > 0 for line in lines)


def test_kiosk_tap_shows_a_number_for_every_tap() -> None:
    sample, city = run("kiosk_tap.py", "--taps", "5")
    assert (sample["hall"], city["hall"], city["services"]) == ("sample", "city", 40)
    assert all(line["taps"] == 5 and line["p50_ms"] > 0 for line in (sample, city))


@pytest.mark.mqtt
def test_sync_drain_delivers_every_event_exactly_once() -> None:
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("mosquitto is not installed (packaging/dev.sh installs it)")
    lines = run("sync_drain.py", "--n", "2000", "--floor-n", "200")
    summary = lines[-1]
    assert summary["op"] == "sync_drain" and summary["exactly_once"] is True


@pytest.mark.mqtt
def test_lan_roundtrip_prints_the_lan_figure_beside_its_floors() -> None:
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("mosquitto is not installed (packaging/dev.sh installs it)")
    lines = run("lan_roundtrip.py", "--n", "20")
    assert [line["op"] for line in lines] == ["lan", "raw_mqtt", "local", "ratio"]
    assert all(line["n"] == 20 and line["p50_ms"] > 0 for line in lines[:3])
    assert lines[3]["ratio"] > 0


@pytest.mark.mqtt
@pytest.mark.slow
def test_central_ingest_counts_every_event_once_in_each_store() -> None:
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("mosquitto is not installed (packaging/dev.sh installs it)")
    lines = run("central_ingest.py", "--nodes", "12", "--events", "10", "--batch-events", "4",
                "--procs", "2", "--ingest", "1,2")  # fmt: skip
    measured = [line for line in lines if "skipped" not in line]
    assert {(line["store"], line["ingest_processes"]) for line in measured} >= {
        ("sqlite", 1),
        ("sqlite", 2),
    }
    assert all(line["exactly_once"] and line["rows"] == 120 for line in measured)
    assert all(line["floor_events_per_s"] > 0 for line in measured)
