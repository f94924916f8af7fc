"""What comes down from central: applied through the core when valid, refused with a reason
(and nothing changed) when not."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import commands as c
from agent import errors
from agent.config import HallConfig, load_hall_config
from agent.errors import StoreError
from agent.node_runtime import Node
from agent.runtime import CoreRuntime
from agent.staffauth import Credentials
from devices.profiles import load_profile
from sync import contract as ct
from sync.central import CentralIngest, CentralStore
from sync.inbound import InboundHandler
from sync.mqtt import new_client, parse_broker_url
from sync.service import SyncSettings, start_sync
from sync.signing import CENTRAL_PUBLIC_KEY_FILE, generate_key, make_body, public_pem, sign_body
from tests.sync.conftest import REPO, Broker, issue_tickets, make_node, wait_until

KEY = generate_key()
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def node(tmp_path: Path) -> Node:
    n = make_node(tmp_path / "node")
    (n.data.root / CENTRAL_PUBLIC_KEY_FILE).write_bytes(public_pem(KEY))
    return n


@pytest.fixture
def runtime(node: Node) -> Iterator[CoreRuntime]:
    rt = node.runtime().start()
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture
def handler(node: Node, runtime: CoreRuntime) -> InboundHandler:
    return InboundHandler(
        runtime,
        node.hall.hall_id,
        node.node.node_id,
        KEY.public_key(),
        node.data.hall_config,
        profiles_path=node.data.profiles,
        staff_credentials=Credentials(node.data.root),
    )


def renamed(node: Node, name: str) -> HallConfig:
    return node.hall.model_copy(update={"name_zh": name})


def signed(node: Node, kind: str, version: int, data: dict[str, Any], **kw: Any) -> bytes:
    key: Ed25519PrivateKey = kw.pop("key", KEY)
    return sign_body(
        key, make_body(kind, kw.pop("hall_id", node.hall.hall_id), version, data, **kw)
    )


def config_data(node: Node, name: str = "新名字便民服务中心") -> dict[str, Any]:
    return renamed(node, name).model_dump(mode="json")


def _roster_entry(**changes: Any) -> dict[str, Any]:
    start = dt.datetime(2030, 5, 6, 9, 0, tzinfo=dt.UTC)
    entry = {
        "code": "APPT-7",
        "service": "household",
        "slot_start": start.isoformat(),
        "slot_end": (start + dt.timedelta(minutes=30)).isoformat(),
        "citizen_name": "张*",
    }
    return {**entry, **changes}


def snapshot(node: Node, runtime: CoreRuntime) -> tuple[Any, ...]:
    def read(store: Any) -> tuple[Any, ...]:
        events = store.conn.execute("SELECT COUNT(*), MAX(seq) FROM events").fetchone()
        meta = store.conn.execute("SELECT * FROM meta ORDER BY key").fetchall()
        return events, meta, store.config.name_zh, store.state.config_version

    return (*runtime._query(read), node.data.hall_config.read_bytes())


# ---- applied -------------------------------------------------------------------------------
def test_valid_config_is_applied_and_written_to_hall_yaml(
    node: Node, runtime: CoreRuntime, handler: InboundHandler
) -> None:
    topic = ct.config_topic(node.hall.hall_id)
    outcome = handler.handle(topic, signed(node, "hall_config", 3, config_data(node)))
    assert (outcome.accepted, outcome.code, outcome.version) == (True, "applied", 3)
    assert runtime._query(lambda s: (s.config.name_zh, s.state.config_version)) == (
        "新名字便民服务中心",
        3,
    )
    assert load_hall_config(node.data.hall_config) == renamed(node, "新名字便民服务中心")
    # the retained copy arrives again on every reconnect: a duplicate, not a refusal
    again = handler.handle(topic, signed(node, "hall_config", 3, config_data(node)))
    assert (again.accepted, again.code) == (True, "duplicate")
    older = handler.handle(topic, signed(node, "hall_config", 2, config_data(node, "旧")))
    assert (older.accepted, older.code) == (False, "stale_version")
    assert runtime._query(lambda s: s.config.name_zh) == "新名字便民服务中心"


def led_profile(max_chars: int = 24) -> dict[str, Any]:
    """The packaged generic LED profile, as IT would adjust it for a hall's screens."""
    shipped = REPO / "firmware_profiles" / "led-rs485-generic.yaml"
    data = yaml.safe_load(shipped.read_text())
    return {**data, "max_chars": max_chars}


