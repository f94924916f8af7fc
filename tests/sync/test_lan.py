"""The hall LAN plane against a real Mosquitto: terminals on other PCs reach the hub's queue.

The broker runs the shipped hall-broker.conf with the ACL and passwords generated from the
test hall's ``terminals`` (``HallBroker``); each terminal logs in as itself. Every wait is
bounded; timeouts are generous upper bounds, never a measure of speed.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent import commands as c
from agent.errors import NobodyWaiting, StoreError, WindowPaused
from agent.node_runtime import Node
from agent.runtime import CoreRuntime
from sync.lan import (
    BadRequest,
    HubUnreachable,
    LanClient,
    LanServer,
    LanSettings,
    RemoteError,
    wire,
)
from sync.mqtt import client_for, parse_broker_url
from tests.sync.conftest import (
    REPO,
    HallBroker,
    make_node,
    terminal_client,
    wait_line,
    wait_until,
)

pytestmark = pytest.mark.mqtt

WAIT = 20.0  # an upper bound for anything to arrive over loopback


@dataclass
class Hall:
    node: Node
    runtime: CoreRuntime
    server: LanServer
    broker: HallBroker
    clients: list[LanClient] = field(default_factory=list)

    @property
    def hall_id(self) -> str:
        return self.node.hall.hall_id

    def terminal(self, terminal_id: str, wait_hub: bool = True) -> LanClient:
        client = terminal_client(self.broker, terminal_id).start()
        self.clients.append(client)
        if wait_hub:
            assert client.wait_hub(WAIT), f"{terminal_id} never saw the hub online"
        return client

    def last_seq(self) -> int:
        return self.runtime.last_seq()


def hub_node(root: Path, broker: HallBroker, **changes: Any) -> Node:
    return make_node(root, hall_broker=broker.login("hub"), **changes)


@contextlib.contextmanager
def running_hub(
    node: Node, broker: HallBroker, settings: LanSettings | None = None
) -> Iterator[Hall]:
    """``node``'s core and LAN server, online; stopped (with its terminals) on leaving."""
    runtime = node.runtime(tick_seconds=3600).start()  # no tick events during a test
    server = LanServer(node, runtime, settings=settings).start()
    h = Hall(node, runtime, server, broker)
    try:
        assert server.wait_ready(WAIT)
        yield h
    finally:
        for client in h.clients:
            client.stop()
        server.stop()
        runtime.stop()


@pytest.fixture
def hall(tmp_path: Path, hall_broker: HallBroker) -> Iterator[Hall]:
    with running_hub(hub_node(tmp_path / "hub", hall_broker), hall_broker) as h:
        yield h


class Probe:
    """A raw MQTT 5 requester, to send what a well-behaved LanClient never would."""

    def __init__(self, broker: HallBroker, hall_id: str, terminal_id: str = "probe") -> None:
        self.hall_id = hall_id
        self.terminal_id = terminal_id
        self.replies: queue.Queue[tuple[bytes | None, dict[str, Any]]] = queue.Queue()
        self.subscribed = threading.Event()
        login = broker.login(terminal_id)
        self.client = client_for(login, terminal_id, parse_broker_url(broker.url))
        self.client.on_connect = lambda cl, *a: cl.subscribe(
            wire.reply_topic(hall_id, terminal_id), qos=1
        )
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self.subscribed.wait(WAIT)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        correlation = getattr(msg.properties, "CorrelationData", None)
        self.replies.put((correlation, json.loads(msg.payload)))

    def send(
        self,
        payload: bytes,
        correlation: bytes | None = b"probe-1",
        response_topic: str | None = None,
    ) -> None:
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = response_topic or wire.reply_topic(self.hall_id, self.terminal_id)
        if correlation is not None:
            props.CorrelationData = correlation
        topic = wire.request_topic(self.hall_id, self.terminal_id)
        self.client.publish(topic, payload, qos=1, properties=props).wait_for_publish(WAIT)

    def reply(self) -> tuple[bytes | None, dict[str, Any]]:
        return self.replies.get(timeout=WAIT)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def probe(hall: Hall) -> Iterator[Probe]:
    p = Probe(hall.broker, hall.hall_id)
    try:
        yield p
    finally:
        p.close()


