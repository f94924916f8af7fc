"""Second-generation ID-card reader: SAM_V serial frames (GA 467 style) and card parsing.

Frames: ``AA AA AA 96 69 | LEN(2, BE) | CMD PARA DATA | XOR`` to the reader and
``AA AA AA 96 69 | LEN | SW1 SW2 SW3 DATA | XOR`` back; LEN counts every byte after itself,
the XOR covers LEN through the last data byte. The 256-byte text block is UCS-2LE with a
card-type flag at byte 248 (' ' resident, 'I' 2017 foreigner, 'Y' 2023 foreigner, 'J' Hong
Kong / Macao / Taiwan residence permit). See PROTOCOLS.md §1.

Personal data: the parsed :class:`IdCard` holds a masked number, a keyed hash, a masked name
and the fields the queue needs. The full number and the photo never leave this module, and
nothing here logs card content — only counters and status codes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from agent.privacy import citizen_key, mask_id_number, mask_name
from devices.errors import BadFrame, DeviceRefused, NoAnswer
from devices.profiles import IdReaderProfile
from devices.transport import FrameCounters, Transport

log = logging.getLogger(__name__)

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
MAX_LEN = 4096

# (CMD, PARA)
CMD_SAM_STATUS = (0x11, 0xFF)
CMD_FIND = (0x20, 0x01)
CMD_SELECT = (0x20, 0x02)
CMD_READ = (0x30, 0x01)
CMD_READ_FP = (0x30, 0x10)

SW3_OK = 0x90
SW3_FOUND = 0x9F
SW3_TEXT = {
    0x90: "success",
    0x9F: "find card success",
    0x10: "checksum error in data from host",
    0x11: "length error in data from host",
    0x21: "command error",
    0x23: "unauthorised operation",
    0x24: "unrecognised error",
    0x31: "card failed to authenticate the SAM",
    0x32: "SAM failed to authenticate the card",
    0x33: "information verification error",
    0x40: "unrecognised card type",
    0x41: "read card failed",
    0x47: "get random number failed",
    0x60: "SAM self-test failed",
    0x66: "SAM not authorised",
    0x80: "find card failed",
    0x81: "select card failed",
    0x91: "no such item on the card",
}

CardType = Literal["resident", "foreign_permanent_2017", "foreign_permanent_2023", "hmt_residence"]
Gender = Literal["male", "female", "unknown", "unspecified"]

_FLAG_TO_TYPE: dict[str, CardType] = {
    " ": "resident",
    "I": "foreign_permanent_2017",
    "Y": "foreign_permanent_2023",
    "J": "hmt_residence",
}
TYPE_FLAG = {v: k for k, v in _FLAG_TO_TYPE.items()}

# Field layouts of the 256-byte block, in UCS-2 characters (start, end). PROTOCOLS.md §1.6/1.7.
# The resident layout's slots that the HMT permit and the 2023 foreigner card keep unchanged:
_RESIDENT_SLOTS: dict[str, tuple[int, int]] = {
    "name": (0, 15),
    "gender": (15, 16),
    "birth": (18, 26),
    "number": (61, 79),
    "authority": (79, 94),
    "valid_from": (94, 102),
    "valid_to": (102, 110),
}
LAYOUTS: dict[CardType, dict[str, tuple[int, int]]] = {
    "resident": {**_RESIDENT_SLOTS, "nation": (16, 18), "address": (26, 61)},
    "hmt_residence": {
        **_RESIDENT_SLOTS,
        "address": (26, 61),
        "pass_number": (110, 119),
        "issue_count": (119, 121),
    },
    "foreign_permanent_2017": {
        "english_name": (0, 60),
        "gender": (60, 61),
        "number": (61, 76),
        "nationality": (76, 79),
        "name": (79, 94),
        "valid_from": (94, 102),
        "valid_to": (102, 110),
        "birth": (110, 118),
        "card_version": (118, 120),
        "authority": (120, 124),
    },
    "foreign_permanent_2023": {
        **_RESIDENT_SLOTS,
        "english_name": (26, 61),
        "nationality": (121, 124),
    },
}
FLAG_CHAR = 124
TEXT_BYTES = 256

_GENDERS: dict[str, Gender] = {"1": "male", "2": "female", "0": "unknown", "9": "unspecified"}
_HMT_REGION = {"81": "HKG", "82": "MAC", "83": "TWN"}
_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


def gb11643_check_char(first17: str) -> str:
    """The check character of an 18-character ID number (ISO 7064 MOD 11-2)."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def gb11643_valid(number: str) -> bool:
    number = number.strip().upper()
    if len(number) != 18 or not number[:17].isdigit():
        return False
    return gb11643_check_char(number[:17]) == number[17]