def profile_message(node: Node, version: int, name: str, profile: dict[str, Any]) -> bytes:
    return signed(node, "device_profile", version, {"name": name, "profile": profile})


def test_a_pushed_device_profile_wins_over_the_packaged_one(
    node: Node, handler: InboundHandler
) -> None:
    """GIVEN a signed profile for the LED model WHEN it arrives (twice: retained, redelivered)
    THEN it is written to the data dir once and the devices load it instead of the packaged
    one; an older version is then refused and changes nothing."""
    topic = ct.profile_topic(node.hall.hall_id, "led-rs485-generic")
    first = handler.handle(topic, profile_message(node, 3, "led-rs485-generic", led_profile()))
    assert (first.accepted, first.code, first.kind) == (True, "applied", "device_profile")
    again = handler.handle(topic, profile_message(node, 3, "led-rs485-generic", led_profile()))
    assert again.duplicate
    pushed = node.data.profiles
    assert load_profile("led-rs485-generic", pushed_dir=pushed).max_chars == 24  # type: ignore[union-attr]
    assert load_profile("led-rs485-generic").max_chars == 16  # type: ignore[union-attr]
    written = (pushed / "led-rs485-generic.yaml").read_bytes()

    older = handler.handle(topic, profile_message(node, 2, "led-rs485-generic", led_profile(8)))
    assert (older.accepted, older.code) == (False, "stale_version")
    assert (pushed / "led-rs485-generic.yaml").read_bytes() == written


@pytest.mark.parametrize(
    ("name_on_topic", "name", "profile", "code"),
    [
        ("led-rs485-generic", "led-rs485-generic", {**led_profile(), "baud": 9600}, "invalid_data"),
        (
            "led-rs485-generic",
            "led-rs485-generic",
            {**led_profile(), "kind": "printer"},
            "invalid_data",
        ),
        ("led-rs485-generic", "other-model", led_profile(), "wrong_target"),
        ("led-rs485-generic", "../hall", led_profile(), "invalid_data"),
        ("escpos-80mm", "escpos-80mm", led_profile(), "invalid_data"),  # a printer's name
    ],
)
def test_a_bad_device_profile_is_refused_and_writes_nothing(
    node: Node, handler: InboundHandler, name_on_topic: str, name: str, profile: dict, code: str
) -> None:
    topic = ct.profile_topic(node.hall.hall_id, name_on_topic)
    outcome = handler.handle(topic, profile_message(node, 1, name, profile))
    assert (outcome.accepted, outcome.code) == (False, code), outcome.reason
    assert not node.data.profiles.exists()


def test_a_profile_that_cannot_be_written_is_refused_and_the_next_message_applies(
    node: Node, runtime: CoreRuntime, tmp_path: Path
) -> None:
    """A full or read-only disk: the profile is refused (its version not recorded, so the
    retained copy applies after the fix), and the handler goes on with the next message."""
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the profiles folder should be")
    handler = InboundHandler(
        runtime,
        node.hall.hall_id,
        node.node.node_id,
        KEY.public_key(),
        node.data.hall_config,
        profiles_path=blocked / "profiles",
    )
    topic = ct.profile_topic(node.hall.hall_id, "led-rs485-generic")
    message = profile_message(node, 1, "led-rs485-generic", led_profile())
    failed = handler.handle(topic, message)
    assert (failed.accepted, failed.code) == (False, "write_failed"), failed.reason
    notice = {"notice_id": "n1", "text_zh": "今天正常办公"}
    applied = handler.handle(
        ct.notice_topic(node.hall.hall_id, "n1"), signed(node, "notice", 1, notice)
    )
    assert applied.code == "applied"
    handler.profiles_path = node.data.profiles  # the disk fixed: the retained copy comes again
    assert handler.handle(topic, message).code == "applied"


