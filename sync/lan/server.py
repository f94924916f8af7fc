"""The hub's side of the hall LAN: answers terminals' requests, publishes events and presence.

Threads: paho's network thread only parses the envelope and enqueues (a full queue is
answered ``hub_busy`` at once); one worker thread (``hall-lan-requests``) runs each request
through the core runtime and publishes the reply; one thread (``hall-lan-events``) publishes
the events the core hands over. One worker keeps requests in arrival order, which is also
what makes the duplicate check below sound.

Duplicates, by ``(terminal, correlation data)`` (the request id); a command never runs
twice for one id:

- a command handed to the core is *in flight* until the core finishes it. A duplicate of an
  in-flight command (QoS 1 redelivery, or a terminal retrying after ``HubUnreachable`` with
  the same request id) waits for the first's outcome (again bounded by ``core_timeout_s``)
  and runs nothing; the first's reply and the duplicate's are ``hub_timeout`` while the core
  has not finished, never a remembered answer.
- only a final outcome is remembered, in a bounded LRU: the command's result or a domain
  refusal. A duplicate then gets that reply. A command that never reached the core (its
  inbox full: ``hub_busy``) or failed there and rolled back (a store error) is forgotten:
  the same id runs it then.

The memory is in RAM; a command's request id is also stored with its events
(``Store.execute(request_id=...)``), so a retry that reaches a restarted hub runs nothing.

Every request is checked before it runs (:mod:`sync.lan.wire`: shape and texts;
:mod:`sync.lan.roles`: the terminal's role in hall.yaml ``terminals``; a token bucket per
terminal for issuing tickets), and every reply is cut to what the terminal's role shows and
bounded by the broker's message size limit. Events go out on one feed per role, stripped the
same way. One bad request never affects the next: whatever it raises, the worker answers it
and forgets it.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent import commands as c
from agent.config import HallConfig, Terminal
from agent.errors import ConfigError, DomainError, HallError, StoreError
from agent.model import Event
from agent.node import BrokerConfig
from agent.node_runtime import Node
from agent.runtime import CommandReport, CoreRuntime
from sync.lan import roles, wire
from sync.lan.quietlog import RepeatFilter
from sync.lan.ratelimit import TokenBuckets
from sync.mqtt import client_for, parse_broker_url
from sync.status import LAN_STATUS_FILE, StatusFile

log = logging.getLogger(__name__)
log.addFilter(RepeatFilter())


@dataclass(frozen=True)
class LanSettings:
    request_queue: int = 100
    event_queue: int = 10_000
    reply_memory: int = 1000
    core_timeout_s: float = 30.0
    reconnect_min_s: int = 1
    reconnect_max_s: int = 10
    stop_timeout_s: float = 5.0
    #: Tickets (IssueTicket, CheckIn) one terminal may ask for at once, and per minute after.
    issue_burst: int = 20
    issue_per_minute: float = 20.0
    #: Sign-ins one terminal may send at once, and per minute after (wrong PINs are also
    #: slowed and locked out per member of staff and per window: agent/staffauth.py).
    sign_in_burst: int = 5
    sign_in_per_minute: float = 6.0
    #: How often the stats go to ``lan-status.json`` (``hall-agent sync status`` shows them).
    status_interval_s: float = 2.0


@dataclass
class LanStats:
    connects: int = 0  # sessions with the broker (more than one: the hub was knocked off)
    requests: int = 0
    commands: int = 0
    queries: int = 0
    refused: int = 0
    duplicates: int = 0
    busy: int = 0
    unanswerable: int = 0
    forbidden: int = 0
    rate_limited: int = 0
    rate_limited_by_terminal: dict[str, int] = field(default_factory=dict)
    reply_too_large: int = 0
    events_published: int = 0
    events_dropped: int = 0
    last_refusals: collections.deque[dict[str, str]] = field(
        default_factory=lambda: collections.deque(maxlen=10)
    )


@dataclass(frozen=True)
class _Request:
    terminal: str
    response_topic: str
    correlation: bytes
    payload: bytes


@dataclass
class _DeviceWait:
    """A device request sent to ``terminal``, waiting for its answer."""

    terminal: str
    done: threading.Event = field(default_factory=threading.Event)
    answer: wire.DeviceAnswer | None = None


#: What a terminal's answer to a device request may take beyond the request's own timeout.
DEVICE_ANSWER_MARGIN_S = 5.0


def _command_result(report: CommandReport) -> dict[str, Any]:
    """What a terminal is told a command did."""
    return {
        "ticket": report.ticket,
        "events": [event.type for event in report.events],
        "last_seq": report.last_seq,
    }


def _drain_and_close(inbox: queue.Queue[Any]) -> None:
    while True:
        try:
            inbox.get_nowait()
        except queue.Empty:
            break
    inbox.put_nowait(None)


class LanServer:
    """``start()`` connects to the hall broker and serves; ``stop()`` says offline and ends."""

    def __init__(
        self,
        node: Node,
        runtime: CoreRuntime,
        broker_url: str | None = None,
        settings: LanSettings | None = None,
    ) -> None:
        broker = BrokerConfig(url=broker_url) if broker_url else node.node.hall_broker
        if broker is None:
            raise ConfigError("node.yaml: hall_broker: not set (the hall LAN needs a broker)")
        self.node = node
        self.runtime = runtime
        self.broker = broker
        self.settings = settings or LanSettings()
        self.address = parse_broker_url(broker.url)
        self.hall_id = wire.check_name("hall id", node.hall.hall_id)
        self.node_id = node.node.node_id
        self.stats = LanStats()
        # The hall config the hub authorises by (its terminals); replaced when one is applied.
        self._config: HallConfig = node.hall
        self._issuing = TokenBuckets(self.settings.issue_burst, self.settings.issue_per_minute)
        self._signing_in = TokenBuckets(
            self.settings.sign_in_burst, self.settings.sign_in_per_minute
        )
        self._devices: dict[str, set[str]] = {}  # terminal -> its recorded device names
        self._status_file = StatusFile(node.data.root, LAN_STATUS_FILE)
        self._requests: queue.Queue[_Request | None] = queue.Queue(self.settings.request_queue)
        self._events: queue.Queue[Event | None] = queue.Queue(self.settings.event_queue)
        # Both only ever touched by the request worker thread.
        self._replies: collections.OrderedDict[tuple[str, bytes], bytes] = collections.OrderedDict()
        self._in_flight: dict[tuple[str, bytes], Future[CommandReport]] = {}
        self._lock = threading.Lock()
        self._device_waits: dict[bytes, _DeviceWait] = {}  # by correlation, under _lock
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._unsubscribe: Any = None
        self._client = client_for(
            broker, broker.client_id or f"{self.node_id}-lan-hub", self.address
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(
            self.settings.reconnect_min_s, self.settings.reconnect_max_s
        )
        self._client.will_set(
            wire.hub_topic(self.hall_id),
            wire.presence_payload("offline", self.node_id),
            qos=1,
            retain=True,
        )

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> LanServer:
        self._stopping.clear()
        self._config = HallConfig.model_validate(self._read("config"))
        for name, info in self._read("hall_status")["devices"].items():
            if roles.well_formed_device(name, info.get("reason")):  # else never shown
                self._note_device(name)
        self._threads = [
            threading.Thread(target=self._serve_requests, name="hall-lan-requests", daemon=True),
            threading.Thread(target=self._serve_events, name="hall-lan-events", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self._unsubscribe = self.runtime.subscribe(self._on_core_event)
        # A clean start: requests sent while the hub was away are stale (their terminal gave
        # up); the broker drops them rather than have the hub act on them later.
        self._client.connect_async(
            self.address.host,
            self.address.port,
            keepalive=self.broker.keepalive_s,
            clean_start=True,
        )
        self._client.loop_start()
        log.info("hall LAN serving", extra={"broker": str(self.address), "hall": self.hall_id})
        return self

    def wait_ready(self, timeout: float) -> bool:
        """True once subscribed and announced ``online`` (bounded by ``timeout``)."""
        return self._ready.wait(timeout)

    def stop(self) -> None:
        """Announce ``offline`` (retained), disconnect, end both threads."""
        self._stopping.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        timeout = self.settings.stop_timeout_s
        if self._client.is_connected():
            info = self._client.publish(
                wire.hub_topic(self.hall_id),
                wire.presence_payload("offline", self.node_id),
                qos=1,
                retain=True,
            )
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                log.warning("hall LAN: could not announce offline")
        self._client.disconnect()
        self._client.loop_stop()
        self._ready.clear()
        # Nothing feeds the queues any more: drop what waits (its terminals time out), wake both.
        _drain_and_close(self._requests)
        _drain_and_close(self._events)
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def relay_profile(self, name: str, version: int, document: dict[str, Any]) -> bool:
        """Publish a device profile applied here to every terminal (retained: one that
        connects later gets it too), waiting (at most the core timeout) for the hall broker
        at start. False when the hall broker is not reachable (the
        retained copy of an earlier version stays; the terminals get this one at the next
        push or when :meth:`relay_profile` is called again)."""
        payload = wire.profile_payload(name, version, document)
        deadline = time.monotonic() + self.settings.core_timeout_s
        while not self._ready.wait(0.2):  # at start: not connected yet; a stop ends the wait
            if self._stopping.is_set() or time.monotonic() > deadline:
                break
        if not self._ready.is_set():
            log.warning("hall LAN: profile %s v%d not relayed: not connected", name, version)
            return False
        info = self._client.publish(wire.profile_topic(self.hall_id, name), payload, 1, True)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.warning("hall LAN: profile %s v%d not relayed: %s", name, version, info.rc)
            return False
        log.info("hall LAN: profile %s version %d relayed to the terminals", name, version)
        return True

    def has_terminal(self, terminal_id: str) -> bool:
        """Whether the hall config in effect names ``terminal_id`` in ``terminals``."""
        return self._config.terminal(terminal_id) is not None

    def ask_device(
        self, terminal_id: str, action: wire.DeviceAction, device: str, timeout: float
    ) -> wire.DeviceAnswer | None:
        """Ask terminal ``terminal_id`` to probe or re-open its ``device`` (on any thread but
        paho's): its answer, or None when none came within ``timeout`` and
        :data:`DEVICE_ANSWER_MARGIN_S` (the hub or the terminal not connected, or silent)."""
        request = wire.DeviceRequest(
            schema_version=1, action=action, device=device, timeout_s=timeout
        )
        wait_s = timeout + DEVICE_ANSWER_MARGIN_S
        correlation = uuid.uuid4().hex.encode("ascii")
        waiting = _DeviceWait(terminal_id)
        with self._lock:
            self._device_waits[correlation] = waiting
        try:
            if not self._ready.is_set():
                return None
            props = Properties(PacketTypes.PUBLISH)
            props.ResponseTopic = wire.device_answer_topic(self.hall_id, terminal_id)
            props.CorrelationData = correlation
            props.MessageExpiryInterval = math.ceil(wait_s)  # stale once the hub gave up
            topic = wire.device_request_topic(self.hall_id, terminal_id)
            info = self._client.publish(topic, wire.device_payload(request), 1, properties=props)
            if info.rc != mqtt.MQTT_ERR_SUCCESS or not waiting.done.wait(wait_s):
                return None
            return waiting.answer
        finally:
            with self._lock:
                self._device_waits.pop(correlation, None)

    def stats_snapshot(self) -> dict[str, Any]:
        with self._lock:
            snapshot = {k: v for k, v in vars(self.stats).items() if k != "last_refusals"}
            snapshot["last_refusals"] = list(self.stats.last_refusals)
            snapshot["rate_limited_by_terminal"] = dict(self.stats.rate_limited_by_terminal)
        snapshot["online"] = self._ready.is_set()
        return snapshot

    def __enter__(self) -> LanServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- paho's network thread: parse the envelope, hand off -----------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("hall LAN: broker refused the connection: %s", reason)
            return
        with self._lock:
            self.stats.connects += 1
        client.subscribe(
            [
                (wire.request_subscription(self.hall_id), 1),
                (wire.device_answer_topic(self.hall_id, "+"), 1),
            ]
        )

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode], props: Any
    ) -> None:
        if any(r.is_failure for r in reasons):
            log.error("hall LAN: subscription refused: %s", reasons)
            return
        client.publish(
            wire.hub_topic(self.hall_id),
            wire.presence_payload("online", self.node_id),
            qos=1,
            retain=True,
        )
        self._ready.set()
        log.info("hall LAN online", extra={"broker": str(self.address)})

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        self._ready.clear()
        log.info("hall LAN disconnected: %s", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        answering = wire.terminal_of(self.hall_id, msg.topic, "device-answer")
        if answering is not None:
            self._on_device_answer(answering, msg)
            return
        with self._lock:
            self.stats.requests += 1
        terminal = wire.terminal_of(self.hall_id, msg.topic)
        props = getattr(msg, "properties", None)
        response_topic = getattr(props, "ResponseTopic", None)
        correlation = getattr(props, "CorrelationData", None)
        if terminal is None or response_topic != wire.reply_topic(self.hall_id, terminal):
            # Never publish where a request says to, except the terminal's own reply topic.
            self._refuse_silently(msg.topic, "no response topic, or not the terminal's own")
            return
        if not correlation or len(correlation) > wire.MAX_CORRELATION_BYTES:
            self._reply(
                response_topic,
                None,
                wire.error_reply(
                    wire.BadRequest(
                        f"correlation data (the request id) must be 1-"
                        f"{wire.MAX_CORRELATION_BYTES} bytes",
                        reason="bad_correlation",
                    )
                ),
            )
            self._count_refusal(terminal, "bad_correlation")
            return
        request = _Request(terminal, response_topic, bytes(correlation), bytes(msg.payload))
        try:
            self._requests.put_nowait(request)
        except queue.Full:
            with self._lock:
                self.stats.busy += 1
            busy = {"code": "hub_busy", "error": "the hub is busy; send the request again"}
            self._reply(response_topic, request.correlation, wire.error_reply(busy))

    def _on_device_answer(self, terminal: str, msg: mqtt.MQTTMessage) -> None:
        """A terminal's answer to a device request: taken only from the terminal asked (the
        ACL lets each login write only its own answer topic)."""
        correlation = getattr(getattr(msg, "properties", None), "CorrelationData", None)
        with self._lock:
            waiting = self._device_waits.get(bytes(correlation)) if correlation else None
        if waiting is None or waiting.terminal != terminal:
            log.info("hall LAN: a device answer from %s nobody waits for", terminal)
            return
        try:
            waiting.answer = wire.parse_device_message(bytes(msg.payload), wire.DeviceAnswer)
        except wire.BadRequest as exc:
            log.warning("hall LAN: a malformed device answer from %s: %s", terminal, exc)
            waiting.answer = wire.DeviceAnswer(
                schema_version=1, ok=False, status="unknown", reason="bad_answer"
            )
        waiting.done.set()

    def _refuse_silently(self, topic: str, why: str) -> None:
        with self._lock:
            self.stats.unanswerable += 1
        log.warning("hall LAN: request on %s not answered: %s", topic[:120], why)

    def _count_refusal(self, terminal: str, reason: str) -> None:
        with self._lock:
            self.stats.refused += 1
            self.stats.last_refusals.append({"terminal": terminal, "reason": reason[:64]})

    def _reply(self, topic: str, correlation: bytes | None, payload: bytes) -> None:
        props = Properties(PacketTypes.PUBLISH)
        if correlation is not None:
            props.CorrelationData = correlation
        self._client.publish(topic, payload, qos=1, properties=props)

    # ---- the core thread: hand off only --------------------------------------------------
    def _on_core_event(self, event: Event) -> None:
        try:
            self._events.put_nowait(event)
        except queue.Full:
            with self._lock:
                self.stats.events_dropped += 1

    # ---- the worker threads --------------------------------------------------------------
    def _serve_requests(self) -> None:
        status_due = 0.0
        while True:
            if time.monotonic() >= status_due:
                status_due = time.monotonic() + self.settings.status_interval_s
                self._status_file.write({**self.stats_snapshot(), "pid": os.getpid()})
            try:
                request = self._requests.get(timeout=self.settings.status_interval_s)
            except queue.Empty:
                continue
            if request is None:
                self._status_file.write({**self.stats_snapshot(), "pid": os.getpid()})
                return
            try:
                reply = self._answer(request)
            except Exception:  # the worker must outlive any one request
                log.exception("hall LAN: a request failed")
                internal = {"code": "internal_error", "error": "the hub failed on this request"}
                reply = wire.error_reply(internal)
            reply = self._bounded(reply)
            self._reply(request.response_topic, request.correlation, reply)

    def _bounded(self, reply: bytes) -> bytes:
        """The reply, or ``reply_too_large`` when the broker would drop it (it never should:
        every reply is bounded by construction; this keeps a mistake from going unanswered)."""
        if len(reply) <= wire.MAX_REPLY_BYTES:
            return reply
        with self._lock:
            self.stats.reply_too_large += 1
        limit = wire.MAX_REPLY_BYTES
        log.error("hall LAN: a %d-byte reply not sent (limit %d)", len(reply), limit)
        return wire.error_reply(
            {"code": "reply_too_large", "error": f"the reply is over {limit} bytes", "limit": limit}
        )

    def _answer(self, request: _Request) -> bytes:
        self._settle_finished()
        terminal = self._config.terminal(request.terminal)
        key = (request.terminal, request.correlation)
        remembered = self._replies.get(key)
        if remembered is not None:
            self._replies.move_to_end(key)
            with self._lock:
                self.stats.duplicates += 1
            return remembered
        pending = self._in_flight.get(key)
        if pending is not None:
            # The first is still in the core: wait for its outcome, never run it again.
            with self._lock:
                self.stats.duplicates += 1
            return self._outcome(key, pending, self.settings.core_timeout_s)
        try:
            parsed = wire.parse_request(request.payload)
            roles.authorise(terminal, request.terminal, parsed)
        except (wire.BadRequest, wire.UnknownTerminal, wire.Forbidden) as exc:
            self._refused(request.terminal, exc)
            return wire.error_reply(exc)
        assert terminal is not None  # authorise refuses unknown terminals
        if isinstance(parsed, wire.QueryRequest):
            with self._lock:
                self.stats.queries += 1
            return self._run_query(terminal, parsed)
        try:
            command = self._admit(terminal, parsed)
        except (wire.RateLimited, wire.TooManyDevices) as exc:
            self._refused(request.terminal, exc)
            return wire.error_reply(exc)
        with self._lock:
            self.stats.commands += 1
        try:
            # Kept in the store with the command's events: a retry that reaches a restarted
            # hub does not run it again.
            request_id = f"lan/{request.terminal}/{request.correlation.hex()}"
            future = self.runtime.submit_report(command, request_id=request_id)
        except StoreError as exc:
            # It never reached the core: not remembered, a retry with the same id runs it.
            return wire.error_reply({"code": "hub_busy", "error": f"{exc}; send it again"})
        self._in_flight[key] = future
        return self._outcome(key, future, self.settings.core_timeout_s)

    def _refused(self, terminal: str, exc: HallError) -> None:
        reason = str(exc.details.get("reason") or exc.code)
        self._count_refusal(terminal, reason)
        with self._lock:
            if isinstance(exc, (wire.Forbidden, wire.UnknownTerminal)):
                self.stats.forbidden += 1
            elif isinstance(exc, wire.RateLimited):
                self.stats.rate_limited += 1
                by_terminal = self.stats.rate_limited_by_terminal
                by_terminal[terminal] = by_terminal.get(terminal, 0) + 1
        log.info("hall LAN: refused a request from %s: %s (%s)", terminal, exc.code, reason)

    def _admit(self, terminal: Terminal, command: c.Command) -> c.Command:
        """The command as the hub runs it for ``terminal``, within its limits, else raise."""
        for kinds, buckets, what, per_minute in (
            (roles.ISSUING, self._issuing, "tickets", self.settings.issue_per_minute),
            (roles.SIGNING_IN, self._signing_in, "sign-ins", self.settings.sign_in_per_minute),
        ):
            if not isinstance(command, kinds):
                continue
            wait = buckets.take(terminal.id)
            if wait > 0:
                raise wire.RateLimited(
                    f"{terminal.id} asks for {what} faster than {per_minute:g} a minute",
                    retry_after_s=round(wait, 1),
                )
        command = roles.own_command(terminal, command)
        if isinstance(command, c.DeviceStatusChanged | c.DeviceProfileApplied):
            self._admit_device(terminal, command.device)
        return command

    def _admit_device(self, terminal: Terminal, device: str) -> None:
        with self._lock:
            own = self._devices.setdefault(terminal.id, set())
            if device in own:
                return
            rows = sum(len(names) for names in self._devices.values())
            if len(own) >= wire.MAX_DEVICES_PER_TERMINAL or rows >= wire.MAX_DEVICE_ROWS:
                raise wire.TooManyDevices(
                    f"{terminal.id} reports more devices than the hub keeps "
                    f"({wire.MAX_DEVICES_PER_TERMINAL} a terminal, {wire.MAX_DEVICE_ROWS} a hall)",
                )
            own.add(device)

    def _note_device(self, name: str) -> None:
        """A recorded device row (``terminal/device`` for a terminal's, else the hub's own)."""
        owner = name.partition("/")[0] if "/" in name else ""
        with self._lock:
            self._devices.setdefault(owner, set()).add(name)

    def _outcome(
        self, key: tuple[str, bytes], future: Future[CommandReport], timeout: float
    ) -> bytes:
        """The reply for an in-flight command once the core finished it (then remembered if
        final, forgotten if not), or ``hub_timeout`` while it is still in flight."""
        try:
            result = future.result(timeout)
        except TimeoutError:
            # It may still commit: it stays in flight, so a retry waits for it.
            slow = {"code": "hub_timeout", "error": "the hub's core did not answer in time"}
            return wire.error_reply(slow)
        except DomainError as exc:
            del self._in_flight[key]
            reply = wire.error_reply(exc)  # the rules' refusal: final
        except HallError as exc:
            # e.g. a store error: rolled back, nothing committed; the same id may run it.
            del self._in_flight[key]
            return wire.error_reply(exc)
        except Exception:
            # Store.execute rolled back; the worker answers ``internal_error``.
            del self._in_flight[key]
            raise
        else:
            del self._in_flight[key]
            reply = wire.ok_reply(_command_result(result))
        self._replies[key] = reply
        while len(self._replies) > self.settings.reply_memory:
            self._replies.popitem(last=False)
        return reply

    def _settle_finished(self) -> None:
        """Commands whose terminal stopped asking: settle them once the core is done, so
        the in-flight map holds only work the core still has (bounded by its inbox). Each
        is settled on its own: one that cannot be never stops the others or this request."""
        for key, future in list(self._in_flight.items()):
            if not future.done():
                continue
            try:
                self._outcome(key, future, 0)
            except Exception:  # a bug, rolled back and logged by the core: forgotten
                self._in_flight.pop(key, None)
                log.exception("hall LAN: a finished command could not be settled")

    def _read(self, name: str) -> Any:
        """One of the core's named reads, at start (bounded by the core timeout)."""
        return self.runtime.read(name, self.settings.core_timeout_s)

    def _run_query(self, terminal: Terminal, query: wire.QueryRequest) -> bytes:
        try:
            future = self.runtime.submit_read(query.name, query.args)
        except StoreError:
            return wire.error_reply({"code": "hub_busy", "error": "the hub's core is busy"})
        try:
            result = future.result(self.settings.core_timeout_s)
        except HallError as exc:
            return wire.error_reply(exc)
        except TimeoutError:
            return wire.error_reply({"code": "hub_timeout", "error": "no answer from the core"})
        return wire.ok_reply(roles.shape_result(terminal, self._config, query.name, result))

    def _serve_events(self) -> None:
        topics = {role: wire.events_topic(self.hall_id, role) for role in roles.ROLES}
        while True:
            event = self._events.get()
            if event is None:
                return
            try:
                self._follow(event)
            except Exception:  # the feed must outlive any one event
                log.exception("hall LAN: could not follow a %s event", event.type)
            if not self._client.is_connected():
                with self._lock:
                    self.stats.events_dropped += 1
                continue
            for role, topic in topics.items():
                payload = wire.event_payload(event, roles.feed_payload(role, event.payload))
                self._client.publish(topic, payload, qos=1)
            with self._lock:
                self.stats.events_published += 1

    def _follow(self, event: Event) -> None:
        """Keep what the hub authorises by current: the terminals, the recorded devices."""
        if event.type == "HallConfigApplied":
            self._config = HallConfig.model_validate(event.payload["config"])
        elif event.type == "DeviceStatusChanged":
            name, reason = str(event.payload.get("device")), event.payload.get("reason")
            if roles.well_formed_device(name, reason):
                self._note_device(name)
