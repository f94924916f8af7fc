"""ID-card reader: frames, check digits, the four card layouts through the simulator."""

from __future__ import annotations

import json
import logging
import re
import time
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.privacy import citizen_key
from devices.errors import BadFrame, NoAnswer, PortGone
from devices.idcard import (
    IdCard,
    IdCardReader,
    SamFrameReader,
    encode_text_block,
    gb11643_check_char,
    gb11643_valid,
    parse_text_block,
    sam_command,
    sam_reply,
)
from devices.profiles import load_profile
from devices.simulators import IdReaderSimulator, sample_card
from devices.transport import open_transport

PROFILE = load_profile("ga467-serial").model_copy(update={"reply_timeout_s": 0.2})


@pytest.fixture
def sim():
    with IdReaderSimulator().start() as s:
        yield s


@pytest.fixture
def reader(sim, secret):
    transport = open_transport(sim.port, PROFILE.transport.link())
    with closing(IdCardReader(transport, PROFILE, secret, "r1")) as r:
        yield r


def card_number(name: str) -> str:
    return json.loads(sample_card(name).read_text(encoding="utf-8"))["fields"]["number"]


# ---------------------------------------------------------------- frames and check digits
@pytest.mark.parametrize(
    ("cmd", "hexframe"),
    [
        ((0x10, 0xFF), "AA AA AA 96 69 00 03 10 FF EC"),
        ((0x11, 0xFF), "AA AA AA 96 69 00 03 11 FF ED"),
        ((0x20, 0x01), "AA AA AA 96 69 00 03 20 01 22"),
        ((0x20, 0x02), "AA AA AA 96 69 00 03 20 02 21"),
        ((0x30, 0x01), "AA AA AA 96 69 00 03 30 01 32"),
    ],
)
def test_command_frames_match_published_bytes(cmd, hexframe) -> None:
    assert sam_command(*cmd) == bytes.fromhex(hexframe)


def test_reply_frames_match_published_bytes() -> None:
    assert sam_reply(0x9F, b"\x00" * 4) == bytes.fromhex("AAAAAA9669000800009F0000000097")
    assert sam_reply(0x80) == bytes.fromhex("AAAAAA96690004000080 84".replace(" ", ""))


def test_frame_reader_skips_garbage_bad_checksum_and_bad_length() -> None:
    r = SamFrameReader()
    good = sam_reply(0x90)
    bad = good[:-1] + b"\x00"
    r.feed(b"\x01\x02junk" + bad + b"\xaa\xaa\xaa\x96\x69\xff\xff" + good)
    frame = r.next_frame()
    assert frame is not None and frame.sw3 == 0x90
    assert r.counters.bad_checksum == 1
    assert r.counters.bad_length == 1
    assert r.counters.garbage_bytes >= 6
    assert r.next_frame() is None


def test_gb11643_known_example() -> None:
    assert gb11643_check_char("11010519491231002") == "X"
    assert gb11643_valid("11010519491231002X")
    assert gb11643_valid("11010519491231002x")
    assert not gb11643_valid("110105194912310021")
    assert not gb11643_valid("1101051949123100")


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_gb11643_every_wrong_check_char_is_caught(first17: str) -> None:
    right = gb11643_check_char(first17)
    assert gb11643_valid(first17 + right)
    for wrong in "0123456789X":
        if wrong != right:
            assert not gb11643_valid(first17 + wrong)


# ---------------------------------------------------------------- the four card layouts
@pytest.mark.parametrize(
    ("sample", "number", "expected"),
    [
        (
            "resident-elderly",
            "990000195003120019",
            {
                "card_type": "resident",
                "number_masked": "990000********0019",
                "name_masked": "测***",
                "gender": "male",
                "nation_code": "01",
                "nationality": None,
                "birth_date": date(1950, 3, 12),
                "valid_from": "20150601",
                "valid_to": "长期",
                "issuing_authority": "样例市公安局示范分局",
                "number_check": "gb11643",
            },
        ),
        (
            "foreigner-2017",
            "USA110080010199",
            {
                "card_type": "foreign_permanent_2017",
                "number_masked": "USA110*****0199",
                "name_masked": "测****",
                "gender": "female",
                "nation_code": None,
                "nationality": "USA",
                "birth_date": date(1980, 1, 1),
                "valid_from": "20170815",
                "valid_to": "20270815",
                "issuing_authority": "1100",
                "number_check": "format",
            },
        ),
        (
            "foreigner-2023",
            "911840198507049919",
            {
                "card_type": "foreign_permanent_2023",
                "number_masked": "911840********9919",
                "name_masked": "测***",
                "gender": "male",
                "nation_code": None,
                "nationality": "USA",
                "birth_date": date(1985, 7, 4),
                "valid_from": "20231201",
                "valid_to": "20331201",
                "issuing_authority": "国家移民管理局",
                "number_check": "gb11643",
            },
        ),
        (
            "hmt-permit",
            "810000198808080021",
            {
                "card_type": "hmt_residence",
                "number_masked": "810000********0021",
                "name_masked": "测***",
                "gender": "male",
                "nation_code": None,
                "nationality": "HKG",
                "birth_date": date(1988, 8, 8),
                "valid_from": "20200101",
                "valid_to": "20250101",
                "issuing_authority": "样例市公安局",
                "number_check": "gb11643",
            },
        ),
    ],
)
def test_card_layouts(sim, reader, secret, sample: str, number: str, expected: dict) -> None:
    """GIVEN a sample card of each layout on the reader WHEN it is read THEN the masked card
    matches field for field, and the reader went find → select → read."""
    assert card_number(sample) == number
    sim.present(sample_card(sample))
    card = reader.read_card(timeout=2)
    assert card == IdCard(
        citizen_key=citizen_key(secret, number), number_checksum_ok=True, **expected
    )
    assert sim.commands[-3:] == [(0x20, 0x01), (0x20, 0x02), (0x30, 0x01)]