def test_roster_and_notice_are_applied_once(
    node: Node, runtime: CoreRuntime, handler: InboundHandler
) -> None:
    roster = {"roster_id": "r-2030-05-06", "entries": [_roster_entry(code="APPT-1")]}
    topic = ct.roster_topic(node.hall.hall_id)
    assert handler.handle(topic, signed(node, "roster", 1, roster)).code == "applied"
    assert handler.handle(topic, signed(node, "roster", 1, roster)).code == "duplicate"
    codes = runtime._query(lambda s: s.conn.execute("SELECT code FROM appointments").fetchall())
    assert codes == [("APPT-1",)]

    notice = {"notice_id": "n1", "text_zh": "今天下午停电检修", "text_en": "Power cut at 3 pm"}
    n_topic = ct.notice_topic(node.hall.hall_id, "n1")
    assert handler.handle(n_topic, signed(node, "notice", 1, notice)).code == "applied"
    assert runtime._query(lambda s: s.state.notices["n1"]["text_zh"]) == "今天下午停电检修"


def test_a_signed_calendar_closes_the_hall_and_forged_or_stale_ones_change_nothing(
    node: Node, runtime: CoreRuntime, handler: InboundHandler
) -> None:
    """GIVEN a hall taking tickets WHEN central pushes a calendar making today a holiday
    THEN tickets are refused; a forged copy and an older version are refused and change
    nothing."""
    today = dt.datetime.now(node.hall.zone).date()
    days = {"start": (today - dt.timedelta(days=1)).isoformat()}
    days["end"] = (today + dt.timedelta(days=1)).isoformat()
    holiday = {"holidays": [{**days, "name_zh": "临时闭厅", "name_en": "Closed"}]}
    topic = ct.calendar_topic(node.hall.hall_id)
    runtime.execute(c.IssueTicket("household"))  # open before

    forged = signed(node, "calendar", 2, holiday, key=generate_key())
    before = snapshot(node, runtime)
    assert handler.handle(topic, forged).code == "bad_signature"
    assert snapshot(node, runtime) == before

    assert handler.handle(topic, signed(node, "calendar", 2, holiday)).code == "applied"
    with pytest.raises(errors.ServiceClosed):
        runtime.execute(c.IssueTicket("household"))
    assert handler.handle(topic, signed(node, "calendar", 2, holiday)).code == "duplicate"
    before = snapshot(node, runtime)
    stale = handler.handle(topic, signed(node, "calendar", 1, {}))
    assert (stale.accepted, stale.code) == (False, "stale_version")
    assert snapshot(node, runtime) == before
    assert runtime._query(lambda s: s.state.calendar_version) == 2
    bad = handler.handle(topic, signed(node, "calendar", 3, {"holidays": [{"start": "x"}]}))
    assert (bad.accepted, bad.code) == (False, "invalid_data")


class _CrashAfterCommit:
    """The store's cursor, except that a meta write outside any transaction (one that
    would follow a command's commit as a statement of its own) fails like a power cut."""

    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if "INTO meta" in sql and not self._cur.connection.in_transaction:
            raise sqlite3.OperationalError("simulated crash between commit and meta write")
        return self._cur.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


def _roster_message(node: Node) -> tuple[str, bytes, str]:
    data = {"roster_id": "r-2030-05-06", "entries": [_roster_entry(code="APPT-9")]}
    return ct.roster_topic(node.hall.hall_id), signed(node, "roster", 4, data), "AppointmentsLoaded"


def _notice_message(node: Node) -> tuple[str, bytes, str]:
    data = {"notice_id": "n9", "text_zh": "今天下午停电检修"}
    topic = ct.notice_topic(node.hall.hall_id, "n9")
    return topic, signed(node, "notice", 4, data), "NoticePublished"


