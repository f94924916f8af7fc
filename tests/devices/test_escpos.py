"""Exact bytes of printed tickets, and the in-repo ESC/POS parser."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import ticketlink
from devices import escpos_parser
from devices.escpos_parser import Command, Text, parse, qr_payloads, text_of
from devices.printer import MAX_TICKET_BYTES, TicketLayout, TicketRenderer, fit, sample_ticket
from devices.profiles import load_profile

LAYOUT = TicketLayout(
    hall_name="示范便民服务中心",
    service_name="社保业务",
    number="A001",
    people_ahead=3,
    estimated_wait_min=12,
    issued_at=datetime(2024, 5, 6, 9, 30),
    windows="1、3号窗口",
    qr_payload="HALL1:A001:TOKEN",
    notice=("过号请重新取号",),
)


def gb(text: str) -> bytes:
    return b"\x1c&" + text.encode("gb18030") + b"\x1c."


def test_ticket_exact_bytes_80mm(profile_80) -> None:
    data = TicketRenderer(profile_80).ticket(LAYOUT)
    qr = b"HALL1:A001:TOKEN"
    expected = (
        b"\x1b@"  # ESC @ initialise
        + b"\x1ba\x01"  # centre
        + b"\x1bE\x01"
        + gb("示范便民服务中心")
        + b"\n"
        + b"\x1bE\x00"
        + gb("社保业务")
        + b"\n"
        + b"\x1d!\x33"
        + b"A001\n"
        + b"\x1d!\x00"  # 4x4 number
        + gb("前面还有 3 人")
        + b"\n"
        + gb("预计等待约 12 分钟")
        + b"\n"
        + gb("请到 1、3号窗口 办理")
        + b"\n"
        + gb("取号时间 2024-05-06 09:30")
        + b"\n"
        + b"\x1d(k\x04\x001A2\x00"  # QR model 2
        + b"\x1d(k\x03\x001C\x06"  # module size 6
        + b"\x1d(k\x03\x001E1"  # error correction M
        + b"\x1d(k"
        + bytes([len(qr) + 3, 0])
        + b"1P0"
        + qr  # store
        + b"\x1d(k\x03\x001Q0"  # print
        + b"\n"
        + gb("过号请重新取号")
        + b"\n"
        + b"\x1bd\x04"
        + b"\x1dV\x01"  # feed, partial cut
    )
    assert data == expected
    assert len(data) <= MAX_TICKET_BYTES
    assert "前面还有".encode("gb18030") == b"\xc7\xb0\xc3\xe6\xbb\xb9\xd3\xd0"


def test_ticket_58mm_is_small_and_fits(profile_58) -> None:
    layout = TicketLayout(
        hall_name="一个名字非常非常非常长的乡镇便民服务中心大厅",
        service_name="不动产登记",
        number="B123",
        people_ahead=0,
        estimated_wait_min=None,
        issued_at=datetime(2024, 5, 6, 9, 30),
        qr_payload="https://hall.example.cn/t/B123?k=" + "x" * 60,
        notice=("一", "二", "三"),
    )
    data = TicketRenderer(profile_58).ticket(layout)
    assert len(data) <= MAX_TICKET_BYTES
    items, used = parse(data)
    assert used == len(data)
    texts = [i.text for i in items if isinstance(i, Text)]
    assert all(sum(2 if ord(c) > 0x7F else 1 for c in t) <= 32 for t in texts)
    assert "一个名字非常非常非常长的乡镇便民" in texts  # 16 Hanzi = 32 columns
    assert "预计等待" not in text_of(data)  # no estimate given
    assert "三" not in texts  # at most two notice lines
    assert b"\x1d!\x22" in data  # 3x3 number on 58 mm


def test_raster_qr_when_profile_has_no_native_qr() -> None:
    data = TicketRenderer(load_profile("escpos-58mm-raster-qr")).ticket(LAYOUT)
    names = [i.name for i in parse(data)[0] if isinstance(i, Command)]
    assert "GS v 0" in names
    assert "GS ( k" not in names
    assert names[-1] == "GS V"


def test_full_width_punctuation_only_still_goes_in_chinese_mode(profile_80) -> None:
    # python-escpos would send "，：" down the code-page path and print "??"
    assert TicketRenderer(profile_80).text("，：") == b"\x1c&" + "，：".encode("gb18030") + b"\x1c."


def test_control_characters_in_text_cannot_inject_commands(profile_80) -> None:
    data = TicketRenderer(profile_80).line("A\x1dV\x00B")
    assert data == b"AVB\n"


def test_parser_reads_back_a_ticket(profile_80) -> None:
    data = TicketRenderer(profile_80).ticket(sample_ticket())
    items, used = parse(data)
    assert used == len(data)
    assert qr_payloads(items) == ["HALL1:A001:TESTTOKEN"]
    text = text_of(data)
    assert "测试便民服务中心\n社保业务\nA001\n" in text
    assert "请到 1、3号窗口 办理" in text
    assert text.rstrip().endswith("--- cut ---")


def test_parser_streaming_keeps_incomplete_command() -> None:
    data = b"\x1b@AB\x1d(k\x10\x00"  # QR store announced, data missing
    items, used = parse(data, final=False)
    assert used == 4
    assert [type(i) for i in items] == [Command, Text]
    items, used = parse(data, final=True)
    assert used == len(data)
    assert isinstance(items[-1], Command) and items[-1].name == "TRUNCATED"


def test_parser_survives_garbage() -> None:
    junk = bytes(range(256)) * 4
    items, used = escpos_parser.parse(junk)
    assert used == len(junk)
    assert items


def test_fit_counts_hanzi_as_two_columns() -> None:
    assert fit("中文ab", 5) == "中文a"
    assert fit("abc", 2) == "ab"


@pytest.mark.parametrize("profile_name", ["escpos-80mm", "escpos-58mm", "escpos-58mm-raster-qr"])
def test_a_signed_ticket_link_fits_the_slip(profile_name: str) -> None:
    """GIVEN the longest link a hall config allows (a 100-character base, agent/ticketlink.py)
    WHEN it is the slip's QR THEN a native QR stores it verbatim and a raster QR stays
    within the paper's printable width."""
    key = Ed25519PrivateKey.generate()
    link = ticketlink.make("https://" + "x" * 92, key, "H" * 64, "N" * 64, "2026-06-01", "AB9999")
    profile = load_profile(profile_name)
    data = TicketRenderer(profile).ticket(replace(sample_ticket(), qr_payload=link))
    items, used = parse(data)
    assert used == len(data)
    if profile.native_qr:
        assert qr_payloads(items) == [link]
        return
    raster = next(i for i in items if isinstance(i, Command) and i.name == "GS v 0")
    width_dots = (raster.raw[4] + 256 * raster.raw[5]) * 8
    assert 0 < width_dots <= profile.dots_per_line