# ---- the happy path ----------------------------------------------------------------------
def test_kiosks_and_a_window_share_one_queue_and_a_display_sees_every_event(hall: Hall) -> None:
    """GIVEN a hub, two kiosks, a window station and a display on the hall LAN
    WHEN the kiosks issue tickets concurrently and the window calls, starts and finishes one
    THEN every number is unique and the display receives every committed event in seq order."""
    display = hall.terminal("display-1")
    seen: queue.Queue[dict[str, Any]] = queue.Queue()
    display.subscribe(seen.put)  # hand off only
    kiosks = [hall.terminal("kiosk-1"), hall.terminal("kiosk-2")]
    window = hall.terminal("window-1")
    numbers: list[str] = []
    lock = threading.Lock()

    def issue(kiosk: LanClient) -> None:
        for _ in range(8):
            result = kiosk.execute(c.IssueTicket("social-security"), timeout=WAIT)
            assert result["events"] == ["TicketIssued"]
            with lock:
                numbers.append(result["ticket"]["number"])

    threads = [threading.Thread(target=issue, args=(k,)) for k in kiosks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 4)
    assert len(numbers) == 16 and len(set(numbers)) == 16
    assert all(n.startswith("A") for n in numbers)

    called = window.execute(c.CallNext(1), timeout=WAIT)
    assert called["ticket"]["state"] == "called" and called["ticket"]["window"] == 1
    number = called["ticket"]["number"]
    assert window.execute(c.StartService(1), timeout=WAIT)["ticket"]["state"] == "serving"
    assert window.execute(c.FinishService(1), timeout=WAIT)["ticket"]["state"] == "done"

    assert window.query("ticket", number=number, timeout=WAIT)["state"] == "done"
    waiting = window.query("waiting_list", window=1, timeout=WAIT)
    assert len(waiting) == 15 and number not in {w["number"] for w in waiting}
    status = display.query("hall_status", timeout=WAIT)
    assert status["hall"] == hall.hall_id
    assert status["recent_calls"][0]["number"] == number

    last = hall.last_seq()
    events: list[dict[str, Any]] = []
    assert wait_until(lambda: _drain(seen, events) >= last, WAIT)
    assert [e["seq"] for e in events] == list(range(1, last + 1))
    assert [e["type"] for e in events].count("TicketIssued") == 16
    assert [e["type"] for e in events][-3:] == ["TicketCalled", "ServiceStarted", "ServiceFinished"]
    assert events[-1]["node_id"] == hall.node.node.node_id
    assert hall.server.stats_snapshot()["events_dropped"] == 0


def _drain(source: queue.Queue[dict[str, Any]], into: list[dict[str, Any]]) -> int:
    while True:
        try:
            into.append(source.get_nowait())
        except queue.Empty:
            return len(into)


# ---- errors ------------------------------------------------------------------------------
def test_domain_errors_come_back_with_their_code(hall: Hall) -> None:
    window = hall.terminal("window-3")
    with pytest.raises(NobodyWaiting) as nobody:
        window.execute(c.CallNext(3), timeout=WAIT)
    assert isinstance(nobody.value, RemoteError)
    assert nobody.value.code == "nobody_waiting" and nobody.value.key == "error.nobody_waiting"
    assert nobody.value.details == {"window": 3}

    window.execute(c.PauseWindow(3, "break"), timeout=WAIT)
    before = hall.last_seq()
    with pytest.raises(WindowPaused) as paused:
        window.execute(c.CallNext(3), timeout=WAIT)
    assert paused.value.code == "window_paused"
    with pytest.raises(RemoteError) as unknown:
        window.execute(c.CallNext(99), timeout=WAIT)
    assert unknown.value.code == "forbidden"  # not one of this window PC's windows
    assert hall.last_seq() == before


