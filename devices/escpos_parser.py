"""A small ESC/POS parser: splits a byte stream into commands and GB18030 text.

Used by the tests as an oracle for exact ticket bytes and by the printer simulator to keep a
readable copy of what it printed. It knows the commands a ticket printer meets (init,
alignment, sizes, Chinese mode, QR, raster images, barcodes, cut, real-time status); an
unknown escape becomes a two-byte ``ESC ?`` item so parsing never stops.
"""

from __future__ import annotations

from dataclasses import dataclass

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10


@dataclass(frozen=True)
class Command:
    name: str
    raw: bytes


@dataclass(frozen=True)
class Text:
    raw: bytes
    encoding: str = "gb18030"

    @property
    def text(self) -> str:
        return self.raw.decode(self.encoding, errors="replace")


Item = Command | Text

# name bytes → number of fixed parameter bytes
_ESC_FIXED = {
    b"@": 0,
    b"!": 1,
    b"a": 1,
    b"d": 1,
    b"E": 1,
    b"-": 1,
    b"M": 1,
    b"t": 1,
    b"J": 1,
    b"2": 0,
    b"3": 1,
    b"G": 1,
    b"V": 1,
    b"{": 1,
    b"r": 1,
    b"p": 3,
    b"=": 1,
    b"R": 1,
    b"e": 1,
    b"i": 0,
    b"m": 0,
    b" ": 1,
    b"$": 2,
    b"\\": 2,
    b"U": 1,
    b"S": 0,
    b"L": 0,
}
_GS_FIXED = {
    b"!": 1,
    b"h": 1,
    b"w": 1,
    b"H": 1,
    b"f": 1,
    b"a": 1,
    b"r": 1,
    b"B": 1,
    b"L": 2,
    b"W": 2,
    b"b": 1,
    b"P": 2,
    b"I": 1,
    b"$": 2,
    b"\\": 2,
    b"^": 3,
}
_FS_FIXED = {b"&": 0, b".": 0, b"!": 1, b"W": 1, b"S": 2, b"-": 1, b"C": 1, b"p": 2}
_SINGLE = {0x0A: "LF", 0x0D: "CR", 0x09: "HT", 0x0C: "FF", 0x18: "CAN"}


class _Incomplete(Exception):
    pass


def _need(data: bytes, end: int) -> None:
    if end > len(data):
        raise _Incomplete


def _nul_terminated(data: bytes, start: int) -> int:
    """End offset of a parameter that runs up to and including a NUL byte."""
    end = data.find(b"\x00", start)
    if end < 0:
        raise _Incomplete
    return end + 1


def _dle_at(data: bytes, i: int, op: bytes) -> tuple[str, int]:
    if op == b"\x04" or op == b"\x05":
        _need(data, i + 3)
        return ("DLE EOT" if op == b"\x04" else "DLE ENQ") + f" {data[i + 2]}", i + 3
    if op == b"\x14":
        _need(data, i + 5)
        return "DLE DC4", i + 5
    return "DLE ?", i + 2


def _esc_variable_at(data: bytes, i: int, op: bytes) -> tuple[str, int] | None:
    if op == b"c":
        _need(data, i + 4)
        return f"ESC c {chr(data[i + 2])}", i + 4
    if op == b"*":
        _need(data, i + 5)
        m, n = data[i + 2], data[i + 3] | data[i + 4] << 8
        return "ESC *", i + 5 + n * (3 if m in (32, 33) else 1)
    if op == b"D":
        return "ESC D", _nul_terminated(data, i + 2)
    return None


def _gs_variable_at(data: bytes, i: int, op: bytes) -> tuple[str, int] | None:
    if op == b"V":
        _need(data, i + 3)
        m = data[i + 2]
        return "GS V", i + (3 if m in (0, 1, 48, 49) else 4)
    if op == b"(":
        _need(data, i + 5)
        fn = chr(data[i + 2])
        n = data[i + 3] | data[i + 4] << 8
        return f"GS ( {fn}", i + 5 + n
    if op == b"v":
        _need(data, i + 8)
        width = data[i + 4] | data[i + 5] << 8
        height = data[i + 6] | data[i + 7] << 8
        return "GS v 0", i + 8 + width * height
    if op == b"k":
        _need(data, i + 3)
        if data[i + 2] <= 6:
            return "GS k", _nul_terminated(data, i + 3)
        _need(data, i + 4)
        return "GS k", i + 4 + data[i + 3]
    return None


# lead byte → (name, fixed-length commands, parser of the variable-length ones)
_PREFIXED = {
    ESC: ("ESC", _ESC_FIXED, _esc_variable_at),
    GS: ("GS", _GS_FIXED, _gs_variable_at),
    FS: ("FS", _FS_FIXED, None),
}


def _command_at(data: bytes, i: int) -> tuple[str, int]:
    """Name and end offset of the command starting at ``i``; raises ``_Incomplete``."""
    lead = data[i]
    if lead in _SINGLE:
        return _SINGLE[lead], i + 1
    _need(data, i + 2)
    op = data[i + 1 : i + 2]
    if lead == DLE:
        return _dle_at(data, i, op)
    if lead not in _PREFIXED:
        return f"0x{lead:02X}", i + 1
    prefix, fixed, variable = _PREFIXED[lead]
    if op in fixed:
        return f"{prefix} {op.decode('latin-1')}", i + 2 + fixed[op]
    found = variable(data, i, op) if variable is not None else None
    return found or (f"{prefix} ?", i + 2)


def parse(data: bytes, *, final: bool = True) -> tuple[list[Item], int]:
    """Split ``data`` into items; returns them and how many bytes were consumed.

    With ``final=False`` an incomplete command at the end is left unconsumed (streaming);
    with ``final=True`` it becomes a ``Command("TRUNCATED", …)`` item.
    """
    items: list[Item] = []
    i = 0
    n = len(data)
    while i < n:
        b = data[i]
        if b >= 0x20 and b != 0x7F:
            j = i
            while j < n and data[j] >= 0x20 and data[j] != 0x7F:
                j += 1
            items.append(Text(data[i:j]))
            i = j
            continue
        try:
            name, end = _command_at(data, i)
            _need(data, end)
        except _Incomplete:
            if not final:
                return items, i
            items.append(Command("TRUNCATED", data[i:]))
            return items, n
        items.append(Command(name, data[i:end]))
        i = end
    return items, n


def qr_payloads(items: list[Item]) -> list[str]:
    """Data stored with ``GS ( k … 31 50 30`` (QR store), decoded as UTF-8."""
    out = []
    for item in items:
        if isinstance(item, Command) and item.name == "GS ( k" and item.raw[5:8] == b"1P0":
            out.append(item.raw[8:].decode("utf-8", errors="replace"))
    return out


def readable(items: list[Item]) -> str:
    """What a person would read on the paper: text, line breaks, ``[QR …]``, ``--- cut ---``."""
    parts: list[str] = []
    for item in items:
        if isinstance(item, Text):
            parts.append(item.text)
        elif item.name == "LF":
            parts.append("\n")
        elif item.name == "ESC d":
            parts.append("\n" * item.raw[2])
        elif item.name == "GS ( k" and item.raw[5:8] == b"1P0":
            parts.append("[QR " + item.raw[8:].decode("utf-8", errors="replace") + "]")
        elif item.name == "GS v 0":
            parts.append("[image]")
        elif item.name == "GS V":
            parts.append("\n--- cut ---\n")
    return "".join(parts)


def text_of(data: bytes) -> str:
    items, _ = parse(data)
    return readable(items)
