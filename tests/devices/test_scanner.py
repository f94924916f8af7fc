"""Scanners: serial through the simulator, HID key mapping, camera decoding."""

from __future__ import annotations

import os
from contextlib import closing

import numpy as np
import pytest
import qrcode

from devices.errors import PortGone
from devices.profiles import load_profile
from devices.scanner import (
    EV_KEY,
    CameraScanner,
    HidScanner,
    KeyMapper,
    SerialScanner,
    clean_code,
    decode_image,
)
from devices.simulators import ScannerSimulator
from devices.transport import open_transport

SERIAL = load_profile("scanner-serial")
HID = load_profile("scanner-hid")
CAMERA = load_profile("scanner-camera")


@pytest.fixture
def sim():
    with ScannerSimulator(suffix=SERIAL.suffix).start() as s:
        yield s


@pytest.fixture
def scanner(sim):
    with closing(SerialScanner(open_transport(sim.port), SERIAL, "sc")) as s:
        yield s


def test_serial_codes_and_suffix(sim, scanner) -> None:
    sim.emit("HALL1:APPT:0930:ABCDEF")
    sim.emit("预约码123")
    assert scanner.read_code(2) == "HALL1:APPT:0930:ABCDEF"
    assert scanner.read_code(2) == "预约码123"
    assert scanner.read_code(0.05) is None


def test_serial_bad_codes_are_counted_and_skipped(sim, scanner) -> None:
    sim.emit_raw(b"\xff\xfe\xfd\r")  # not UTF-8
    sim.emit_raw(b"A\x07B\r")  # control character
    sim.emit_raw(b"X" * 5000 + b"\r")  # far too long
    sim.emit("OK1")
    assert scanner.read_code(3) == "OK1"
    assert scanner.rejected == 3


def test_serial_scanner_port_gone(sim, scanner) -> None:
    sim.unplug()
    with pytest.raises(PortGone):
        scanner.read_code(1)


def test_custom_suffix_from_profile() -> None:
    profile = SERIAL.model_copy(update={"suffix": "\r\n"})
    s = ScannerSimulator(suffix="\r\n").start()
    try:
        sc = SerialScanner(open_transport(s.port), profile)
        s.emit("ABC")
        assert sc.read_code(2) == "ABC"
        sc.close()
    finally:
        s.stop()


def test_clean_code_bounds() -> None:
    assert clean_code("  ABC \r\n", 10, "ascii") == "ABC"
    assert clean_code("中文", 10, "ascii") is None
    assert clean_code("中文", 10, "text") == "中文"
    assert clean_code("A" * 11, 10, "text") is None
    assert clean_code("A\u202eB", 10, "text") is None  # bidi override
    assert clean_code("", 10, "text") is None


def keys(mapper: KeyMapper, seq: list[tuple[int, int]]) -> list[str]:
    out = []
    for code, value in seq:
        r = mapper.feed(EV_KEY, code, value)
        if r is not None:
            out.append(r)
    return out


def tap(code: int) -> list[tuple[int, int]]:
    return [(code, 1), (code, 0)]


def test_key_mapping_with_shift_and_enter() -> None:
    m = KeyMapper()
    seq = [
        (42, 1),
        *tap(35),
        (42, 0),
        *tap(18),
        *tap(38),
        *tap(38),
        *tap(24),
        (54, 1),
        *tap(2),
        (54, 0),
        *tap(39),
        *tap(53),
        *tap(3),
        *tap(28),
    ]
    assert keys(m, seq) == ["Hello!;/2"]


def test_key_mapping_ignores_repeat_unknown_and_other_events() -> None:
    m = KeyMapper()
    assert m.feed(4, 4, 458756) is None  # EV_MSC scan code
    seq = [(30, 1), (30, 2), (30, 0), *tap(125), *tap(58), *tap(30), *tap(58), *tap(96)]
    assert keys(m, seq) == ["aA"]
    assert m.unknown_keys == 1


def test_key_mapping_overflow_is_dropped() -> None:
    m = KeyMapper(max_length=3)
    assert keys(m, [*tap(2)] * 5 + tap(28)) == [""]
    assert keys(m, [*tap(2), *tap(28)]) == ["1"]


class FakeEvent:
    def __init__(self, code: int, value: int) -> None:
        self.type, self.code, self.value = EV_KEY, code, value


class FakeInputDevice:
    """What HidScanner needs from evdev.InputDevice: fd, read(), grab(), ungrab(), close()."""

    def __init__(self) -> None:
        self.fd, self._w = os.pipe()
        self.grabbed = False
        self.queue: list[FakeEvent] = []
        self.gone = False

    def push(self, events: list[FakeEvent]) -> None:
        self.queue += events
        os.write(self._w, b"x")

    def read(self):
        if self.gone:
            raise OSError(19, "No such device")
        os.read(self.fd, 1024)
        out, self.queue = self.queue, []
        return out

    def grab(self) -> None:
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def close(self) -> None:
        os.close(self.fd)
        os.close(self._w)


def test_hid_scanner_grabs_and_reads() -> None:
    dev = FakeInputDevice()
    sc = HidScanner(dev, HID, "hid")
    assert dev.grabbed
    dev.push([FakeEvent(c, v) for c, v in [*tap(30), *tap(2), *tap(28)]])
    assert sc.read_code(1) == "a1"
    assert sc.read_code(0.05) is None
    dev.gone = True
    dev.push([])
    with pytest.raises(PortGone):
        sc.read_code(1)
    sc.close()
    assert not dev.grabbed


def qr_image(text: str) -> np.ndarray:
    img = qrcode.make(text, border=4, box_size=6)
    return np.array(img.convert("L"))


def test_camera_decodes_utf8_qr() -> None:
    assert decode_image(qr_image("预约:HALL1:0930:张三")) == ["预约:HALL1:0930:张三"]


def test_zbar_fallback_decodes_ascii() -> None:
    pytest.importorskip("pyzbar.pyzbar")
    assert decode_image(qr_image("HALL1:A001:TOKEN"), ["zbar"]) == ["HALL1:A001:TOKEN"]


def test_blank_image_has_no_code() -> None:
    assert decode_image(np.full((200, 200), 255, dtype=np.uint8)) == []


class FakeCapture:
    def __init__(self, frames: list) -> None:
        self.frames = frames
        self.released = False

    def read(self):
        if not self.frames:
            return False, None
        return True, self.frames.pop(0)

    def release(self) -> None:
        self.released = True


def test_camera_scanner_suppresses_repeats_and_reports_lost_camera() -> None:
    now = [100.0]
    frame = qr_image("APPT-42")
    blank = np.full((50, 50), 255, dtype=np.uint8)
    cap = FakeCapture([blank, frame, frame, frame])
    sc = CameraScanner(cap, CAMERA, "cam", clock=lambda: now[0])
    assert sc.read_code(5) == "APPT-42"
    now[0] += 1.0  # still within repeat_suppress_s
    with pytest.raises(PortGone):  # repeats skipped, then the camera gives nothing
        sc.read_code(5)
    sc.close()
    assert cap.released
