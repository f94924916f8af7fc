"""The fleet from central's side: groups of halls, pushes checked before signing, the fleet
report with its alarms, and the same figures as Prometheus metrics."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent import commands as c
from agent.cli import main
from agent.node_runtime import Node
from sync.central import CentralStore
from sync.fleet.config import AlarmThresholds, CentralConfig, load_central_config
from sync.fleet.health import fleet_report, node_alarms
from sync.fleet.push import PushRefused, resolve_halls
from sync.mqtt import new_client, parse_broker_url
from sync.service import SyncService, start_sync
from sync.signing import CENTRAL_PUBLIC_KEY_FILE, generate_key, private_pem, public_pem
from tests.support import wait_until
from tests.sync.conftest import (
    REPO,
    Broker,
    free_port,
    make_node,
    run_cli,
    scrape_metrics,
    spawn_cli,
    wait_line,
)

KEY = generate_key()
GROUPS = {
    "east-villages": ["village-01", "village-02"],
    "east-county": ["east-town", "@east-villages"],
}


# ---- groups --------------------------------------------------------------------------------
def test_a_group_expands_the_groups_it_includes() -> None:
    config = CentralConfig(groups=GROUPS)
    assert config.halls_of("east-county") == ["east-town", "village-01", "village-02"]
    assert resolve_halls(config, group="east-villages") == ["village-01", "village-02"]
    assert resolve_halls(config, ["east-town", "east-town"]) == ["east-town"]
    assert resolve_halls(config, everyone=True, known=["west-town"]) == [
        "east-town",
        "village-01",
        "village-02",
        "west-town",
    ]


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ({"a": ["@b"], "b": ["@a"]}, "circle"),
        ({"a": ["@nowhere"]}, "unknown group 'nowhere'"),
        ({"a": ["bad hall"]}, "is not a hall id"),
    ],
)
def test_a_bad_group_file_names_the_problem(
    tmp_path: Path, groups: dict[str, list[str]], message: str
) -> None:
    path = tmp_path / "central.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}))
    with pytest.raises(PushRefused.__mro__[1], match=message):  # ConfigError
        load_central_config(path)


def test_a_push_needs_exactly_one_known_target() -> None:
    config = CentralConfig(groups=GROUPS)
    with pytest.raises(PushRefused, match="name the target"):
        resolve_halls(config)
    with pytest.raises(PushRefused, match="name the target"):
        resolve_halls(config, ["east-town"], group="east-villages")
    with pytest.raises(PushRefused, match="no group 'west'"):
        resolve_halls(config, group="west")


# ---- alarms (pure) -------------------------------------------------------------------------
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


def _row(**changes: Any) -> dict[str, Any]:
    row = {
        "node_id": "n1",
        "hall_id": "h1",
        "state": "online",
        "last_seen": (NOW - dt.timedelta(minutes=1)).isoformat(),
        "acked_seq": 10,
        "backlog": 0,
        "backlog_alarm": False,
        "clock_offset_s": 0.05,
        "status_at": NOW.isoformat(),
        "agent_version": "0.1.0",
        "devices": {"kiosk-printer": {"status": "online", "reason": None, "since": None}},
        "profiles": {},
        "disk_free_mb": 5120,
        "disk_alarm": False,
        "chain": "verified",
    }
    return {**row, **changes}


def test_a_healthy_node_raises_no_alarm_and_each_threshold_raises_its_own() -> None:
    t = AlarmThresholds(
        device_fault_minutes=30, node_silent_minutes=60, backlog_events=100, clock_skew_seconds=5
    )
    assert node_alarms(_row(), t, NOW) == []
    paper = {"status": "fault", "reason": "paper_out"}
    recent = _row(devices={"p": {**paper, "since": (NOW - dt.timedelta(minutes=29)).isoformat()}})
    assert node_alarms(recent, t, NOW) == []
    old = _row(devices={"p": {**paper, "since": (NOW - dt.timedelta(minutes=31)).isoformat()}})
    assert [(a.kind, a.subject, a.detail) for a in node_alarms(old, t, NOW)] == [
        ("device", "p", "fault (paper_out)")
    ]
    silent = _row(state="offline", last_seen=(NOW - dt.timedelta(hours=2)).isoformat())
    assert [a.kind for a in node_alarms(silent, t, NOW)] == ["node_silent"]
    assert [a.kind for a in node_alarms(_row(backlog=101), t, NOW)] == ["backlog"]
    assert [a.kind for a in node_alarms(_row(clock_offset_s=-6.0), t, NOW)] == ["clock_skew"]
    full = _row(disk_free_mb=40, disk_alarm=True)
    assert [(a.kind, a.detail) for a in node_alarms(full, t, NOW)] == [
        ("disk", "40 MB free on the data disk, below the node's reserve")
    ]
    broken = _row(chain={"break_seq": 4, "reason": "event seq 4 does not match its chain hash"})
    assert [(a.kind, a.detail) for a in node_alarms(broken, t, NOW)] == [
        (
            "chain_break",
            "event log chain broken at seq 4: event seq 4 does not match its chain hash",
        )
    ]


# ---- over Mosquitto ------------------------------------------------------------------------
@pytest.fixture
def keys(tmp_path: Path) -> Path:
    key = tmp_path / "central_key.pem"
    key.write_bytes(private_pem(KEY))
    return key


def _hub(root: Path, broker: Broker, hall_id: str) -> Node:
    node = make_node(root, broker.url, hall_id=hall_id)
    (node.data.root / CENTRAL_PUBLIC_KEY_FILE).write_bytes(public_pem(KEY))
    return node


class _Running:
    """A hub's core and central sync."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.runtime = node.runtime().start()
        sync = start_sync(node, self.runtime)
        assert sync is not None
        self.sync: SyncService = sync

    def stop(self) -> None:
        self.sync.stop()
        self.runtime.stop()