@pytest.mark.parametrize("message", [_roster_message, _notice_message])
def test_a_crash_after_applying_never_applies_the_retained_message_twice(
    node: Node,
    runtime: CoreRuntime,
    handler: InboundHandler,
    message: Callable[[Node], tuple[str, bytes, str]],
) -> None:
    """GIVEN a roster or notice applied through the core
    WHEN the process dies right after the command's commit, and on restart the broker hands
    over the retained message again THEN it is a duplicate: its version was committed with
    the command, one event, not two."""
    topic, payload, event_type = message(node)

    def crash_after_commit(store: Any) -> None:
        store._cur = _CrashAfterCommit(store._cur)

    runtime._query(crash_after_commit)
    with contextlib.suppress(sqlite3.OperationalError):  # the "crash" (before the fix)
        handler.handle(topic, payload)
    runtime.stop()

    restarted = node.runtime().start()
    try:
        again = InboundHandler(
            restarted, node.hall.hall_id, node.node.node_id, KEY.public_key(), None
        ).handle(topic, payload)
        count = restarted._query(
            lambda s: s.conn.execute(
                "SELECT COUNT(*) FROM events WHERE type = ?", (event_type,)
            ).fetchone()[0]
        )
    finally:
        restarted.stop()
    assert (again.accepted, again.code) == (True, "duplicate")
    assert count == 1


# ---- refused -------------------------------------------------------------------------------
def _too_large(node: Node) -> tuple[str, bytes]:
    data = config_data(node)
    data["display"] = {"notice_zh": "很" * 200_000}
    return ct.config_topic(node.hall.hall_id), signed(node, "hall_config", 5, data)


def _tampered(node: Node) -> tuple[str, bytes]:
    envelope = json.loads(signed(node, "hall_config", 5, config_data(node)))
    envelope["body"] = envelope["body"].replace("新名字", "坏名字")
    return ct.config_topic(node.hall.hall_id), json.dumps(envelope).encode()


def sign_text(text: str) -> bytes:
    """An envelope around a body given as text (signed by central, whatever it holds)."""
    signature = base64.b64encode(KEY.sign(text.encode("utf-8"))).decode("ascii")
    return json.dumps({"schema_version": 1, "body": text, "signature": signature}).encode()


def _unsigned(node: Node) -> tuple[str, bytes]:
    envelope = json.loads(signed(node, "hall_config", 5, config_data(node)))
    del envelope["signature"]
    return ct.config_topic(node.hall.hall_id), json.dumps(envelope).encode()


def _envelope_v2(node: Node) -> tuple[str, bytes]:
    envelope = json.loads(signed(node, "hall_config", 5, config_data(node)))
    envelope["schema_version"] = 2
    return ct.config_topic(node.hall.hall_id), json.dumps(envelope).encode()


def _body_v2(node: Node) -> tuple[str, bytes]:
    body = make_body("hall_config", node.hall.hall_id, 5, config_data(node))
    body["schema_version"] = 2
    return ct.config_topic(node.hall.hall_id), sign_body(KEY, body)


def _bad_config(node: Node) -> tuple[str, bytes]:
    data = config_data(node)
    data["windows"][0]["services"] = ["no-such-service"]
    return ct.config_topic(node.hall.hall_id), signed(node, "hall_config", 5, data)


def _roster_unknown_service(node: Node) -> tuple[str, bytes]:
    data = {"roster_id": "r", "entries": [_roster_entry(code="X", service="astrology")]}
    return ct.roster_topic(node.hall.hall_id), signed(node, "roster", 1, data)


def _roster_with(**changes: Any) -> Callable[[Node], tuple[str, bytes]]:
    def make(node: Node) -> tuple[str, bytes]:
        data = {"roster_id": "r", "entries": [_roster_entry(**changes)]}
        return ct.roster_topic(node.hall.hall_id), signed(node, "roster", 1, data)

    return make


