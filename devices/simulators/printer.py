"""Printer simulator: keeps what it was sent, answers DLE EOT, can run out of paper."""

from __future__ import annotations

import threading
from pathlib import Path

from devices import escpos_parser
from devices.simulators.base import PtySimulator


class PrinterSimulator(PtySimulator):
    kind = "printer"

    def __init__(self, link: str | Path | None = None) -> None:
        self.received = bytearray()
        self.paper_out = False
        self.paper_near_end = False
        self.cover_open = False
        self.offline = False
        self.status_queries = 0
        self.tickets: list[str] = []  # readable text of each cut ticket
        self._pending = bytearray()
        self._page: list[escpos_parser.Item] = []
        self._cond = threading.Condition()
        super().__init__(link)

    # controls
    def set_paper_out(self, value: bool = True) -> None:
        self.paper_out = value

    def set_paper_near_end(self, value: bool = True) -> None:
        self.paper_near_end = value

    def set_cover_open(self, value: bool = True) -> None:
        self.cover_open = value

    def set_offline(self, value: bool = True) -> None:
        self.offline = value

    def set_silent(self, value: bool = True) -> None:
        self.silent = value

    def status_byte(self, n: int) -> int:
        b = 0x12
        if n == 1 and (self.offline or self.paper_out or self.cover_open):
            b |= 0x08
        elif n == 2:
            b |= (0x04 if self.cover_open else 0) | (0x20 if self.paper_out else 0)
        elif n == 4:
            b |= (0x60 if self.paper_out else 0) | (0x0C if self.paper_near_end else 0)
        return b

    def on_data(self, data: bytes) -> bytes:
        self.received += data
        self._pending += data
        items, used = escpos_parser.parse(bytes(self._pending), final=False)
        del self._pending[:used]
        reply = bytearray()
        for item in items:
            if isinstance(item, escpos_parser.Command) and item.name.startswith("DLE EOT"):
                self.status_queries += 1
                reply.append(self.status_byte(item.raw[2]))
                continue
            if self.paper_out or self.cover_open or self.offline:
                continue  # nothing reaches the paper
            self._page.append(item)
            if isinstance(item, escpos_parser.Command) and item.name == "GS V":
                with self._cond:
                    self.tickets.append(escpos_parser.readable(self._page))
                    self._page = []
                    self._cond.notify_all()
        return bytes(reply)

    def wait_tickets(self, count: int, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.tickets) >= count, timeout)
