"""True full screen under a real X server (Xvfb), as a kiosk session runs it: a bare X
session (xinit and the agent, no window manager) and one with a window manager (openbox)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.qt]
PROBE = Path(__file__).with_name("fullscreen_probe.py")
ROOT = Path(__file__).resolve().parents[2]


def free_display() -> int:
    for number in range(150, 250):
        if (
            not Path(f"/tmp/.X11-unix/X{number}").exists()
            and not Path(f"/tmp/.X{number}-lock").exists()
        ):
            return number
    raise RuntimeError("no free X display number")


@pytest.fixture
def xserver():
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb not installed (packaging/dev.sh installs it)")
    started: list[subprocess.Popen[bytes]] = []

    def start(width: int, height: int) -> str:
        number = free_display()
        xvfb = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        started.append(xvfb)
        assert wait_until(lambda: Path(f"/tmp/.X11-unix/X{number}").exists(), timeout=10)
        return f":{number}"

    yield start, started
    for process in reversed(started):
        process.terminate()
        process.wait(timeout=10)


def probe(display: str) -> dict:
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(PROBE)], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("window_manager", [None, "openbox"])
@pytest.mark.parametrize("size", [(1280, 1024), (1080, 1920)], ids=["1280x1024", "1080x1920"])
def test_the_kiosk_fills_the_screen(xserver, window_manager, size):
    start, started = xserver
    display = start(*size)
    if window_manager is not None:
        if shutil.which(window_manager) is None:
            pytest.skip(f"{window_manager} not installed (packaging/dev.sh installs it)")
        env = {**os.environ, "DISPLAY": display}
        quiet = subprocess.DEVNULL
        started.append(subprocess.Popen([window_manager], env=env, stdout=quiet, stderr=quiet))
    result = probe(display)
    assert result["window"] == result["screen"] == [0, 0, *size]
    assert result["misfits"] == []


def test_a_bare_x_kiosk_session_runs_the_real_command_full_screen(xserver, tmp_path):
    """GIVEN a bare X server (no window manager, as `xinit hall-agent run …` gives) WHEN
    `hall-agent run --role kiosk --fullscreen` starts THEN the kiosk covers the screen."""
    start, _started = xserver
    display = start(1280, 1024)
    data = str(tmp_path / "data")
    agent = [sys.executable, "-m", "agent.cli", "--data-dir", data]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([*agent, "init"], check=True, env=env, capture_output=True, timeout=60)
    subprocess.run(
        [*agent, "admin", "set-pin"], input="24681357\n24681357\n", text=True, check=True,
        env=env, capture_output=True, timeout=60,
    )  # fmt: skip
    run = subprocess.run(
        [*agent, "run", "--role", "kiosk", "--fullscreen", "--voice", "silent",
         "--quit-after", "3"],
        env={**env, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    log = (Path(data) / "logs" / "agent.log").read_text(encoding="utf-8")
    assert "kiosk: full screen 1280x1024 at 0,0 on a 1280x1024 screen" in log