REFUSALS: dict[str, tuple[Callable[[Node], tuple[str, bytes]], str]] = {
    "roster name holding a full ID number": (
        _roster_with(citizen_name="11010519491231002X"),
        "invalid_data",
    ),
    "roster name not masked": (_roster_with(citizen_name="张三丰"), "invalid_data"),
    "roster name of Latin letters not masked": (
        _roster_with(citizen_name="John Smith"),
        "invalid_data",
    ),
    "roster slot that ends before it starts": (
        _roster_with(slot_end="2030-05-06T08:00:00+00:00"),
        "invalid_data",
    ),
    "roster slot without a time zone": (
        _roster_with(slot_start="2030-05-06T09:00:00"),
        "invalid_data",
    ),
    "version 2^63-1 (would lock the topic)": (
        lambda n: (
            ct.config_topic(n.hall.hall_id),
            signed(n, "hall_config", 2**63 - 1, config_data(n)),
        ),
        "version_too_far",
    ),
    "notice version far ahead": (
        lambda n: (
            ct.notice_topic(n.hall.hall_id, "n1"),
            signed(n, "notice", 10**13 + 1, {"notice_id": "n1", "text_zh": "远"}),
        ),
        "version_too_far",
    ),
    "issued in 2099": (
        lambda n: (
            ct.config_topic(n.hall.hall_id),
            signed(
                n,
                "hall_config",
                5,
                config_data(n),
                issued_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
            ),
        ),
        "from_the_future",
    ),
    "issued without a time zone": (
        lambda n: (
            ct.config_topic(n.hall.hall_id),
            signed(n, "hall_config", 5, config_data(n), issued_at=dt.datetime(2026, 1, 1)),
        ),
        "invalid_data",
    ),
    "malformed json": (
        lambda n: (ct.config_topic(n.hall.hall_id), b'{"schema_version": 1,'),
        "malformed_json",
    ),
    "not an object": (lambda n: (ct.config_topic(n.hall.hall_id), b"[1, 2]"), "malformed_json"),
    "binary garbage": (
        lambda n: (ct.config_topic(n.hall.hall_id), b"\xff\xfe\x00"),
        "malformed_json",
    ),
    "a 5,000-digit integer": (
        lambda n: (ct.config_topic(n.hall.hall_id), b'{"schema_version": ' + b"9" * 5000 + b"}"),
        "malformed_json",
    ),
    "20,000 levels of nesting": (
        lambda n: (ct.config_topic(n.hall.hall_id), b"[" * 20_000 + b"]" * 20_000),
        "malformed_json",
    ),
    "a signed body holding a 5,000-digit integer": (
        lambda n: (
            ct.config_topic(n.hall.hall_id),
            sign_text('{"schema_version": 1, "version": ' + "9" * 5000 + "}"),
        ),
        "malformed_json",
    ),
    "wrong envelope schema version": (_envelope_v2, "wrong_schema_version"),
    "wrong body schema version": (_body_v2, "wrong_schema_version"),
    "oversized payload": (_too_large, "too_large"),
    "unknown topic": (
        lambda n: (
            f"hall/v1/{n.hall.hall_id}/hall/firmware",
            signed(n, "hall_config", 5, config_data(n)),
        ),
        "unknown_topic",
    ),
    "unsigned": (_unsigned, "unsigned"),
    "signed by another key": (
        lambda n: (
            ct.config_topic(n.hall.hall_id),
            signed(n, "hall_config", 5, config_data(n), key=generate_key()),
        ),
        "bad_signature",
    ),
    "body changed after signing": (_tampered, "bad_signature"),
    "expired": (
        lambda n: (
            ct.config_topic(n.hall.hall_id),
            signed(
                n,
                "hall_config",
                5,
                config_data(n),
                issued_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2),
                expires_in=dt.timedelta(days=1),
            ),
        ),
        "expired",
    ),
    "other hall": (
        lambda n: (
            ct.config_topic(n.hall.hall_id),
            signed(n, "hall_config", 5, config_data(n), hall_id="other-hall"),
        ),
        "wrong_target",
    ),
    "roster on the config topic": (
        lambda n: (
            ct.config_topic(n.hall.hall_id),
            signed(n, "roster", 5, {"roster_id": "r", "entries": []}),
        ),
        "wrong_kind",
    ),
    "version beyond a 64-bit integer": (
        lambda n: (
            ct.config_topic(n.hall.hall_id),
            signed(n, "hall_config", 2**64, config_data(n)),
        ),
        "invalid_data",
    ),
    "invalid hall config": (_bad_config, "invalid_data"),
    "roster for an unknown service": (_roster_unknown_service, "refused_by_core.unknown_service"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_bad_inbound_is_refused_with_its_reason_and_changes_nothing(
    case: str, node: Node, runtime: CoreRuntime, handler: InboundHandler
) -> None:
    make, code = REFUSALS[case]
    topic, payload = make(node)
    before = snapshot(node, runtime)
    outcome = handler.handle(topic, payload)
    assert (outcome.accepted, outcome.code) == (False, code), outcome.reason
    assert outcome.reason
    assert snapshot(node, runtime) == before


def test_without_a_central_key_everything_signed_is_refused(
    node: Node, runtime: CoreRuntime
) -> None:
    keyless = InboundHandler(
        runtime, node.hall.hall_id, node.node.node_id, None, node.data.hall_config
    )
    before = snapshot(node, runtime)
    payload = signed(node, "hall_config", 5, config_data(node))
    outcome = keyless.handle(ct.config_topic(node.hall.hall_id), payload)
    assert (outcome.accepted, outcome.code) == (False, "no_central_key")
    assert snapshot(node, runtime) == before


# ---- through the broker --------------------------------------------------------------------
@pytest.mark.mqtt
def test_retained_config_applied_over_mqtt_and_refusals_reported_upward(
    broker: Broker, ingest: CentralIngest, node: Node, runtime: CoreRuntime, tmp_path: Path
) -> None:
    """GIVEN central publishes a signed config and a device profile (retained) and a badly
    signed notice THEN the node applies the config and the profile, refuses the notice, and
    central records the three results;
    a ``resync`` command makes the node resend its log, still stored once."""
    issue_tickets(node, 12)
    client = new_client("central-test", parse_broker_url(broker.url))
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    hall_id, node_id = node.hall.hall_id, node.node.node_id
    try:
        client.publish(
            ct.config_topic(hall_id), signed(node, "hall_config", 7, config_data(node)), 1, True
        ).wait_for_publish(5)
        bad = signed(node, "notice", 1, {"notice_id": "n9", "text_zh": "假"}, key=generate_key())
        client.publish(ct.notice_topic(hall_id, "n9"), bad, 1, True).wait_for_publish(5)
        profile = profile_message(node, 1, "led-rs485-generic", led_profile())
        client.publish(
            ct.profile_topic(hall_id, "led-rs485-generic"), profile, 1, True
        ).wait_for_publish(5)

        handle = start_sync(node, runtime, broker.url, SyncSettings(ack_timeout_s=2))
        assert handle is not None
        try:
            assert wait_until(lambda: runtime._query(lambda s: s.state.config_version) == 7, 15)
            assert handle.wait_synced(15)
            db = CentralStore(tmp_path / "central.db")
            assert wait_until(
                lambda: db.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] >= 3, 10
            )
            results = db.conn.execute(
                "SELECT topic, accepted, code FROM results ORDER BY accepted, topic"
            ).fetchall()
            assert results == [
                (ct.notice_topic(hall_id, "n9"), 0, "bad_signature"),
                (ct.config_topic(hall_id), 1, "applied"),
                (ct.profile_topic(hall_id, "led-rs485-generic"), 1, "applied"),
            ]
            assert (node.data.profiles / "led-rs485-generic.yaml").exists()
            assert handle.status()["refused"][0]["code"] == "bad_signature"

            before = ingest.stats().duplicates
            command = signed(
                node,
                "command",
                1,
                {"name": "resync", "from_seq": 1},
                node_id=node_id,
                expires_in=HOUR,
            )
            client.publish(ct.command_topic(hall_id, node_id), command, 1).wait_for_publish(5)
            total = runtime._query(lambda s: s.last_seq)
            assert wait_until(lambda: ingest.stats().duplicates - before >= total, 15)
            count = db.conn.execute(
                "SELECT COUNT(*), MIN(seq), MAX(seq) FROM events WHERE node_id = ?", (node_id,)
            ).fetchone()
            assert count == (total, 1, total)
            db.close()
        finally:
            handle.stop()
    finally:
        client.loop_stop()
        client.disconnect()


