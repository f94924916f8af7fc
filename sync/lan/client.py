"""A terminal's side of the hall LAN: commands and queries to the hub, live events from it.

``execute`` and ``query`` block the calling thread (never paho's) for at most their timeout
and raise :class:`~sync.lan.wire.HubUnreachable` when no reply comes: not connected to the
hall broker, the hub announced ``offline``, the broker says nobody subscribes to requests
(PUBACK "no matching subscribers", which Mosquitto sends; other brokers may not, and then it
is the timeout), or the reply did not arrive in time. A domain
error at the hub comes back as a :class:`~sync.lan.wire.RemoteError` with the hub's code
(and, when the code is known here, as an instance of that error class too).

Event callbacks run on paho's network thread: hand off only (post to a Qt signal or a
queue); a callback that blocks stalls every reply of this terminal.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent import commands as c
from agent.codec import encode_command
from agent.node import BrokerConfig
from sync.lan import wire
from sync.mqtt import client_for, parse_broker_url

log = logging.getLogger(__name__)

EventCallback = Callable[[dict[str, Any]], None]
ProfileCallback = Callable[[str, bytes], None]
DeviceRequestCallback = Callable[[bytes, bytes], None]
#: MQTT 5 PUBACK reason: the broker had nobody to give the request to (no hub subscribed).
NO_MATCHING_SUBSCRIBERS = 0x10
NO_LISTENER = "no hub is listening on the hall broker (no matching subscribers)"


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    reply: dict[str, Any] | None = None
    failure: str | None = None


class LanClient:
    """``start()``, then ``execute``/``query`` from any thread but paho's; ``stop()``.

    ``terminal_id`` is this terminal's hall broker login and its entry in hall.yaml
    ``terminals``; ``role`` (that entry's role) picks the event feed it reads.
    """

    def __init__(
        self,
        hall_id: str,
        terminal_id: str,
        broker: BrokerConfig | str,
        *,
        role: str,
        reconnect_min_s: int = 1,
        reconnect_max_s: int = 10,
    ) -> None:
        self.hall_id = wire.check_name("hall id", hall_id)
        self.terminal_id = wire.check_name("terminal id", terminal_id)
        self.broker = BrokerConfig(url=broker) if isinstance(broker, str) else broker
        self.address = parse_broker_url(self.broker.url)
        self._request_topic = wire.request_topic(hall_id, terminal_id)
        self._reply_topic = wire.reply_topic(hall_id, terminal_id)
        if role not in ("kiosk", "window", "display"):
            raise ValueError(f"role {role!r}: kiosk, window or display")
        self.role = role
        self._events_topic = wire.events_topic(hall_id, role)
        self._hub_topic = wire.hub_topic(hall_id)
        self._cond = threading.Condition()
        self._subscribed = False  # connected and the reply topic is subscribed
        self._hub_state: str | None = None  # None until the retained presence is seen
        self._pending: dict[bytes, _Pending] = {}
        self._callbacks: list[EventCallback] = []
        self._profile_callbacks: list[ProfileCallback] = []
        self._profiles_topic = wire.profile_subscription(hall_id)
        self._device_topic = wire.device_request_topic(hall_id, terminal_id)
        self._device_answer_topic = wire.device_answer_topic(hall_id, terminal_id)
        self._device_callback: DeviceRequestCallback | None = None
        # PUBACK outcomes by message id; its own lock, never held while calling paho (paho
        # holds its message lock while it calls on_publish, and publish() takes that lock).
        self._mid_lock = threading.Lock()
        self._by_mid: dict[int, _Pending] = {}
        self._unheard: set[int] = set()
        client_id = self.broker.client_id or f"{terminal_id}-lan-{uuid.uuid4().hex[:8]}"
        self._client = client_for(self.broker, client_id, self.address)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish
        self._client.reconnect_delay_set(reconnect_min_s, reconnect_max_s)

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> LanClient:
        self._client.connect_async(
            self.address.host,
            self.address.port,
            keepalive=self.broker.keepalive_s,
            clean_start=True,
        )
        self._client.loop_start()
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._lost("the terminal stopped")

    def __enter__(self) -> LanClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def hub_online(self) -> bool:
        """Connected to the hall broker and the hub's last word is ``online``."""
        with self._cond:
            return self._subscribed and self._hub_state == "online"

    @property
    def hub_state(self) -> str | None:
        """The hub's retained presence: ``online``, ``offline``, or None while not known."""
        with self._cond:
            return self._hub_state

    def wait_hub(self, timeout: float) -> bool:
        """Wait (at most ``timeout``) until :attr:`hub_online`."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._subscribed and self._hub_state == "online", timeout
            )

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event_dict)`` for every event the hub publishes (on paho's thread).

        The dict has ``schema_version``, ``node_id``, ``seq``, ``type``, ``business_date``,
        ``at``, ``wall_time`` and ``payload`` (only the fields this terminal's role shows). It
        is a live feed, not a log: after a reconnect or a gap in ``seq``, read the state again
        (``query("hall_status")``).
        """
        with self._cond:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._cond:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def on_profile(self, callback: ProfileCallback) -> None:
        """``callback(name, payload)`` for every device profile the hub relays (retained:
        also the latest of each at every connect), on paho's thread: hand off only. Only the
        hub's login may publish there (the hall broker's ACL)."""
        with self._cond:
            self._profile_callbacks.append(callback)

    def on_device_request(self, callback: DeviceRequestCallback) -> None:
        """``callback(correlation, payload)`` for every device request (remote probe or
        re-open) the hub sends this terminal, on paho's thread: hand off only. Only the hub's
        login may publish there (the hall broker's ACL); answer with :meth:`answer_device`."""
        with self._cond:
            self._device_callback = callback

    def answer_device(self, correlation: bytes, answer: wire.DeviceAnswer) -> bool:
        """Answer the hub's device request ``correlation``; False when it cannot be sent now
        (the hub then reports the terminal unreachable)."""
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = correlation
        info = self._client.publish(
            self._device_answer_topic, wire.device_payload(answer), qos=1, properties=props
        )
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    # ---- requests ------------------------------------------------------------------------
    def execute(
        self, command: c.Command, timeout: float = 5.0, request_id: str | None = None
    ) -> dict[str, Any]:
        """Run a command at the hub: ``{"ticket": view | None, "events": [...], "last_seq"}``.

        Pass the ``request_id`` of a call that raised ``HubUnreachable`` to retry it safely:
        the hub answers a request id it has seen from memory and runs nothing again.
        """
        result: dict[str, Any] = self._request(encode_command(command), timeout, request_id)
        return result

    def query(self, name: str, timeout: float = 5.0, **args: Any) -> Any:
        """A named read at the hub (``agent.views.QUERIES``), e.g. ``query("ticket", number=…)``."""
        return self._request(wire.encode_query(name, args), timeout, None)

    def _request(self, payload: bytes, timeout: float, request_id: str | None) -> Any:
        request_id = request_id or uuid.uuid4().hex
        correlation = request_id.encode("utf-8")
        if not 0 < len(correlation) <= wire.MAX_CORRELATION_BYTES:
            raise ValueError(f"request_id must be 1-{wire.MAX_CORRELATION_BYTES} bytes")
        deadline = time.monotonic() + timeout
        pending = _Pending()
        mid: int | None = None
        with self._cond:
            self._cond.wait_for(
                lambda: self._subscribed and self._hub_state is not None,
                max(0.0, deadline - time.monotonic()),
            )
            if not self._subscribed:
                raise wire.HubUnreachable(
                    f"not connected to the hall broker {self.address}", request_id=request_id
                )
            if self._hub_state != "online":
                raise wire.HubUnreachable(
                    f"the hub is {self._hub_state or 'not announced'}", request_id=request_id
                )
            self._pending[correlation] = pending
        try:
            props = Properties(PacketTypes.PUBLISH)
            props.ResponseTopic = self._reply_topic
            props.CorrelationData = correlation
            # The broker drops a request its terminal no longer waits for.
            props.MessageExpiryInterval = max(1, math.ceil(timeout))
            info = self._client.publish(self._request_topic, payload, qos=1, properties=props)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise wire.HubUnreachable(
                    f"cannot send to the hall broker ({mqtt.error_string(info.rc)})",
                    request_id=request_id,
                )
            with self._mid_lock:
                if info.mid in self._unheard:
                    self._unheard.discard(info.mid)
                    pending.failure = NO_LISTENER
                    pending.done.set()
                else:
                    self._by_mid[info.mid] = pending
                    mid = info.mid
            if not pending.done.wait(max(0.0, deadline - time.monotonic())):
                raise wire.HubUnreachable(
                    f"no reply from the hub within {timeout:g} s", request_id=request_id
                )
        finally:
            with self._cond:
                self._pending.pop(correlation, None)
            with self._mid_lock:
                if mid is not None:
                    self._by_mid.pop(mid, None)
        if pending.reply is None:
            raise wire.HubUnreachable(
                pending.failure or "the connection was lost", request_id=request_id
            )
        if pending.reply.get("ok") is True:
            return pending.reply.get("result")
        raise wire.remote_error(pending.reply.get("error"))

    # ---- paho's network thread: hand off only --------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("hall LAN: broker refused the connection: %s", reason)
            return
        client.subscribe(
            [
                (self._reply_topic, 1),
                (self._events_topic, 1),
                (self._hub_topic, 1),
                (self._profiles_topic, 1),
                (self._device_topic, 1),
            ]
        )

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, props: Any
    ) -> None:
        if reason.value != NO_MATCHING_SUBSCRIBERS:
            return
        with self._mid_lock:
            pending = self._by_mid.get(mid)
            if pending is None:  # the PUBACK came before publish() returned the mid
                self._unheard.add(mid)
                return
            pending.failure = NO_LISTENER
            pending.done.set()

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode], props: Any
    ) -> None:
        if any(r.is_failure for r in reasons):
            log.error(
                "hall LAN: the broker refused a subscription (%s): is %s a %s terminal in "
                "hall.yaml, and were the broker's files generated from it?",
                reasons,
                self.terminal_id,
                self.role,
            )
            return
        with self._cond:
            self._subscribed = True
            self._cond.notify_all()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        self._lost(f"disconnected from the hall broker ({reason})")

    def _lost(self, why: str) -> None:
        with self._cond:
            self._subscribed = False
            self._hub_state = None  # the retained presence comes again after a reconnect
            for pending in self._pending.values():
                pending.failure = why
                pending.done.set()
            self._cond.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        payload = bytes(msg.payload)
        if msg.topic == self._reply_topic:
            self._on_reply(msg, payload)
        elif msg.topic == self._events_topic:
            self._on_event(payload)
        elif msg.topic == self._device_topic:
            self._on_device_request(msg, payload)
        elif (name := wire.profile_name_of(self.hall_id, msg.topic)) is not None:
            with self._cond:
                callbacks = list(self._profile_callbacks)
            for callback in callbacks:
                try:
                    callback(name, payload)
                except Exception:  # a bug there must not stop the network thread
                    log.exception("hall LAN: profile callback failed")
        elif msg.topic == self._hub_topic:
            presence = wire.parse_json_object(payload, wire.MAX_PRESENCE_BYTES)
            state = presence.get("state") if presence else None
            with self._cond:
                self._hub_state = state if state in ("online", "offline") else "offline"
                self._cond.notify_all()

    def _on_reply(self, msg: mqtt.MQTTMessage, payload: bytes) -> None:
        correlation = getattr(getattr(msg, "properties", None), "CorrelationData", None)
        reply = wire.parse_json_object(payload, wire.MAX_REPLY_BYTES)
        with self._cond:
            pending = self._pending.get(bytes(correlation)) if correlation else None
            if pending is None:
                return  # late (its caller timed out) or someone else's
            if reply is None:
                pending.failure = "the hub's reply is malformed"
            else:
                pending.reply = reply
            pending.done.set()

    def _on_device_request(self, msg: mqtt.MQTTMessage, payload: bytes) -> None:
        props = getattr(msg, "properties", None)
        correlation = getattr(props, "CorrelationData", None)
        if getattr(props, "ResponseTopic", None) != self._device_answer_topic or not (
            correlation and len(correlation) <= wire.MAX_CORRELATION_BYTES
        ):
            log.warning("hall LAN: a device request without a proper answer topic ignored")
            return
        with self._cond:
            callback = self._device_callback
        if callback is None:
            return  # no devices open yet: the hub reports this terminal unreachable
        try:
            callback(bytes(correlation), payload)
        except Exception:  # a bug there must not stop the network thread
            log.exception("hall LAN: device request callback failed")

    def _on_event(self, payload: bytes) -> None:
        event = wire.parse_json_object(payload, wire.MAX_EVENT_BYTES)
        if event is None:
            log.warning("hall LAN: malformed event ignored")
            return
        with self._cond:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(event)
            except Exception:  # a screen's bug must not stop the network thread
                log.exception("hall LAN: event callback failed")
