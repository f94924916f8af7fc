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