BAD_REQUESTS = [
    pytest.param(b"{not json", "not_json", id="malformed-json"),
    pytest.param(b"\xff\xfe", "not_json", id="not-utf8"),
    pytest.param(b"[1, 2]", "bad_command", id="not-an-object"),
    pytest.param(b'{"query": "drop_tables"}', "unknown_query", id="unknown-query"),
    pytest.param(b'{"query": "waiting_list", "args": {"window": "1"}}', "bad_args", id="bad-arg"),
    pytest.param(b'{"query": "now", "args": {"x": 1}}', "bad_args", id="extra-arg"),
    pytest.param(b'{"query": "now", "args": [], "more": 1}', "bad_query", id="bad-query"),
    pytest.param(b'{"type": "Tick", "args": {}}', "bad_command", id="tick"),
    pytest.param(
        b'{"type": "ApplyHallConfig", "args": {"config": {}, "version": 99}}',
        "bad_command",
        id="apply-hall-config",
    ),
    pytest.param(
        b'{"type": "IssueTicket", "args": {"service": "social-security", "sneaky": 1}}',
        "bad_command",
        id="unknown-field",
    ),
    pytest.param(
        json.dumps({"type": "IssueTicket", "args": {"service": "x" * 5000}}).encode(),
        "too_large",
        id="oversized",
    ),
]


@pytest.mark.parametrize(("payload", "reason"), BAD_REQUESTS)
def test_bad_requests_are_refused_with_a_reason_and_change_nothing(
    hall: Hall, probe: Probe, payload: bytes, reason: str
) -> None:
    before = hall.last_seq()
    probe.send(payload, correlation=b"bad-1")
    correlation, reply = probe.reply()
    assert correlation == b"bad-1"
    assert reply["ok"] is False
    assert reply["error"]["code"] == "bad_request"
    assert reply["error"]["reason"] == reason
    assert reply["error"]["error"]
    assert hall.last_seq() == before
    assert hall.server.stats_snapshot()["refused"] == 1
    # the hub still serves
    probe.send(b'{"query": "now"}', correlation=b"ok-1")
    assert probe.reply()[1]["ok"] is True


def test_a_terminal_sees_a_refused_query_as_bad_request(hall: Hall) -> None:
    display = hall.terminal("display-1")
    with pytest.raises(BadRequest) as refused:
        display.query("no_such_query", timeout=WAIT)
    assert refused.value.code == "bad_request"
    assert refused.value.details["reason"] == "unknown_query"


def test_requests_without_a_proper_reply_address_get_no_answer(hall: Hall, probe: Probe) -> None:
    """The hub answers only on the requesting terminal's own reply topic, and with an id."""
    before = hall.last_seq()
    issue = b'{"type": "IssueTicket", "args": {"service": "social-security"}}'
    probe.send(issue, response_topic=wire.hub_topic(hall.hall_id))
    probe.send(issue, correlation=None)
    correlation, reply = probe.reply()
    assert correlation is None and reply["error"]["reason"] == "bad_correlation"
    assert wait_until(lambda: hall.server.stats_snapshot()["unanswerable"] == 1, WAIT)
    assert hall.last_seq() == before


# ---- duplicates --------------------------------------------------------------------------
def test_the_same_request_delivered_twice_issues_one_ticket(hall: Hall, probe: Probe) -> None:
    before = hall.last_seq()
    issue = b'{"type": "IssueTicket", "args": {"service": "household"}}'
    probe.send(issue, correlation=b"req-42")
    probe.send(issue, correlation=b"req-42")
    first, second = probe.reply(), probe.reply()
    assert first == second
    assert first[1]["ok"] is True and first[1]["result"]["ticket"]["number"] == "B001"
    assert hall.last_seq() == before + 1
    assert hall.server.stats_snapshot()["duplicates"] == 1


def test_a_retry_with_the_same_request_id_is_answered_from_memory(hall: Hall) -> None:
    kiosk = hall.terminal("kiosk-1")
    first = kiosk.execute(c.IssueTicket("enterprise"), timeout=WAIT, request_id="kiosk-1-7")
    again = kiosk.execute(c.IssueTicket("enterprise"), timeout=WAIT, request_id="kiosk-1-7")
    other = kiosk.execute(c.IssueTicket("enterprise"), timeout=WAIT)
    assert first == again and first["ticket"]["number"] == "D001"
    assert other["ticket"]["number"] == "D002"


