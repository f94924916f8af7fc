"""LED call display (窗口屏) and satisfaction evaluator (评价器) drivers.

Both speak a vendor framing described by their profile (see :mod:`devices.framing`); both
hold a transport and bound every wait by a timeout.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from devices.errors import BadFrame, DeviceFault, NoAnswer
from devices.framing import Frame, Framer
from devices.profiles import EvaluatorProfile, LedProfile
from devices.transport import FrameCounters, Transport


def _wait_frame(
    transport: Transport, framer: Framer, until: float, want: tuple[int, int | None]
) -> Frame | None:
    """The next frame with command ``want[0]`` (and address ``want[1]`` unless None)."""
    command, address = want
    while True:
        frame = framer.next_frame()
        if frame is not None:
            if frame.command == command and (address is None or frame.address == address):
                return frame
            continue  # someone else's frame on the bus
        left = until - time.monotonic()
        if left <= 0:
            framer.drop_partial()
            return None
        framer.feed(transport.read(512, left))


def _skipped(counters: FrameCounters) -> int:
    return counters.rejected + counters.garbage_bytes


def _no_ack(device_id: str, counters: FrameCounters, skipped_before: int) -> DeviceFault:
    """BadFrame when damaged bytes came back since ``skipped_before``, else NoAnswer."""
    if _skipped(counters) > skipped_before:
        return BadFrame(f"{device_id}: bad acknowledgement", device=device_id)
    return NoAnswer(f"{device_id}: no acknowledgement", device=device_id)


class LedDisplay:
    """One RS-485 bus of window LED strips."""

    def __init__(self, transport: Transport, profile: LedProfile, device_id: str = "led") -> None:
        self.transport = transport
        self.profile = profile
        self.device_id = device_id
        self.framer = Framer(profile.framing)

    @property
    def counters(self) -> FrameCounters:
        return self.framer.counters

    def _send(self, address: int, command: int, payload: bytes) -> None:
        frame = self.framer.encode(address, command, payload)
        p = self.profile
        if p.ack_command is None and not p.ack_bytes:
            self.transport.write(frame)
            return
        skipped = _skipped(self.counters)
        for _ in range(p.retries + 1):
            self.transport.reset_input()
            self.framer.clear()
            self.transport.write(frame)
            until = time.monotonic() + p.reply_timeout_s
            if p.ack_command is not None:
                if _wait_frame(self.transport, self.framer, until, (p.ack_command, address)):
                    return
            elif p.ack_bytes and self._wait_bytes(p.ack_bytes, until):
                return
        raise _no_ack(self.device_id, self.counters, skipped)

    def _wait_bytes(self, pattern: bytes, until: float) -> bool:
        buf = bytearray()
        while pattern not in buf:
            left = until - time.monotonic()
            if left <= 0:
                self.counters.garbage_bytes += len(buf)
                return False
            buf += self.transport.read(64, left)
        return True

    def show(self, address: int, text: str) -> None:
        """Show ``text`` on the strip at ``address``; raises NoAnswer/BadFrame/PortGone."""
        payload = self.framer.encode_text(text, self.profile.max_chars)
        self._send(address, self.profile.show_command, payload)

    def clear(self, address: int) -> None:
        if self.profile.clear_command is None:
            self.show(address, "")
            return
        self._send(address, self.profile.clear_command, b"")

    def close(self) -> None:
        self.transport.close()


@dataclass(frozen=True)
class EvaluatorRating:
    """What a citizen gave on an evaluator: the level 1..5 and, on a device with a screen
    asked for reasons, their positions in the list sent (1-based); None: not asked."""

    score: int
    reasons: tuple[int, ...] | None = None


class Evaluator:
    """A five-key satisfaction evaluator at one window; with a screen (profile ``screen``)
    it also shows the reasons of a bad rating and sends back the ones chosen."""

    def __init__(
        self, transport: Transport, profile: EvaluatorProfile, device_id: str = "evaluator"
    ) -> None:
        self.transport = transport
        self.profile = profile
        self.device_id = device_id
        self.framer = Framer(profile.framing)
        self.unknown_keys = 0

    @property
    def counters(self) -> FrameCounters:
        return self.framer.counters

    def request(
        self,
        ticket_number: str,
        timeout: float,
        address: int = 1,
        reasons: Sequence[str] = (),
        bad_levels: Sequence[int] = (1, 2),
    ) -> EvaluatorRating | None:
        """Ask for a rating of ``ticket_number``; None after ``timeout``. A level in
        ``bad_levels`` on a device with a screen is followed by ``reasons`` (their labels)
        on the screen, and the positions chosen within the profile's ``reason_timeout_s``.

        Raises NoAnswer when the evaluator does not acknowledge the request (when the
        profile says it acknowledges), BadFrame when it answers with damaged frames only.
        """
        p = self.profile
        self.transport.reset_input()
        self.framer.clear()
        skipped = _skipped(self.counters)
        payload = self.framer.encode_text(ticket_number)
        self.transport.write(self.framer.encode(address, p.request_command, payload))
        if p.ack_command is not None:
            until = time.monotonic() + p.reply_timeout_s
            if _wait_frame(self.transport, self.framer, until, (p.ack_command, address)) is None:
                raise _no_ack(self.device_id, self.counters, skipped)
        until = time.monotonic() + timeout
        while True:
            frame = _wait_frame(self.transport, self.framer, until, (p.score_command, address))
            if frame is None:
                self._cancel(address)
                return None
            key = frame.payload[0] if frame.payload else -1
            score = p.keys.get(key)
            if score is None:
                self.unknown_keys += 1
                continue
            if p.screen and reasons and score in bad_levels:
                return EvaluatorRating(score, self._ask_reasons(address, reasons))
            return EvaluatorRating(score)

    def _ask_reasons(self, address: int, labels: Sequence[str]) -> tuple[int, ...]:
        """Show the reasons; the valid positions chosen (none when the citizen chose none
        in time, or the device answered with nothing usable)."""
        p = self.profile
        assert p.reasons_command is not None and p.reason_command is not None
        payload = self.framer.encode_text("|".join(labels))
        self.transport.write(self.framer.encode(address, p.reasons_command, payload))
        until = time.monotonic() + p.reason_timeout_s
        frame = _wait_frame(self.transport, self.framer, until, (p.reason_command, address))
        if frame is None:
            self._cancel(address)
            return ()
        return tuple(sorted({i for i in frame.payload if 1 <= i <= len(labels)}))

    def _cancel(self, address: int) -> None:
        if self.profile.cancel_command is not None:
            self.transport.write(self.framer.encode(address, self.profile.cancel_command, b""))

    def close(self) -> None:
        self.transport.close()