def _foreigner_2017_format_ok(number: str) -> bool:
    """3 letters (nationality) + 12 digits; the old permit's check digit is not verified."""
    return len(number) == 15 and number[:3].isalpha() and number[3:].isdigit()


# ----------------------------------------------------------------------------- frames
def xor(data: bytes) -> int:
    out = 0
    for b in data:
        out ^= b
    return out


def _frame(body: bytes) -> bytes:
    length = (len(body) + 1).to_bytes(2, "big")
    return PREAMBLE + length + body + bytes([xor(length + body)])


def sam_command(cmd: int, para: int, data: bytes = b"") -> bytes:
    """A host → reader frame."""
    return _frame(bytes([cmd, para]) + data)


def sam_reply(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    """A reader → host frame (used by the simulator and tests)."""
    return _frame(bytes([sw1, sw2, sw3]) + data)


@dataclass(frozen=True)
class SamFrame:
    """A parsed frame: for replies ``a, b, c`` are SW1 SW2 SW3; for commands CMD PARA DATA[0]."""

    body: bytes  # everything between LEN and CHK

    @property
    def sw3(self) -> int:
        return self.body[2]

    @property
    def data(self) -> bytes:
        return self.body[3:]


class SamFrameReader:
    """Pulls checked frames out of a byte stream; skips and counts everything else."""

    def __init__(self, counters: FrameCounters | None = None, min_body: int = 3) -> None:
        self.buf = bytearray()
        self.counters = counters or FrameCounters()
        self.min_body = min_body

    def clear(self) -> None:
        self.buf.clear()

    def feed(self, data: bytes) -> None:
        self.buf += data

    def next_frame(self) -> SamFrame | None:
        """The next complete valid frame in the buffer, or None (needs more bytes)."""
        buf = self.buf
        while True:
            i = buf.find(PREAMBLE)
            if i < 0:
                keep = len(PREAMBLE) - 1
                if len(buf) > keep:
                    self.counters.garbage_bytes += len(buf) - keep
                    del buf[: len(buf) - keep]
                return None
            if i:
                self.counters.garbage_bytes += i
                del buf[:i]
            if len(buf) < 7:
                return None
            length = buf[5] << 8 | buf[6]
            if length < self.min_body + 1 or length > MAX_LEN:
                self.counters.bad_length += 1
                del buf[: len(PREAMBLE)]
                continue
            end = 7 + length
            if len(buf) < end:
                return None
            if xor(bytes(buf[5 : end - 1])) != buf[end - 1]:
                self.counters.bad_checksum += 1
                del buf[: len(PREAMBLE)]
                continue
            frame = SamFrame(bytes(buf[7 : end - 1]))
            del buf[:end]
            self.counters.frames += 1
            return frame


# ----------------------------------------------------------------------------- card data
@dataclass(frozen=True)
class IdCard:
    """What the agent keeps from an ID card: no full number, no photo, no address."""

    card_type: CardType
    number_masked: str
    #: HMAC of the number with the hall key: the kiosk derives the day's hash from it; it is
    #: never stored, logged or sent (not in ``repr`` either).
    citizen_key: bytes = field(repr=False)
    name_masked: str
    gender: Gender
    nation_code: str | None  # GB 3304 ethnic group code, resident cards only
    nationality: str | None  # GB/T 2659 alpha-3 (foreigners; HKG/MAC/TWN for permits)
    birth_date: date
    valid_from: str
    valid_to: str
    issuing_authority: str
    number_checksum_ok: bool
    number_check: Literal["gb11643", "format"] = "gb11643"


def _date(text: str, what: str) -> date:
    try:
        return date(int(text[0:4]), int(text[4:6]), int(text[6:8]))
    except ValueError as exc:
        raise ValueError(f"{what} is not a YYYYMMDD date") from exc


def split_text_block(block: bytes) -> tuple[CardType, dict[str, str]]:
    """Fields of a 256-byte text block as stripped strings (includes the full number)."""
    if len(block) != TEXT_BYTES:
        raise ValueError(f"text block is {len(block)} bytes, not {TEXT_BYTES}")
    chars = block.decode("utf-16-le", errors="replace")
    flag = chars[FLAG_CHAR]
    card_type = _FLAG_TO_TYPE.get(flag)
    if card_type is None:
        raise ValueError(f"unknown card type flag {flag!r}")
    fields = {
        name: chars[a:b].replace("\x00", " ").strip() for name, (a, b) in LAYOUTS[card_type].items()
    }
    return card_type, fields


def card_from_fields(card_type: CardType, fields: dict[str, str], secret: bytes) -> IdCard:
    number = fields["number"].upper()
    if card_type == "foreign_permanent_2017":
        checksum_ok = _foreigner_2017_format_ok(number)
        check: Literal["gb11643", "format"] = "format"
    else:
        checksum_ok = gb11643_valid(number)
        check = "gb11643"
    name = fields.get("name") or fields.get("english_name", "")
    nationality: str | None = fields.get("nationality") or None
    if card_type == "hmt_residence":
        nationality = _HMT_REGION.get(number[:2])
    return IdCard(
        card_type=card_type,
        number_masked=mask_id_number(number),
        citizen_key=citizen_key(secret, number),
        name_masked=mask_name(name),
        gender=_GENDERS.get(fields.get("gender", ""), "unknown"),
        nation_code=(fields.get("nation") or None) if card_type == "resident" else None,
        nationality=nationality,
        birth_date=_date(fields["birth"], "birth date"),
        valid_from=fields.get("valid_from", ""),
        valid_to=fields.get("valid_to", ""),
        issuing_authority=fields.get("authority", ""),
        number_checksum_ok=checksum_ok,
        number_check=check,
    )


def parse_text_block(block: bytes, secret: bytes) -> IdCard:
    """Parse and mask in one step; raises ValueError on a block that makes no sense."""
    card_type, fields = split_text_block(block)
    return card_from_fields(card_type, fields, secret)


def encode_text_block(card_type: CardType, fields: dict[str, str]) -> bytes:
    """Build a 256-byte text block (the simulator's card)."""
    chars = [" "] * (TEXT_BYTES // 2)
    layout = LAYOUTS[card_type]
    for name, value in fields.items():
        if name not in layout:
            raise ValueError(f"field {name!r} is not part of a {card_type} card")
        a, b = layout[name]
        text = str(value)[: b - a].ljust(b - a)
        chars[a:b] = list(text)
    chars[FLAG_CHAR] = TYPE_FLAG[card_type]
    block = "".join(chars).encode("utf-16-le")
    assert len(block) == TEXT_BYTES
    return block


# ----------------------------------------------------------------------------- driver
class IdCardReader:
    """A SAM_V ID-card reader behind a transport."""

    def __init__(
        self,
        transport: Transport,
        profile: IdReaderProfile,
        secret: bytes,
        device_id: str = "idreader",
    ) -> None:
        if not secret:
            raise ValueError("the hall secret is needed to hash ID numbers")
        self.transport = transport
        self.profile = profile
        self.device_id = device_id
        self._secret = secret
        self.counters = FrameCounters()
        self._frames = SamFrameReader(self.counters)

    def _exchange(self, cmd: tuple[int, int], deadline: float | None = None) -> SamFrame:
        """Send one command and wait for its reply, with bounded retries.

        The first attempt always runs; a retry only starts before ``deadline`` (monotonic).
        An attempt that started waits its full ``reply_timeout_s`` (a reply on its way is
        not cut off and mistaken for a silent reader), so the exchange ends at the latest
        one reply timeout after ``deadline``.
        """
        attempts = self.profile.retries + 1
        rejected_before = self.counters.rejected + self.counters.garbage_bytes
        for attempt in range(attempts):
            if attempt and deadline is not None and time.monotonic() >= deadline:
                break
            self.transport.reset_input()
            self._frames.clear()
            self.transport.write(sam_command(*cmd))
            frame = self._wait_frame(time.monotonic() + self.profile.reply_timeout_s)
            if frame is None:
                continue
            if frame.sw3 in (0x10, 0x11):  # the reader saw a damaged command: send it again
                continue
            return frame
        if self.counters.rejected + self.counters.garbage_bytes > rejected_before:
            log.warning(
                "idreader %s: no valid reply to %02X %02X (garbage=%d bad_checksum=%d "
                "truncated=%d)",
                self.device_id,
                cmd[0],
                cmd[1],
                self.counters.garbage_bytes,
                self.counters.bad_checksum,
                self.counters.truncated,
            )
            raise BadFrame(
                f"{self.device_id}: no valid frame in reply to {cmd[0]:02X} {cmd[1]:02X}",
                device=self.device_id,
            )
        raise NoAnswer(
            f"{self.device_id}: no reply to {cmd[0]:02X} {cmd[1]:02X}", device=self.device_id
        )

    def _wait_frame(self, limit: float) -> SamFrame | None:
        while True:
            frame = self._frames.next_frame()
            if frame is not None:
                return frame
            left = limit - time.monotonic()
            if left <= 0:
                if self._frames.buf:
                    self.counters.truncated += 1
                    self._frames.clear()
                return None
            self._frames.feed(self.transport.read(4096, left))

    def sam_ok(self) -> bool:
        """SAM status check (11 FF): True when the reader's security module is ready."""
        return self._exchange(CMD_SAM_STATUS).sw3 == SW3_OK

    def read_card(self, timeout: float) -> IdCard | None:
        """Wait up to ``timeout`` s for a card and read it; None if no card came.

        Every exchange is bounded by the same deadline (no retry starts after it): a silent
        reader is reported within ``timeout`` plus one ``reply_timeout_s``; a card found just
        before the deadline still gets one attempt per remaining step (select, read).

        Raises NoAnswer / BadFrame / PortGone when the reader itself fails, and
        DeviceRefused when the SAM reports a fault that retrying will not fix.
        """
        deadline = time.monotonic() + timeout
        read_cmd = CMD_READ if self.profile.read_command == "text_photo" else CMD_READ_FP
        while True:
            found = self._exchange(CMD_FIND, deadline)
            if found.sw3 == SW3_FOUND:
                selected = self._exchange(CMD_SELECT, deadline)
                if selected.sw3 == SW3_OK:
                    reply = self._exchange(read_cmd, deadline)
                    if reply.sw3 == SW3_OK:
                        card = self._parse_read(reply.data)
                        if card is not None:
                            return card
                    elif reply.sw3 not in (0x41, 0x80, 0x81, 0x31, 0x32, 0x33):
                        self._refused(reply.sw3)
                elif selected.sw3 != 0x81:
                    self._refused(selected.sw3)
            elif found.sw3 not in (0x80,):
                self._refused(found.sw3)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(self.profile.poll_interval_s, left))

    def _refused(self, sw3: int) -> None:
        text = SW3_TEXT.get(sw3, "unknown status")
        raise DeviceRefused(
            f"{self.device_id}: reader answered SW3={sw3:02X} ({text})",
            device=self.device_id,
            reason=f"sw3_{sw3:02x}",
        )

    def _parse_read(self, data: bytes) -> IdCard | None:
        if len(data) < 4:
            self.counters.bad_length += 1
            return None
        text_len = int.from_bytes(data[0:2], "big")
        photo_len = int.from_bytes(data[2:4], "big")
        if text_len != TEXT_BYTES or len(data) < 4 + text_len + photo_len:
            self.counters.bad_length += 1
            log.warning("idreader %s: read reply has wrong block lengths", self.device_id)
            return None
        block = data[4 : 4 + text_len]
        # the photo (WLT, data[4+text_len:…]) is deliberately not kept
        try:
            return parse_text_block(block, self._secret)
        except ValueError as exc:
            self.counters.bad_length += 1
            log.warning(
                "idreader %s: unreadable text block: %s", self.device_id, type(exc).__name__
            )
            return None

    def close(self) -> None:
        self.transport.close()
