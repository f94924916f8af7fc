"""A node's devices as part of its start-up (:func:`sync.node.start_node`), with or without
screens: they open with the node, their health becomes core events, and each window's LED
strip and evaluator follow the core's events.

Two pieces, both fed from any thread and doing their slow work on their own threads (a
device thread, the core thread or paho's must never wait for a device or the hub):

- :class:`DeviceHealth` turns every status change of the device manager into a
  ``DeviceStatusChanged`` command carrying the device's kind and window (node.yaml), the
  latest one per device, sent again after a refusal for an unreachable hub until it lands.
- :class:`WindowDevices` shows a call on that window's LED strip and, after a finished
  service, asks its evaluator for a rating and records it (``RecordEvaluation``). An LED
  strip that comes online (at start, or plugged in again) shows what its windows show now.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from agent import commands as c
from agent.errors import HallError
from agent.node import DeviceSpec

if TYPE_CHECKING:
    from agent.node_runtime import Node
    from agent.ratings import RatingIndicators
    from agent.runtime import CoreRuntime
    from devices.led import EvaluatorRating
    from devices.manager import DeviceManager
    from sync.lan import LanClient

log = logging.getLogger(__name__)

#: How long a citizen has to press a key on the evaluator after a finished service.
RATING_TIMEOUT_S = 60.0
#: A command to the hub is tried this often within this time, with one request id (the hub
#: answers a request id it has already done from memory: a retry never commits twice).
HUB_TRIES = 3
HUB_BUDGET_S = 15.0
#: After a failed status report, the next try waits this long (or until the hub is back).
HEALTH_RETRY_S = 2.0

Execute = Callable[[c.Command], Any]
RatingCallback = Callable[[int, str, "int | None"], None]


class WindowHardware(Protocol):
    """What the follower needs of the devices: the device manager, or a screen's fake."""

    def has_led(self, window: int) -> bool: ...
    def has_evaluator(self, window: int) -> bool: ...
    def show(self, window: int, text: str) -> Any: ...
    def request_rating(
        self, window: int, number: str, timeout: float, reasons: Sequence[str] = ()
    ) -> EvaluatorRating | None: ...


def open_devices(node: Node, specs: list[DeviceSpec], report: DeviceHealth) -> DeviceManager:
    """The started device manager of ``specs``, reporting to ``report``; profiles pushed
    from central come before the shipped ones, except for simulated (demo) devices."""
    from devices.manager import DeviceManager

    pushed = None if all(s.simulated for s in specs) else node.data.profiles
    return DeviceManager(
        specs,
        None,
        report,
        secret=node.secret or b"",
        pushed_profiles=pushed,
        last_good=node.data.last_good_profiles,
        health_timeout_s=node.node.device_health_timeout_s,
    ).start()


def runtime_execute(runtime: CoreRuntime) -> Execute:
    return lambda command: runtime.execute(command)


def lan_execute(client: LanClient) -> Execute:
    """A command at the hub, tried again while the hub cannot be reached."""
    from sync.lan import HubUnreachable

    def execute(command: c.Command) -> Any:
        request_id = uuid.uuid4().hex
        deadline = time.monotonic() + HUB_BUDGET_S
        for attempt in range(1, HUB_TRIES + 1):
            left = deadline - time.monotonic()
            try:
                return client.execute(command, timeout=max(0.1, left / 2), request_id=request_id)
            except HubUnreachable:
                if attempt == HUB_TRIES or deadline <= time.monotonic():
                    raise
                client.wait_hub(max(0.1, deadline - time.monotonic()) / 2)
        raise AssertionError("unreachable")  # the loop returns or raises

    return execute


