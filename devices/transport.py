"""Byte transports: a tiny protocol the drivers hold, over pyserial URLs, TCP and USB.

Every read is bounded by a timeout. A port that goes away while in use raises
:class:`devices.errors.PortGone`; a port that cannot be opened raises
:class:`devices.errors.PortUnavailable`. Nothing here hangs.
"""

from __future__ import annotations

import contextlib
import errno
import time
from dataclasses import dataclass
from typing import Any, Protocol

import serial

from devices.errors import NoAnswer, PortGone, PortUnavailable, UnsupportedDevice

try:
    import termios

    _TERMIOS_ERRORS: tuple[type[BaseException], ...] = (termios.error,)
except ImportError:  # pragma: no cover - Windows
    _TERMIOS_ERRORS = ()

# what pyserial lets escape when the device vanishes under an open port
_GONE = (serial.SerialException, OSError, TypeError, AttributeError, *_TERMIOS_ERRORS)


class Transport(Protocol):
    """What a driver needs from a byte pipe."""

    name: str

    def read(self, n: int, timeout: float) -> bytes:
        """Up to ``n`` bytes; at least one unless ``timeout`` seconds pass (then ``b""``)."""
        ...

    def write(self, data: bytes) -> None: ...

    def reset_input(self) -> None:
        """Drop bytes received but not read yet."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class LinkSettings:
    baud: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1
    rtscts: bool = False
    xonxoff: bool = False


class SerialTransport:
    """A pyserial port: device path, ``loop://``, ``socket://host:port``, pty, …"""

    def __init__(self, url: str, link: LinkSettings | None = None) -> None:
        link = link or LinkSettings()
        self.name = url
        try:
            self._port = serial.serial_for_url(
                url,
                baudrate=link.baud,
                bytesize=link.bytesize,
                parity=link.parity,
                stopbits=link.stopbits,
                rtscts=link.rtscts,
                xonxoff=link.xonxoff,
                timeout=0.1,
                write_timeout=5.0,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortUnavailable(
                f"cannot open {url}: {exc}", device=url, reason="port_unavailable"
            ) from exc

    def read(self, n: int, timeout: float) -> bytes:
        if n <= 0:
            return b""
        try:
            self._port.timeout = max(0.0, timeout)
            first = self._port.read(1)
            if not first or n == 1:
                return bytes(first)
            waiting = self._port.in_waiting
            if waiting:
                self._port.timeout = 0
                return bytes(first) + bytes(self._port.read(min(waiting, n - 1)))
            return bytes(first)
        except _GONE as exc:
            # TypeError/AttributeError: pyserial internals after the fd was closed underneath
            raise PortGone(f"{self.name}: read failed: {exc}", device=self.name) from exc

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except serial.SerialTimeoutException as exc:
            raise NoAnswer(f"{self.name}: write timed out", device=self.name) from exc
        except _GONE as exc:
            raise PortGone(f"{self.name}: write failed: {exc}", device=self.name) from exc

    def reset_input(self) -> None:
        try:
            self._port.reset_input_buffer()
        except _GONE as exc:
            raise PortGone(f"{self.name}: port gone: {exc}", device=self.name) from exc

    def close(self) -> None:
        with contextlib.suppress(serial.SerialException, OSError):
            self._port.close()


class UsbPrinterTransport:
    """A USB printer through python-escpos's ``Usb`` class (needs the ``[usb]`` extra).

    pyusb's errors (``usb.core.USBError`` and its timeout subclass) are ``OSError``s;
    python-escpos raises its own ``Error`` when the device is not found and ``RuntimeError``
    when pyusb is missing.
    """

    def __init__(self, vid: int, pid: int, timeout_ms: int = 2000) -> None:
        self.name = f"usb:{vid:04x}:{pid:04x}"
        try:
            from escpos.exceptions import Error as EscposError
            from escpos.printer import Usb
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise UnsupportedDevice(
                "USB printers need python-escpos[usb]", device=self.name
            ) from exc
        self._errors: tuple[type[Exception], ...] = (OSError, EscposError)
        try:
            self._printer: Any = Usb(vid, pid, usb_args={}, timeout=timeout_ms)
            self._printer.open()
        except (OSError, EscposError, RuntimeError) as exc:
            raise PortUnavailable(f"cannot open {self.name}: {exc}", device=self.name) from exc

    def read(self, n: int, timeout: float) -> bytes:  # pragma: no cover - needs hardware
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = bytes(self._printer._read())  # bounded by the Usb timeout (2 s)
            except OSError as exc:
                if exc.errno == errno.ETIMEDOUT or "timed out" in str(exc).lower():
                    continue
                raise PortGone(f"{self.name}: {exc}", device=self.name) from exc
            if data:
                return data[:n]
        return b""

    def write(self, data: bytes) -> None:  # pragma: no cover - needs hardware
        try:
            self._printer._raw(data)
        except self._errors as exc:
            raise PortGone(f"{self.name}: {exc}", device=self.name) from exc

    def reset_input(self) -> None:  # pragma: no cover - needs hardware
        return None

    def close(self) -> None:  # pragma: no cover - needs hardware
        with contextlib.suppress(*self._errors):
            self._printer.close()


def to_url(port: str) -> str:
    """Map the node config's port syntax to a pyserial URL (``tcp://h:p`` → ``socket://h:p``)."""
    if port.startswith("tcp://"):
        rest = port[len("tcp://") :]
        if ":" not in rest:
            rest += ":9100"
        return "socket://" + rest
    return port


def open_transport(port: str, link: LinkSettings | None = None) -> Transport:
    """Open ``port``: a device path, a pyserial URL, ``tcp://host[:9100]`` or ``usb:VID:PID``."""
    if port.startswith("usb:"):
        parts = port.split(":")
        if len(parts) != 3:
            raise PortUnavailable(f"bad USB port {port!r}, want usb:VID:PID", device=port)
        try:
            vid, pid = int(parts[1], 16), int(parts[2], 16)
        except ValueError as exc:
            raise PortUnavailable(f"bad USB port {port!r}", device=port) from exc
        return UsbPrinterTransport(vid, pid)
    return SerialTransport(to_url(port), link)


def read_exact(transport: Transport, n: int, deadline: float) -> bytes:
    """Exactly ``n`` bytes before ``deadline`` (monotonic), or whatever arrived by then."""
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        buf += transport.read(n - len(buf), left)
    return bytes(buf)


class CaptureTransport:
    """A transport that records writes and replays queued replies; for tests and dry runs."""

    def __init__(self, name: str = "capture") -> None:
        self.name = name
        self.written = bytearray()
        self._replies = bytearray()
        self.closed = False

    def feed(self, data: bytes) -> None:
        self._replies += data

    def read(self, n: int, timeout: float) -> bytes:
        if self.closed:
            raise PortGone(f"{self.name}: closed", device=self.name)
        data = bytes(self._replies[:n])
        del self._replies[:n]
        return data

    def write(self, data: bytes) -> None:
        if self.closed:
            raise PortGone(f"{self.name}: closed", device=self.name)
        self.written += data

    def reset_input(self) -> None:
        return None  # queued replies stand for bytes the device has not sent yet

    def close(self) -> None:
        self.closed = True


@dataclass
class FrameCounters:
    """What a frame reader skipped; logged as numbers only, never as bytes."""

    garbage_bytes: int = 0
    bad_checksum: int = 0
    bad_length: int = 0
    truncated: int = 0
    frames: int = 0

    @property
    def rejected(self) -> int:
        return self.bad_checksum + self.bad_length + self.truncated
