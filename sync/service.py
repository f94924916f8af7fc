"""The hub's link to the central platform: outbox up, acknowledgements and signed data down.

One thread (``hall-sync``) owns the MQTT connection: it connects (with backoff and jitter),
lets the :class:`~sync.publisher.OutboxPublisher` publish the log after the acknowledged
watermark, and hands the watermark to the core thread to store. After any reconnect, broker
restart or agent restart it starts again from the watermark; the central side is idempotent
on ``(node_id, seq)``, so the effect is exactly once. A second thread checks and applies
what comes down (:mod:`sync.inbound`), so a slow core never stalls the network loop; the
sync thread alone acknowledges it, in arrival order (:meth:`SyncService._send_acks`). The
status for ``hall-agent sync status`` goes to a file (:mod:`sync.status`).

Events are never deleted; a backlog above the configured size raises the ``backlog_alarm``
in the status, nothing more.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import logging
import os
import queue
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from agent import commands as c
from agent import nodekey
from agent.datadir import CENTRAL_PUBLIC_KEY_FILE
from agent.errors import ConfigError, HallError
from agent.node import BrokerConfig
from agent.node_runtime import Node
from agent.runtime import CoreRuntime
from agent.staffauth import Credentials
from agent.storage import DiskReserve, free_bytes
from agent.version import agent_version
from sync import contract as ct
from sync.agent_update import PACKAGED_LAUNCHER, PACKAGED_RESULT, AgentUpdater
from sync.inbound import InboundHandler, Outcome
from sync.mqtt import BrokerAddress, client_for, parse_broker_url, session_properties
from sync.outbox import OutboxReader
from sync.publisher import OutboxPublisher, wall_now
from sync.remote import RemoteCommands, make_reply
from sync.remote_devices import DeviceControl
from sync.reply_outbox import PENDING_REPLIES_DIR, ReplyOutbox
from sync.signing import load_public_key
from sync.status import Connection, StatusFile

log = logging.getLogger(__name__)

#: What a round of the sync thread may meet from the core and survives: a refusal or a full
#: inbox (HallError / StoreError), the database failing (locked, disk full), no answer in time.
#: Logged, then tried again on a later round; the sync thread never ends on them.
CORE_FAILURES: tuple[type[Exception], ...] = (HallError, sqlite3.Error, TimeoutError)


@dataclass(frozen=True)
class SyncSettings:
    batch_max_events: int = 500
    batch_max_bytes: int = 256 * 1024
    window_batches: int = 8
    ack_timeout_s: float = 10.0
    connect_timeout_s: float = 10.0
    backoff_min_s: float = 0.5
    backoff_max_s: float = 30.0
    status_interval_s: float = 30.0
    status_file_interval_s: float = 2.0
    poll_interval_s: float = 1.0
    session_expiry_s: int = 7 * 24 * 3600
    max_inbound_bytes: int = ct.MAX_DOWN_BYTES
    #: Downlink messages in flight at most (MQTT 5 Receive Maximum): each is acknowledged
    #: only once handled, so the broker holds the rest of a burst: none is ever dropped.
    inbound_in_flight: int = 100
    #: How ``update_agent`` starts the update, and where the update leaves its outcome
    #: (sync/agent_update.py; the packaged ones by default).
    update_launcher: tuple[str, ...] = PACKAGED_LAUNCHER
    update_result: Path = PACKAGED_RESULT


@dataclass(eq=False)
class _Delivery:
    """A QoS 1 message from the broker, not acknowledged yet; ``handled`` is set on the sync
    thread when the inbound thread hands it back."""

    mid: int
    handled: bool = False


_Inbound = tuple[_Delivery | None, mqtt.MQTTMessage]  # (None: QoS 0, nothing to acknowledge)
_Command = tuple[int, ct.CommandData]  # (its version: its id on this node, the command)


@dataclass
class _Shared:
    """What other threads read: replaced whole, never mutated in place."""

    connection: Connection = Connection.DISCONNECTED
    last_seq: int = 0
    acked_seq: int = 0
    persisted_seq: int = 0
    acks_ignored: int = 0
    central_ahead: int | None = None
    clock_offset_s: float | None = None
    last_error: str | None = None
    connected_since: str | None = None
    refused: list[dict[str, Any]] = field(default_factory=list)


class SyncService:
    """Start with :meth:`start`; :meth:`status` is safe from any thread; :meth:`stop` ends it."""

    def __init__(
        self,
        node: Node,
        runtime: CoreRuntime,
        broker: BrokerConfig,
        settings: SyncSettings | None = None,
    ) -> None:
        self.node = node
        self.runtime = runtime
        self.broker = broker
        self.settings = settings or SyncSettings()
        self.address: BrokerAddress = parse_broker_url(broker.url)
        self.hall_id = node.hall.hall_id
        self.node_id = node.node.node_id
        self.client_id = broker.client_id or self.node_id
        self.alarm_size = broker.backlog_alarm_events
        self._status_file = StatusFile(node.data.root)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._inbound_thread: threading.Thread | None = None
        # Unbounded here, bounded by the receive maximum the broker honours.
        self._inbound: queue.Queue[_Inbound | None] = queue.Queue()
        self._handled: queue.SimpleQueue[_Delivery] = queue.SimpleQueue()
        self._results: collections.deque[Outcome] = collections.deque(maxlen=100)
        self._commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._replies = ReplyOutbox(node.data.root / PENDING_REPLIES_DIR)
        self._remote = RemoteCommands(
            self.node_id,
            node.data.logs / "agent.log",
            self._replies.put,
            AgentUpdater(self.settings.update_launcher, self.settings.update_result),
        )
        self._refused: collections.deque[dict[str, Any]] = collections.deque(maxlen=10)
        self._shared = _Shared()
        self._hint_seq = 0
        self._unsubscribe: Any = None
        # owned by the sync thread
        self._client: mqtt.Client | None = None
        self._unacked: collections.deque[_Delivery] = collections.deque()  # in arrival order
        self._state = Connection.DISCONNECTED
        self._attempt = 0
        self._next_attempt = 0.0
        self._connecting_since = 0.0
        self._persisted = 0
        self._persist: Future[int] | None = None
        self._persist_due = 0.0  # after a failed write, not before this (monotonic)
        self._command_retry: _Command | None = None  # a command whose run failed
        self._command_due = 0.0
        self._last_error: str | None = None
        self._connected_since: str | None = None
        self._status_due = 0.0
        self._file_due = 0.0
        self._poll_due = 0.0
        self._alarm = False
        # fleet health for the status: replaced whole by the core / inbound thread
        self._devices: dict[str, ct.DeviceHealth] = {}
        self._profiles: dict[str, int] = {}
        self._health_changed = False
        self._profile_callbacks: list[Callable[[str, int], None]] = []

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> SyncService:
        key = load_public_key(self.node.data.root / CENTRAL_PUBLIC_KEY_FILE)
        if key is None:
            log.warning(
                "no %s in the data dir: everything signed from central will be refused",
                CENTRAL_PUBLIC_KEY_FILE,
            )
        self._handler = InboundHandler(
            self.runtime,
            self.hall_id,
            self.node_id,
            key,
            self.node.data.hall_config,
            self.settings.max_inbound_bytes,
            profiles_path=self.node.data.profiles,
            staff_credentials=Credentials(self.node.data.root),
        )
        reader = OutboxReader(
            self.node.data.database,
            self.hall_id,
            self.node_id,
            self.settings.batch_max_events,
            self.settings.batch_max_bytes,
            key=nodekey.load_or_create(self.node.data.node_key),
        )
        self._out = OutboxPublisher(
            reader, self.node_id, self.settings.window_batches, self.settings.ack_timeout_s
        )
        self._persisted = self._out.acked
        self._alarm = self._out.backlog > self.alarm_size
        self._publish_shared()
        self._devices = {
            name: _device_health(d) for name, d in self.runtime.read("device_states").items()
        }
        self._profiles = self.runtime.read("profile_versions")
        self._unsubscribe = self.runtime.subscribe(self._on_core_event)
        self._thread = threading.Thread(target=self._run, name="hall-sync", daemon=True)
        self._inbound_thread = threading.Thread(
            target=self._run_inbound, name="hall-sync-inbound", daemon=True
        )
        self._replies.load()
        self._remote.start()
        self._thread.start()
        self._inbound_thread.start()
        log.info("sync started", extra={"broker": str(self.address), "acked_seq": self._out.acked})
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Say ``offline``, disconnect, store the last watermark and end both threads."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._inbound_thread is not None:
            self._inbound.put(None)
            self._inbound_thread.join(timeout)
            self._inbound_thread = None
        self._remote.stop(timeout)

    def attach_devices(self, devices: DeviceControl) -> None:
        """The node's devices, for the remote commands ``reopen_devices`` and ``probe``."""
        self._remote.devices = devices

    def status(self) -> dict[str, Any]:
        """Connection state, watermark and backlog (a plain dict, JSON-ready)."""
        s = self._shared
        backlog = max(0, s.last_seq - s.acked_seq)
        return {
            "node_id": self.node_id,
            "hall_id": self.hall_id,
            "broker": str(self.address),
            "connection": s.connection.value,
            "last_seq": s.last_seq,
            "acked_seq": s.acked_seq,
            "persisted_seq": s.persisted_seq,
            "acks_ignored": s.acks_ignored,
            "tail_lost": s.central_ahead is not None and s.central_ahead > s.last_seq,
            "central_acked_beyond_log": s.central_ahead,
            "backlog": backlog,
            "backlog_alarm": backlog > self.alarm_size,
            "backlog_alarm_events": self.alarm_size,
            "clock_offset_s": s.clock_offset_s,
            "connected_since": s.connected_since,
            "last_error": s.last_error,
            "refused": list(s.refused),
            "at": wall_now(),
            "pid": os.getpid(),
        }

    def wait_synced(self, timeout: float) -> bool:
        """Wait until every event committed so far is acknowledged and stored as watermark."""
        target = self.runtime.last_seq()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._shared.persisted_seq >= target:
                return True
            time.sleep(0.02)
        return False

    def on_profile(self, callback: Callable[[str, int], None]) -> None:
        """``callback(name, version)`` on the inbound thread after a device profile pushed
        from central was stored in the data dir's profiles (hand off: it must not block)."""
        self._profile_callbacks.append(callback)

    # ---- hand-offs from other threads ----------------------------------------------------
    def _on_core_event(self, event: Any) -> None:
        """On the core thread: only note that the log grew."""
        if event.seq > self._hint_seq:
            self._hint_seq = event.seq
        if event.type == "DeviceStatusChanged":
            p = event.payload
            known = self._devices.get(p["device"])
            health = _device_health(p)
            if known is not None and known.profile is not None:  # the status keeps it
                health = health.model_copy(update=_profile_only(known))
            self._devices = {**self._devices, p["device"]: health}
            self._health_changed = True
        elif event.type == "DeviceProfileApplied":
            self._on_profile_applied(event.payload)

    def _on_profile_applied(self, p: dict[str, Any]) -> None:
        """A device's profile outcome: into its status row, and to central as a result of
        the profile's topic (``rolled_back`` is a refusal with the health check's reason)."""
        device = p["device"]
        known = self._devices.get(device) or ct.DeviceHealth(status="online")
        self._devices = {**self._devices, device: known.model_copy(update=_profile_fields(p))}
        self._health_changed = True
        applied = p["outcome"] == "applied"
        self._results.append(
            Outcome(
                ct.profile_topic(self.hall_id, p["profile"]),
                applied,
                REOPENED if applied else p["outcome"],
                f"device {device}: " + ("re-opened with it" if applied else str(p["reason"])),
                "device_profile",
                p["version"],
            )
        )

    def _run_inbound(self) -> None:
        while True:
            item = self._inbound.get()
            if item is None:
                return
            delivery, msg = item
            topic, payload = msg.topic, bytes(msg.payload)
            try:
                outcome = self._handler.handle(topic, payload)
            except HallError as exc:  # the core is gone (shutting down): report, go on
                outcome = Outcome(topic, False, exc.code, str(exc))
            except (sqlite3.Error, TimeoutError) as exc:  # nothing was committed, or unknown
                log.warning("inbound %s not applied: the core failed: %r", topic, exc)
                outcome = Outcome(topic, False, "core_failed", f"the core failed: {exc!r}")
            except Exception as exc:  # a bug: this message fails, the next ones still apply
                log.exception("inbound %s failed", topic)
                outcome = Outcome(topic, False, "internal_error", f"the node failed: {exc!r}")
            if outcome.command is not None and outcome.version is not None:
                self._commands.put((outcome.version, outcome.command))
            if outcome.kind == "device_profile" and outcome.code == "applied":
                name = topic.rsplit("/", 1)[-1]
                self._profiles = {**self._profiles, name: outcome.version or 0}
                self._health_changed = True
                for callback in list(self._profile_callbacks):
                    callback(name, outcome.version or 0)
            if not outcome.duplicate:
                self._results.append(outcome)
            if not outcome.accepted:
                self._refused.append(
                    {"topic": topic, "code": outcome.code, "reason": outcome.reason[:300]}
                )
            if delivery is not None:  # handled: the sync thread acknowledges it
                self._handled.put(delivery)

    # ---- the sync thread -----------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                if self._state is Connection.DISCONNECTED and not self._connect_when_due():
                    self._housekeeping()
                    self._stopping.wait(0.1)
                    continue
                assert self._client is not None
                # (a message the inbound thread has handled waits for this loop to be acked)
                busy = self._state is Connection.CONNECTED and (
                    self._out.busy or bool(self._unacked)
                )
                rc = self._client.loop(timeout=0.005 if busy else 0.05)
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    self._lost(f"connection lost ({mqtt.error_string(rc)})")
                    continue
                if self._client is None:  # refused in on_connect
                    continue
                if self._state is Connection.CONNECTING:
                    if time.monotonic() - self._connecting_since > self.settings.connect_timeout_s:
                        self._lost("no CONNACK in time")
                    continue
                self._send_acks()
                self._run_commands()
                self._send_results()
                self._send_replies()
                error = self._out.pump(self._publish_events)
                if error is not None:
                    self._lost(error)
                    continue
                self._housekeeping()
        except Exception:  # logged here with the thread's context, then raised on
            log.exception("sync thread failed")
            raise
        finally:
            self._shutdown()

    def _connect_when_due(self) -> bool:
        now = time.monotonic()
        if now < self._next_attempt:
            return False
        self._state = Connection.CONNECTING
        self._publish_shared()
        try:
            client = client_for(self.broker, self.client_id, self.address, manual_ack=True)
        except (ConfigError, OSError, ValueError) as exc:  # TLS files missing or bad: retry
            self._lost(f"cannot use the broker settings in node.yaml: {exc}")
            return False
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.will_set(
            ct.status_topic(self.hall_id, self.node_id),
            self._offline_payload(),
            qos=1,
            retain=True,
        )
        client.connect_timeout = self.settings.connect_timeout_s
        try:
            client.connect(
                self.address.host,
                self.address.port,
                keepalive=self.broker.keepalive_s,
                clean_start=False,
                properties=session_properties(
                    self.settings.session_expiry_s, self.settings.inbound_in_flight
                ),
            )
        except OSError as exc:
            self._client = client
            self._lost(f"cannot connect to {self.address}: {exc}")
            return False
        self._client = client
        self._connecting_since = now
        return True

    def _lost(self, reason: str) -> None:
        if self._state is Connection.CONNECTED:
            log.warning("sync disconnected: %s", reason)
        else:
            log.info("sync not connected: %s", reason)
        if self._client is not None:
            with contextlib.suppress(OSError):
                self._client.disconnect()
            self._client.on_connect = None
            self._client.on_message = None
            self._client = None
        self._unacked.clear()  # the broker sends them again in the next session
        self._replies.requeue()  # replies it did not acknowledge go out on the next one
        self._state = Connection.DISCONNECTED
        self._last_error = reason
        self._connected_since = None
        self._out.rewind()  # resend from the watermark after the next connect
        cap = min(self.settings.backoff_max_s, self.settings.backoff_min_s * 2**self._attempt)
        delay = cap / 2 + random.uniform(0, cap / 2)  # equal jitter: never a thundering herd
        self._attempt = min(self._attempt + 1, 16)
        self._next_attempt = time.monotonic() + delay
        self._publish_shared()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            self._lost(f"broker refused the connection: {reason}")
            return
        self._state = Connection.CONNECTED
        self._attempt = 0
        self._connected_since = wall_now()
        self._last_error = None
        self._out.rewind()
        client.subscribe([(t, 1) for t in ct.node_subscriptions(self.hall_id, self.node_id)])
        self._status_due = 0.0
        log.info(
            "sync connected", extra={"broker": str(self.address), "acked_seq": self._out.acked}
        )
        self._publish_shared()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        delivery = None
        if msg.qos > 0:
            delivery = _Delivery(msg.mid)
            self._unacked.append(delivery)
        if msg.topic == ct.ack_topic(self.hall_id, self.node_id):
            self._out.on_ack(bytes(msg.payload))
            if delivery is not None:
                delivery.handled = True
            return
        self._inbound.put((delivery, msg))  # applied in arrival order, acknowledged after

    def _send_acks(self) -> None:
        """Acknowledge the messages handled so far, in the order they arrived, and from this
        thread only (the one that owns the client).

        MQTT 5 (4.6) asks for PUBACKs in arrival order, and brokers rely on it: acknowledged
        out of order (an ack taken at once while notices before it wait for the core),
        Mosquitto 2.0.11 miscounts its in-flight quota and sends a newer message on a topic
        ahead of older ones it still holds: the older ones are then refused as stale. An
        ``ack()`` from another thread also writes to paho's socket beside this thread's writes.
        """
        assert self._client is not None
        while True:
            try:
                self._handled.get_nowait().handled = True
            except queue.Empty:
                break
        while self._unacked and self._unacked[0].handled:
            self._client.ack(self._unacked.popleft().mid, 1)

    def _publish_events(self, payload: bytes) -> str | None:
        assert self._client is not None
        info = self._client.publish(ct.events_topic(self.hall_id, self.node_id), payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return f"publish failed ({mqtt.error_string(info.rc)})"
        return None

    def _run_commands(self) -> None:
        """Run central's commands in order; one the core fails on is tried again (first) on
        a later round, the others wait behind it."""
        while True:
            if self._command_retry is not None:
                if time.monotonic() < self._command_due:
                    return
                command, self._command_retry = self._command_retry, None
            else:
                try:
                    command = self._commands.get_nowait()
                except queue.Empty:
                    return
            try:
                self._run_command(*command)
            except CORE_FAILURES as exc:
                log.warning("central command %s failed, retrying: %r", command[1].name, exc)
                self._command_retry = command
                self._command_due = time.monotonic() + self.settings.poll_interval_s
                return

    def _run_command(self, version: int, command: ct.CommandData) -> None:
        """``resync`` and ``report_status`` act on this thread's state; the others run on
        the remote commands' thread (:mod:`sync.remote`)."""
        if command.name == "report_status":
            self._status_due = 0.0
            detail = "status sent"
        elif command.name == "resync" and command.from_seq is not None:
            seq = min(command.from_seq - 1, self._out.last_seq)
            log.warning("central asked to resend from seq %d", seq + 1)
            self._wait_persist()
            self.runtime.reset_watermark(seq)  # idempotent: safe to run again
            self._out.reset(seq)
            self._persisted = seq
            detail = f"resending the log from seq {seq + 1}"
        else:
            self._remote.submit(version, command)
            return
        self._replies.put(make_reply(self.node_id, version, command.name, "done", detail))

    def _send_replies(self) -> None:
        client = self._client
        assert client is not None
        topic = ct.reply_topic(self.hall_id, self.node_id)
        self._replies.send(lambda payload: client.publish(topic, payload, qos=1))

    def _send_results(self) -> None:
        assert self._client is not None
        topic = ct.result_topic(self.hall_id, self.node_id)
        now = dt.datetime.now(dt.UTC)
        while self._results:
            outcome = self._results.popleft()
            result = outcome.as_result(self.node_id, now)
            self._client.publish(topic, result.model_dump_json(), qos=1)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        self._out.note_last_seq(self._hint_seq)
        if now >= self._poll_due:  # events of other processes, in case the core missed them
            self._poll_due = now + self.settings.poll_interval_s
            self._out.note_last_seq(self._out.reader.last_seq())
        self._persist_watermark()
        self._feed_central_time()
        alarm = self._out.backlog > self.alarm_size
        if alarm != self._alarm:
            self._alarm = alarm
            self._status_due = 0.0
            if alarm:
                log.warning(
                    "sync backlog alarm: %d events not acknowledged (alarm at %d)",
                    self._out.backlog,
                    self.alarm_size,
                )
            else:
                log.info("sync backlog back under %d events", self.alarm_size)
        if self._health_changed:  # a device or a profile changed: tell central now
            self._health_changed = False
            self._status_due = 0.0
        if self._state is Connection.CONNECTED and now >= self._status_due:
            self._status_due = now + self.settings.status_interval_s
            self._publish_status()
        self._publish_shared()
        if now >= self._file_due:
            self._file_due = now + self.settings.status_file_interval_s
            self._status_file.write(self.status())

    def _persist_watermark(self) -> None:
        """Hand the acknowledged watermark to the core to store; a failed write (the database
        locked or full, the core's inbox full) is logged and tried again a little later."""
        if self._persist is not None:
            if not self._persist.done():
                return
            try:
                self._persisted = max(self._persisted, self._persist.result())
            except CORE_FAILURES as exc:
                self._persist_failed(exc)
            self._persist = None
        if self._out.acked > self._persisted and time.monotonic() >= self._persist_due:
            acked = self._out.acked
            try:
                self._persist = self.runtime.advance_watermark(acked)
            except CORE_FAILURES as exc:
                self._persist_failed(exc)

    def _feed_central_time(self) -> None:
        """Central's clock offset, measured on a batch of this session, decides the hall
        clock (agent/hallclock.py): handed to the core as a ConfirmClock command, which adds
        an event only when the hall clock was suspected or is off by more than the
        tolerance. A failure is logged; the next fresh offset tries again."""
        offset, self._out.fresh_offset = self._out.fresh_offset, None
        if offset is None:
            return
        try:
            self.runtime.submit(c.ConfirmClock("central", offset_s=offset))
        except CORE_FAILURES as exc:
            log.warning("cannot hand central's time to the core: %r", exc)

    def _persist_failed(self, exc: Exception) -> None:
        log.warning("cannot store the watermark (trying again): %r", exc)
        self._persist_due = time.monotonic() + self.settings.poll_interval_s

    def _wait_persist(self) -> None:
        """Let a watermark write under way finish (or fail: then it is written again later)."""
        if self._persist is not None:
            try:
                self._persisted = max(self._persisted, self._persist.result(30))
            except CORE_FAILURES as exc:
                self._persist_failed(exc)
            self._persist = None

    def _publish_status(self) -> None:
        assert self._client is not None
        status = ct.NodeStatus(
            schema_version=2,
            node_id=self.node_id,
            state="online",
            at=wall_now(),
            last_seq=self._out.last_seq,
            acked_seq=self._out.acked,
            backlog=self._out.backlog,
            backlog_alarm=self._alarm,
            clock_offset_s=self._out.clock_offset,
            agent_version=agent_version(),
            devices=self._devices,
            profiles=self._profiles,
            **self._disk_status(),
        )
        self._client.publish(
            ct.status_topic(self.hall_id, self.node_id),
            status.model_dump_json(exclude_none=True),
            qos=1,
            retain=True,
        )

    def _disk_status(self) -> dict[str, Any]:
        """Free space on the data disk and whether it is below the node's reserve (live:
        the status needs no disk, so central hears of a full disk while it lasts)."""
        root = self.node.data.root
        try:
            free = free_bytes(root)
        except OSError:
            return {}
        reserve = DiskReserve(root, self.node.node.disk_reserve_mb * 1024**2)
        return {"disk_free_mb": free // 1024**2, "disk_alarm": reserve.short()}

    def _offline_payload(self) -> str:
        return json.dumps({"schema_version": 1, "node_id": self.node_id, "state": "offline"})

    def _publish_shared(self) -> None:
        self._shared = _Shared(
            connection=self._state,
            last_seq=self._out.last_seq,
            acked_seq=self._out.acked,
            persisted_seq=self._persisted,
            acks_ignored=self._out.acks_ignored,
            central_ahead=self._out.central_ahead,
            clock_offset_s=self._out.clock_offset,
            last_error=self._last_error,
            connected_since=self._connected_since,
            refused=list(self._refused),
        )

    def _shutdown(self) -> None:
        client = self._client
        if client is not None and self._state is Connection.CONNECTED:
            info = client.publish(
                ct.status_topic(self.hall_id, self.node_id),
                self._offline_payload(),
                qos=1,
                retain=True,
            )
            deadline = time.monotonic() + 2.0
            while not info.is_published() and time.monotonic() < deadline:
                if client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                    break
            client.disconnect()
        self._client = None
        self._wait_persist()
        if self._out.acked > self._persisted:
            acked = self._out.acked
            try:
                self._persisted = self.runtime.advance_watermark(acked).result(10)
            except CORE_FAILURES as exc:  # resent from the stored one on the next start
                log.warning("cannot store the watermark: %r", exc)
        self._state = Connection.STOPPED
        self._publish_shared()
        self._status_file.write(self.status(), force=True)
        self._out.reader.close()


def _device_health(d: dict[str, Any]) -> ct.DeviceHealth:
    """A device's state for the status (cut to the contract's bounds, never refused)."""
    reason, since = d.get("reason"), d.get("since", d.get("at"))
    return ct.DeviceHealth(
        status=str(d["status"])[:16],
        reason=None if reason is None else str(reason)[:64],
        since=None if since is None else str(since)[:40],
        **_profile_fields(d.get("profile")),
    )


#: The result code of a device re-opened with a pushed profile that kept it (the message's
#: own acceptance at the hub is ``applied``; a device that did not keep it: ``rolled_back``).
REOPENED = "reopened"


def _profile_only(health: ct.DeviceHealth) -> dict[str, Any]:
    fields = ("profile", "profile_version", "profile_outcome", "profile_reason")
    return {name: getattr(health, name) for name in fields}


def _profile_fields(applied: Any) -> dict[str, Any]:
    """A ``DeviceProfileApplied`` payload as the status's ``profile*`` fields."""
    if not isinstance(applied, dict):
        return {}
    reason = applied.get("reason")
    return {
        "profile": str(applied["profile"])[:64],
        "profile_version": applied["version"],
        "profile_outcome": applied["outcome"],
        "profile_reason": None if reason is None else str(reason)[:256],
    }


def start_sync(
    node: Node,
    runtime: CoreRuntime,
    broker_url: str | None = None,
    settings: SyncSettings | None = None,
) -> SyncService | None:
    """Start the central sync of a running node; None when no broker is configured (offline).

    ``broker_url`` (``--broker`` on the command line) overrides the node config's URL and
    keeps its credentials and TLS files.
    """
    broker = effective_broker(node, broker_url)
    if broker is None:
        log.info("no broker configured: running offline")
        return None
    return SyncService(node, runtime, broker, settings).start()


def effective_broker(node: Node, broker_url: str | None) -> BrokerConfig | None:
    """The central broker: node.yaml's, its URL replaced by ``broker_url`` if given."""
    broker = node.node.broker
    if broker_url:
        broker = (
            broker.model_copy(update={"url": broker_url})
            if broker is not None
            else BrokerConfig(url=broker_url)
        )
    return broker