class DeviceHealth:
    """``(device, status, reason)`` from the device manager → ``DeviceStatusChanged``."""

    def __init__(self, specs: list[DeviceSpec], execute: Execute) -> None:
        self._specs = {s.id: s for s in specs}
        self._execute = execute
        self._cond = threading.Condition()
        self._pending: dict[str, c.DeviceStatusChanged] = {}
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="device-health", daemon=True)
        self._thread.start()

    def __call__(self, device: str, status: str, reason: str | None) -> None:
        """On a device thread: note the latest status; the sender thread records it."""
        spec = self._specs.get(device)
        command = c.DeviceStatusChanged(
            device,
            status,
            reason,
            kind=spec.kind if spec else None,
            window=spec.window if spec else None,
        )
        with self._cond:
            self._pending[device] = command
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stopped)
                if self._stopped:
                    return
                device, command = next(iter(self._pending.items()))
            if self._send(command):
                with self._cond:
                    if self._pending.get(device) is command:  # no newer one came meanwhile
                        del self._pending[device]
            else:
                with self._cond:
                    self._cond.wait_for(lambda: self._stopped, HEALTH_RETRY_S)

    def _send(self, command: c.DeviceStatusChanged) -> bool:
        """True when it was recorded or refused for good (then it is logged and dropped)."""
        try:
            self._execute(command)
        except HallError as exc:
            if exc.code in ("hub_unreachable", "disk_full"):  # may land later
                log.warning("device %s status not recorded yet: %s", command.device, exc)
                return False
            log.warning("device %s status refused: %s", command.device, exc)
        except TimeoutError:
            log.warning("device %s status not recorded yet: the core is busy", command.device)
            return False
        return True

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=10)


