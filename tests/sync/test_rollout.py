"""Staged rollout of a device profile (``hall-agent central rollout``) against a real
Mosquitto: hubs of several halls, each with an LED strip on a pty, and the central process
moving the rollout on from the outcomes the hubs report."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.cli import main
from agent.node import DeviceSpec
from agent.node_runtime import Node
from agent.store import PROFILE_SLOT_PREFIX
from devices.last_good import profile_document
from devices.profiles import load_profile, parse_profile
from devices.simulators import start_simulator
from sync.node import start_node
from sync.signing import CENTRAL_PUBLIC_KEY_FILE, generate_key, private_pem, public_pem
from tests.support import wait_until
from tests.sync.conftest import FAST_SYNC, Broker, make_node, run_cli, spawn_cli, wait_line

KEY = generate_key()
HALLS = ("hall-c", "hall-b", "hall-d")
LED = "led-rs485-generic"


def xor8_led() -> dict[str, Any]:
    """The LED profile with frames checksummed xor8 (the shipped one: sum8)."""
    doc = profile_document(load_profile(LED))
    doc["framing"] = {**doc["framing"], "checksum": {"kind": "xor8"}}
    return doc


@pytest.fixture
def central(broker: Broker, tmp_path: Path) -> Iterator[Path]:
    """``hall-agent central`` with group ``county`` (the three halls), moving rollouts on
    every 0.2 s; yields its store."""
    config = tmp_path / "central.yaml"
    config.write_text(yaml.safe_dump({"groups": {"county": list(HALLS)}}))
    db = tmp_path / "central.db"
    proc = spawn_cli(
        "central",
        "--broker",
        broker.url,
        "--db",
        str(db),
        "--config",
        str(config),
        "--rollout-interval",
        "0.2",
    )
    try:
        wait_line(proc, "central ingest ready")
        yield db
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def halls(
    tmp_path: Path, broker: Broker, firmware: dict[str, dict[str, Any]]
) -> Iterator[dict[str, Node]]:
    """A running hub per hall with an LED strip whose firmware speaks ``firmware[hall]``."""
    with contextlib.ExitStack() as stack:
        nodes = {}
        for hall in HALLS:
            sim = start_simulator("led", parse_profile(firmware[hall], "firmware"))
            stack.callback(sim.stop)
            node = make_node(tmp_path / hall, broker.url, hall_id=hall)
            (node.data.root / CENTRAL_PUBLIC_KEY_FILE).write_bytes(public_pem(KEY))
            data = yaml.safe_load((node.data.root / "node.yaml").read_text())
            (node.data.root / "node.yaml").write_text(
                yaml.safe_dump({**data, "device_health_timeout_s": 1.0})
            )
            node = Node.open(node.data.root)
            led = DeviceSpec(id="led", kind="led", profile=LED, port=sim.port, window=1, address=1)
            stack.enter_context(start_node(node, "hub", settings=FAST_SYNC, devices=[led]))
            nodes[hall] = node
        yield nodes


def rollout(tmp_path: Path, broker: Broker, db: Path, *args: str) -> None:
    key = tmp_path / "central_key.pem"
    key.write_bytes(private_pem(KEY))
    profile = tmp_path / "led-xor8.yaml"
    profile.write_text(yaml.safe_dump(xor8_led()))
    done = run_cli(
        *("central", "rollout", "start", LED, str(profile), "--group", "county"),
        *("--version", "7", "--broker", broker.url, "--key", str(key), "--db", str(db)),
        *("--config", str(tmp_path / "central.yaml"), *args),
    )
    assert done.returncode == 0, done.stderr


def status(db: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["central", "rollout", "status", "--db", str(db), "--json"]) == 0
    (only,) = json.loads(capsys.readouterr().out)["rollouts"]
    found: dict[str, Any] = only
    return found


def pushed(node: Node) -> dict[str, int]:
    """The profile versions the hub holds (read from its store, the node stopped or not)."""
    store = node.store()
    try:
        return store.inbound_versions(PROFILE_SLOT_PREFIX)
    finally:
        store.close()


@pytest.mark.mqtt
@pytest.mark.slow
def test_a_canary_that_rolls_back_stops_the_rollout(
    broker: Broker, central: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN three halls whose LED strips speak sum8 WHEN IT rolls out an xor8 LED profile
    with hall-c as canary THEN hall-c's strip fails its health check and rolls back, the
    rollout stops itself with that reason, and no other hall is sent the profile."""
    sum8 = profile_document(load_profile(LED))
    with halls(tmp_path, broker, dict.fromkeys(HALLS, sum8)) as nodes:
        rollout(tmp_path, broker, central, "--canary", "hall-c", "--max-rollbacks", "5")
        assert wait_until(lambda: status(central, capsys)["state"] == "stopped", 30)
        stopped = status(central, capsys)
        assert "canary rolled back" in stopped["reason"] and "no_answer" in stopped["reason"]
        assert stopped["rolled_back_nodes"] == [nodes["hall-c"].node.node_id]
        sent = {h["hall_id"]: h["sent_at"] for h in stopped["halls"]}
        assert sent["hall-b"] is None and sent["hall-d"] is None
    assert pushed(nodes["hall-c"]) == {LED: 7}
    assert pushed(nodes["hall-b"]) == pushed(nodes["hall-d"]) == {}


