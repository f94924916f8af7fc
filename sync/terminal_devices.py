"""Central's ``probe`` and ``reopen_devices`` for the devices of the terminal PCs (kiosk,
window, display), which central reaches only through their hub.

Central names such a device as the hub records it, ``{terminal}/{device}``
(``kiosk-1/printer``). At the hub, :class:`HallDevices` runs a plain id on the hub's own
devices and relays a ``terminal/device`` one over the hall LAN to that terminal only
(:meth:`sync.lan.LanServer.ask_device`; only the hub's login may write there: the ACL); a
terminal the hall config does not name is refused, one that does not answer in time is
reported ``terminal_unreachable``. At the terminal, :class:`TerminalDeviceRequests` runs
each request on its device manager, on a thread of its own (paho's only hands off), and
answers the hub.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from typing import TYPE_CHECKING, Protocol

from sync.lan import wire
from sync.remote_devices import DeviceAnswer, DeviceControl, UnknownDevice, UnknownTerminal

if TYPE_CHECKING:
    from sync.lan import LanClient

log = logging.getLogger(__name__)

#: Device requests a terminal holds at once; more are dropped (the hub reports it unreachable).
MAX_WAITING_REQUESTS = 8
UNKNOWN_DEVICE = "unknown_device"
TERMINAL_UNREACHABLE = "terminal_unreachable"


class TerminalRelay(Protocol):
    """What :class:`HallDevices` needs of the hub's hall LAN server."""

    def has_terminal(self, terminal_id: str) -> bool: ...

    def ask_device(
        self, terminal_id: str, action: wire.DeviceAction, device: str, timeout: float
    ) -> wire.DeviceAnswer | None: ...


class HallDevices:
    """:class:`~sync.remote_devices.DeviceControl` over the hub's own devices (``own``, None
    without any) and, through ``relay``, the terminals' (``terminal/device`` ids)."""

    def __init__(self, own: DeviceControl | None, relay: TerminalRelay) -> None:
        self._own = own
        self._relay = relay

    def device_ids(self) -> list[str]:
        """The hub's own devices (``reopen_devices`` without a device re-opens these)."""
        return self._own.device_ids() if self._own is not None else []

    def reopen(self, device_id: str, timeout: float) -> DeviceAnswer:
        return self._run("reopen", device_id, timeout)

    def probe(self, device_id: str, timeout: float) -> DeviceAnswer:
        return self._run("probe", device_id, timeout)

    def _run(self, action: wire.DeviceAction, device_id: str, timeout: float) -> DeviceAnswer:
        terminal, _, device = device_id.rpartition("/")
        if not terminal:
            if self._own is None:
                raise UnknownDevice(device_id)
            run = self._own.probe if action == "probe" else self._own.reopen
            return run(device_id, timeout)
        if not self._relay.has_terminal(terminal):
            raise UnknownTerminal(device_id)
        answer = self._relay.ask_device(terminal, action, device, timeout)
        if answer is None:
            return DeviceAnswer(device_id, False, "unknown", TERMINAL_UNREACHABLE)
        if answer.reason == UNKNOWN_DEVICE:
            raise UnknownDevice(device_id)
        return DeviceAnswer(device_id, answer.ok, answer.status, answer.reason)


class TerminalDeviceRequests:
    """A terminal's side: the hub's device requests, run on ``devices`` (None: this PC has
    none, every request is answered ``unknown_device``). :meth:`start`, then :meth:`close`."""

    def __init__(self, client: LanClient, devices: DeviceControl | None) -> None:
        self._client = client
        self._devices = devices
        self._queue: queue.Queue[tuple[bytes, bytes] | None] = queue.Queue(MAX_WAITING_REQUESTS)
        self._thread = threading.Thread(target=self._run, name="terminal-devices", daemon=True)
        #: Requests run (a test's proof that a forged one never was).
        self.handled = 0

    def start(self) -> TerminalDeviceRequests:
        self._thread.start()
        self._client.on_device_request(self.submit)
        return self

    def close(self) -> None:
        # Full: the worker is stuck on a device (a daemon thread, it ends with the process).
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=1.0)
        self._thread.join(timeout=10)

    def submit(self, correlation: bytes, payload: bytes) -> None:
        """On paho's thread: queue the request, or drop it when too many wait."""
        try:
            self._queue.put_nowait((correlation, payload))
        except queue.Full:
            log.warning("device request dropped: %d wait already", MAX_WAITING_REQUESTS)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            correlation, payload = item
            try:
                request = wire.parse_device_message(payload, wire.DeviceRequest)
            except wire.BadRequest as exc:
                log.warning("device request from the hub refused: %s", exc)
                continue
            self.handled += 1
            log.info("remote %s of device %s, asked by the hub", request.action, request.device)
            answer = self._answer(request)
            if not self._client.answer_device(correlation, answer):
                log.warning("the answer on device %s could not be sent", request.device)

    def _answer(self, request: wire.DeviceRequest) -> wire.DeviceAnswer:
        try:
            if self._devices is None:
                raise UnknownDevice(request.device)
            run = self._devices.probe if request.action == "probe" else self._devices.reopen
            done = run(request.device, request.timeout_s)
        except UnknownDevice:
            return wire.DeviceAnswer(
                schema_version=1, ok=False, status="unknown", reason=UNKNOWN_DEVICE
            )
        except Exception:  # a bug: this request fails, the next ones still run
            log.exception("remote %s of device %s failed", request.action, request.device)
            return wire.DeviceAnswer(
                schema_version=1, ok=False, status="unknown", reason="terminal_failed"
            )
        reason = done.reason[: wire.MAX_DEVICE_REASON_CHARS] if done.reason else None
        return wire.DeviceAnswer(schema_version=1, ok=done.ok, status=done.status, reason=reason)
