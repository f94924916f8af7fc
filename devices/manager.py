"""The device manager: opens a node's devices, watches them, reconnects, reports status.

Built from the node config's ``DeviceSpec`` list and the profiles folder. Every device gets
one worker thread: it opens the port (with exponential backoff after failures), polls
health, reads ID cards and scanned codes, and calls every ``on_status`` callback
``(device_id, status, reason)`` whenever ``online / offline / fault`` or its reason changes.
Callers use the devices through the manager; nothing here raises into the queue: a failed
print returns a reason.

A device is re-opened with another profile while the agent runs (:meth:`DeviceManager.reopen`,
for a profile pushed from central): it must then answer its health probe
(:meth:`DeviceManager.probe`) within the health timeout, or it goes back to the profile it
had (a rollback, remembered on disk by :mod:`devices.last_good`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from agent.node import DeviceSpec
from devices.errors import DeviceFault, NoAnswer, PortGone, PortUnavailable, SamNotReady
from devices.idcard import IdCard, IdCardReader
from devices.last_good import LastGoodProfiles
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
#: Drivers whose step blocks in a read (bounded by the poll interval).
_READERS = (IdCardReader, SerialScanner, HidScanner, CameraScanner)
#: How long a re-opened device has to answer its probe, unless the node config says.
HEALTH_TIMEOUT_S = 5.0
#: Pause between two probes of a device that did not answer yet.
PROBE_RETRY_S = 0.1


@dataclass(frozen=True)
class ProbeResult:
    """Did the device answer? ``checked`` False: its protocol has no question to ask (an
    evaluator, a scanner): it counts as answering once its port is open."""

    ok: bool
    reason: str | None = None
    checked: bool = True


@dataclass(frozen=True)
class ReopenOutcome:
    """What :meth:`DeviceManager.reopen` did: ``applied``, or ``rolled_back`` with why."""

    device: str
    outcome: Literal["applied", "rolled_back"]
    reason: str | None = None


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
        # Held by the worker for each open/step and by a re-open for its whole length, so
        # the worker never opens, reads or fails a driver a re-open is swapping.
        self.cycle = threading.Lock()
        self.shown: dict[int, str] = {}  # LED bus address -> the text last shown there

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

    def fail_with(self, reason: str | None) -> None:
        """Closed after a failed probe; the worker opens it again with backoff."""
        self.close_driver()
        status: Status = "offline" if reason in _OFFLINE_REASONS else "fault"
        self.set_status(status, reason or "no_answer")

    def step_health_quietly(self) -> None:
        """The status after a re-open: the printer's own, else online."""
        try:
            self.step_health()
        except DeviceFault as exc:
            self.fail(exc)

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
            with self.cycle:
                failed = self.cycle_once()
            if failed:
                stop.wait(delay)
                delay = min(delay * 2, m.backoff_max)
            else:
                delay = m.backoff_initial
                if not isinstance(self.driver, _READERS):  # a reader waits inside its read
                    stop.wait(m.poll_interval)
        self.close_driver()

    def cycle_once(self) -> bool:
        """Open the driver if closed, else one step; True when it failed (then back off)."""
        if self.driver is None:
            try:
                with self.lock:
                    self.open()
                self.step_health()
            except DeviceFault as exc:
                self.fail(exc)
                return True
            return False
        try:
            if self.port_missing():
                raise PortGone(f"{self.id}: {self.port} disappeared", device=self.id)
            self.step()
        except DeviceFault as exc:
            log.warning("device %s: %s", self.id, exc.reason)
            self.fail(exc)
            return True
        return False

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

    def step(self) -> None:
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

    # ----- health probe and re-open
    def probe_once(self) -> ProbeResult:
        """Ask the open driver something it must answer (under the device lock)."""
        with self.lock:
            driver = self.driver
            if driver is None:
                return ProbeResult(False, self.reason or "not_open")
            try:
                if isinstance(driver, TicketPrinter):
                    driver.status()  # paper out is an answer too: the printer speaks
                elif isinstance(driver, IdCardReader):
                    if not driver.sam_ok():
                        return ProbeResult(False, SamNotReady.code)
                elif isinstance(driver, LedDisplay):
                    address = self.probe_address()
                    driver.show(address, self.shown.get(address, ""))
                else:
                    return ProbeResult(True, None, checked=False)
            except DeviceFault as exc:
                return ProbeResult(False, exc.reason)
        return ProbeResult(True)

    def probe_address(self) -> int:
        """The LED bus address to probe: the strip's own, else one that was shown on."""
        spec = self.spec
        if spec.address is not None:
            return spec.address
        if spec.window is not None:
            return spec.window
        return next(iter(self.shown), 1)

    def probe(self, timeout: float) -> ProbeResult:
        """Probe until the device answers or ``timeout`` has passed (the last answer)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.probe_once()
            if result.ok or time.monotonic() + PROBE_RETRY_S > deadline:
                return result
            time.sleep(PROBE_RETRY_S)

    def open_checked(self, timeout: float) -> ProbeResult:
        """Open with ``self.profile`` and probe (the caller holds ``cycle``)."""
        self.close_driver()
        try:
            with self.lock:
                self.open()
        except DeviceFault as exc:
            return ProbeResult(False, exc.reason)
        return self.probe(timeout)


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
        last_good: Path | None = None,
        health_timeout_s: float = HEALTH_TIMEOUT_S,
    ) -> None:
        """``last_good``: the folder where each device's last good profile is kept (see
        :mod:`devices.last_good`; None keeps none); ``health_timeout_s``: how long a device
        re-opened with another profile has to answer its probe."""
        self.last_good = LastGoodProfiles(last_good)
        self.health_timeout_s = health_timeout_s
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
            profile = self.last_good.effective(
                spec.id, load_profile(spec.profile, profiles_dir, pushed_profiles)
            )
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

    def profile(self, device_id: str) -> AnyProfile:
        """The profile the device is open with (or will be opened with) now."""
        return self.devices[device_id].profile

    def using(self, profile_name: str) -> list[str]:
        """The ids of the devices node.yaml gives the profile ``profile_name``."""
        return [d.id for d in self.devices.values() if d.spec.profile == profile_name]

    def probe(self, device_id: str, timeout: float | None = None) -> ProbeResult:
        """Does the device answer (its status, its SAM, an LED frame's acknowledgement)
        within ``timeout`` (default: the health timeout)? Never raises for a device fault."""
        d = self.devices[device_id]
        with d.cycle:
            return d.probe(self.health_timeout_s if timeout is None else timeout)

    def reopen(
        self, device_id: str, profile: AnyProfile, timeout: float | None = None
    ) -> ReopenOutcome:
        """Close the device, open it with ``profile`` and probe it; when it does not answer
        within ``timeout`` (default: the health timeout), open it again with the profile it
        had (the last good one, kept on disk). Blocks for up to about twice ``timeout``."""
        d = self.devices[device_id]
        if profile.kind != d.spec.kind:
            raise ValueError(f"device {device_id} is a {d.spec.kind}, not a {profile.kind}")
        limit = self.health_timeout_s if timeout is None else timeout
        with d.cycle:
            previous = d.profile
            d.profile = profile
            tried = d.open_checked(limit)
            if tried.ok:
                self.last_good.write(device_id, profile, None, None)
                log.info("device %s: re-opened with profile %s", device_id, profile.name)
                d.step_health_quietly()
                return ReopenOutcome(device_id, "applied")
            reason = f"health check failed: {tried.reason or 'no answer'}"
            log.warning("device %s: profile %s rolled back: %s", device_id, profile.name, reason)
            d.profile = previous
            self.last_good.write(device_id, previous, profile, reason)
            back = d.open_checked(limit)
            if back.ok:
                d.step_health_quietly()
            else:
                reason += f"; the previous profile does not answer either: {back.reason}"
                d.fail_with(back.reason)
            return ReopenOutcome(device_id, "rolled_back", reason)

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
        found = self._window_device("led", window)
        if found is not None:  # noted first: a probe after a re-open shows it again
            device, address = found
            device.shown[address] = text
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
