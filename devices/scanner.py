"""Code scanners: serial (text + suffix), USB HID keyboard wedge (evdev), camera (OpenCV/zbar).

Every scanner returns codes through :func:`clean_code`, which bounds their length and
character set before anyone else sees them.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import select
import time
import unicodedata
from collections.abc import Iterable
from typing import Any

from devices.errors import PortGone, PortUnavailable, UnsupportedDevice
from devices.profiles import ScannerProfile
from devices.transport import Transport

log = logging.getLogger(__name__)


def clean_code(raw: str, max_length: int, charset: str) -> str | None:
    """The code, or None if it is empty, too long or has characters outside ``charset``."""
    code = raw.strip()
    if not code or len(code) > max_length:
        return None
    if charset == "ascii":
        if not all(" " <= ch <= "~" for ch in code):
            return None
    elif any(unicodedata.category(ch)[0] == "C" for ch in code):  # control, format, …
        return None
    return code


class SerialScanner:
    """A scanner that sends ``code + suffix`` over a serial line."""

    def __init__(
        self, transport: Transport, profile: ScannerProfile, device_id: str = "scanner"
    ) -> None:
        self.transport = transport
        self.profile = profile
        self.device_id = device_id
        self.suffix = profile.suffix.encode("ascii")
        self.buf = bytearray()
        self.rejected = 0
        self._skipping = False  # inside an overlong line already counted

    def _take_line(self) -> bytes | None:
        i = self.buf.find(self.suffix)
        if i < 0:
            return None
        line = bytes(self.buf[:i])
        del self.buf[: i + len(self.suffix)]
        if self._skipping:
            self._skipping = False
            return b""
        return line

    def read_code(self, timeout: float) -> str | None:
        """The next valid code, or None after ``timeout``; rejected codes are counted."""
        limit_bytes = self.profile.max_length * 4 + len(self.suffix)
        deadline = time.monotonic() + timeout
        while True:
            line = self._take_line()
            while line is not None:
                code = self._decode(line)
                if code is not None:
                    return code
                line = self._take_line()
            if len(self.buf) > limit_bytes:  # an endless line: drop it up to its suffix
                if not self._skipping:
                    self.rejected += 1
                self._skipping = True
                self.buf.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.buf += self.transport.read(1024, left)

    def _decode(self, line: bytes) -> str | None:
        line = line.strip(b"\r\n")
        try:
            text = line.decode(self.profile.encoding)
        except UnicodeDecodeError:
            self.rejected += 1
            return None
        code = clean_code(text, self.profile.max_length, self.profile.charset)
        if code is None and line:
            self.rejected += 1
        return code

    def close(self) -> None:
        self.transport.close()


# ----------------------------------------------------------------------------- HID wedge
# evdev key codes (linux/input-event-codes.h) → (plain, shifted) on a US layout.
_US_KEYS: dict[int, tuple[str, str]] = {
    2: ("1", "!"),
    3: ("2", "@"),
    4: ("3", "#"),
    5: ("4", "$"),
    6: ("5", "%"),
    7: ("6", "^"),
    8: ("7", "&"),
    9: ("8", "*"),
    10: ("9", "("),
    11: ("0", ")"),
    12: ("-", "_"),
    13: ("=", "+"),
    16: ("q", "Q"),
    17: ("w", "W"),
    18: ("e", "E"),
    19: ("r", "R"),
    20: ("t", "T"),
    21: ("y", "Y"),
    22: ("u", "U"),
    23: ("i", "I"),
    24: ("o", "O"),
    25: ("p", "P"),
    26: ("[", "{"),
    27: ("]", "}"),
    30: ("a", "A"),
    31: ("s", "S"),
    32: ("d", "D"),
    33: ("f", "F"),
    34: ("g", "G"),
    35: ("h", "H"),
    36: ("j", "J"),
    37: ("k", "K"),
    38: ("l", "L"),
    39: (";", ":"),
    40: ("'", '"'),
    41: ("`", "~"),
    43: ("\\", "|"),
    44: ("z", "Z"),
    45: ("x", "X"),
    46: ("c", "C"),
    47: ("v", "V"),
    48: ("b", "B"),
    49: ("n", "N"),
    50: ("m", "M"),
    51: (",", "<"),
    52: (".", ">"),
    53: ("/", "?"),
    57: (" ", " "),
    # keypad
    71: ("7", "7"),
    72: ("8", "8"),
    73: ("9", "9"),
    74: ("-", "-"),
    75: ("4", "4"),
    76: ("5", "5"),
    77: ("6", "6"),
    78: ("+", "+"),
    79: ("1", "1"),
    80: ("2", "2"),
    81: ("3", "3"),
    82: ("0", "0"),
    83: (".", "."),
    98: ("/", "/"),
    55: ("*", "*"),
}
KEY_ENTER, KEY_KPENTER, KEY_TAB = 28, 96, 15
KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_CAPSLOCK = 42, 54, 58
EV_KEY = 1
KEY_UP, KEY_DOWN, KEY_HOLD = 0, 1, 2


class KeyMapper:
    """Turns key events into strings; a scan ends at Enter (or Tab)."""

    def __init__(self, terminator: str = "enter", max_length: int = 4096) -> None:
        self.ends = {KEY_ENTER, KEY_KPENTER} if terminator == "enter" else {KEY_TAB}
        self.max_length = max_length
        self.shift = 0
        self.caps = False
        self.chars: list[str] = []
        self.overflowed = False
        self.unknown_keys = 0

    def feed(self, type_: int, code: int, value: int) -> str | None:
        """One input event; returns the finished scan when its terminator key goes down."""
        if type_ != EV_KEY:
            return None
        if code in (KEY_LEFTSHIFT, KEY_RIGHTSHIFT):
            self.shift += 1 if value == KEY_DOWN else -1 if value == KEY_UP else 0
            self.shift = max(self.shift, 0)
            return None
        if value != KEY_DOWN:
            return None  # key up / autorepeat
        if code == KEY_CAPSLOCK:
            self.caps = not self.caps
            return None
        if code in self.ends:
            text = "" if self.overflowed else "".join(self.chars)
            self.chars, self.overflowed = [], False
            return text
        pair = _US_KEYS.get(code)
        if pair is None:
            self.unknown_keys += 1
            return None
        plain, shifted = pair
        upper = bool(self.shift)
        if self.caps and plain.isalpha():
            upper = not upper
        if len(self.chars) >= self.max_length:
            self.overflowed = True
        else:
            self.chars.append(shifted if upper else plain)
        return None


class HidScanner:
    """A keyboard-wedge scanner read through evdev, grabbed so codes do not reach the UI."""

    def __init__(
        self, path_or_device: Any, profile: ScannerProfile, device_id: str = "scanner"
    ) -> None:
        assert profile.hid is not None
        self.profile = profile
        self.device_id = device_id
        self.rejected = 0
        if isinstance(path_or_device, str):
            try:
                import evdev
            except ImportError as exc:  # pragma: no cover - non-Linux
                raise UnsupportedDevice(
                    "HID scanners need evdev (Linux)", device=device_id
                ) from exc
            try:
                self.device: Any = evdev.InputDevice(path_or_device)
            except OSError as exc:
                raise PortUnavailable(
                    f"cannot open {path_or_device}: {exc}", device=device_id
                ) from exc
        else:
            self.device = path_or_device
        if profile.hid.grab:
            try:
                self.device.grab()
            except OSError as exc:
                raise PortUnavailable(
                    f"{device_id}: cannot grab (another program holds it): {exc}",
                    device=device_id,
                ) from exc
        self.mapper = KeyMapper(profile.hid.terminator, profile.max_length)

    def _events(self, timeout: float) -> Iterable[Any]:
        try:
            ready, _, _ = select.select([self.device.fd], [], [], max(0.0, timeout))
        except (OSError, ValueError) as exc:
            raise PortGone(f"{self.device_id}: input device gone", device=self.device_id) from exc
        if not ready:
            return []
        try:
            return list(self.device.read())
        except BlockingIOError:
            return []
        except OSError as exc:
            if exc.errno in (errno.EAGAIN,):
                return []
            raise PortGone(f"{self.device_id}: input device gone", device=self.device_id) from exc

    def read_code(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            for event in self._events(left):
                text = self.mapper.feed(event.type, event.code, event.value)
                if text is None:
                    continue
                code = clean_code(text, self.profile.max_length, self.profile.charset)
                if code is None:
                    self.rejected += 1
                    continue
                return code

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.profile.hid and self.profile.hid.grab:
                self.device.ungrab()
        with contextlib.suppress(OSError):
            self.device.close()


# ----------------------------------------------------------------------------- camera
def decode_image(image: Any, decoders: Iterable[str] = ("opencv", "zbar")) -> list[str]:
    """Texts of the QR codes / barcodes in an image (numpy array, BGR or grey)."""
    found: list[str] = []
    for name in decoders:
        if name == "opencv":
            import cv2

            detector = cv2.QRCodeDetector()
            try:
                ok, texts, _points, _ = detector.detectAndDecodeMulti(image)
            except cv2.error:
                ok, texts = False, ()
            if ok:
                found.extend(t for t in texts if t)
            if not found:
                text, _pts, _ = detector.detectAndDecode(image)
                if text:
                    found.append(text)
        elif name == "zbar":
            try:
                from pyzbar import pyzbar
            except ImportError:  # libzbar missing: OpenCV only
                continue
            for symbol in pyzbar.decode(image):
                try:
                    found.append(symbol.data.decode("utf-8"))
                except UnicodeDecodeError:
                    continue
        if found:
            break
    return found


class CameraScanner:
    """Reads frames from a camera (or any object with ``read() -> (ok, frame)``)."""

    def __init__(
        self, capture: Any, profile: ScannerProfile, device_id: str = "camera", clock: Any = None
    ) -> None:
        assert profile.camera is not None
        self.profile = profile
        self.device_id = device_id
        self.rejected = 0
        self._clock = clock or time.monotonic
        self._last: dict[str, float] = {}
        if isinstance(capture, int | str):
            import cv2

            cap = cv2.VideoCapture(capture)
            if not cap.isOpened():
                raise PortUnavailable(f"cannot open camera {capture!r}", device=device_id)
            if profile.camera.width:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, profile.camera.width)
            if profile.camera.height:
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, profile.camera.height)
            self.capture: Any = cap
        else:
            self.capture = capture

    def read_code(self, timeout: float) -> str | None:
        assert self.profile.camera is not None
        deadline = time.monotonic() + timeout
        failures = 0
        while time.monotonic() < deadline:
            ok, frame = self.capture.read()
            if not ok or frame is None:
                failures += 1
                if failures >= 20:
                    raise PortGone(
                        f"{self.device_id}: camera gives no frames", device=self.device_id
                    )
                time.sleep(0.05)
                continue
            failures = 0
            for text in decode_image(frame, self.profile.camera.decoders):
                code = clean_code(text, self.profile.max_length, self.profile.charset)
                if code is None:
                    self.rejected += 1
                    continue
                now = self._clock()
                last = self._last.get(code)
                if last is not None and now - last < self.profile.camera.repeat_suppress_s:
                    continue  # the same phone is still in front of the camera
                self._last[code] = now
                return code
        return None

    def close(self) -> None:
        # cv2.error derives from Exception directly; a release that fails leaves nothing to undo
        with contextlib.suppress(Exception):
            self.capture.release()