def test_a_retry_that_reaches_a_restarted_hub_issues_no_second_ticket(
    hall: Hall, probe: Probe
) -> None:
    """GIVEN a kiosk's request the hub committed, and then the hub restarted (its reply lost
    with it) WHEN the kiosk retries with the same request id THEN the restarted hub answers
    with the same ticket and writes nothing."""
    issue = b'{"type": "IssueTicket", "args": {"service": "household"}}'
    probe.send(issue, correlation=b"tap-1")
    first = probe.reply()
    assert first[1]["result"]["ticket"]["number"] == "B001"
    hall.server.stop()
    hall.runtime.stop()

    runtime = hall.node.runtime(tick_seconds=3600).start()
    server = LanServer(hall.node, runtime).start()
    try:
        assert server.wait_ready(WAIT)
        probe.send(issue, correlation=b"tap-1")
        again = probe.reply()
        assert again[1]["ok"] is True
        assert again[1]["result"]["ticket"]["number"] == "B001"
        assert runtime._query(lambda s: (s.last_seq, s.state.counters)) == (1, {"household": 1})
    finally:
        server.stop()
        runtime.stop()


@pytest.fixture
def slow_hall(tmp_path: Path, hall_broker: HallBroker) -> Iterator[Hall]:
    """A hub whose core may be made to outlast its (short) core timeout."""
    node = hub_node(tmp_path / "hub", hall_broker)
    with running_hub(node, hall_broker, LanSettings(core_timeout_s=0.2)) as h:
        yield h


def test_a_retry_after_hub_timeout_gets_the_final_result_and_runs_nothing_again(
    slow_hall: Hall,
) -> None:
    """GIVEN a command still waiting in a blocked core after the hub answered ``hub_timeout``
    WHEN the terminal retries with the same request id, before and after the core is free
    THEN the retry never runs it a second time, and once it committed the retry gets its
    result (not ``hub_timeout`` forever)."""
    hall = slow_hall
    probe = Probe(hall.broker, hall.hall_id)
    release = threading.Event()
    try:
        before = hall.last_seq()
        blocked = hall.runtime._call(lambda s: release.wait(WAIT * 3))
        issue = b'{"type": "IssueTicket", "args": {"service": "household"}}'
        probe.send(issue, correlation=b"req-7")
        assert probe.reply()[1]["error"]["code"] == "hub_timeout"
        probe.send(issue, correlation=b"req-7")  # still in flight: waits, does not run it
        assert probe.reply()[1]["error"]["code"] == "hub_timeout"
        release.set()
        blocked.result(WAIT)
        assert wait_until(lambda: hall.last_seq() == before + 1, WAIT)
        probe.send(issue, correlation=b"req-7")
        _, final = probe.reply()
        assert final["ok"] is True and final["result"]["ticket"]["number"] == "B001"
        probe.send(issue, correlation=b"req-7")
        assert probe.reply() == (b"req-7", final)  # remembered now
        assert hall.last_seq() == before + 1  # one ticket, however many retries
        stats = hall.server.stats_snapshot()
        assert stats["commands"] == 1 and stats["duplicates"] == 3
    finally:
        release.set()
        probe.close()