class WindowDevices:
    """Each window's LED strip and evaluator, driven by the core's events.

    ``follow(type, payload, business_date)`` may be called from any thread; per window, one
    thread drives the LED strip and another waits for the evaluator (a citizen taking a
    minute to rate must not hold up the next call's number on the strip).
    """

    def __init__(
        self,
        hardware: WindowHardware,
        execute: Execute,
        rating_timeout: float = RATING_TIMEOUT_S,
        leds: Iterable[str] = (),
        indicators: Callable[[], RatingIndicators] | None = None,
    ) -> None:
        self.hardware = hardware
        # the hall's reasons for a bad rating, offered on an evaluator with a screen
        self.indicators = indicators
        self._asking: set[tuple[int, str]] = set()  # (window, number) an evaluator waits for
        self.leds = frozenset(leds)  # the ids of the LED strips, for :meth:`device_status`
        self.execute = execute
        self.rating_timeout = rating_timeout
        self._lock = threading.RLock()
        self._workers: dict[tuple[str, int], ThreadPoolExecutor] = {}
        self._shown: dict[int, str] = {}  # window -> what its LED strip should show now
        self._rating_callbacks: list[RatingCallback] = []
        self._closed = False

    def on_rating(self, callback: RatingCallback) -> None:
        """``callback(window, number, score)`` after each evaluator request; score None when
        the citizen gave none (or the evaluator failed)."""
        self._rating_callbacks.append(callback)

    def follow_event(self, event: Any) -> None:
        """A core subscriber (``CoreRuntime.subscribe``): an ``agent.model.Event``."""
        self.follow(event.type, event.payload, event.business_date)

    def follow_wire(self, event: dict[str, Any]) -> None:
        """A hall LAN subscriber (``LanClient.subscribe``): the event as a dict."""
        payload = event.get("payload")
        if isinstance(payload, dict):
            self.follow(str(event.get("type")), payload, str(event.get("business_date")))

    def follow(self, kind: str, payload: dict[str, Any], business_date: str) -> None:
        window = payload.get("window")
        if not isinstance(window, int) or isinstance(window, bool):
            return
        text = led_text(kind, payload)
        if text is not None and self.hardware.has_led(window):
            self._show(window, text)
        asked = kind == "ServiceFinished" or (kind == "RatingRequested" and payload.get("ask"))
        if asked and self.hardware.has_evaluator(window):
            number = str(payload.get("number"))
            with self._lock:
                if (window, number) in self._asking:  # the evaluator is asking already
                    return
                self._asking.add((window, number))
            self._on(("evaluator", window), lambda: self._rate(window, number))

    def restore(self, windows: list[dict[str, Any]]) -> None:
        """What each window's strip shows, from the hall status (``hall_status`` windows):
        the number called or served there, or the pause."""
        for row in windows:
            number, state = row.get("current"), row.get("current_state")
            if row.get("status") == "paused":
                text = led_text("WindowPaused", {})
            elif number and state in ("called", "serving"):
                text = led_text("TicketCalled", {"number": number})
            else:
                text = ""
            if text is not None and self.hardware.has_led(row["number"]):
                self._show(row["number"], text)

    def device_status(self, device: str, status: str, reason: str | None) -> None:
        """A device manager subscriber: an LED strip back online shows its windows again."""
        if status == "online" and device in self.leds:
            with self._lock:
                for window, text in self._shown.items():
                    self._on(("led", window), functools.partial(self.hardware.show, window, text))

    def _show(self, window: int, text: str) -> None:
        with self._lock:  # noted and queued together: the strip ends as noted
            self._shown[window] = text
            self._on(("led", window), functools.partial(self.hardware.show, window, text))

    def _on(self, key: tuple[str, int], work: Callable[[], Any]) -> None:
        with self._lock:
            if self._closed:
                return
            worker = self._workers.get(key)
            if worker is None:
                worker = ThreadPoolExecutor(1, thread_name_prefix=f"{key[0]}-{key[1]}")
                self._workers[key] = worker
            worker.submit(_logged, key, work)

    def _rate(self, window: int, number: str) -> None:
        indicators = self._indicators()
        labels = [r.zh for r in indicators.reasons] if indicators else []
        try:
            rating = self.hardware.request_rating(window, number, self.rating_timeout, labels)
        finally:
            with self._lock:
                self._asking.discard((window, number))
        if rating is not None:
            chosen = tuple(
                indicators.reasons[i - 1].code for i in rating.reasons or () if indicators
            )
            try:
                self.execute(c.RecordEvaluation(window, rating.score, number, reasons=chosen))
            except HallError as exc:
                log.warning("window %s: rating of %s not recorded: %s", window, number, exc)
        score = rating.score if rating is not None else None
        for callback in list(self._rating_callbacks):
            callback(window, number, score)

    def _indicators(self) -> RatingIndicators | None:
        """The hall's reason list, or None (no reasons offered) while it cannot be read: a
        rating still goes ahead without the hub's config."""
        if self.indicators is None:
            return None
        try:
            return self.indicators()
        except (HallError, TimeoutError) as exc:
            log.warning("rating reasons not offered: the hall config cannot be read: %s", exc)
            return None

    def close(self) -> None:
        """Drop what is queued; a rating being waited for is not waited for (its evaluator
        request ends with the device manager, and a late score finds the core stopped)."""
        with self._lock:
            self._closed = True
            workers = list(self._workers.values())
        for worker in workers:
            worker.shutdown(wait=False, cancel_futures=True)


def _logged(key: tuple[str, int], work: Callable[[], Any]) -> None:
    try:
        work()
    except Exception:  # a failed device call must not end the window's worker
        log.exception("window %s %s failed", key[1], key[0])


def led_text(kind: str, payload: dict[str, Any]) -> str | None:
    """What the window's LED strip shows after an event of ``kind``; None: unchanged."""
    if kind in ("TicketCalled", "TicketRecalled"):
        return f"请{payload.get('number')}号"
    if kind in ("WindowPaused", "StaffSignedOut"):  # nobody serves there now
        return "暂停服务"
    if kind in (
        "WindowResumed",
        "TicketNoShow",
        "TicketTransferred",
        "ServiceFinished",
        "StaffSignedIn",
    ):
        return ""
    return None