def test_wrong_checksum_number_is_flagged(sim, reader) -> None:
    doc = json.loads(sample_card("resident-young").read_text(encoding="utf-8"))
    doc["fields"]["number"] = doc["fields"]["number"][:17] + "7"  # right one is 6
    sim.present(doc)
    card = reader.read_card(timeout=2)
    assert card is not None and card.number_checksum_ok is False
    assert card.number_masked == "990000********0027"


def test_english_only_name_is_masked_by_initials(secret) -> None:
    block = encode_text_block(
        "foreign_permanent_2017",
        {
            "english_name": "DOE JANE",
            "gender": "2",
            "number": "USA110080010199",
            "nationality": "USA",
            "birth": "19800101",
        },
    )
    assert parse_text_block(block, secret).name_masked == "D. J."


def test_card_stays_read_until_presented_again(sim, reader) -> None:
    sim.present(sample_card("resident-young"))
    assert reader.read_card(timeout=2) is not None
    assert reader.read_card(timeout=0.05) is None  # find → 80 while it lies there
    sim.present(sample_card("resident-young"))
    assert reader.read_card(timeout=2) is not None


def test_no_card_returns_none(sim, reader) -> None:
    assert reader.read_card(timeout=0.05) is None
    assert reader.sam_ok()


# ---------------------------------------------------------------- bad bytes
@pytest.mark.parametrize("fault", ["garbage", "bad_checksum", "truncated"])
def test_damaged_replies_are_counted_and_retried(sim, reader, fault) -> None:
    sim.present(sample_card("resident-elderly"))
    sim.set_fault(fault, count=2)
    card = reader.read_card(timeout=5)
    assert card is not None and card.birth_date == date(1950, 3, 12)
    c = reader.counters
    seen = {"garbage": c.garbage_bytes, "bad_checksum": c.bad_checksum, "truncated": c.truncated}
    assert seen[fault] >= 2


def test_reader_that_only_sends_damage_is_bad_frame(sim, reader) -> None:
    sim.present(sample_card("resident-elderly"))
    sim.set_fault("bad_checksum")
    with pytest.raises(BadFrame):
        reader.read_card(timeout=1)


def test_reader_that_stops_answering(sim, reader) -> None:
    sim.set_fault("silent")
    with pytest.raises(NoAnswer):
        reader.read_card(timeout=1)


def test_a_silent_reader_is_reported_within_the_timeout_plus_one_reply_timeout(sim, secret) -> None:
    """GIVEN a reader that stopped answering and a profile with many slow retries
    WHEN read_card(timeout=0.5) THEN NoAnswer comes once the deadline passed and the attempt
    under way timed out, not after every retry (11 s here)."""
    profile = PROFILE.model_copy(update={"reply_timeout_s": 1.0, "retries": 10})
    transport = open_transport(sim.port, profile.transport.link())
    with closing(IdCardReader(transport, profile, secret, "r1")) as reader:
        sim.set_fault("silent")
        timeout = 0.5
        started = time.monotonic()
        with pytest.raises(NoAnswer):
            reader.read_card(timeout=timeout)
        elapsed = time.monotonic() - started
    # a generous bound (a slow machine adds to it), far below the 11 s of every retry
    assert elapsed < timeout + profile.reply_timeout_s + 2.0


def test_port_that_disappears(sim, reader) -> None:
    assert reader.sam_ok()
    sim.unplug()
    with pytest.raises(PortGone):
        reader.read_card(timeout=1)


def test_text_block_with_unknown_type_is_skipped(secret) -> None:
    block = bytearray(encode_text_block("resident", {"number": "1", "birth": "19500101"}))
    block[248:250] = "Q".encode("utf-16-le")
    with pytest.raises(ValueError, match="card type"):
        parse_text_block(bytes(block), secret)


# ---------------------------------------------------------------- personal data
def test_full_number_never_in_logs_or_files(sim, reader, caplog, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    numbers = [card_number(n) for n in ("resident-elderly", "hmt-permit", "foreigner-2023")]
    cards = []
    for name in ("resident-elderly", "hmt-permit", "foreigner-2023"):
        sim.set_fault("garbage", count=1)  # also exercise the warning paths
        sim.present(sample_card(name))
        cards.append(reader.read_card(timeout=3))
    sim.set_fault("bad_checksum")
    sim.present(sample_card("resident-elderly"))
    with pytest.raises(BadFrame) as err:
        reader.read_card(timeout=1)
    assert all(cards)
    written = "".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in Path(tmp_path).rglob("*")
        if p.is_file()
    )
    haystack = "\n".join(
        [caplog.text, written, str(err.value), repr(err.value.as_dict())]
        + [repr(c) for c in cards]
        + [json.dumps(c.__dict__, default=str) for c in cards]
    )
    assert "warning" in caplog.text.lower()  # the logs were really captured
    for number in numbers:
        assert number not in haystack
        assert number[6:14] not in haystack  # not even the birth-date digits
    assert not re.search(r"\d{17}[\dX]", haystack)
    for card in cards:
        photo = [k for k, v in card.__dict__.items() if isinstance(v, bytes) and k != "citizen_key"]
        assert photo == []
        assert len(card.citizen_key) == 32 and "citizen_key" not in repr(card)
