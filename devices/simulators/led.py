"""LED strip and evaluator simulators, speaking the framing of their profiles."""

from __future__ import annotations

import threading
from pathlib import Path

from devices.framing import Framer
from devices.profiles import EvaluatorProfile, LedProfile
from devices.simulators.base import PtySimulator


class _FramedSimulator(PtySimulator):
    def __init__(self, framer: Framer, link: str | Path | None) -> None:
        self.framer = framer
        self.fault: str | None = None  # "bad_checksum" | "garbage" for replies
        self._cond = threading.Condition()
        super().__init__(link)

    def _reply(self, address: int, command: int, payload: bytes = b"") -> bytes:
        frame = self.framer.encode(address, command, payload)
        if self.fault == "bad_checksum":
            frame = frame[:-2] + bytes([frame[-2] ^ 0xFF]) + frame[-1:]
        elif self.fault == "garbage":
            frame = b"\x00\x13\x37" + frame
        return frame


class LedSimulator(_FramedSimulator):
    kind = "led"

    def __init__(self, profile: LedProfile, link: str | Path | None = None) -> None:
        self.profile = profile
        self.shown: dict[int, str] = {}
        self.history: list[tuple[int, str]] = []
        super().__init__(Framer(profile.framing), link)

    def on_data(self, data: bytes) -> bytes:
        self.framer.feed(data)
        out = bytearray()
        while (frame := self.framer.next_frame()) is not None:
            p = self.profile
            if frame.command == p.show_command:
                text = self.framer.decode_text(frame.payload)
            elif frame.command == p.clear_command:
                text = ""
            else:
                continue
            with self._cond:
                self.shown[frame.address] = text
                self.history.append((frame.address, text))
                self._cond.notify_all()
            if p.ack_command is not None:
                out += self._reply(frame.address, p.ack_command)
            elif p.ack_bytes:
                out += p.ack_bytes
        return bytes(out)


class EvaluatorSimulator(_FramedSimulator):
    kind = "evaluator"

    def __init__(
        self,
        profile: EvaluatorProfile,
        link: str | Path | None = None,
        auto_score: int | None = None,
    ) -> None:
        self.profile = profile
        self.auto_score = auto_score
        self.pending: dict[int, str] = {}
        self.requests: list[tuple[int, str]] = []
        self.cancels = 0
        #: address -> the reason labels its screen shows now (a screen model, after a bad key)
        self.screens: dict[int, list[str]] = {}
        super().__init__(Framer(profile.framing), link)

    def key_for(self, score: int) -> int:
        for key, value in self.profile.keys.items():
            if value == score:
                return key
        raise ValueError(f"no key for score {score}")

    def on_data(self, data: bytes) -> bytes:
        p = self.profile
        self.framer.feed(data)
        out = bytearray()
        while (frame := self.framer.next_frame()) is not None:
            if frame.command == p.request_command:
                ticket = self.framer.decode_text(frame.payload)
                with self._cond:
                    self.pending[frame.address] = ticket
                    self.requests.append((frame.address, ticket))
                    self._cond.notify_all()
                if p.ack_command is not None:
                    out += self._reply(frame.address, p.ack_command)
                if self.auto_score is not None:
                    self.pending.pop(frame.address, None)
                    out += self._reply(
                        frame.address, p.score_command, bytes([self.key_for(self.auto_score)])
                    )
            elif p.screen and frame.command == p.reasons_command:
                labels = self.framer.decode_text(frame.payload).split("|")
                with self._cond:
                    self.screens[frame.address] = labels
                    self._cond.notify_all()
                if p.ack_command is not None:
                    out += self._reply(frame.address, p.ack_command)
            elif frame.command == p.cancel_command:
                self.pending.pop(frame.address, None)
                self.screens.pop(frame.address, None)
                self.cancels += 1
                if p.ack_command is not None:
                    out += self._reply(frame.address, p.ack_command)
        return bytes(out)

    def wait_request(self, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: bool(self.pending), timeout)

    def press(self, score: int, address: int | None = None) -> bool:
        """A citizen presses the key for ``score``; False if nothing was asked."""
        if address is None:
            if not self.pending:
                return False
            address = next(iter(self.pending))
        if address not in self.pending:
            return False
        self.pending.pop(address)
        self.send(self._reply(address, self.profile.score_command, bytes([self.key_for(score)])))
        return True

    def wait_screen(self, timeout: float = 5.0) -> list[str] | None:
        """The reason labels the device's screen shows once the host sent them."""
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self.screens), timeout):
                return None
            return next(iter(self.screens.values()))

    def choose(self, positions: list[int], address: int | None = None) -> bool:
        """A citizen taps reasons on the screen (1-based positions; [] = none) and confirms."""
        if address is None:
            if not self.screens:
                return False
            address = next(iter(self.screens))
        if self.screens.pop(address, None) is None:
            return False
        assert self.profile.reason_command is not None
        self.send(self._reply(address, self.profile.reason_command, bytes(positions)))
        return True

    def press_key(self, key: int, address: int = 1) -> None:
        """Send a raw key code (tests: unknown keys)."""
        self.send(self._reply(address, self.profile.score_command, bytes([key])))
