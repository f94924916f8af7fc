"""Generic framer, LED strip and evaluator through their simulators."""

from __future__ import annotations

import threading
from contextlib import closing

import pytest

from devices.errors import BadFrame, NoAnswer, PortGone
from devices.framing import Framer, checksum, crc16_modbus
from devices.led import Evaluator, EvaluatorRating, LedDisplay
from devices.profiles import FramingProfile, load_profile
from devices.simulators import EvaluatorSimulator, LedSimulator
from devices.transport import open_transport

LED = load_profile("led-rs485-generic")
EV = load_profile("evaluator-generic")
EV_SCREEN = load_profile("evaluator-screen")
REASONS = ["服务效率", "服务水平", "服务态度"]


def test_crc16_modbus_check_value() -> None:
    assert crc16_modbus(b"123456789") == 0x4B37
    assert checksum("sum8", b"\xff\x02") == 0x01
    assert checksum("xor8", b"\x0f\xf0") == 0xFF
    assert checksum("sum16", b"\xff\xff") == 0x01FE


def test_led_frame_exact_bytes() -> None:
    f = Framer(LED.framing)
    frame = f.encode(3, 0x01, f.encode_text("请A001"))
    payload = "请A001".encode("gb2312")
    body = bytes([3, 1, len(payload)]) + payload
    assert frame == b"\xaa\x55" + body + bytes([sum(body) & 0xFF]) + b"\x0d"


def test_evaluator_frame_has_modbus_crc_low_byte_first() -> None:
    f = Framer(EV.framing)
    frame = f.encode(2, 0x10, b"A001")
    body = bytes([2, 0x10, 4]) + b"A001"
    assert frame == b"\x7e" + body + crc16_modbus(body).to_bytes(2, "little") + b"\x0d"


@pytest.mark.parametrize("kind", ["sum8", "xor8", "sum16", "crc16_modbus"])
@pytest.mark.parametrize("addr_format", ["binary", "ascii_dec", "ascii_hex"])
def test_roundtrip_and_resync(kind: str, addr_format: str) -> None:
    spec = FramingProfile.model_validate(
        {
            "fields": ["header", "address", "length", "command", "payload", "checksum", "trailer"],
            "header": "02",
            "trailer": "03",
            "address": {"format": addr_format},
            "length": {"covers": ["command", "payload"]},
            "payload": {"encoding": "gbk"},
            "checksum": {"kind": kind, "covers": ["address", "length", "command", "payload"]},
        }
    )
    f = Framer(spec)
    good = f.encode(7, 0x21, f.encode_text("三号窗口"))
    bad = bytearray(good)
    bad[-2] ^= 0x01  # damage the checksum (or its last byte)
    f.feed(b"\x00\x99noise" + bytes(bad) + good[:3])
    assert f.next_frame() is None
    f.feed(good[3:])
    frame = f.next_frame()
    assert frame is not None and (frame.address, frame.command) == (7, 0x21)
    assert f.decode_text(frame.payload) == "三号窗口"
    assert f.counters.bad_checksum + f.counters.bad_length >= 1
    assert f.counters.garbage_bytes >= 7


def test_fixed_width_payload_is_padded_and_cut_on_a_character() -> None:
    spec = FramingProfile.model_validate(
        {
            "fields": ["header", "address", "command", "payload", "checksum"],
            "header": "AA",
            "payload": {"encoding": "gb2312", "pad_to": 5},
            "checksum": {"kind": "xor8"},
        }
    )
    f = Framer(spec)
    assert f.encode_text("请A") == "请A".encode("gb2312") + b"  "
    assert f.encode_text("请到窗口") == "请到".encode("gb2312") + b" "  # no half Hanzi
    f.feed(f.encode(1, 2, f.encode_text("A1")))
    frame = f.next_frame()
    assert frame is not None and f.decode_text(frame.payload) == "A1"


@pytest.fixture
def led_sim():
    with LedSimulator(LED).start() as s:
        yield s


@pytest.fixture
def led(led_sim):
    with closing(LedDisplay(open_transport(led_sim.port), LED, "led")) as d:
        yield d


def test_led_shows_text_and_gets_ack(led_sim, led) -> None:
    led.show(3, "请A001号到3号窗口")
    assert led_sim.shown[3] == "请A001号到3号窗口"[: LED.max_chars]
    led.clear(3)
    assert led_sim.shown[3] == ""


def test_led_damaged_ack_is_bad_frame(led_sim, led) -> None:
    led_sim.fault = "bad_checksum"
    with pytest.raises(BadFrame):
        led.show(1, "A002")
    assert led.counters.bad_checksum == LED.retries + 1


def test_led_garbage_before_ack_is_skipped(led_sim, led) -> None:
    led_sim.fault = "garbage"
    led.show(1, "A003")
    assert led.counters.garbage_bytes >= 3


def test_led_silent_and_gone(led_sim, led) -> None:
    led_sim.silent = True
    with pytest.raises(NoAnswer):
        led.show(1, "A004")
    led_sim.unplug()
    with pytest.raises(PortGone):
        led.show(1, "A005")


@pytest.fixture
def ev_sim():
    with EvaluatorSimulator(EV).start() as s:
        yield s