def test_masked_names_and_timestamp_versions_are_accepted(
    node: Node, runtime: CoreRuntime, handler: InboundHandler
) -> None:
    entries = [
        _roster_entry(code=f"A{i}", citizen_name=name)
        for i, name in enumerate(["张*", "欧***", "J. S.", ""])
    ]
    topic = ct.roster_topic(node.hall.hall_id)
    first = signed(node, "roster", 1_764_000_000_000, {"roster_id": "r", "entries": entries})
    assert handler.handle(topic, first).code == "applied"  # epoch milliseconds as a version
    second = signed(node, "roster", 1_764_000_060_000, {"roster_id": "r2", "entries": entries})
    assert handler.handle(topic, second).code == "applied"


@contextlib.contextmanager
def central_client(broker: Broker, name: str) -> Iterator[Any]:
    """A plain MQTT client playing central's publisher."""
    client = new_client(name, parse_broker_url(broker.url))
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        yield client
    finally:
        client.loop_stop()
        client.disconnect()


@pytest.mark.mqtt
def test_a_burst_of_400_retained_notices_is_applied_in_full_never_busy(
    broker: Broker, ingest: CentralIngest, node: Node, runtime: CoreRuntime, tmp_path: Path
) -> None:
    """GIVEN 400 signed notices retained on the broker (more than the node takes in flight)
    WHEN the node connects THEN every one is applied and reported ``applied``: the broker
    holds the rest until the node acknowledges (MQTT 5 receive maximum), nothing is dropped."""
    hall_id = node.hall.hall_id
    with central_client(broker, "central-burst") as client:
        for i in range(400):
            data = {"notice_id": f"n{i:03d}", "text_zh": f"通知 {i}"}
            payload = signed(node, "notice", 1, data)
            info = client.publish(ct.notice_topic(hall_id, f"n{i:03d}"), payload, 1, True)
        info.wait_for_publish(10)  # (the broker takes one connection's messages in order)
    settings = SyncSettings(ack_timeout_s=2, inbound_in_flight=20)
    handle = start_sync(node, runtime, broker.url, settings)
    assert handle is not None
    try:
        assert wait_until(lambda: len(runtime._query(lambda s: s.state.notices)) == 400, 60)
        db = CentralStore(tmp_path / "central.db")
        count = "SELECT code, COUNT(*) FROM results GROUP BY code"
        assert wait_until(lambda: db.conn.execute(count).fetchall() == [("applied", 400)], 30)
        db.close()
        assert handle.status()["refused"] == []
    finally:
        handle.stop()


