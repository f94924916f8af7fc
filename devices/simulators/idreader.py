"""ID-card reader simulator: answers SAM_V frames from a card described in a JSON file.

Card file: ``{"card_type": "resident", "fields": {"name": …, "number": …, …}}`` with the
field names of :data:`devices.idcard.LAYOUTS`. Sample cards (fictional people, valid
check digits) ship in ``devices/cards/``.

Faults for tests: ``fault`` = ``"garbage"`` (noise before each reply), ``"bad_checksum"``,
``"truncated"`` (half a reply), ``"silent"``; ``fault_count`` limits how many replies are
damaged (``None``: all of them).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from devices.idcard import (
    SW3_FOUND,
    SW3_OK,
    CardType,
    SamFrameReader,
    encode_text_block,
    sam_reply,
)
from devices.simulators.base import PtySimulator

CARDS_DIR = Path(__file__).resolve().parent.parent / "cards"
FAKE_WLT = b"WLT\x00" + bytes(range(256)) * 3 + b"\x00" * 252  # 1024 bytes of "photo"
SAM_ID = bytes.fromhex("0505000000000000000000000000000000")[:16]


def load_card(path: str | Path) -> tuple[CardType, dict[str, str]]:
    data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    return data["card_type"], {k: str(v) for k, v in data["fields"].items()}


def sample_card(name: str) -> Path:
    """Path of a shipped sample card, e.g. ``sample_card("resident-elderly")``."""
    return CARDS_DIR / f"{name}.json"


class IdReaderSimulator(PtySimulator):
    kind = "idreader"

    def __init__(self, card: str | Path | None = None, link: str | Path | None = None) -> None:
        self._reader = SamFrameReader(min_body=2)
        self._block: bytes | None = None
        self._already_read = False
        self.fault: str | None = None
        self.fault_count: int | None = None
        self.commands: list[tuple[int, int]] = []
        self.bad_requests = 0
        super().__init__(link)
        if card is not None:
            self.present(card)

    # controls
    def present(self, card: str | Path | dict[str, Any]) -> None:
        """Put a card on the reader (a JSON path, or the parsed JSON document)."""
        if isinstance(card, dict):
            card_type, fields = card["card_type"], {k: str(v) for k, v in card["fields"].items()}
        else:
            card_type, fields = load_card(card)
        self._block = encode_text_block(card_type, fields)
        self._already_read = False

    def remove(self) -> None:
        self._block = None
        self._already_read = False

    def set_fault(self, fault: str | None, count: int | None = None) -> None:
        self.fault, self.fault_count = fault, count

    # protocol
    def _answer(self, cmd: int, para: int) -> bytes:
        if (cmd, para) in ((0x10, 0xFF), (0x11, 0xFF)):
            return sam_reply(SW3_OK)
        if (cmd, para) == (0x12, 0xFF):
            return sam_reply(SW3_OK, SAM_ID)
        if (cmd, para) == (0x20, 0x01):
            if self._block is None or self._already_read:
                return sam_reply(0x80)
            return sam_reply(SW3_FOUND, b"\x00\x00\x00\x00")
        if (cmd, para) == (0x20, 0x02):
            if self._block is None:
                return sam_reply(0x81)
            return sam_reply(SW3_OK, b"\x00" * 8)
        if cmd == 0x30 and para in (0x01, 0x10):
            if self._block is None:
                return sam_reply(0x41)
            self._already_read = True
            data = len(self._block).to_bytes(2, "big") + len(FAKE_WLT).to_bytes(2, "big")
            data += self._block + FAKE_WLT
            if para == 0x10:
                data = data[:4] + b"\x00\x00" + data[4:]  # no fingerprint on this card
            return sam_reply(SW3_OK, data)
        if cmd == 0x30 and para == 0x03:
            return sam_reply(0x91)
        return sam_reply(0x21)

    def _damage(self, reply: bytes) -> bytes:
        if self.fault is None:
            return reply
        if self.fault_count is not None:
            if self.fault_count <= 0:
                return reply
            self.fault_count -= 1
        if self.fault == "silent":
            return b""
        if self.fault == "garbage":
            return os.urandom(7).replace(b"\xaa", b"\x55") + b"\x00\x01\x02" + reply
        if self.fault == "bad_checksum":
            return reply[:-1] + bytes([reply[-1] ^ 0xFF])
        if self.fault == "truncated":
            return reply[: max(6, len(reply) // 2)]
        return reply

    def on_data(self, data: bytes) -> bytes:
        before = self._reader.counters.rejected
        self._reader.feed(data)
        out = bytearray()
        while (frame := self._reader.next_frame()) is not None:
            if len(frame.body) < 2:
                out += sam_reply(0x11)
                continue
            cmd, para = frame.body[0], frame.body[1]
            self.commands.append((cmd, para))
            out += self._damage(self._answer(cmd, para))
        if self._reader.counters.rejected > before:
            self.bad_requests += self._reader.counters.rejected - before
            out += sam_reply(0x10)
        return bytes(out)
