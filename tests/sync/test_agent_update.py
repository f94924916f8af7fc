"""``update_agent`` for real: central's signed Debian repository over HTTP, the node's
packaged update step (packaging/debian/hall-agent-update) running apt-get and dpkg against a
throwaway root (never this machine's packages), the health check of the new version, the
rollback, and the outcome back at central.

The packages are small stand-ins named hall-agent (a /opt/hall-agent/bin/hall-agent that
says its version, or one that fails), so what is tested is the repository, apt, dpkg and the
update's own logic, not the size of the real package.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.cli import main
from sync.agent_update import AgentUpdater, UpdateNotStarted
from sync.central import CentralStore
from sync.fleet.commands import CommandLedger, Target
from sync.fleet.repo import RepoServer
from sync.service import SyncSettings
from tests.sync.conftest import FAST_SYNC, REPO, Broker
from tests.sync.test_remote import Central, central, remote_hub, running

__all__ = ["central"]  # (the fixture, used here too)

UPDATE = REPO / "packaging" / "debian" / "hall-agent-update"
TOOLS = ("apt-get", "dpkg-deb", "dpkg-scanpackages", "gpg", "gpgv")


def _need_tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (packaging/dev.sh installs them)")


def fake_deb(
    out: Path, version: str, works: bool = True, package: str = "hall-agent", depends: str = ""
) -> Path:
    """A package named hall-agent whose program answers ``--version`` (or fails)."""
    tree = out / f"tree-{package}-{version}"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
        + (f"Depends: {depends}\n" if depends else "")
        + "Maintainer: test <test@localhost>\nDescription: stand-in for the update test\n"
    )
    program = tree / "opt" / package / "bin" / package
    program.parent.mkdir(parents=True)
    upstream = version.rsplit("-", 1)[0]
    body = f'echo "hall-agent {upstream}"' if works else 'echo "ImportError: no module" >&2; exit 1'
    program.write_text(f"#!/bin/sh\n{body}\n")
    program.chmod(0o755)
    deb = out / f"{package}_{version}_all.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-b", str(tree), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb


def throwaway_root(root: Path, source: str) -> None:
    """The directories apt and dpkg need, an empty package database, one source."""
    for d in (
        "var/lib/dpkg/updates",
        "var/lib/dpkg/info",
        "var/lib/apt/lists/partial",
        "var/cache/apt/archives/partial",
        "var/log/apt",
        "etc/apt/sources.list.d",
        "etc/apt/preferences.d",
        "etc/apt/apt.conf.d",
        "etc/apt/trusted.gpg.d",
        "etc/apt/keyrings",
    ):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg/status").write_text("")
    (root / "etc/apt/sources.list.d/hall-agent.list").write_text(source + "\n")


def installed_version(root: Path) -> str:
    done = subprocess.run(
        ["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f", "${Version}", "hall-agent"],
        capture_output=True,
        text=True,
    )
    return done.stdout


@dataclass
class Site:
    root: Path
    result: Path
    launcher: tuple[str, ...]
    repo: Path


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """Central's repository of 1.0-1, 2.0-1 and a broken 3.0-1, signed with a GnuPG key
    and served over HTTP; a throwaway root that trusts that key only, with 1.0-1 installed
    by the update step itself."""
    _need_tools()
    gnupg = tmp_path / "gnupg"
    gnupg.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(gnupg))
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "hall-agent repo <it@test>",
         "ed25519", "sign", "never"],
        check=True, capture_output=True,
    )  # fmt: skip
    debs = tmp_path / "debs"
    debs.mkdir()
    packages = [
        fake_deb(debs, "1.0-1"),
        fake_deb(debs, "2.0-1"),
        fake_deb(debs, "3.0-1", works=False),
    ]
    repo = tmp_path / "repo"
    args = ["central", "repo", "build", "--repo", str(repo), "--gpg-key", "it@test"]
    assert main([*args, *map(str, packages)]) == 0
    assert (repo / "InRelease").exists()
    server = RepoServer(repo).start()
    root = tmp_path / "root"
    keyring = root / "etc/apt/keyrings/hall-agent.gpg"
    throwaway_root(root, f"deb [signed-by={keyring}] {server.url} ./")
    exported = subprocess.run(["gpg", "--export", "it@test"], check=True, capture_output=True)
    keyring.write_bytes(exported.stdout)
    result = tmp_path / "update-result.json"
    launcher = (
        "env",
        f"HALL_AGENT_UPDATE_ROOT={root}",
        f"HALL_AGENT_UPDATE_RESULT={result}",
        str(UPDATE),
    )
    first = subprocess.run([*launcher, "1.0-1", "1"], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert installed_version(root) == "1.0-1"
    result.unlink()
    try:
        yield Site(root, result, launcher, repo)
    finally:
        server.stop()


def test_the_update_refuses_an_unsigned_repository(site: Site) -> None:
    """GIVEN the repository's signature removed (an index anyone could have written)
    THEN apt refuses it: the update fails and the installed version stays."""
    for name in ("InRelease", "Release.gpg"):
        (site.repo / name).unlink()
    done = subprocess.run([*site.launcher, "2.0-1", "9"], capture_output=True, text=True)
    assert done.returncode == 1
    assert '"outcome": "failed"' in site.result.read_text()
    assert "apt-get update" in site.result.read_text()
    assert installed_version(site.root) == "1.0-1"


def test_an_update_keeps_the_other_sources_and_takes_a_new_dependency_from_them(
    site: Site, tmp_path: Path
) -> None:
    """GIVEN a second source (Debian's, in production) whose lists apt fetched before, and
    a new hall-agent that depends on a package only that source has WHEN the update runs
    THEN it fetches hall-agent.list only, the other source's lists stay (apt's list
    clean-up would delete them), and the dependency comes from them."""
    other = tmp_path / "other-repo"
    other.mkdir()
    fake_deb(other, "1.0-1", package="hall-agent-dep")
    scanned = subprocess.run(
        ["dpkg-scanpackages", "-m", "."], cwd=other, check=True, capture_output=True, text=True
    )
    (other / "Packages").write_text(scanned.stdout)
    (site.root / "etc/apt/sources.list").write_text(f"deb [trusted=yes] file:{other} ./\n")
    lists = site.root / "var/lib/apt/lists"
    apt_get = [
        "apt-get", "-o", f"Dir={site.root}",
        "-o", f"Dir::State::status={site.root}/var/lib/dpkg/status",
        "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root",
        "-o", f"Dir::Etc::TrustedParts={site.root}/etc/apt/trusted.gpg.d",
    ]  # fmt: skip
    subprocess.run([*apt_get, "update"], check=True, capture_output=True)
    theirs = [p.name for p in lists.iterdir() if "other-repo" in p.name]
    assert theirs
    debs = tmp_path / "debs-4"
    debs.mkdir()
    new = fake_deb(debs, "4.0-1", depends="hall-agent-dep")
    assert main(["central", "repo", "build", "--repo", str(site.repo), "--gpg-key", "it@test",
                 str(new)]) == 0  # fmt: skip
    done = subprocess.run([*site.launcher, "4.0-1", "11"], capture_output=True, text=True)
    assert done.returncode == 0, site.result.read_text()
    assert installed_version(site.root) == "4.0-1"
    assert (site.root / "opt/hall-agent-dep/bin/hall-agent-dep").exists()
    assert [p.name for p in lists.iterdir() if "other-repo" in p.name] == theirs


@pytest.mark.mqtt
@pytest.mark.slow
def test_update_agent_upgrades_and_rolls_back_a_version_that_fails_its_check(
    broker: Broker, central: Central, site: Site, tmp_path: Path
) -> None:
    """GIVEN a hub running 1.0-1 from central's repository WHEN IT sends update_agent 2.0-1
    THEN apt upgrades it, the check passes and central shows done (1.0-1 -> 2.0-1); WHEN
    update_agent 3.0-1 (whose program fails) THEN the hub goes back to 2.0-1 by itself and
    central shows rolled_back with the reason; a version the repository lacks fails and
    changes nothing."""
    node = remote_hub(tmp_path / "hub", broker)
    with running(node, central, _settings(site)):
        v = central.send(node, "update_agent", "--version", "2.0-1")
        done = central.wait_state(node, v, ("done", "failed", "rolled_back"))
        assert done["state"] == "done", done
        assert done["data"] == {
            "outcome": "updated",
            "from": "1.0-1",
            "to": "2.0-1",
            "reason": "hall-agent 2.0-1 runs",
        }
        assert [s for s, _ in central.replies(node, v)] == ["running", "done"]
        assert installed_version(site.root) == "2.0-1"

        v = central.send(node, "update_agent", "--version", "3.0-1")
        back = central.wait_state(node, v, ("done", "failed", "rolled_back"))
        assert back["state"] == "rolled_back", back
        assert back["data"]["from"] == "2.0-1" and back["data"]["to"] == "3.0-1"
        assert "hall-agent --version failed: ImportError" in back["detail"]
        assert back["detail"].endswith("back to 2.0-1")
        assert installed_version(site.root) == "2.0-1"

        v = central.send(node, "update_agent", "--version", "9.9-1")
        missing = central.wait_state(node, v, ("done", "failed", "rolled_back"))
        assert missing["state"] == "failed"
        assert "Version '9.9-1' for 'hall-agent' was not found" in missing["detail"]
        assert installed_version(site.root) == "2.0-1"


@pytest.mark.mqtt
@pytest.mark.slow
def test_the_outcome_of_an_update_that_restarted_the_agent_is_answered_by_the_next_one(
    broker: Broker, central: Central, site: Site, tmp_path: Path
) -> None:
    """GIVEN an update that ended while no agent waited for it (the package's postinst
    restarts the agent) WHEN the agent starts again THEN it answers the command the
    outcome names, once, and removes the outcome."""
    node = remote_hub(tmp_path / "hub", broker)
    target = Target(node.hall.hall_id, node.node.node_id)
    now = dt.datetime.now(dt.UTC)
    store = CentralStore(central.db)
    try:
        ledger = CommandLedger(store)
        v = ledger.next_version(target.node_id, now)
        data = {"name": "update_agent", "version": "2.0-1"}
        ledger.record_sent(target, v, data, now, now + dt.timedelta(hours=1))
    finally:
        store.close()
    done = subprocess.run([*site.launcher, "2.0-1", str(v)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    settings = _settings(site)
    with running(node, central, settings):
        answered = central.wait_state(node, v, ("done", "failed", "rolled_back"))
        assert answered["state"] == "done"
        assert answered["data"]["from"] == "1.0-1" and answered["data"]["to"] == "2.0-1"
        assert not site.result.exists()
    with running(node, central, settings):  # answered once: nothing left to answer
        marker = central.send(node, "report_status")
        central.wait_state(node, marker, ("done",))
    assert central.replies(node, v) == [("done", 1)]


def _settings(site: Site) -> SyncSettings:
    return dataclasses.replace(FAST_SYNC, update_launcher=site.launcher, update_result=site.result)


@pytest.mark.parametrize(
    ("launcher", "message"),
    [
        (("false",), "the update did not start (exit 1)"),
        (("/nonexistent/sudo",), "cannot start the update: [Errno 2]"),
    ],
)
def test_an_update_that_cannot_start_says_so_and_leaves_no_outcome(
    tmp_path: Path, launcher: tuple[str, ...], message: str
) -> None:
    """GIVEN a launcher that fails (no sudo rule, no sudo at all) THEN the command fails
    with that reason at once, instead of waiting for an outcome that never comes."""
    updater = AgentUpdater(launcher, tmp_path / "update-result.json", budget_s=60)
    with pytest.raises(UpdateNotStarted) as caught:
        updater.run("2.0-1", 5)
    assert message in str(caught.value)
    assert updater.take_outcome() is None
