"""``central push roster`` with ID numbers: hashed with the hall key before signing, so the
message a hall receives holds no ID number, and the hall checks the booking in by card."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from agent import commands as c
from agent.privacy import citizen_hash, citizen_key
from sync.mqtt import new_client, parse_broker_url
from sync.service import start_sync
from sync.signing import CENTRAL_PUBLIC_KEY_FILE, generate_key, private_pem, public_pem
from tests.support import wait_until
from tests.sync.conftest import FAST_SYNC, REPO, Broker, make_node

pytestmark = pytest.mark.mqtt

ID_NUMBER = "11010519491231002X"


def push(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", "central", "push", "roster", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_roster_by_id_number_reaches_the_hall_hashed_and_checks_in_by_card(
    broker: Broker, tmp_path: Path
) -> None:
    key = generate_key()
    (tmp_path / "central_key.pem").write_bytes(private_pem(key))
    node = make_node(tmp_path / "node", broker.url)
    (node.data.root / CENTRAL_PUBLIC_KEY_FILE).write_bytes(public_pem(key))
    hall_key = node.data.secret  # the key central provisioned to the hall
    zone = ZoneInfo(node.hall.timezone)
    start = dt.datetime.now(zone).replace(second=0, microsecond=0)
    roster = tmp_path / "roster.yaml"
    entry = {
        "code": "APT-77",
        "service": "social-security",
        "slot_start": start.isoformat(),
        "slot_end": (start + dt.timedelta(minutes=30)).isoformat(),
        "citizen_name": "张*",
        "id_number": ID_NUMBER,
    }
    roster.write_text(yaml.safe_dump({"roster_id": "r-77", "entries": [entry]}))
    common = ["--hall", node.hall.hall_id, "--broker", broker.url]
    common += ["--key", str(tmp_path / "central_key.pem"), "--version", "5"]

    no_key = push(str(roster), *common)
    assert no_key.returncode == 2 and "needs --hall-key" in no_key.stderr
    two = push(str(roster), *common, "--hall", "other-hall", "--hall-key", str(hall_key))
    assert two.returncode == 2 and "name one --hall" in two.stderr
    assert ID_NUMBER not in no_key.stderr + two.stderr

    got: list[bytes] = []
    watcher = new_client("watcher", parse_broker_url(broker.url))
    watcher.on_message = lambda cl, ud, msg: got.append(bytes(msg.payload))
    watcher.connect("127.0.0.1", broker.port)
    watcher.subscribe(f"hall/v1/{node.hall.hall_id}/hall/roster", qos=1)
    watcher.loop_start()
    runtime = node.runtime().start()
    sync = start_sync(node, runtime, settings=FAST_SYNC)
    assert sync is not None
    try:
        sent = push(str(roster), *common, "--hall-key", str(hall_key))
        assert sent.returncode == 0, sent.stderr
        assert wait_until(lambda: got, 10)
        assert ID_NUMBER not in got[0].decode() and ID_NUMBER.lower() not in got[0].decode()

        card = c.Citizen(citizen_hash(citizen_key(hall_key.read_bytes(), ID_NUMBER), start.date()))
        assert wait_until(
            lambda: runtime.read("booking_for_card", citizen_hash=card.citizen_hash), 10
        )
        view = runtime.execute(c.CheckInByCard(card))
        assert view is not None
    finally:
        sync.stop()
        runtime.stop()
        watcher.loop_stop()
        watcher.disconnect()
    store = node.store()
    try:
        ticket = store.state.ticket_by_number("A001")
        assert ticket is not None and ticket.appointment_code == "APT-77"
        assert ticket.citizen_name == "张*"
    finally:
        store.close()