@pytest.fixture
def evaluator(ev_sim):
    with closing(Evaluator(open_transport(ev_sim.port), EV, "ev")) as e:
        yield e


@pytest.mark.parametrize("score", [1, 2, 3, 4, 5])
def test_evaluator_returns_the_pressed_score(ev_sim, evaluator, score) -> None:
    presser = threading.Thread(target=lambda: ev_sim.wait_request() and ev_sim.press(score))
    presser.start()
    assert evaluator.request("A001", timeout=5, address=2) == EvaluatorRating(score)
    presser.join()
    assert ev_sim.requests == [(2, "A001")]


def test_evaluator_timeout_returns_none_and_cancels(ev_sim, evaluator) -> None:
    assert evaluator.request("A002", timeout=0.1, address=1) is None
    ev_sim_cancelled = ev_sim.cancels
    assert ev_sim_cancelled in (0, 1)  # the cancel frame may still be in flight
    assert ev_sim.requests == [(1, "A002")]


def test_evaluator_ignores_unknown_keys(ev_sim, evaluator) -> None:
    def press() -> None:
        ev_sim.wait_request()
        ev_sim.press_key(0x7F, address=1)
        ev_sim.press(3)

    t = threading.Thread(target=press)
    t.start()
    assert evaluator.request("A003", timeout=5, address=1) == EvaluatorRating(3)
    t.join()
    assert evaluator.unknown_keys == 1


def test_evaluator_silent_is_no_answer(ev_sim, evaluator) -> None:
    ev_sim.silent = True
    with pytest.raises(NoAnswer):
        evaluator.request("A004", timeout=5)


def test_evaluator_silence_after_an_earlier_damaged_ack_is_no_answer(ev_sim, evaluator) -> None:
    """GIVEN an evaluator that once answered with a damaged acknowledgement
    WHEN it later does not answer at all THEN that is NoAnswer (offline), not BadFrame."""
    ev_sim.fault = "bad_checksum"
    with pytest.raises(BadFrame):
        evaluator.request("A005", timeout=5)
    ev_sim.fault = None
    ev_sim.silent = True
    with pytest.raises(NoAnswer):
        evaluator.request("A006", timeout=5)


@pytest.fixture
def screen_sim():
    with EvaluatorSimulator(EV_SCREEN).start() as s:
        yield s


@pytest.fixture
def screen_evaluator(screen_sim):
    with closing(Evaluator(open_transport(screen_sim.port), EV_SCREEN, "ev")) as e:
        yield e


def _citizen(sim, score: int, positions: list[int] | None) -> threading.Thread:
    """A citizen pressing ``score`` and, if the screen shows reasons, tapping ``positions``."""

    def act() -> None:
        sim.wait_request()
        sim.press(score)
        if positions is not None and sim.wait_screen() is not None:
            sim.choose(positions)

    thread = threading.Thread(target=act)
    thread.start()
    return thread


def test_screen_evaluator_shows_the_reasons_of_a_bad_rating_and_returns_the_chosen(
    screen_sim, screen_evaluator
) -> None:
    """GIVEN an evaluator whose profile declares a screen WHEN the citizen presses 不满意
    THEN the host sends the hall's reasons in GB18030 and gets back the positions tapped."""
    citizen = _citizen(screen_sim, 2, [3, 1, 9])  # 9: not on the list, dropped
    rating = screen_evaluator.request("A001", timeout=5, address=4, reasons=REASONS)
    citizen.join()
    assert rating == EvaluatorRating(2, (1, 3))
    assert screen_sim.requests == [(4, "A001")]


def test_screen_evaluator_reason_frame_bytes() -> None:
    f = Framer(EV_SCREEN.framing)
    payload = f.encode_text("|".join(REASONS))
    assert payload == "服务效率|服务水平|服务态度".encode("gb18030")
    frame = f.encode(1, 0x12, payload)
    body = bytes([1, 0x12, len(payload)]) + payload
    assert frame == b"\x7e" + body + crc16_modbus(body).to_bytes(2, "little") + b"\x0d"


def test_screen_evaluator_asks_no_reasons_for_a_good_rating(screen_sim, screen_evaluator) -> None:
    citizen = _citizen(screen_sim, 4, None)
    assert screen_evaluator.request("A002", timeout=5, reasons=REASONS) == EvaluatorRating(4)
    citizen.join()
    assert screen_sim.screens == {}


def test_screen_evaluator_with_no_reason_chosen_returns_none_chosen(
    screen_sim, screen_evaluator
) -> None:
    citizen = _citizen(screen_sim, 1, [])
    rating = screen_evaluator.request("A003", timeout=5, reasons=REASONS)
    citizen.join()
    assert rating == EvaluatorRating(1, ())


def test_keys_only_evaluator_is_never_asked_for_reasons(ev_sim, evaluator) -> None:
    """GIVEN a keys-only evaluator WHEN a bad key is pressed THEN no reasons are sent and
    the rating says it was not asked (reasons None): the window offers the reason QR."""
    citizen = _citizen(ev_sim, 1, None)
    assert evaluator.request("A004", timeout=5, reasons=REASONS) == EvaluatorRating(1, None)
    citizen.join()
    assert ev_sim.screens == {}
