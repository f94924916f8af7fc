"""The built package carries everything a node needs: installed from the wheel (not editable,
outside the source tree), ``hall-agent`` validates every shipped profile, runs the headless
demo and probes a simulated printer.

The sdist is built first and the wheel from it (``python -m build``), so a file missing from
the sdist is missing from the wheel too. To stay fast and offline the fresh venv gets the
wheel with ``pip --no-deps`` and reaches its dependencies through a ``.pth`` line naming the
project venv's site-packages; a ``.pth`` file in *that* folder (the editable install's
finder) is not executed from there, so the source tree stays out of reach, which the test
checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from agent.adminpin import hash_pin
from tests.support import wait_until

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
VOICE = sorted(str(p.relative_to(REPO)) for p in (REPO / "ui" / "assets").rglob("*") if p.is_file())
PROFILES = sorted(p.name for p in (REPO / "firmware_profiles").glob("*.yaml"))
NEEDED = [
    *(f"devices/firmware_profiles/{name}" for name in PROFILES),
    "agent/data/sample_town_hall.yaml",
    "ui/i18n/zh_CN.qm",
    "sync/mosquitto/hall-broker.conf",
    "sync/mosquitto/central-broker.conf",
    "sync/mosquitto/hall-acl.example.conf",
    "devices/cards/resident-young.json",
    *VOICE,  # the voice clips, once built as package data
]

NOT_SOURCE = (".*", "*.egg-info", "build", "dist", "__pycache__", "demo-screenshots")


@dataclass
class Installed:
    wheel: Path
    sdist: Path
    venv: Path
    env: dict[str, str]
    cwd: Path

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / "hall-agent"), *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def build_wheel(out: Path) -> tuple[Path, Path]:
    """sdist, then the wheel from it, into ``out`` (no network: the dev venv's setuptools).

    Built from a copy without the editable install's ``*.egg-info``: setuptools would take
    that folder's stale file list into the sdist and hide a file the package data misses."""
    source = out.parent / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return next(out.glob("*.whl")), next(out.glob("*.tar.gz"))


def install_outside(wheel: Path, root: Path) -> tuple[Path, dict[str, str], Path]:
    """A fresh venv at ``root/venv`` with ``wheel`` in it; its environment and a work dir."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    target = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(target), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    site = subprocess.run(
        [str(target), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "project-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "HALL_AGENT_"))}
    env["HALL_AGENT_DATA_DIR"] = str(root / "data")
    env["QT_QPA_PLATFORM"] = "offscreen"
    work = root / "work"
    work.mkdir()
    return venv, env, work


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    wheel, sdist = build_wheel(root / "dist")
    return Installed(wheel, sdist, *install_outside(wheel, root))


def test_wheel_and_sdist_carry_the_node_files(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    missing = [n for n in NEEDED if n not in names]
    assert not missing, f"not in the wheel: {missing}"
    with tarfile.open(installed.sdist) as sdist:
        in_sdist = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    missing = [n for n in NEEDED if n not in in_sdist]
    assert not missing, f"not in the sdist: {missing}"


def test_installed_agent_runs_from_its_own_venv(installed: Installed) -> None:
    where = subprocess.run(
        [str(installed.venv / "bin" / "python"), "-c", "import agent, devices; "
         "print(agent.__file__); print(devices.__file__)"],
        cwd=installed.cwd, env=installed.env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert all(path.startswith(str(installed.venv)) for path in where), where
    version = installed.run("--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == "hall-agent 0.1.0"


def test_installed_agent_validates_every_shipped_profile(installed: Installed) -> None:
    result = installed.run("profiles", "validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(PROFILES)} profile(s) ok" in result.stdout
    assert len(PROFILES) >= 9


def test_installed_agent_runs_the_headless_demo(installed: Installed) -> None:
    result = installed.run("demo", "--headless", "--arrivals", "20", "--seed", "3", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert sum(s["issued"] for s in report["services"].values()) == 20


@pytest.fixture
def simulated_printer(installed: Installed) -> Iterator[str]:
    sim = subprocess.Popen(
        [str(installed.venv / "bin" / "hall-agent"), "simulate", "printer"],
        cwd=installed.cwd,
        env=installed.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        port = sim.stdout.readline().strip()
        assert wait_until(lambda: Path(port).exists(), 10), port
        yield port
    finally:
        sim.terminate()
        sim.wait(10)


def test_installed_agent_probes_a_simulated_printer(
    installed: Installed, simulated_printer: str
) -> None:
    result = installed.run("device", "probe", "--kind", "printer", "--port", simulated_printer)
    assert result.returncode == 0, result.stderr
    assert f"printer {simulated_printer}: online=True" in result.stdout


def test_installed_doctor_checks_a_simulated_printer(
    installed: Installed, simulated_printer: str
) -> None:
    assert installed.run("init").returncode == 0
    node_file = Path(installed.env["HALL_AGENT_DATA_DIR"]) / "node.yaml"
    node = yaml.safe_load(node_file.read_text())
    node["devices"] = [
        {"id": "kiosk-printer", "kind": "printer", "profile": "escpos-80mm",
         "port": simulated_printer}
    ]  # fmt: skip
    node["admin_pin_hash"] = hash_pin("246813")  # (the kiosk check wants one)
    node_file.write_text(yaml.safe_dump(node))
    result = installed.run("doctor", "--json", "--min-free-mb", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["device kiosk-printer"]["status"] == "ok"
    assert checks["device kiosk-printer"]["detail"].endswith(": online")