@pytest.mark.mqtt
def test_a_live_burst_is_applied_in_the_order_sent(
    broker: Broker, ingest: CentralIngest, node: Node, runtime: CoreRuntime
) -> None:
    hall_id = node.hall.hall_id
    issue_tickets(node, 1)
    handle = start_sync(node, runtime, broker.url, SyncSettings(inbound_in_flight=10))
    assert handle is not None
    try:
        # acks came back: subscribed, so the burst below is not published into the void
        assert wait_until(lambda: handle.status()["persisted_seq"] == 1, 15)
        with central_client(broker, "central-live") as client:
            for version in range(1, 201):
                data = {"notice_id": "rolling", "text_zh": f"第 {version} 版"}
                payload = signed(node, "notice", version, data)
                client.publish(ct.notice_topic(hall_id, "rolling"), payload, 1)

            def latest() -> str | None:
                return runtime._query(lambda s: s.state.notices.get("rolling", {}).get("text_zh"))

            assert wait_until(lambda: latest() == "第 200 版", 60)
        events = runtime._query(lambda s: list(s.events_since(0)))
        texts = [e.payload["text_zh"] for e in events if e.type == "NoticePublished"]
        assert texts == [f"第 {v} 版" for v in range(1, 201)]  # all, in order: none stale
    finally:
        handle.stop()


def signed_version(payload: bytes) -> int:
    """The version in a signed message (read without checking the signature)."""
    return int(json.loads(json.loads(payload)["body"])["version"])


def ack_carrying(node: Node, clock_offset_s: float) -> str:
    """An ack that moves nothing, with a clock offset that shows in the status on arrival."""
    return ct.Ack(
        schema_version=1,
        node_id=node.node.node_id,
        acked_seq=0,
        central_time=dt.datetime.now(dt.UTC).isoformat(),
        clock_offset_s=clock_offset_s,
    ).model_dump_json()


