"""The device manager: opens a node's devices, watches them, reconnects, reports status.

Built from the node config's ``DeviceSpec`` list and the profiles folder. Every device gets
one worker thread: it opens the port (with exponential backoff after failures), polls
health, reads ID cards and scanned codes, and calls every ``on_status`` callback
``(device_id, status, reason)`` whenever ``online / offline / fault`` or its reason changes.
Callers use the devices through the manager; nothing here raises into the queue: a failed
print returns a reason.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from agent.node import DeviceSpec
from devices.errors import DeviceFault, NoAnswer, PortGone, PortUnavailable, SamNotReady
from devices.idcard import IdCard, IdCardReader
from devices.led import Evaluator, EvaluatorRating, LedDisplay
from devices.printer import PrinterStatus, PrintResult, TicketLayout, TicketPrinter
from devices.profiles import (
    AnyProfile,
    EvaluatorProfile,
    IdReaderProfile,
    LedProfile,
    PrinterProfile,
    ScannerProfile,
    load_profile,
)
from devices.scanner import CameraScanner, HidScanner, SerialScanner
from devices.transport import open_transport

log = logging.getLogger(__name__)

Status = Literal["online", "offline", "fault"]
ReportCallback = Callable[[str, Status, str | None], None]
CardCallback = Callable[[str, IdCard], None]
CodeCallback = Callable[[str, str], None]

D = TypeVar("D")
R = TypeVar("R")
V = TypeVar("V")

_OFFLINE_REASONS = {PortGone.code, PortUnavailable.code, NoAnswer.code}


def _status_for(exc: DeviceFault) -> Status:
    return "offline" if exc.code in _OFFLINE_REASONS else "fault"


def _notify(callbacks: list[Callable[[str, V], None]], device_id: str, value: V, what: str) -> None:
    for cb in list(callbacks):
        try:
            cb(device_id, value)
        except Exception:  # one broken subscriber must not starve the others
            log.exception("%s callback failed", what)


class ManagedDevice:
    """One device: its driver (when open), its status and its worker thread."""

    def __init__(self, manager: DeviceManager, spec: DeviceSpec, profile: AnyProfile) -> None:
        self.manager = manager
        self.spec = spec
        self.profile = profile
        self.lock = threading.RLock()
        self.driver: Any = None
        self.status: Status | None = None
        self.reason: str | None = None
        self.simulator: Any = None
        self.port = spec.port
        self.thread: threading.Thread | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    # ----- status
    def set_status(self, status: Status, reason: str | None) -> None:
        with self.lock:
            if (status, reason) == (self.status, self.reason):
                return
            self.status, self.reason = status, reason
        log.info("device %s: %s%s", self.id, status, f" ({reason})" if reason else "")
        self.manager.dispatch_status(self.id, status, reason)

    def fail(self, exc: DeviceFault) -> None:
        self.close_driver()
        self.set_status(_status_for(exc), exc.reason)

    # ----- driver
    def open(self) -> None:
        p, spec = self.profile, self.spec
        if isinstance(p, ScannerProfile) and p.mode == "hid":
            self.driver = HidScanner(self.port, p, spec.id)
            return
        if isinstance(p, ScannerProfile) and p.mode == "camera":
            source: int | str = int(self.port) if self.port.isdigit() else self.port
            self.driver = CameraScanner(source, p, spec.id)
            return
        transport = open_transport(self.port, p.transport.link(spec.baud))
        try:
            if isinstance(p, PrinterProfile):
                printer = TicketPrinter(transport, p, spec.id)
                self.driver = printer
            elif isinstance(p, IdReaderProfile):
                reader = IdCardReader(transport, p, self.manager.secret, spec.id)
                if not reader.sam_ok():
                    raise SamNotReady(f"{spec.id}: SAM not ready", device=spec.id)
                self.driver = reader
            elif isinstance(p, ScannerProfile):
                self.driver = SerialScanner(transport, p, spec.id)
            elif isinstance(p, LedProfile):
                self.driver = LedDisplay(transport, p, spec.id)
            elif isinstance(p, EvaluatorProfile):
                self.driver = Evaluator(transport, p, spec.id)
        except DeviceFault:
            transport.close()
            raise

    def close_driver(self) -> None:
        with self.lock:
            driver, self.driver = self.driver, None
        if driver is not None:
            with contextlib.suppress(DeviceFault):
                driver.close()

    def port_missing(self) -> bool:
        """A device path that vanished (USB unplugged) even though nothing was read."""
        return self.port.startswith("/") and not os.path.exists(self.port)

    # ----- worker
    def run(self, stop: threading.Event) -> None:
        m = self.manager
        delay = m.backoff_initial
        while not stop.is_set():
            if self.driver is None:
                try:
                    with self.lock:
                        self.open()
                    self.step_health()
                    delay = m.backoff_initial
                except DeviceFault as exc:
                    self.fail(exc)
                    stop.wait(delay)
                    delay = min(delay * 2, m.backoff_max)
                    continue
            try:
                if self.port_missing():
                    raise PortGone(f"{self.id}: {self.port} disappeared", device=self.id)
                self.step(stop)
            except DeviceFault as exc:
                log.warning("device %s: %s", self.id, exc.reason)
                self.fail(exc)
                stop.wait(delay)
                delay = min(delay * 2, m.backoff_max)
        self.close_driver()

    def step_health(self) -> None:
        with self.lock:
            driver = self.driver
            if isinstance(driver, TicketPrinter):
                st = driver.status()
                self.set_status(
                    "online" if st.online else "fault", st.reason if st.reason else None
                )
                return
        self.set_status("online", None)

    def step(self, stop: threading.Event) -> None:
        m = self.manager
        driver = self.driver
        if isinstance(driver, IdCardReader):
            card = driver.read_card(timeout=m.poll_interval)
            self.set_status("online", None)
            if card is not None:
                m.dispatch_card(self.id, card)
        elif isinstance(driver, SerialScanner | HidScanner | CameraScanner):
            code = driver.read_code(timeout=m.poll_interval)
            self.set_status("online", None)
            if code is not None:
                m.dispatch_code(self.id, code)
        elif isinstance(driver, TicketPrinter):
            self.step_health()
            stop.wait(m.poll_interval)
        else:
            stop.wait(m.poll_interval)


class PrinterHandle:
    """What the kiosk gets from ``manager.printer()``: printing that never raises."""

    def __init__(self, device: ManagedDevice) -> None:
        self._device = device

    @property
    def device_id(self) -> str:
        return self._device.id

    def print_ticket(self, layout: TicketLayout) -> PrintResult:
        d = self._device
        with d.lock:
            printer = d.driver
            if not isinstance(printer, TicketPrinter):
                return PrintResult(False, d.reason or "offline")
            result = printer.print_ticket(layout)
        if result.ok:
            d.set_status("online", result.reason)
        elif result.reason in _OFFLINE_REASONS:
            d.close_driver()  # the worker reopens it with backoff
            d.set_status("offline", result.reason)
        else:
            d.set_status("fault", result.reason)
        return result

    def status(self) -> PrinterStatus | None:
        d = self._device
        with d.lock:
            printer = d.driver
            if not isinstance(printer, TicketPrinter):
                return None
            try:
                return printer.status()
            except DeviceFault:
                return None


class DeviceManager:
    def __init__(
        self,
        specs: list[DeviceSpec],
        profiles_dir: Path | None,
        report: ReportCallback | None = None,
        *,
        secret: bytes = b"",
        pushed_profiles: Path | None = None,
        poll_interval: float = 0.5,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        self._status_callbacks: list[ReportCallback] = [report] if report else []
        self.secret = secret
        self.poll_interval = poll_interval
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._stop = threading.Event()
        self._card_callbacks: list[CardCallback] = []
        self._code_callbacks: list[CodeCallback] = []
        self.devices: dict[str, ManagedDevice] = {}
        for spec in specs:
            if spec.id in self.devices:
                raise ValueError(f"device id {spec.id!r} appears twice")
            profile = load_profile(spec.profile, profiles_dir, pushed_profiles)
            if profile.kind != spec.kind:
                raise ValueError(
                    f"device {spec.id}: profile {spec.profile!r} is for a {profile.kind}, "
                    f"not a {spec.kind}"
                )
            if spec.kind == "idreader" and not secret:
                raise ValueError("an ID-card reader needs the hall secret (secret=...)")
            self.devices[spec.id] = ManagedDevice(self, spec, profile)
        self._started = False

    def start(self) -> DeviceManager:
        from devices.simulators import start_simulator

        for device in self.devices.values():
            if device.spec.simulated:
                device.simulator = start_simulator(device.spec.kind, device.profile)
                device.port = device.simulator.port
            device.thread = threading.Thread(
                target=device.run, args=(self._stop,), name=f"device-{device.id}", daemon=True
            )
            device.thread.start()
        self._started = True
        return self

    def close(self) -> None:
        self._stop.set()
        for device in self.devices.values():
            if device.thread is not None:
                device.thread.join(timeout=10)
            device.close_driver()
            if device.simulator is not None:
                device.simulator.stop()

    def __enter__(self) -> DeviceManager:
        return self.start() if not self._started else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- callers
    def status(self, device_id: str) -> tuple[Status | None, str | None]:
        d = self.devices[device_id]
        return d.status, d.reason

    def simulator(self, device_id: str) -> Any:
        return self.devices[device_id].simulator

    def _of_kind(self, kind: str) -> list[ManagedDevice]:
        return [d for d in self.devices.values() if d.spec.kind == kind]

    def printer(self, window: int | None = None) -> PrinterHandle | None:
        printers = self._of_kind("printer")
        chosen = [d for d in printers if d.spec.window == window] or printers
        return PrinterHandle(chosen[0]) if chosen else None

    def on_status(self, callback: ReportCallback) -> None:
        """``callback(device_id, status, reason)`` on a device thread at every change."""
        self._status_callbacks.append(callback)

    def dispatch_status(self, device_id: str, status: Status, reason: str | None) -> None:
        for cb in list(self._status_callbacks):
            try:
                cb(device_id, status, reason)
            except Exception:  # a broken subscriber must not stop the device's worker thread
                log.exception("device %s: status callback failed", device_id)

    def on_card(self, callback: CardCallback) -> None:
        self._card_callbacks.append(callback)

    def on_code(self, callback: CodeCallback) -> None:
        self._code_callbacks.append(callback)

    def dispatch_card(self, device_id: str, card: IdCard) -> None:
        _notify(self._card_callbacks, device_id, card, "card")

    def dispatch_code(self, device_id: str, code: str) -> None:
        _notify(self._code_callbacks, device_id, code, "code")

    def has_led(self, window: int) -> bool:
        return self._window_device("led", window) is not None

    def has_evaluator(self, window: int) -> bool:
        return self._window_device("evaluator", window) is not None

    def _window_device(self, kind: str, window: int) -> tuple[ManagedDevice, int] | None:
        devices = self._of_kind(kind)
        for d in devices:
            if d.spec.window == window:
                return d, d.spec.address if d.spec.address is not None else window
        for d in devices:
            if d.spec.window is None:  # one bus for every window: address = window number
                return d, window
        return None

    def _call_window_device(
        self, kind: str, window: int, driver_type: type[D], call: Callable[[D, int], R]
    ) -> tuple[bool, R | None]:
        """Run ``call(driver, bus address)`` on the window's device of ``kind``.

        ``(True, result)`` when it answered; ``(False, None)`` when there is no such device,
        it is not open, or it failed (then its status is reported and the worker reopens it).
        """
        found = self._window_device(kind, window)
        if found is None:
            return False, None
        d, address = found
        with d.lock:
            driver = d.driver
            if not isinstance(driver, driver_type):
                return False, None
            try:
                result = call(driver, address)
            except DeviceFault as exc:
                d.fail(exc)
                return False, None
        d.set_status("online", None)
        return True, result

    def show(self, window: int, text: str) -> bool:
        """Show ``text`` on the window's LED strip; False (and a status report) on failure."""
        ok, _ = self._call_window_device(
            "led", window, LedDisplay, lambda led, address: led.show(address, text)
        )
        return ok

    def request_rating(
        self, window: int, ticket: str, timeout: float, reasons: Sequence[str] = ()
    ) -> EvaluatorRating | None:
        """What the citizen gave at the window's evaluator (a screen offers ``reasons`` for
        a bad level); None if nothing came or it failed."""
        _, rating = self._call_window_device(
            "evaluator",
            window,
            Evaluator,
            lambda ev, address: ev.request(ticket, timeout, address, reasons),
        )
        return rating
