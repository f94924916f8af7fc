"""The Debian package: built by packaging/build-deb.sh, its contents, its units verified by
systemd, installed with dpkg on this machine, run from /opt/hall-agent, removed cleanly.

It installs a system package and a system user: it runs as root only (CI and the dev
container are root); the data it makes under /var/lib/hall-agent is removed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import wait_until

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
UNITS = [
    f"lib/systemd/system/hall-agent-{name}"
    for name in (
        "hub.service",
        "kiosk.service",
        "window.service",
        "display.service",
        "all.service",
        "backup.service",
        "backup.timer",
    )
]
CONTENTS = [
    *UNITS,
    "opt/hall-agent/bin/hall-agent",
    "opt/hall-agent/bin/python3",
    "opt/hall-agent/libexec/hall-agent-session",
    "opt/hall-agent/libexec/hall-agent-update",
    "etc/sudoers.d/hall-agent-update",
    "usr/bin/hall-agent",
    "etc/default/hall-agent",
    "lib/udev/rules.d/70-hall-agent.rules",
    "usr/share/hall-agent/mosquitto/hall-broker.conf",
    "usr/share/hall-agent/mosquitto/central-broker.conf",
    "usr/share/hall-agent/mosquitto/hall-acl.example.conf",
    "usr/share/doc/hall-agent/deploy.md",
    "opt/hall-agent/lib/python3.11/site-packages/devices/firmware_profiles/escpos-80mm.yaml",
]
DATA = (Path("/var/lib/hall-agent"), Path("/var/backups/hall-agent"))


def run(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.geteuid() != 0 or shutil.which("dpkg-deb") is None:
        pytest.skip("builds and installs a Debian package: needs root on Debian")
    out = tmp_path_factory.mktemp("deb")
    started = time.monotonic()
    built = run(str(REPO / "packaging" / "build-deb.sh"), str(out))
    assert built.returncode == 0, built.stderr
    print(f"build-deb.sh: {time.monotonic() - started:.1f} s")
    return Path(built.stdout.strip().splitlines()[-1])


def test_package_contents(deb: Path) -> None:
    assert run("ar", "t", str(deb)).stdout.split() == [
        "debian-binary",
        "control.tar.zst",
        "data.tar.zst",
    ]
    fields = run("dpkg-deb", "-f", str(deb), "Package", "Version", "Architecture").stdout
    assert fields.splitlines() == ["Package: hall-agent", "Version: 0.1.0-1", "Architecture: amd64"]
    listing = run("dpkg-deb", "-c", str(deb)).stdout.splitlines()
    # "perms owner size date time ./path" or "... ./link -> target"
    listed = {line.split(" -> ")[0].split()[-1].removeprefix("./") for line in listing}
    assert not [path for path in CONTENTS if path not in listed]
    unit = _member(deb, "lib/systemd/system/hall-agent-hub.service")
    for line in ("Type=notify", "Restart=always", "WatchdogSec=60", "User=hall-agent"):
        assert line in unit.splitlines()
    session = _member(deb, "lib/systemd/system/hall-agent-kiosk.service")
    assert "ExecStart=/usr/bin/xinit /opt/hall-agent/libexec/hall-agent-session kiosk" in session
    assert "NotifyAccess=all" in session.splitlines()
    assert "hall-agent-window.service" in session  # one screen session per PC


def _member(deb: Path, path: str) -> str:
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True)
    member = subprocess.run(
        ["tar", "-xO", f"./{path}"], input=tar.stdout, capture_output=True, check=True
    )
    return member.stdout.decode()


@pytest.fixture
def installed(deb: Path) -> Iterator[None]:
    had_data = [p for p in DATA if p.exists()]
    result = run("dpkg", "-i", str(deb))
    assert result.returncode == 0, result.stdout + result.stderr
    try:
        yield
    finally:
        run("dpkg", "-P", "hall-agent")
        for path in DATA:
            if path not in had_data:
                shutil.rmtree(path, ignore_errors=True)


def test_install_verify_run_and_remove(installed: None) -> None:
    units = [f"/{u}" for u in UNITS]
    verify = run("systemd-analyze", "verify", *units)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    version = run("/opt/hall-agent/bin/hall-agent", "--version")
    assert version.stdout.strip() == "hall-agent 0.1.0", version.stderr
    groups = run("id", "-nG", "hall-agent").stdout.split()
    assert {"hall-agent", "dialout", "lp"} <= set(groups)
    as_service = ("runuser", "-u", "hall-agent", "--", "/usr/bin/hall-agent")
    assert run(*as_service, "init").returncode == 0
    assert run(*as_service, "events").returncode == 0  # opens (creates) the store
    pin = run(*as_service, "admin", "set-pin", input="246813\n246813\n")
    assert pin.returncode == 0, pin.stderr
    doctor = run(*as_service, "doctor", "--json", "--min-free-mb", "0")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    checks = {c["check"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["data dir"] == {
        "check": "data dir", "status": "ok", "detail": "/var/lib/hall-agent", "fix": None
    }  # fmt: skip
    assert checks["fonts"]["status"] == "ok"
    # the daily backup's command, and a restore, on the system's own Python
    backup = run(*as_service, "admin", "backup", "/var/backups/hall-agent", "--keep", "14")
    assert backup.returncode == 0, backup.stderr
    file = next(Path("/var/backups/hall-agent").glob("hall-*.tar"))
    restored = run(*as_service, "admin", "restore", str(file))
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.startswith("restored node ")

    removed = run("dpkg", "-r", "hall-agent")
    assert removed.returncode == 0, removed.stderr
    assert not Path("/opt/hall-agent").exists()
    assert not any(Path(f"/{u}").exists() for u in UNITS)
    assert Path("/var/lib/hall-agent/hall.yaml").exists()  # the data stays
    assert run("dpkg", "-P", "hall-agent").returncode == 0
    assert not Path("/etc/default/hall-agent").exists()


def _free_display() -> int:
    return next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())


def _windows(display: str) -> str:
    tree = run("xwininfo", "-root", "-tree", "-display", display)
    return tree.stdout if tree.returncode == 0 else ""


def test_the_kiosk_session_boots_under_bare_x(installed: None, tmp_path: Path) -> None:
    """GIVEN the package installed WHEN the kiosk unit's command line runs (xinit + the
    session script as the service user) with Xvfb as the X server THEN the kiosk's window
    appears, the agent logs its start as a kiosk, and the kiosk fills the 1280x1024 screen
    (its own size is 1080x1920: only full screen gives that geometry)."""
    if shutil.which("Xvfb") is None or shutil.which("xwininfo") is None:
        pytest.skip("needs Xvfb and xwininfo (packaging/dev.sh installs them)")
    as_service = ("runuser", "-u", "hall-agent", "--")
    assert run(*as_service, "/usr/bin/hall-agent", "init").returncode == 0
    pin = run(*as_service, "/usr/bin/hall-agent", "admin", "set-pin", input="246813\n246813\n")
    assert pin.returncode == 0, pin.stderr
    display = f":{_free_display()}"
    unit = _unit_line("/lib/systemd/system/hall-agent-kiosk.service", "ExecStart=")
    client = unit.split(" -- ")[0].split()[1:]  # the session script and its role
    # a clean environment as systemd gives a unit (not the tests' QT_QPA_PLATFORM=offscreen)
    env = ("PATH=/usr/bin:/bin", "HOME=/var/lib/hall-agent", "LANG=C.UTF-8",
           "HALL_AGENT_DATA_DIR=/var/lib/hall-agent")  # fmt: skip
    output = tmp_path / "session.log"
    with open(output, "wb") as out:
        session = subprocess.Popen(
            [*as_service, "env", "-i", *env, "/usr/bin/xinit", *client, "--", "/usr/bin/Xvfb",
             display, "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        kiosk = '"自助取号机": ("hall-agent" "hall-agent")'  # its title, in the hall's language
        agent_log = Path("/var/lib/hall-agent/logs/agent.log")
        assert wait_until(lambda: kiosk in _windows(display), 90), (
            _windows(display) + output.read_text() + agent_log.read_text()[-3000:]
        )
        log = Path("/var/lib/hall-agent/logs/agent.log").read_text()
        assert ", role kiosk, data dir /var/lib/hall-agent" in log

        def geometry() -> str:
            return next((line for line in _windows(display).splitlines() if kiosk in line), "")

        # no window manager acts on Qt's full-screen request under bare X: the agent gives
        # the window the screen's geometry itself (ui.app.show_full_screen)
        assert wait_until(lambda: "1280x1024+0+0" in geometry(), 30), geometry()
    finally:
        os.killpg(session.pid, signal.SIGTERM)
        session.wait(30)


def _unit_line(path: str, key: str) -> str:
    return next(line for line in Path(path).read_text().splitlines() if line.startswith(key))
