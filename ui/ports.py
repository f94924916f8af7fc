"""The devices a screen uses, behind one small port (so views and presenters can be tested
with a fake, and the demo plugs in the real drivers on simulators).

A port's blocking call (``print_ticket``) runs on a worker thread (see
:class:`ui.core.Background`); its signals may be emitted from any thread and reach presenters
queued on the GUI thread. The LED strips and evaluators are driven by the node, not the
screens (``sync.node_devices.WindowDevices``): a window station only shows their state.
A scanner placed at a window (node.yaml ``window``) reads staff badges for that window's
station (``window_code``); only a scanner of no window feeds the kiosk (``code``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from devices.led import EvaluatorRating

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CardRead:
    """What the kiosk needs from an ID card (the driver's ``IdCard`` has these fields).

    ``citizen_key`` (``agent.privacy.citizen_key``) stays on this PC: the kiosk sends only
    the hash of the business day made from it."""

    citizen_key: bytes = field(repr=False)
    name_masked: str
    birth_date: dt.date | None = None
    number_masked: str = ""
    #: The ID number passed its check digit (GB 11643) or format check; a card that did not
    #: was misread and must not be used.
    number_checksum_ok: bool = True


@dataclass(frozen=True)
class PrintOutcome:
    ok: bool
    reason: str | None = None


@dataclass(frozen=True)
class SlipLayout:
    """The ticket slip; the same fields as ``devices.printer.TicketLayout``."""

    hall_name: str
    service_name: str
    number: str
    people_ahead: int
    estimated_wait_min: int | None
    issued_at: dt.datetime
    windows: str = ""
    qr_payload: str | None = None
    notice: tuple[str, ...] = field(default_factory=tuple)


class DevicePort(QObject):
    """Base: no devices at all (a window PC without an LED or evaluator)."""

    card = Signal(object)  # CardRead
    code = Signal(str)  # a code scanned by a scanner of no window (the kiosk's)
    window_code = Signal(int, str)  # window, code: scanned by that window's scanner
    status = Signal(str, str, object)  # device id, online|offline|fault, reason
    rating_missed = Signal(int, str)  # window, number: its evaluator gave no rating

    def __init__(self) -> None:
        super().__init__()
        # Written by device threads (``report``), read by the GUI thread: only under the lock.
        self._states_lock = threading.Lock()
        self._states: dict[str, tuple[str, str | None]] = {}

    @property
    def states(self) -> dict[str, tuple[str, str | None]]:
        """A snapshot of each device's (status, reason): safe to iterate on any thread."""
        with self._states_lock:
            return dict(self._states)

    # ---- capabilities ---------------------------------------------------------------------
    def where(self, device: str) -> dict[str, Any]:
        """``{"kind", "window"}`` of one of this PC's devices (node.yaml); {} if unknown."""
        return {}

    def has_printer(self) -> bool:
        return False

    def has_evaluator(self, window: int) -> bool:
        return False

    def has_led(self, window: int) -> bool:
        return False

    # ---- blocking calls (worker threads) ------------------------------------------------
    def print_ticket(self, layout: SlipLayout) -> PrintOutcome:
        return PrintOutcome(False, "no_printer")

    def rating_ended(self, window: int, number: str, score: int | None) -> None:
        """Any thread (``WindowDevices.on_rating``): a rating not given is shown as such."""
        if score is None:
            self.rating_missed.emit(window, number)

    # ---- health -------------------------------------------------------------------------
    def report(self, device: str, status: str, reason: str | None = None) -> None:
        """Any thread: the signal reaches GUI receivers queued."""
        with self._states_lock:
            if self._states.get(device) == (status, reason):
                return
            self._states[device] = (status, reason)
        self.status.emit(device, status, reason)

    def close(self) -> None:
        return None


class FakeDevices(DevicePort):
    """In-memory devices for tests and the benchmark: records what was printed and shown."""

    def __init__(self, evaluator_windows: tuple[int, ...] = (1, 2, 3), printer: bool = True):
        super().__init__()
        self.printed: list[SlipLayout] = []
        self.shown: dict[int, list[str]] = {}
        self.rating_requests: list[tuple[int, str]] = []
        self.paper_out = False
        self.printer = printer
        self.evaluator_windows = evaluator_windows
        self._scores: dict[int, EvaluatorRating | None] = {}
        self._rating_ready = threading.Condition()
        if printer:
            self._states["kiosk-printer"] = ("online", None)

    def where(self, device: str) -> dict[str, Any]:
        return {"kind": "printer", "window": None} if device == "kiosk-printer" else {}

    def has_printer(self) -> bool:
        return self.printer

    def has_evaluator(self, window: int) -> bool:
        return window in self.evaluator_windows

    def has_led(self, window: int) -> bool:
        return True

    def print_ticket(self, layout: SlipLayout) -> PrintOutcome:
        if not self.printer:
            return PrintOutcome(False, "no_printer")
        if self.paper_out:
            self.report("kiosk-printer", "fault", "paper_out")
            return PrintOutcome(False, "paper_out")
        self.report("kiosk-printer", "online", None)
        self.printed.append(layout)
        return PrintOutcome(True)

    def show(self, window: int, text: str) -> None:
        self.shown.setdefault(window, []).append(text)

    def request_rating(
        self, window: int, number: str, timeout: float, reasons: Sequence[str] = ()
    ) -> EvaluatorRating | None:
        with self._rating_ready:
            self.rating_requests.append((window, number))
            self._rating_ready.wait_for(lambda: window in self._scores, timeout)
            return self._scores.pop(window, None)

    def press(self, window: int, score: int | None, reasons: tuple[int, ...] | None = None) -> None:
        """A citizen presses a key on the evaluator of ``window`` (and, on one with a
        screen, chooses reasons: their 1-based positions in the hall's list)."""
        with self._rating_ready:
            self._scores[window] = None if score is None else EvaluatorRating(score, reasons)
            self._rating_ready.notify_all()

    def swipe(self, card: CardRead) -> None:
        self.card.emit(card)

    def scan(self, text: str, window: int | None = None) -> None:
        """A code read by the kiosk's scanner, or by the scanner of ``window``."""
        if window is None:
            self.code.emit(text)
        else:
            self.window_code.emit(window, text)


def card_from_driver(card: Any) -> CardRead:
    """``devices.idcard.IdCard`` → :class:`CardRead` (only what the queue may know)."""
    return CardRead(
        citizen_key=card.citizen_key,
        name_masked=card.name_masked,
        birth_date=card.birth_date,
        number_masked=card.number_masked,
        number_checksum_ok=bool(card.number_checksum_ok),
    )