def test_a_command_that_never_reached_the_core_runs_on_retry(
    hall: Hall, probe: Probe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN the core's inbox full (``runtime._call`` raises StoreError: nothing was queued)
    WHEN a command arrives, then its retry with the same id THEN the first is answered
    ``hub_busy`` (not remembered) and the retry runs it."""
    real_call = hall.runtime._call
    calls = iter([True])

    def call_once_full(fn: Any) -> Any:
        if next(calls, False):
            raise StoreError("the core is busy: its inbox has been full for 10 s")
        return real_call(fn)

    monkeypatch.setattr(hall.runtime, "_call", call_once_full)
    issue = b'{"type": "IssueTicket", "args": {"service": "household"}}'
    probe.send(issue, correlation=b"req-8")
    _, busy = probe.reply()
    assert busy["ok"] is False and busy["error"]["code"] == "hub_busy"
    probe.send(issue, correlation=b"req-8")
    _, ran = probe.reply()
    assert ran["ok"] is True and ran["result"]["ticket"]["number"] == "B001"


# ---- the hub away ------------------------------------------------------------------------
def test_a_stopped_hub_is_unreachable_and_says_so_at_once(hall: Hall) -> None:
    kiosk = hall.terminal("kiosk-1")
    hall.server.stop()
    assert wait_until(lambda: not kiosk.hub_online, WAIT)
    timeout = WAIT
    started = time.monotonic()
    with pytest.raises(HubUnreachable) as away:
        kiosk.execute(c.IssueTicket("social-security"), timeout=timeout)
    assert time.monotonic() - started < timeout  # the retained "offline" answers at once
    assert away.value.code == "hub_unreachable"
    assert away.value.details["request_id"]


@pytest.fixture
def fake_hub(hall_broker: HallBroker) -> Iterator[mqtt.Client]:
    """With the hub's login, announces a hub ``online`` (retained) and never answers."""
    broker = hall_broker
    client = client_for(broker.login("hub"), "hub", parse_broker_url(broker.url))
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    online = wire.presence_payload("online", "ghost")
    hall_id = broker.hall.hall_id
    client.publish(wire.hub_topic(hall_id), online, qos=1, retain=True).wait_for_publish(WAIT)
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_silent_hub_makes_execute_raise_within_its_timeout(
    hall_broker: HallBroker, fake_hub: mqtt.Client
) -> None:
    """A hub that takes requests and never answers (hung): the wait is bounded."""
    subscribed = threading.Event()
    fake_hub.on_subscribe = lambda *a: subscribed.set()
    fake_hub.subscribe(wire.request_subscription(hall_broker.hall.hall_id), qos=1)
    assert subscribed.wait(WAIT)
    with terminal_client(hall_broker, "kiosk-1") as kiosk:
        assert kiosk.wait_hub(WAIT)
        timeout = 1.0
        started = time.monotonic()
        with pytest.raises(HubUnreachable, match="no reply"):
            kiosk.execute(c.IssueTicket("social-security"), timeout=timeout)
        elapsed = time.monotonic() - started
        assert timeout <= elapsed < timeout + WAIT


def test_a_hub_announced_online_but_not_listening_is_unreachable_at_once(
    hall_broker: HallBroker, fake_hub: mqtt.Client
) -> None:
    """A stale retained ``online`` (nobody subscribed to requests): the PUBACK says so."""
    with terminal_client(hall_broker, "kiosk-1") as kiosk:
        assert kiosk.wait_hub(WAIT)
        started = time.monotonic()
        with pytest.raises(HubUnreachable, match="no hub is listening"):
            kiosk.execute(c.IssueTicket("social-security"), timeout=WAIT)
        assert time.monotonic() - started < WAIT


def test_without_a_broker_execute_raises_within_its_timeout(hall: Hall) -> None:
    kiosk = hall.terminal("kiosk-1")
    hall.broker.stop()
    # Disconnected (the presence unknown again), not only told "offline": a broker that
    # shuts down may first hand the terminal the hub's last will.
    assert wait_until(lambda: kiosk.hub_state is None, WAIT)
    started = time.monotonic()
    with pytest.raises(HubUnreachable, match="not connected"):
        kiosk.execute(c.IssueTicket("social-security"), timeout=1.0)
    assert time.monotonic() - started < 1.0 + WAIT
    assert wait_until(lambda: not hall.server.stats_snapshot()["online"], WAIT)
    hall.broker.start()  # the hub and the terminal come back by themselves
    assert hall.server.wait_ready(WAIT * 2)
    assert kiosk.wait_hub(WAIT * 2)
    # Right after a broker restart a request can still meet a half-rejoined link; a terminal
    # retries with the same request id (as ui.core.RemoteCore does), which never issues twice.
    ticket = None
    deadline = time.monotonic() + WAIT * 2
    while ticket is None and time.monotonic() < deadline:
        try:
            result = kiosk.execute(
                c.IssueTicket("social-security"), timeout=WAIT, request_id="after-restart"
            )
        except HubUnreachable:
            kiosk.wait_hub(WAIT)
            continue
        ticket = result["ticket"]
    assert ticket is not None
    issued = hall.runtime._query(lambda s: s.state.counters.get("social-security", 0))
    assert issued == 1


def test_a_full_request_queue_is_answered_busy_at_once_and_nothing_hangs(
    tmp_path: Path, hall_broker: HallBroker
) -> None:
    """GIVEN a hub whose core is blocked and whose request queue holds one request
    WHEN three requests arrive THEN at least one is answered ``hub_busy`` while the core is
    still blocked (the network thread never waits), and the others run once it is free."""
    node = hub_node(tmp_path / "hub", hall_broker)
    runtime = node.runtime(tick_seconds=3600).start()
    server = LanServer(node, runtime, settings=LanSettings(request_queue=1)).start()
    release = threading.Event()
    probe: Probe | None = None
    try:
        assert server.wait_ready(WAIT)
        probe = Probe(hall_broker, node.hall.hall_id)
        blocked = runtime._call(lambda s: release.wait(WAIT * 3))
        issue = b'{"type": "IssueTicket", "args": {"service": "civil-affairs"}}'
        for i in range(3):
            probe.send(issue, correlation=f"req-{i}".encode())
        busy_id, busy = probe.reply()  # arrives while the core is still blocked
        assert busy["error"]["code"] == "hub_busy"
        assert not release.is_set()
        release.set()
        blocked.result(WAIT)
        replies = [busy, *(probe.reply()[1] for _ in range(2))]  # one reply per request
        issued = [r["result"]["ticket"]["number"] for r in replies if r["ok"]]
        assert [r["error"]["code"] for r in replies if not r["ok"]] == ["hub_busy"] * (
            3 - len(issued)
        )
        assert len(set(issued)) == len(issued) >= 1
        probe.send(issue, correlation=busy_id)  # a retry of the busy one runs now
        _, retried = probe.reply()
        assert retried["ok"] is True
        assert retried["result"]["ticket"]["number"] not in issued
    finally:
        release.set()
        if probe is not None:
            probe.close()
        server.stop()
        runtime.stop()


# ---- presence ----------------------------------------------------------------------------
def test_hub_presence_is_retained_online_then_offline(hall: Hall) -> None:
    late = hall.terminal("display-1")  # connects after the hub: the retained copy
    assert late.hub_online
    hall.server.stop()
    assert wait_until(lambda: not late.hub_online, WAIT)
    after = hall.terminal("display-2", wait_hub=False)
    assert wait_until(lambda: after.hub_state == "offline", WAIT)
    assert not after.hub_online


HUB_SCRIPT = """
import sys, time
from agent.node_runtime import Node
from sync.lan import LanServer
node = Node.open(sys.argv[1])
runtime = node.runtime(tick_seconds=3600).start()
server = LanServer(node, runtime).start()
assert server.wait_ready(30)
print("ready", flush=True)
time.sleep(120)
"""


def test_a_killed_hub_is_announced_offline_by_its_last_will(
    tmp_path: Path, hall_broker: HallBroker
) -> None:
    node = hub_node(tmp_path / "hub", hall_broker)
    hub = subprocess.Popen(
        [sys.executable, "-c", HUB_SCRIPT, str(node.data.root)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_line(hub, "ready", timeout=60)
        with terminal_client(hall_broker, "window-1") as window:
            assert window.wait_hub(WAIT)
            assert window.query("now", timeout=WAIT)
            hub.send_signal(signal.SIGKILL)
            hub.wait(WAIT)
            assert wait_until(lambda: not window.hub_online, WAIT)
            with pytest.raises(HubUnreachable):
                window.execute(c.CallNext(1), timeout=WAIT)
    finally:
        if hub.poll() is None:
            hub.kill()
        hub.communicate(timeout=WAIT)
