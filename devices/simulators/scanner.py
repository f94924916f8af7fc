"""Serial scanner simulator: emits codes followed by the profile's suffix."""

from __future__ import annotations

from pathlib import Path

from devices.simulators.base import PtySimulator


class ScannerSimulator(PtySimulator):
    kind = "scanner"

    def __init__(
        self, suffix: str = "\r", encoding: str = "utf-8", link: str | Path | None = None
    ) -> None:
        self.suffix = suffix.encode("ascii")
        self.encoding = encoding
        super().__init__(link)

    def emit(self, code: str) -> None:
        self.send(code.encode(self.encoding) + self.suffix)

    def emit_raw(self, data: bytes) -> None:
        self.send(data)
