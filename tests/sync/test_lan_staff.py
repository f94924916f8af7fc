"""Staff sign-in from a window PC over the hall LAN (the shipped broker, per-terminal
logins): the hub checks the PIN, a window PC signs in only at its own windows, sign-ins are
rate-limited, and no PIN, PIN hash or card digest ever reaches a terminal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent import commands as c
from agent.node_runtime import Node
from agent.staffauth import CREDENTIALS_FILE
from sync.lan import LanSettings, RemoteError
from tests.support import (
    STAFF_CARD,
    STAFF_PINS,
    give_staff_credentials,
    sign_in,
    staffed,
    wait_until,
)
from tests.sync.conftest import HallBroker
from tests.sync.test_lan import WAIT, Hall, hub_node, running_hub

pytestmark = pytest.mark.mqtt


def staffed_hub(root: Path, broker: HallBroker) -> Node:
    """A hub of the test hall with a staff list, and their PINs in its data dir."""
    node = hub_node(root, broker)
    hall = staffed(node.hall)
    (root / "hall.yaml").write_text(
        yaml.safe_dump(hall.model_dump(mode="json"), allow_unicode=True), encoding="utf-8"
    )
    give_staff_credentials(root)
    return Node.open(root)


@pytest.fixture
def hall(tmp_path: Path, hall_broker: HallBroker) -> Iterator[Hall]:
    settings = LanSettings(sign_in_burst=3, sign_in_per_minute=0.001)
    with running_hub(staffed_hub(tmp_path / "hub", hall_broker), hall_broker, settings) as h:
        yield h


def test_a_window_pc_signs_in_at_its_window_and_calls_with_its_staff_id(hall: Hall) -> None:
    window = hall.terminal("window-1")
    seen: list[dict[str, Any]] = []
    window.subscribe(seen.append)
    hall.terminal("kiosk-1").execute(c.IssueTicket("social-security"), timeout=WAIT)
    with pytest.raises(RemoteError) as refused:
        window.execute(c.CallNext(1), timeout=WAIT)
    assert refused.value.code == "not_signed_in"
    assert window.execute(sign_in("S-0001", 1), timeout=WAIT)["events"] == ["StaffSignedIn"]
    window.execute(c.CallNext(1), timeout=WAIT)
    last = hall.last_seq()
    assert wait_until(lambda: bool(seen) and seen[-1]["seq"] == last, WAIT)
    called = [e for e in seen if e["type"] == "TicketCalled"]
    assert called[0]["payload"]["staff_id"] == "S-0001"
    status = window.query("hall_status", timeout=WAIT)
    assert status["windows"][0]["staff_id"] == "S-0001"
    assert status["windows"][0]["staff_name"] == "王*"


def test_a_window_pc_cannot_sign_in_at_another_window_nor_a_kiosk_at_any(hall: Hall) -> None:
    before = hall.last_seq()
    for terminal_id, command in (
        ("window-1", sign_in("S-0003", 3)),
        ("window-1", c.SignOut(3)),
        ("kiosk-1", sign_in("S-0001", 1)),
        ("display-1", c.SignIn(1, card=STAFF_CARD)),
    ):
        with pytest.raises(RemoteError) as refused:
            hall.terminal(terminal_id).execute(command, timeout=WAIT)
        assert refused.value.code == "forbidden", terminal_id
    assert hall.last_seq() == before
    assert hall.terminal("window-3").execute(c.SignIn(3, card=STAFF_CARD), timeout=WAIT)


def test_wrong_pins_are_refused_and_sign_ins_are_rate_limited(hall: Hall) -> None:
    """GIVEN three sign-ins at once allowed per terminal WHEN a window PC sends a wrong PIN
    THEN it is refused with when to try again, and past the burst ``rate_limited``."""
    window = hall.terminal("window-pc-1")
    with pytest.raises(RemoteError) as wrong:
        window.execute(c.SignIn(2, "S-0002", pin="111111"), timeout=WAIT)
    assert wrong.value.code == "sign_in_refused"
    assert wrong.value.details["retry_after_s"] == 1
    codes = []
    for _ in range(3):
        with pytest.raises(RemoteError) as refused:
            window.execute(c.SignIn(1, "S-0001", pin="222222"), timeout=WAIT)
        codes.append(refused.value.code)
    assert codes[-1] == "rate_limited"
    assert hall.server.stats_snapshot()["rate_limited_by_terminal"] == {"window-pc-1": 1}


def test_no_pin_hash_or_card_digest_reaches_a_terminal(hall: Hall) -> None:
    """GIVEN the hub's credentials WHEN a window PC signs in by PIN and by card and reads the
    hall config, the hall status and its feed THEN none of them holds a PIN, a PIN hash or a
    card digest (the config carries the staff list: ids, masked names, windows)."""
    credentials = json.loads((hall.node.data.root / CREDENTIALS_FILE).read_text())["members"]
    secrets = [*STAFF_PINS.values(), STAFF_CARD, "scrypt$"]
    secrets += [entry[k] for entry in credentials.values() for k in ("pin", "card") if k in entry]
    window = hall.terminal("window-pc-1")
    seen: list[dict[str, Any]] = []
    window.subscribe(seen.append)
    window.execute(sign_in("S-0001", 1), timeout=WAIT)
    window.execute(c.SignIn(2, card=STAFF_CARD), timeout=WAIT)
    last = hall.last_seq()
    assert wait_until(lambda: bool(seen) and seen[-1]["seq"] == last, WAIT)
    config = window.query("config", timeout=WAIT)
    assert [m["id"] for m in config["staff"]["members"]] == ["S-0001", "S-0002", "S-0003"]
    received = json.dumps([config, window.query("hall_status", timeout=WAIT), seen])
    for secret in secrets:
        assert secret not in received
