"""Attacks on the hall LAN through the shipped hall broker, each with a terminal's own login.

After each refused attack a normal request from another terminal succeeds and the refused
requests wrote nothing (the hub's last seq is unchanged by them).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import commands as c
from agent.privacy import citizen_hash, citizen_key
from sync.lan import LanSettings, RemoteError, wire
from sync.mqtt import client_for, parse_broker_url
from sync.status import read_status
from tests.support import wait_until
from tests.sync.conftest import LAN_TERMINALS, HallBroker
from tests.sync.test_lan import WAIT, Hall, Probe, hub_node, running_hub
from tests.sync.test_lan import hall as hall  # the hub on the shipped broker
from tests.sync.test_lan import probe as probe  # raw MQTT as the kiosk login ``probe``

pytestmark = pytest.mark.mqtt

ISSUE = b'{"type": "IssueTicket", "args": {"service": "household"}}'


def still_serves(hall: Hall, before: int) -> None:
    """Nothing was written since ``before``, and another terminal is served normally."""
    assert hall.last_seq() == before
    result = hall.terminal("kiosk-2").execute(c.IssueTicket("civil-affairs"), timeout=WAIT)
    assert result["ticket"]["number"].startswith("C")
    assert hall.last_seq() == before + 1


# ---- texts and shapes --------------------------------------------------------------------
HOSTILE = [
    pytest.param(
        b'{"type":"IssueTicket","args":{"service":"\\ud800"}}', "bad_text", id="lone-surrogate"
    ),
    pytest.param(
        b'{"type":"IssueTicket","args":{"service":"house\\u0000hold"}}', "bad_text", id="nul"
    ),
    pytest.param(
        b'{"type":"IssueTicket","args":{"service":"a\\u202eb"}}', "bad_text", id="bidi-override"
    ),
    pytest.param(
        json.dumps({"type": "IssueTicket", "args": {"service": "x" * 300}}).encode(),
        "text_too_long",
        id="long-text",
    ),
    pytest.param(b"[" * 2000 + b"]" * 2000, "too_deep", id="2000-levels"),
    pytest.param(
        b'{"query":"now","args":{"a":"' + b"[" * 200 + b'"}}', "bad_args", id="brackets-in-text"
    ),
    pytest.param(
        json.dumps({"query": "now", "args": {str(i): i for i in range(40)}}).encode(),
        "too_many_entries",
        id="wide-object",
    ),
    pytest.param(
        b'{"query":"waiting_list","args":{"window":1,"limit":1000000}}', "bad_args", id="limit"
    ),
]


@pytest.mark.parametrize(("payload", "reason"), HOSTILE)
def test_a_hostile_request_is_bad_request_and_the_hub_keeps_serving(
    hall: Hall, probe: Probe, payload: bytes, reason: str
) -> None:
    """GIVEN a hub WHEN a kiosk login sends a malformed request twice THEN both answers are
    ``bad_request`` with its reason, nothing is written, and every later request is served
    (a lone surrogate used to make every later request ``internal_error``)."""
    before = hall.last_seq()
    for attempt in (b"1", b"2"):
        probe.send(payload, correlation=b"hostile-" + attempt)
        correlation, reply = probe.reply()
        assert correlation == b"hostile-" + attempt
        assert reply["ok"] is False and reply["error"]["code"] == "bad_request"
        assert reply["error"]["reason"] == reason
    probe.send(b'{"query": "now"}', correlation=b"after")
    assert probe.reply()[1]["ok"] is True
    still_serves(hall, before)


def test_a_masked_name_holding_an_id_number_is_refused(hall: Hall) -> None:
    kiosk = hall.terminal("kiosk-1")
    before = hall.last_seq()
    for name in ("110105199001011234", "张三", "J. 4."):
        hashed = citizen_hash(citizen_key(b"k" * 32, "x"), dt.date(2026, 11, 28))
        citizen = c.Citizen(hashed, masked_name=name)
        with pytest.raises(RemoteError) as refused:
            kiosk.execute(c.IssueTicket("household", citizen=citizen, channel="idcard"))
        assert refused.value.code == "bad_request"
        assert refused.value.details["reason"] == "bad_citizen"
    still_serves(hall, before)


# ---- reply inflation ---------------------------------------------------------------------
def test_long_device_names_are_refused_not_stored(hall: Hall, probe: Probe) -> None:
    """GIVEN a kiosk login WHEN it reports 300 devices with ~1,900-character names THEN each is
    refused (``bad_device``), nothing is stored, and ``hall_status`` stays small (270 of them
    used to push it past the broker's message size limit, for good)."""
    before = hall.last_seq()
    for i in range(300):
        name = f"{i:04d}" + "d" * 1900
        args = {"device": name, "status": "fault", "reason": "r" * 1900}
        payload = json.dumps({"type": "DeviceStatusChanged", "args": args}).encode()
        probe.send(payload, correlation=f"dev-{i}".encode())
    reasons = {probe.reply()[1]["error"].get("reason") for _ in range(300)}
    assert reasons == {"text_too_long"}
    still_serves(hall, before)
    status = hall.terminal("window-1").query("hall_status", timeout=WAIT)
    assert status["devices"] == {}


def test_a_terminal_keeps_a_bounded_number_of_devices(hall: Hall) -> None:
    """Distinct valid names: the first ones are recorded under the terminal's own name, one
    more than the bound is ``too_many_devices``; a known one may still change."""
    kiosk = hall.terminal("kiosk-1")
    for i in range(wire.MAX_DEVICES_PER_TERMINAL):
        kiosk.execute(c.DeviceStatusChanged(f"printer-{i}", "online"), timeout=WAIT)
    before = hall.last_seq()
    with pytest.raises(RemoteError) as refused:
        kiosk.execute(c.DeviceStatusChanged("one-too-many", "online"), timeout=WAIT)
    assert refused.value.code == "too_many_devices"
    still_serves(hall, before)
    kiosk.execute(c.DeviceStatusChanged("printer-0", "fault", "paper_out"), timeout=WAIT)
    devices = hall.terminal("window-1").query("hall_status", timeout=WAIT)["devices"]
    assert devices["kiosk-1/printer-0"] == {"status": "fault", "reason": "paper_out"}
    assert len(devices) == wire.MAX_DEVICES_PER_TERMINAL


def test_a_store_holding_inflated_device_rows_still_answers_hall_status(
    tmp_path: Path, hall_broker: HallBroker
) -> None:
    """GIVEN a store that already holds 300 device rows with ~1,900-character names (written
    before the limits) WHEN the hub starts and a window asks for ``hall_status`` THEN the reply
    arrives, leaves those rows out and says how many."""
    node = hub_node(tmp_path / "hub", hall_broker)
    store = node.store()
    try:
        for i in range(300):
            store.execute(c.DeviceStatusChanged(f"{i:04d}" + "d" * 1900, "fault", "r" * 1900))
        store.execute(c.DeviceStatusChanged("hub-printer", "online"))
    finally:
        store.close()
    with running_hub(node, hall_broker) as hub:
        status = hub.terminal("window-1").query("hall_status", timeout=WAIT)
        assert status["devices"] == {"hub-printer": {"status": "online", "reason": None}}
        assert status["devices_omitted"] == 300
        assert hub.server.stats_snapshot()["connects"] == 1  # never dropped by the broker
        # the old rows take no room from the terminals' devices
        hub.terminal("kiosk-1").execute(c.DeviceStatusChanged("printer", "online"), timeout=WAIT)


# ---- roles -------------------------------------------------------------------------------
FORBIDDEN: list[Any] = [
    *(
        pytest.param("kiosk-1", command, id=f"kiosk-{type(command).__name__}")
        for command in (
            c.CallNext(1),
            c.Recall(1),
            c.MarkNoShow(1),
            c.StartService(1),
            c.FinishService(1),
            c.Transfer(1, "household"),
            c.PauseWindow(1, "break"),
            c.ResumeWindow(1),
            c.RecordEvaluation(1, 5),
            c.Reactivate("A001"),
            c.CancelTicket("A001"),
        )
    ),
    pytest.param("kiosk-1", c.IssueTicket("household", staff_priority=True), id="kiosk-staff"),
    pytest.param("kiosk-1", c.IssueTicket("household", channel="staff"), id="kiosk-channel"),
    pytest.param("window-1", c.CallNext(3), id="window-other-window"),
    pytest.param("window-1", c.PauseWindow(2, "break"), id="window-pause-other"),
    pytest.param("window-1", c.RecordEvaluation(3, 1), id="window-rate-other"),
    pytest.param("window-1", c.CheckIn("APT-1"), id="window-checkin"),
    pytest.param("display-1", c.IssueTicket("social-security"), id="display-issue"),
    pytest.param("display-1", c.CallNext(1), id="display-call"),
    pytest.param("display-1", c.CancelTicket("A001"), id="display-cancel"),
    pytest.param("display-1", c.RecordEvaluation(1, 1), id="display-rate"),
]


@pytest.mark.parametrize(("terminal_id", "command"), FORBIDDEN)
def test_a_command_outside_the_terminals_role_is_forbidden(
    hall: Hall, terminal_id: str, command: c.Command
) -> None:
    """GIVEN a waiting ticket A001 (so the command could run) WHEN a terminal sends a command
    its role may not THEN ``forbidden``, and nothing is written."""
    hall.terminal("kiosk-2").execute(c.IssueTicket("social-security"), timeout=WAIT)
    terminal = hall.terminal(terminal_id)
    before = hall.last_seq()
    with pytest.raises(RemoteError) as refused:
        terminal.execute(command, timeout=WAIT)
    assert refused.value.code == "forbidden"
    assert refused.value.details["terminal"] == terminal_id
    still_serves(hall, before)
    assert hall.server.stats_snapshot()["forbidden"] == 1


@pytest.mark.parametrize(
    ("terminal_id", "query", "args"),
    [
        ("display-1", "waiting_list", {"window": 1}),
        ("display-1", "ticket", {"number": "A001"}),
        ("kiosk-1", "waiting_list", {"window": 1}),
        ("window-1", "waiting_list", {"window": 3}),
    ],
)
def test_a_read_outside_the_terminals_role_is_forbidden(
    hall: Hall, terminal_id: str, query: str, args: dict[str, Any]
) -> None:
    with pytest.raises(RemoteError) as refused:
        hall.terminal(terminal_id).query(query, timeout=WAIT, **args)
    assert refused.value.code == "forbidden"
    assert hall.terminal("window-pc-1").query("waiting_list", window=2, timeout=WAIT) == []


def test_a_window_pc_acts_on_each_of_its_windows(hall: Hall) -> None:
    window = hall.terminal("window-pc-1")  # windows 1 and 2
    hall.terminal("kiosk-1").execute(c.IssueTicket("household"), timeout=WAIT)
    assert window.execute(c.CallNext(2), timeout=WAIT)["ticket"]["number"] == "B001"
    assert window.execute(c.PauseWindow(1, "break"), timeout=WAIT)["events"] == ["WindowPaused"]
    staff = window.execute(c.IssueTicket("household", staff_priority=True, channel="staff"))
    assert staff["ticket"]["priority"] == "staff"


def test_a_login_the_hubs_hall_yaml_does_not_name_is_refused(
    tmp_path: Path, hall_broker: HallBroker
) -> None:
    """GIVEN a broker whose logins include kiosk-2 and a hub whose hall.yaml no longer names it
    WHEN kiosk-2 asks anything THEN ``unknown_terminal``; kiosk-1 is served."""
    terminals = [t for t in LAN_TERMINALS if t["id"] != "kiosk-2"]
    node = hub_node(tmp_path / "hub", hall_broker, terminals=terminals)
    with running_hub(node, hall_broker) as hub:
        stranger, kiosk = hub.terminal("kiosk-2"), hub.terminal("kiosk-1")
        for request in (
            lambda: stranger.query("now", timeout=WAIT),
            lambda: stranger.execute(c.IssueTicket("household"), timeout=WAIT),
        ):
            with pytest.raises(RemoteError) as refused:
                request()
            assert refused.value.code == "unknown_terminal"
        assert kiosk.execute(c.IssueTicket("household"), timeout=WAIT)["ticket"]
        assert hub.last_seq() == 1


# ---- floods ------------------------------------------------------------------------------
@pytest.fixture
def strict_hall(tmp_path: Path, hall_broker: HallBroker) -> Iterator[Hall]:
    """A hub allowing 5 tickets at once per terminal and (in a test's time) no more."""
    settings = LanSettings(issue_burst=5, issue_per_minute=0.001)
    with running_hub(hub_node(tmp_path / "hub", hall_broker), hall_broker, settings) as h:
        yield h


def test_a_flood_from_one_kiosk_is_rate_limited_and_others_are_served(strict_hall: Hall) -> None:
    """GIVEN a burst of 5 per terminal WHEN one kiosk login sends 40 ticket requests at once
    THEN 5 are issued, 35 are ``rate_limited`` (counted for that terminal, in the hub's
    status too), and another kiosk is still served."""
    hall = strict_hall
    probe = Probe(hall.broker, hall.hall_id)
    try:
        for i in range(40):
            probe.send(ISSUE, correlation=f"flood-{i}".encode())
        replies = [probe.reply()[1] for _ in range(40)]
    finally:
        probe.close()
    issued = [r for r in replies if r["ok"]]
    limited = [r["error"] for r in replies if not r["ok"]]
    assert len(issued) == 5
    assert {e["code"] for e in limited} == {"rate_limited"} and len(limited) == 35
    assert all(e["retry_after_s"] > 0 for e in limited)
    stats = hall.server.stats_snapshot()
    assert stats["rate_limited"] == 35 and stats["rate_limited_by_terminal"] == {"probe": 35}
    still_serves(hall, hall.last_seq())

    def reported() -> dict[str, Any]:  # what ``hall-agent sync status`` shows
        return dict(read_status(hall.node).get("lan") or {})

    assert wait_until(lambda: reported().get("rate_limited") == 35, WAIT)
    assert reported()["rate_limited_by_terminal"] == {"probe": 35}


# ---- the broker --------------------------------------------------------------------------
def test_a_terminal_cannot_take_over_the_hubs_connection(hall: Hall) -> None:
    """GIVEN a hub online WHEN a kiosk login connects with the hub's client id (as the
    retained presence names its node) THEN the hub keeps its one session and is served."""
    kiosk2 = hall.terminal("kiosk-2")
    hijacker_id = f"{hall.node.node.node_id}-lan-hub"
    connected = threading.Event()
    hijacker = client_for(
        hall.broker.login("kiosk-1"), hijacker_id, parse_broker_url(hall.broker.url)
    )
    hijacker.on_connect = lambda *a: connected.set()
    try:
        hijacker.connect("127.0.0.1", hall.broker.port)
        hijacker.loop_start()
        assert connected.wait(WAIT)
        window = hall.terminal("window-1")
        assert window.query("now", timeout=WAIT)
        assert kiosk2.query("now", timeout=WAIT)
        assert hall.server.stats_snapshot()["connects"] == 1
    finally:
        hijacker.disconnect()
        hijacker.loop_stop()


def test_a_terminal_login_reads_no_requests_replies_or_other_feeds(hall: Hall) -> None:
    """GIVEN a display login subscribed to every request, every reply and every role's feed
    WHEN a kiosk issues a ticket THEN it receives only its own role's feed (the marker that
    the rest had its chance to arrive)."""
    got: queue.Queue[str] = queue.Queue()
    subscribed = threading.Event()
    spy = client_for(hall.broker.login("display-2"), "spy", parse_broker_url(hall.broker.url))
    spy.on_message = lambda cl, u, m: got.put(m.topic)
    spy.on_subscribe = lambda *a: subscribed.set()
    root = wire.lan_root(hall.hall_id)
    topics = ["request/+", "reply/+", "events/kiosk", "events/window", "events/display"]
    try:
        spy.connect("127.0.0.1", hall.broker.port)
        spy.loop_start()
        spy.subscribe([(f"{root}/{topic}", 1) for topic in topics])
        assert subscribed.wait(WAIT)
        hall.terminal("kiosk-2").execute(c.IssueTicket("household"), timeout=WAIT)
        assert got.get(timeout=WAIT) == wire.events_topic(hall.hall_id, "display")
    finally:
        spy.disconnect()
        spy.loop_stop()
    assert got.empty()


# ---- personal data -----------------------------------------------------------------------
def test_a_display_never_receives_check_in_codes_or_citizen_hashes(hall: Hall) -> None:
    """GIVEN a roster with a check-in code and a kiosk issuing by ID card and by appointment
    WHEN the display and a window follow their feeds THEN neither ever receives the code, the
    citizen hash, a roster or a masked name of a ticket row; a kiosk's feed neither."""
    feeds: dict[str, list[dict[str, Any]]] = {}
    for terminal_id in ("display-1", "window-1", "kiosk-2"):
        seen: list[dict[str, Any]] = []
        feeds[terminal_id] = seen
        hall.terminal(terminal_id).subscribe(seen.append)
    now = dt.datetime.now(hall.node.hall.zone)
    entry = c.RosterEntry("APT-SECRET-7", "household", now, now + dt.timedelta(hours=1), "李*")
    hall.runtime.execute(c.LoadAppointments("roster-1", (entry,)))
    kiosk = hall.terminal("kiosk-1")
    hashed = citizen_hash(citizen_key(b"k" * 32, "110105199001011234"), dt.date(2026, 11, 28))
    citizen = c.Citizen(hashed, masked_name="王*")
    kiosk.execute(c.IssueTicket("social-security", citizen=citizen, channel="idcard"))
    kiosk.execute(c.CheckIn("APT-SECRET-7", citizen=c.Citizen(hashed[::-1])), timeout=WAIT)
    last = hall.last_seq()
    for seen in feeds.values():
        assert wait_until(lambda seen=seen: bool(seen) and seen[-1]["seq"] == last, WAIT)
    for terminal_id, seen in feeds.items():
        text = json.dumps(seen, ensure_ascii=False)
        for secret in ("APT-SECRET-7", hashed, hashed[::-1], "citizen_hash", "王*", "李*"):
            assert secret not in text, (terminal_id, secret)
        types = [e["type"] for e in seen]
        assert types.count("TicketIssued") == 2 and "AppointmentsLoaded" in types


# ---- logging -----------------------------------------------------------------------------
def test_repeated_failures_are_logged_a_few_times_not_each_time(
    hall: Hall, probe: Probe, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN a fault that fails every request with a traceback WHEN 30 requests come THEN 30
    ``internal_error`` replies, and only a few tracebacks in the log."""

    def broken(name: str, args: Any = None) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(hall.runtime, "submit_read", broken)
    caplog.set_level(logging.ERROR, logger="sync.lan.server")
    for i in range(30):
        probe.send(b'{"query": "now"}', correlation=f"q-{i}".encode())
    codes = [probe.reply()[1]["error"]["code"] for _ in range(30)]
    assert codes == ["internal_error"] * 30
    failures = [r for r in caplog.records if r.exc_info]
    assert 1 <= len(failures) <= 3