@pytest.mark.mqtt
def test_a_topic_stays_in_order_when_an_ack_arrives_between_notices_held_in_the_core(
    broker: Broker, node: Node, runtime: CoreRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a downlink window of 2, notice versions 1 and 2 held in the node's handler and,
    queued at the broker, version 3, an ack from central, version 4
    WHEN version 1 is handled (the broker sends 3 and the ack), then central publishes 5
    THEN versions 1 to 5 are applied in order, none refused: the node acknowledges the ack only
    after the notices that came before it (MQTT 5 section 4.6). Acknowledged at once, out of
    order, Mosquitto 2.0.11 (Debian 12's) counted a free slot with 4 still queued and sent 5
    ahead of it; 4 was then refused as stale."""
    gates = {1: threading.Event(), 2: threading.Event()}
    handle_now = InboundHandler.handle

    def held(self: InboundHandler, topic: str, payload: bytes) -> Any:
        gate = gates.get(signed_version(payload))
        if gate is not None:
            gate.wait(30)
        return handle_now(self, topic, payload)

    monkeypatch.setattr(InboundHandler, "handle", held)
    hall_id = node.hall.hall_id
    notice_topic = ct.notice_topic(hall_id, "rolling")
    ack_topic = ct.ack_topic(hall_id, node.node.node_id)

    def notice(version: int) -> bytes:
        return signed(
            node, "notice", version, {"notice_id": "rolling", "text_zh": f"第 {version} 版"}
        )

    with central_client(broker, "central-order") as client:
        # retained: its arrival shows the node subscribed
        client.publish(ack_topic, ack_carrying(node, 1.0), 1, True).wait_for_publish(5)
        handle = start_sync(node, runtime, broker.url, SyncSettings(inbound_in_flight=2))
        assert handle is not None
        try:
            assert wait_until(lambda: handle.status()["clock_offset_s"] == 1.0, 15)
            for message in (notice(1), notice(2), notice(3)):
                client.publish(notice_topic, message, 1)
            client.publish(ack_topic, ack_carrying(node, 2.0), 1)
            client.publish(notice_topic, notice(4), 1).wait_for_publish(5)
            gates[1].set()
            assert wait_until(lambda: handle.status()["clock_offset_s"] == 2.0, 15)
            client.publish(notice_topic, notice(5), 1).wait_for_publish(5)
            gates[2].set()

            def latest() -> str | None:
                return runtime._query(lambda s: s.state.notices.get("rolling", {}).get("text_zh"))

            assert wait_until(lambda: latest() == "第 5 版", 15)
            events = runtime._query(lambda s: list(s.events_since(0)))
            texts = [e.payload["text_zh"] for e in events if e.type == "NoticePublished"]
            assert texts == [f"第 {v} 版" for v in range(1, 6)]
            assert handle.status()["refused"] == []
        finally:
            for gate in gates.values():  # (a failed wait above leaves no handler held)
                gate.set()
            handle.stop()


@pytest.mark.mqtt
def test_a_resync_the_core_fails_on_is_retried_and_the_sync_goes_on(
    broker: Broker,
    ingest: CentralIngest,
    node: Node,
    runtime: CoreRuntime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GIVEN the core fails once (StoreError) when a ``resync`` resets the watermark
    THEN the sync thread logs it, runs the resync on a later round and keeps syncing."""
    failures: list[int] = []

    def reset_failing_once(seq: int, timeout: float = 30.0) -> None:
        if not failures:
            failures.append(seq)
            raise StoreError("the core is busy: its inbox has been full for 10 s")
        reset(seq, timeout)

    reset = runtime.reset_watermark
    monkeypatch.setattr(runtime, "reset_watermark", reset_failing_once)
    issue_tickets(node, 12)
    hall_id, node_id = node.hall.hall_id, node.node.node_id
    handle = start_sync(node, runtime, broker.url, SyncSettings(ack_timeout_s=2))
    assert handle is not None
    client = new_client("central-test", parse_broker_url(broker.url))
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        # acks came back: subscribed, so the command below is not published into the void
        assert wait_until(lambda: handle.status()["persisted_seq"] == 12, 15)
        before = ingest.stats().duplicates
        command = signed(
            node, "command", 1, {"name": "resync", "from_seq": 1}, node_id=node_id, expires_in=HOUR
        )
        client.publish(ct.command_topic(hall_id, node_id), command, 1).wait_for_publish(5)
        assert wait_until(lambda: ingest.stats().duplicates - before >= 12, 15)  # resent
        assert failures == [0]
        runtime.execute(c.IssueTicket("social-security"))  # the thread still runs
        assert handle.wait_synced(15)
    finally:
        client.loop_stop()
        client.disconnect()
        handle.stop()
