"""A staff roster signed by central (kind ``staff``): who may sign in at which windows, and
their PIN hashes and card digests, which the hub keeps in its credentials file only — the
roster's event in the log (sent back to central) carries neither."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent import commands as c
from agent import errors
from agent.node_runtime import Node
from agent.pinlock import hash_pin
from agent.runtime import CoreRuntime
from agent.staffauth import CREDENTIALS_FILE, card_digest
from sync import contract as ct
from sync.fleet.push import PushRefused, check_staff
from sync.inbound import InboundHandler
from tests.sync.test_inbound import handler as handler  # with the hub's staff credentials
from tests.sync.test_inbound import node as node  # a node trusting KEY
from tests.sync.test_inbound import runtime as runtime
from tests.sync.test_inbound import signed

BADGE = "HS1:roster-badge-0123456789"


def roster(name: str = "赵*") -> dict[str, Any]:
    return {
        "members": [
            {
                "id": "S-0101",
                "name": name,
                "windows": [1],
                "pin_hash": hash_pin("112233"),
                "card_sha256": card_digest(BADGE),
            },
            {"id": "S-0102", "name": "钱*"},
        ]
    }


def test_a_signed_staff_roster_lets_its_members_sign_in_and_keeps_secrets_at_the_hub(
    node: Node, runtime: CoreRuntime, handler: InboundHandler
) -> None:
    data = roster()
    topic = ct.staff_topic(node.hall.hall_id)
    outcome = handler.handle(topic, signed(node, "staff", 2, data))
    assert (outcome.accepted, outcome.code, outcome.kind) == (True, "applied", "staff")
    assert handler.handle(topic, signed(node, "staff", 2, data)).code == "duplicate"

    with pytest.raises(errors.NotSignedIn):  # the hall is staffed now
        runtime.execute(c.CallNext(3))
    with pytest.raises(errors.StaffNotAllowed):
        runtime.execute(c.SignIn(2, "S-0101", pin="112233"))
    signed_in = runtime.execute(c.SignIn(1, "S-0101", pin="112233")).events[-1]
    assert signed_in.payload["staff_id"] == "S-0101"
    runtime.execute(c.SignOut(1))
    by_card = runtime.execute(c.SignIn(1, card=BADGE)).events[-1]
    assert (by_card.payload["staff_id"], by_card.payload["method"]) == ("S-0101", "card")
    credentials = (node.data.root / CREDENTIALS_FILE).read_text()
    assert data["members"][0]["pin_hash"] in credentials
    runtime.stop()

    store = node.store()
    (loaded,) = [e for e in store.events_since(0) if e.type == "StaffRosterLoaded"]
    store.close()
    assert loaded.payload["members"][0] == {"id": "S-0101", "name": "赵*", "windows": [1]}
    stored = b"".join(p.read_bytes() for p in Path(node.data.database).parent.glob("hall.db*"))
    for secret in (data["members"][0]["pin_hash"], card_digest(BADGE), "112233", BADGE):
        assert secret.encode() not in stored


def test_a_roster_with_a_full_name_or_a_bad_hash_is_refused_and_changes_nothing(
    node: Node, runtime: CoreRuntime, handler: InboundHandler
) -> None:
    topic = ct.staff_topic(node.hall.hall_id)
    before = runtime.last_seq()
    refused = handler.handle(topic, signed(node, "staff", 3, roster(name="赵四")))
    assert (refused.accepted, refused.code) == (False, "invalid_data")
    assert runtime.last_seq() == before
    assert not (node.data.root / CREDENTIALS_FILE).exists()
    bad = roster()
    bad["members"][0]["pin_hash"] = "plain-112233"
    with pytest.raises(PushRefused):
        check_staff(bad, "staff.yaml")
    assert check_staff(roster(), "staff.yaml")["members"][1]["id"] == "S-0102"
