"""A profile-driven frame codec for devices with vendor framings (LED strips, evaluators).

A :class:`~devices.profiles.FramingProfile` lists the frame's fields in order — constant
header, address, command, length, payload, checksum, trailer — and how each is written.
:class:`Framer` encodes frames and pulls checked frames out of a byte stream, skipping and
counting garbage, bad lengths, wrong checksums and wrong trailers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from devices.profiles import FramingProfile
from devices.transport import FrameCounters


def crc16_modbus(data: bytes) -> int:
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def checksum(kind: str, data: bytes) -> int:
    if kind == "sum8":
        return sum(data) & 0xFF
    if kind == "xor8":
        out = 0
        for b in data:
            out ^= b
        return out
    if kind == "sum16":
        return sum(data) & 0xFFFF
    if kind == "crc16_modbus":
        return crc16_modbus(data)
    raise ValueError(f"no checksum kind {kind!r}")


def checksum_width(kind: str) -> int:
    return {"none": 0, "sum8": 1, "xor8": 1, "sum16": 2, "crc16_modbus": 2}[kind]


@dataclass(frozen=True)
class Frame:
    address: int
    command: int
    payload: bytes


class _Need(Exception):
    pass


class _Bad(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Framer:
    def __init__(self, spec: FramingProfile) -> None:
        self.spec = spec
        self.counters = FrameCounters()
        self.buf = bytearray()

    # ----- sizes
    def _addr_size(self) -> int:
        a = self.spec.address
        return a.width if a.format == "binary" else 2 * a.width

    def _fixed_size(self, name: str) -> int:
        s = self.spec
        if name == "header":
            return len(s.header)
        if name == "trailer":
            return len(s.trailer)
        if name == "address":
            return self._addr_size()
        if name == "command":
            return 1
        if name == "length":
            return s.length.width if s.length else 0
        if name == "checksum":
            return checksum_width(s.checksum.kind)
        raise ValueError(name)

    # ----- encoding
    def _encode_address(self, address: int) -> bytes:
        a = self.spec.address
        if a.format == "binary":
            return address.to_bytes(a.width, a.endian)
        digits = 2 * a.width
        text = f"{address:0{digits}d}" if a.format == "ascii_dec" else f"{address:0{digits}X}"
        if len(text) > digits:
            raise ValueError(f"address {address} does not fit {digits} digits")
        return text.encode("ascii")

    def encode_text(self, text: str, max_chars: int | None = None) -> bytes:
        p = self.spec.payload
        if max_chars is not None:
            text = text[:max_chars]
        raw = text.encode(p.encoding, errors="replace")
        limit = p.pad_to or p.max_bytes
        if len(raw) > limit:
            raw = raw[:limit]
            raw = raw.decode(p.encoding, errors="ignore").encode(p.encoding)  # no half Hanzi
        if p.pad_to:
            raw = raw.ljust(p.pad_to, bytes([p.pad_byte]))
        return raw

    def decode_text(self, payload: bytes) -> str:
        p = self.spec.payload
        text = payload.decode(p.encoding, errors="replace")
        if p.pad_to:
            text = text.rstrip(chr(p.pad_byte) if p.pad_byte < 0x80 else " ")
        return text

    def encode(self, address: int, command: int, payload: bytes = b"") -> bytes:
        s = self.spec
        parts: dict[str, bytes] = {
            "header": s.header,
            "trailer": s.trailer,
            "address": self._encode_address(address),
            "command": bytes([command]),
            "payload": payload if "payload" in s.fields else b"",
        }
        if s.length is not None:
            counted = sum(
                len(parts[f]) if f in parts else self._fixed_size(f)
                for f in s.length.covers
                if f != "length"
            )
            if "length" in s.length.covers:
                counted += s.length.width
            parts["length"] = (counted + s.length.adjust).to_bytes(s.length.width, s.length.endian)
        if s.checksum.kind != "none":
            covered = b"".join(parts[f] for f in s.fields if f in s.checksum.covers)
            value = checksum(s.checksum.kind, covered)
            parts["checksum"] = value.to_bytes(checksum_width(s.checksum.kind), s.checksum.endian)
        return b"".join(parts[f] for f in s.fields)

    # ----- decoding
    def feed(self, data: bytes) -> None:
        self.buf += data

    def clear(self) -> None:
        self.buf.clear()

    def _parse_at(self, buf: bytes) -> tuple[Frame, int]:
        s = self.spec
        pos = 0
        parts: dict[str, bytes] = {}
        length_value: int | None = None
        for i, name in enumerate(s.fields):
            if name == "payload":
                size = self._payload_size(length_value, s.fields[i + 1 :], buf, pos)
            else:
                size = self._fixed_size(name)
            if pos + size > len(buf):
                raise _Need
            chunk = bytes(buf[pos : pos + size])
            if name == "header" and chunk != s.header:
                raise _Bad("garbage")
            if name == "trailer" and chunk != s.trailer:
                raise _Bad("length")
            if name == "length" and s.length is not None:
                length_value = int.from_bytes(chunk, s.length.endian) - s.length.adjust
            parts[name] = chunk
            pos += size
        if s.checksum.kind != "none":
            covered = b"".join(parts[f] for f in s.fields if f in s.checksum.covers)
            want = checksum(s.checksum.kind, covered)
            if int.from_bytes(parts["checksum"], s.checksum.endian) != want:
                raise _Bad("checksum")
        return Frame(
            self._decode_address(parts["address"]), parts["command"][0], parts.get("payload", b"")
        ), pos

    def _payload_size(
        self, length_value: int | None, rest: Sequence[str], buf: bytes, pos: int
    ) -> int:
        s = self.spec
        if length_value is not None and s.length is not None and "payload" in s.length.covers:
            others = sum(self._fixed_size(f) for f in s.length.covers if f != "payload")
            size = length_value - others
        elif s.payload.pad_to:
            size = s.payload.pad_to
        else:
            # up to the trailer (after any fixed fields between payload and trailer)
            tail = sum(self._fixed_size(f) for f in rest if f != "trailer")
            end = bytes(buf).find(s.trailer, pos)
            if end < 0:
                if len(buf) - pos > s.payload.max_bytes + tail + len(s.trailer):
                    raise _Bad("length")
                raise _Need
            size = end - pos - tail
        if size < 0 or size > max(s.payload.max_bytes, s.payload.pad_to or 0):
            raise _Bad("length")
        return size

    def _decode_address(self, raw: bytes) -> int:
        a = self.spec.address
        if a.format == "binary":
            return int.from_bytes(raw, a.endian)
        try:
            return int(raw.decode("ascii"), 10 if a.format == "ascii_dec" else 16)
        except ValueError as exc:
            raise _Bad("length") from exc

    def next_frame(self) -> Frame | None:
        header = self.spec.header
        while True:
            i = self.buf.find(header)
            if i < 0:
                keep = len(header) - 1
                if len(self.buf) > keep:
                    self.counters.garbage_bytes += len(self.buf) - keep
                    del self.buf[: len(self.buf) - keep]
                return None
            if i:
                self.counters.garbage_bytes += i
                del self.buf[:i]
            try:
                frame, used = self._parse_at(bytes(self.buf[: self.spec.max_frame]))
            except _Need:
                if len(self.buf) >= self.spec.max_frame:
                    self.counters.bad_length += 1
                    del self.buf[: len(header)]
                    continue
                return None
            except _Bad as bad:
                if bad.kind == "checksum":
                    self.counters.bad_checksum += 1
                else:
                    self.counters.bad_length += 1
                del self.buf[: len(header)]
                continue
            del self.buf[:used]
            self.counters.frames += 1
            return frame

    def drop_partial(self) -> None:
        """Called on a timeout: a half frame in the buffer is counted as truncated."""
        if self.buf.startswith(self.spec.header):
            self.counters.truncated += 1
        elif self.buf:
            self.counters.garbage_bytes += len(self.buf)
        self.buf.clear()