@pytest.mark.mqtt
@pytest.mark.slow
def test_the_group_gets_the_profile_after_the_canary_and_more_than_k_rollbacks_stop_it(
    broker: Broker, central: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN hall-c's strip speaking xor8 (its profile says sum8: the push fixes it) and
    hall-b's and hall-d's speaking sum8 WHEN IT rolls out the xor8 profile, canary hall-c,
    waves of one hall, at most 0 rollbacks THEN the canary keeps it, hall-b (wave 1) gets it
    and rolls back, and the rollout stops before hall-d (wave 2) is sent anything."""
    sum8 = profile_document(load_profile(LED))
    firmware = {"hall-c": xor8_led(), "hall-b": sum8, "hall-d": sum8}
    with halls(tmp_path, broker, firmware) as nodes:
        rollout(
            tmp_path,
            broker,
            central,
            *("--canary", "hall-c", "--max-rollbacks", "0", "--wave-size", "1"),
        )
        assert wait_until(lambda: status(central, capsys)["state"] == "stopped", 40), json.dumps(
            status(central, capsys)
        )
        stopped = status(central, capsys)
        assert stopped["reason"].startswith("1 nodes rolled back (more than 0)")
        assert stopped["rolled_back_nodes"] == [nodes["hall-b"].node.node_id]
        by_hall = {h["hall_id"]: h for h in stopped["halls"]}
        assert by_hall["hall-c"]["reopened"] == 1 and by_hall["hall-c"]["wave"] == 0
        assert by_hall["hall-b"]["sent_at"] is not None and by_hall["hall-b"]["wave"] == 1
        assert by_hall["hall-d"]["sent_at"] is None and by_hall["hall-d"]["wave"] == 2
    assert pushed(nodes["hall-d"]) == {}


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def test_rollout_waves_go_out_as_halls_report_and_end_done(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """GIVEN a rollout recorded in a central store, canary + 3 halls in waves of 2, K=1
    WHEN the canary re-opens, one wave hall rolls back (1, not more than K) and the others
    re-open THEN each wave goes out once the one before reported, and the rollout is done."""
    import datetime as dt

    from sync import contract as ct
    from sync.central import open_central_store
    from sync.fleet.push import Message
    from sync.fleet.rollout import Plan, Rollouts

    def message(hall: str) -> Message:
        return Message(hall, ct.profile_topic(hall, LED), b"{}", True)

    def report(hall: str, code: str) -> None:
        store.record_result(
            ct.InboundResult(
                schema_version=1,
                node_id=f"{hall}-node",
                topic=ct.profile_topic(hall, LED),
                kind="device_profile",
                version=7,
                accepted=code == "reopened",
                code=code,
                reason=f"device led: {code}",
                at=dt.datetime.now(dt.UTC).isoformat(),
            )
        )

    sent: list[list[str]] = []

    def publish(messages: list[Message]) -> list[str]:
        sent.append([m.hall_id for m in messages])
        return []

    where = request.getfixturevalue("pg_url") if backend == "postgres" else tmp_path / "c.db"
    store = open_central_store(where)
    try:
        book = Rollouts(store)
        plan = Plan(LED, 7, "c", "county", max_rollbacks=1, wave_size=2, wave_minutes=60)
        book.start(plan, message("c"), [message(h) for h in ("a", "b", "e")])
        now = dt.datetime.now(dt.UTC)
        assert book.advance(publish, now) == [] and sent == []  # the canary has not spoken
        report("c", "applied")  # the message's own acceptance is not a device outcome
        assert book.advance(publish, now) == []
        report("c", "reopened")
        book.advance(publish, now)
        assert sent == [["a", "b"]]
        report("a", "rolled_back")
        assert book.advance(publish, now) == [] and sent == [["a", "b"]]  # b not heard yet
        report("b", "reopened")
        book.advance(publish, now)
        assert sent == [["a", "b"], ["e"]]
        report("e", "reopened")
        book.advance(publish, now)
        (done,) = book.status()
        assert (done["state"], done["rolled_back_nodes"]) == ("done", ["a-node"])
    finally:
        store.close()