@pytest.fixture
def central(broker: Broker, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """``hall-agent central`` as its own process with metrics on a free port."""
    config = tmp_path / "central.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "groups": {
                    "east-county": ["east-town", "@east-villages"],
                    "east-villages": ["village-01"],
                },
                "alarms": {"device_fault_minutes": 0.001, "node_silent_minutes": 60},
            }
        )
    )
    db = tmp_path / "central.db"
    proc = spawn_cli(
        "central",
        "--broker",
        broker.url,
        "--db",
        str(db),
        "--config",
        str(config),
        "--metrics-port",
        str(free_port()),
    )
    try:
        url = wait_line(proc, "fleet metrics: ").split()[-1]  # once the ingest is subscribed
        yield db, url
    finally:
        proc.terminate()
        proc.wait(10)


def _push(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("central", "push", *args)


_scrape = scrape_metrics


def _key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def _report(db: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    assert main(["central", "report", "--db", str(db), "--json", *extra]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def _node(report: dict[str, Any], node: Node) -> dict[str, Any]:
    (entry,) = [n for n in report["nodes"] if n["node_id"] == node.node.node_id]
    return entry


@pytest.mark.mqtt
@pytest.mark.slow
def test_fleet_report_and_metrics_with_nodes_in_several_states(
    broker: Broker,
    central: tuple[Path, str],
    keys: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GIVEN a town hub whose printer runs out of paper, a village hub that stops, a message
    the town refuses (expired) and a good profile pushed to a group
    THEN central report and /metrics show the same fleet: states, device, versions, alarms,
    the refusal with its reason."""
    db, metrics_url = central
    town = _Running(_hub(tmp_path / "town", broker, "east-town"))
    village = _Running(_hub(tmp_path / "village", broker, "village-01"))
    try:
        assert town.sync.wait_synced(15) and village.sync.wait_synced(15)
        town.runtime.execute(c.DeviceStatusChanged("kiosk-printer", "fault", "paper_out"))
        profile = yaml.safe_load((REPO / "firmware_profiles/escpos-80mm.yaml").read_text())
        profile["chars_per_line"] = 42
        (tmp_path / "printer.yaml").write_text(yaml.safe_dump(profile))
        common = [
            "--broker",
            broker.url,
            "--key",
            str(keys),
            "--config",
            str(tmp_path / "central.yaml"),
        ]
        pushed = _push(
            "profile",
            "escpos-80mm",
            str(tmp_path / "printer.yaml"),
            "--group",
            "east-county",
            "--version",
            "3",
            *common,
        )
        assert pushed.returncode == 0, pushed.stderr
        assert "hall/v1/east-town/hall/profile/escpos-80mm" in pushed.stdout
        assert "hall/v1/village-01/hall/profile/escpos-80mm" in pushed.stdout
        notice = tmp_path / "notice.yaml"
        notice.write_text(yaml.safe_dump({"notice_id": "n1", "text_zh": "停电"}))
        expired = _push(
            "notice",
            str(notice),
            "--hall",
            "east-town",
            "--version",
            "1",
            "--expires-hours",
            "-1",
            *common,
        )
        assert expired.returncode == 0, expired.stderr
        for hub in (town, village):
            assert wait_until(
                lambda h=hub: (h.node.data.profiles / "escpos-80mm.yaml").exists(), 10
            )
        assert wait_until(lambda: _report(db, capsys)["refused"], 10)
        assert wait_until(
            lambda: (
                _node(_report(db, capsys), town.node)["devices"]
                .get("kiosk-printer", {})
                .get("reason")
                == "paper_out"
                and _node(_report(db, capsys), village.node)["profiles"] == {"escpos-80mm": 3}
            ),
            10,
        )
    finally:
        village.stop()
        assert wait_until(
            lambda: _node(_report(db, capsys), village.node)["state"] == "offline", 10
        )
    try:
        report = _report(db, capsys, "--config", str(tmp_path / "central.yaml"))
        t, v = _node(report, town.node), _node(report, village.node)
        assert (t["state"], v["state"]) == ("online", "offline")
        assert t["agent_version"] == "0.1.0" and t["profiles"] == {"escpos-80mm": 3}
        assert t["disk_free_mb"] > 0 and t["disk_alarm"] is False  # the node's own statvfs
        assert t["devices"]["kiosk-printer"]["status"] == "fault"
        (refusal,) = report["refused"]
        assert (refusal["code"], refusal["topic"]) == (
            "expired",
            "hall/v1/east-town/hall/notice/n1",
        )
        assert refusal["reason"].startswith("expired at ")
        kinds = {(a["kind"], a["subject"]) for a in report["alarms"]}
        assert ("device", "kiosk-printer") in kinds
        assert ("refused", "hall/v1/east-town/hall/notice/n1") in kinds
        assert not any(a["kind"] == "node_silent" for a in report["alarms"])  # 60 min not over
        later = fleet_report(
            CentralStore(db),
            load_central_config(tmp_path / "central.yaml"),
            dt.datetime.now(dt.UTC) + dt.timedelta(hours=2),
        )
        silent = {a["node_id"] for a in later["alarms"] if a["kind"] == "node_silent"}
        assert village.node.node.node_id in silent

        def scraped() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            return _scrape(metrics_url)

        town_ids = {"hall": "east-town", "node": town.node.node.node_id}
        village_ids = {"hall": "village-01", "node": village.node.node.node_id}
        assert wait_until(lambda: scraped().get(_key("hall_fleet_alarms", kind="device")) == 1, 10)
        m = scraped()
        assert m[_key("hall_node_up", **town_ids)] == 1
        assert m[_key("hall_node_up", **village_ids)] == 0
        assert m[_key("hall_fleet_nodes", state="offline")] == 1
        assert m[_key("hall_device_up", device="kiosk-printer", **town_ids)] == 0
        assert m[_key("hall_node_profile_version", profile="escpos-80mm", **village_ids)] == 3
        assert m[_key("hall_node_results_total", accepted="false", code="expired")] == 1
        assert m[_key("hall_fleet_alarms", kind="refused")] == 1
        assert m[("hall_ingest_inserted_total", ())] >= 1
        assert main(["central", "report", "--db", str(db)]) == 0
        text = capsys.readouterr().out
        assert "kiosk-printer" in text and "fault (paper_out)" in text
        assert "expired: expired at" in text
    finally:
        town.stop()


@pytest.mark.mqtt
def test_an_invalid_profile_is_refused_before_signing_and_a_good_one_is_sent(
    broker: Broker, keys: Path, tmp_path: Path
) -> None:
    """GIVEN a subscriber on every hall's profile topics
    WHEN IT pushes a profile with a bad field, then a good one (the marker)
    THEN the bad one is refused with its field and reason, and only the good one arrives."""
    got: list[tuple[str, bytes]] = []
    client = new_client("watcher", parse_broker_url(broker.url))
    client.on_message = lambda cl, ud, msg: got.append((msg.topic, bytes(msg.payload)))
    client.connect("127.0.0.1", broker.port)
    client.subscribe("hall/v1/+/hall/#", qos=1)
    client.loop_start()
    try:
        profile = yaml.safe_load((REPO / "firmware_profiles/escpos-80mm.yaml").read_text())
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**profile, "cut": "sideways"}))
        (tmp_path / "good.yaml").write_text(yaml.safe_dump(profile))
        common = ["--hall", "east-town", "--broker", broker.url, "--key", str(keys)]
        bad = _push("profile", "escpos-80mm", str(tmp_path / "bad.yaml"), "--version", "2", *common)
        assert bad.returncode == 2
        assert "cut" in bad.stderr and "nothing was signed or sent" in bad.stderr
        config = _push("config", str(tmp_path / "good.yaml"), "--version", "2", *common)
        assert config.returncode == 2 and "nothing was signed" in config.stderr
        good = _push(
            "profile", "escpos-80mm", str(tmp_path / "good.yaml"), "--version", "3", *common
        )
        assert good.returncode == 0, good.stderr
        assert wait_until(lambda: len(got) >= 1, 10)
        (topic, payload), *rest = got
        assert rest == [] and topic == "hall/v1/east-town/hall/profile/escpos-80mm"
        body = json.loads(json.loads(payload)["body"])
        assert (body["kind"], body["version"], body["data"]["name"]) == (
            "device_profile",
            3,
            "escpos-80mm",
        )
    finally:
        client.loop_stop()
        client.disconnect()


def test_check_lists_the_halls_of_a_group_and_sends_nothing(keys: Path, tmp_path: Path) -> None:
    """GIVEN a group including another group, and no broker at all
    THEN --check validates the profile and names every hall it would go to."""
    config = tmp_path / "central.yaml"
    config.write_text(yaml.safe_dump({"groups": GROUPS}))
    profile = REPO / "firmware_profiles/escpos-80mm.yaml"
    checked = _push("profile", "escpos-80mm", str(profile), "--group", "east-county",
                    "--version", "4", "--config", str(config), "--check",
                    "--broker", "mqtt://127.0.0.1:1", "--key", str(keys))  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip().endswith("version 4 to east-town, village-01, village-02")
    unknown = _push("profile", "escpos-80mm", str(profile), "--group", "west", "--version", "4",
                    "--config", str(config), "--check", "--broker", "mqtt://127.0.0.1:1",
                    "--key", str(keys))  # fmt: skip
    assert unknown.returncode == 2 and "no group 'west'" in unknown.stderr


@pytest.mark.parametrize(
    "command", [["report"], ["rollout", "status"], ["command", "status"]], ids=" ".join
)
def test_a_read_of_a_mistyped_central_db_creates_nothing(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "centrl.db"
    assert main(["central", *command, "--db", str(missing)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not missing.exists()
