"""Ticket printer driver: ESC/POS tickets with GB18030 Chinese, native QR and real-time status.

The driver holds a :class:`~devices.transport.Transport`. Tickets are built as bytes from a
:class:`TicketLayout` and the printer's profile (58 or 80 mm); Chinese text goes out as
GB18030 inside the printer's Chinese mode (``FS &`` … ``FS .``), never as a raster image, so
a ticket with its QR code stays under 2 KB (about two seconds at 9600 baud).
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from escpos.printer import Dummy

from devices.errors import BadFrame, DeviceFault, NoAnswer
from devices.profiles import PrinterProfile
from devices.transport import Transport

log = logging.getLogger(__name__)

INIT = b"\x1b@"
CN_ON = b"\x1c&"
CN_OFF = b"\x1c."
ALIGN_CENTER = b"\x1ba\x01"
SIZE_NORMAL = b"\x1d!\x00"
BOLD_ON = b"\x1bE\x01"
BOLD_OFF = b"\x1bE\x00"
LF = b"\n"
DLE_EOT = b"\x10\x04"

_QR_EC = {"L": 0, "M": 1, "Q": 2, "H": 3}
MAX_TICKET_BYTES = 2048


@dataclass(frozen=True)
class TicketLayout:
    """What goes on a queue ticket (all text; the renderer decides the bytes)."""

    hall_name: str
    service_name: str
    number: str
    people_ahead: int
    estimated_wait_min: int | None
    issued_at: datetime
    windows: str = ""
    qr_payload: str | None = None
    notice: Sequence[str] = field(default_factory=tuple)


def _columns(ch: str) -> int:
    """Font A columns of one character: a Hanzi (wide or full-width) takes two."""
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def fit(text: str, columns: int) -> str:
    """Cut ``text`` to ``columns`` Font A columns (a Hanzi takes two)."""
    out, used = [], 0
    for ch in text:
        w = _columns(ch)
        if used + w > columns:
            break
        out.append(ch)
        used += w
    return "".join(out)


def _clean(text: str) -> str:
    """No control characters inside printed text (they would become commands)."""
    return "".join(ch for ch in text if ch >= " " and ch != "\x7f")


class TicketRenderer:
    """Builds the ESC/POS bytes of a ticket for one printer profile."""

    def __init__(self, profile: PrinterProfile) -> None:
        self.profile = profile

    def text(self, text: str) -> bytes:
        """GB18030 bytes of ``text``, inside Chinese mode when it has non-ASCII characters."""
        raw = _clean(text).encode(self.profile.text_encoding, errors="replace")
        if self.profile.chinese_mode and not text.isascii():
            return CN_ON + raw + CN_OFF
        return raw

    def line(self, text: str, columns: int | None = None) -> bytes:
        return self.text(fit(_clean(text), columns or self.profile.chars_per_line)) + LF

    def qr(self, payload: str) -> bytes:
        dummy = Dummy()
        ec = _QR_EC[self.profile.qr_error_correction]
        size = self.profile.qr_module_size
        if self.profile.native_qr:
            dummy.qr(payload, ec=ec, size=size, native=True)
        else:
            dummy.profile.profile_data["media"]["width"]["pixels"] = self.profile.dots_per_line
            dummy.qr(payload, ec=ec, size=size, native=False, center=False)
        return bytes(dummy.output)

    def cut(self) -> bytes:
        feed = b"\x1bd" + bytes([self.profile.feed_lines_before_cut])
        if self.profile.cut == "none":
            return feed
        return feed + (b"\x1dV\x00" if self.profile.cut == "full" else b"\x1dV\x01")

    def ticket(self, layout: TicketLayout) -> bytes:
        p = self.profile
        cols = p.chars_per_line
        big = p.number_size
        size = bytes([((big - 1) << 4) | (big - 1)])
        out = bytearray(INIT)
        out += ALIGN_CENTER
        out += BOLD_ON + self.line(layout.hall_name) + BOLD_OFF
        out += self.line(layout.service_name)
        out += b"\x1d!" + size + self.line(layout.number, max(1, cols // big)) + SIZE_NORMAL
        out += self.line(f"前面还有 {layout.people_ahead} 人")
        if layout.estimated_wait_min is not None:
            out += self.line(f"预计等待约 {layout.estimated_wait_min} 分钟")
        if layout.windows:
            out += self.line(f"请到 {layout.windows} 办理")
        out += self.line("取号时间 " + layout.issued_at.strftime("%Y-%m-%d %H:%M"))
        if layout.qr_payload:
            out += self.qr(layout.qr_payload) + LF
        for notice in list(layout.notice)[:2]:
            out += self.line(notice)
        out += self.cut()
        return bytes(out)


@dataclass(frozen=True)
class PrinterStatus:
    online: bool
    reason: str | None = None  # paper_out | paper_near_end | cover_open | offline | error | …
    paper_near_end: bool = False
    known: bool = True  # False when the profile says the printer has no real-time status

    @property
    def can_print(self) -> bool:
        return self.online and self.reason in (None, "paper_near_end")


@dataclass(frozen=True)
class PrintResult:
    ok: bool
    reason: str | None = None
    bytes_sent: int = 0


def _valid_status_byte(b: int) -> bool:
    """Every DLE EOT reply has the fixed pattern 0xx1xx10."""
    return b & 0b1001_0011 == 0b0001_0010


def interpret_status(replies: dict[int, int]) -> PrinterStatus:
    """Turn DLE EOT 1..4 reply bytes into a status and a reason code."""
    printer, cause = replies.get(1, 0x12), replies.get(2, 0x12)
    error, paper = replies.get(3, 0x12), replies.get(4, 0x12)
    near_end = bool(paper & 0x0C)
    if cause & 0x04:
        return PrinterStatus(False, "cover_open", near_end)
    if cause & 0x20 or paper & 0x60:
        return PrinterStatus(False, "paper_out", near_end)
    if error & 0x08:
        return PrinterStatus(False, "cutter_error", near_end)
    if error & 0x20 or error & 0x40 or cause & 0x40:
        return PrinterStatus(False, "error", near_end)
    if printer & 0x08:
        return PrinterStatus(False, "offline", near_end)
    if near_end:
        return PrinterStatus(True, "paper_near_end", True)
    return PrinterStatus(True, None)


class TicketPrinter:
    """An ESC/POS ticket printer behind a transport."""

    def __init__(
        self, transport: Transport, profile: PrinterProfile, device_id: str = "printer"
    ) -> None:
        self.transport = transport
        self.profile = profile
        self.device_id = device_id
        self.renderer = TicketRenderer(profile)
        self.bad_bytes = 0

    def _ask(self, n: int) -> int:
        self.transport.write(DLE_EOT + bytes([n]))
        deadline = time.monotonic() + self.profile.status_timeout_s
        got_any = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            data = self.transport.read(1, left)
            if not data:
                break
            got_any = True
            if _valid_status_byte(data[0]):
                return data[0]
            self.bad_bytes += 1
        if got_any:
            raise BadFrame(
                f"{self.device_id}: no valid reply to DLE EOT {n}", device=self.device_id
            )
        raise NoAnswer(f"{self.device_id}: no reply to DLE EOT {n}", device=self.device_id)

    def status(self) -> PrinterStatus:
        """Ask DLE EOT 1..4; raises NoAnswer, BadFrame or PortGone."""
        if not self.profile.real_time_status:
            return PrinterStatus(True, None, known=False)
        self.transport.reset_input()
        replies = {n: self._ask(n) for n in (1, 2, 3, 4)}
        return interpret_status(replies)

    def _checked_status(self) -> PrinterStatus | PrintResult:
        try:
            return self.status()
        except DeviceFault as exc:
            log.warning("printer %s: status failed: %s", self.device_id, exc.reason)
            return PrintResult(False, exc.reason)

    def print_bytes(self, data: bytes) -> PrintResult:
        """Send ready ESC/POS bytes with a status check before and after; never raises."""
        before = self._checked_status()
        if isinstance(before, PrintResult):
            return before
        if not before.can_print:
            return PrintResult(False, before.reason)
        try:
            self.transport.write(data)
        except DeviceFault as exc:
            log.warning("printer %s: write failed: %s", self.device_id, exc.reason)
            return PrintResult(False, exc.reason)
        after = self._checked_status()
        if isinstance(after, PrintResult):
            return PrintResult(False, after.reason, len(data))
        if not after.can_print:
            return PrintResult(False, after.reason, len(data))
        return PrintResult(True, after.reason, len(data))

    def print_ticket(self, layout: TicketLayout) -> PrintResult:
        return self.print_bytes(self.renderer.ticket(layout))

    def close(self) -> None:
        self.transport.close()


def sample_ticket(now: datetime | None = None) -> TicketLayout:
    """The ticket ``hall-agent device print-test`` prints."""
    return TicketLayout(
        hall_name="测试便民服务中心",
        service_name="社保业务",
        number="A001",
        people_ahead=3,
        estimated_wait_min=12,
        issued_at=now or datetime(2024, 5, 6, 9, 30),
        windows="1、3号窗口",
        qr_payload="HALL1:A001:TESTTOKEN",
        notice=("请留意叫号，过号请重新取号", "打印测试 PRINT TEST"),
    )
