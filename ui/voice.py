"""Voice announcements (语音播报): "请 A012 号到 3 号窗口办理", each call twice, never overlapping.

:class:`Announcer` keeps one queue; a backend speaks one line at a time and reports when it
is done, and only then does the next line start. Backends:

* :class:`QtSpeechBackend` — Qt's text to speech, when ``PySide6.QtTextToSpeech`` is
  installed (it is in PySide6-Addons, not Essentials) and an engine exists;
* :class:`ClipBackend` — recorded clips from a folder (``qing.wav``, ``A.wav``, ``0.wav``…),
  concatenated into one WAV per line and played with ``aplay``/``paplay`` when present
  (``python -m ui.voice --make-clips DIR`` records a set with espeak-ng);
* :class:`SilentBackend` — logs the line and takes as long as speaking would.
"""

from __future__ import annotations

import argparse
import importlib
import io
import logging
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from ui.messages import announcement_text

log = logging.getLogger(__name__)

REPEAT = 2
GAP_MS = 400
Done = Callable[[], None]


@dataclass(frozen=True)
class Line:
    """One announcement: the text, and the clip names that say it."""

    text: str
    clips: tuple[str, ...]
    number: str
    window: int


def clip_names(number: str, window: int, language: str) -> tuple[str, ...]:
    """请 A 0 1 2 号 到 3 号窗口 办理 → ``qing A 0 1 2 hao dao 3 hao_chuangkou banli``."""
    chars = tuple(ch for ch in number.upper() if ch.isalnum())
    digits = tuple(str(window))
    if language == "en":
        return ("number", *chars, "please_go_to_window", *digits)
    return ("qing", *chars, "hao", "dao", *digits, "hao_chuangkou", "banli")


class Backend:
    name = "base"

    def speak(self, line: Line, done: Done) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        return None


class SilentBackend(Backend):
    """Logs each line; "speaks" for a time proportional to its length."""

    name = "silent"

    def __init__(self, ms_per_char: int = 60, minimum_ms: int = 200) -> None:
        self.ms_per_char = ms_per_char
        self.minimum_ms = minimum_ms
        self.spoken: list[str] = []

    def speak(self, line: Line, done: Done) -> None:
        log.info("voice: %s", line.text)
        self.spoken.append(line.text)
        QTimer.singleShot(max(self.minimum_ms, self.ms_per_char * len(line.text)), done)


def qt_speech_available() -> bool:
    try:
        module = importlib.import_module("PySide6.QtTextToSpeech")
    except ImportError:
        return False
    return bool(module.QTextToSpeech.availableEngines())


class QtSpeechBackend(Backend):
    """Qt's text to speech. The engine reports the end of a line by going back to Ready (or
    Error); an engine that never does would silence the hall, so a watchdog bounded by the
    line's length ends the line anyway (like :class:`ClipBackend`'s bound)."""

    name = "qt"
    #: The watchdog: this much per character of the line, plus the slack.
    WATCHDOG_MS_PER_CHAR = 300
    WATCHDOG_SLACK_MS = 5000

    def __init__(self, language: str = "zh_CN", module: Any = None) -> None:
        module = module or importlib.import_module("PySide6.QtTextToSpeech")
        from PySide6.QtCore import QLocale

        self._module = module
        self._speech = module.QTextToSpeech()
        self._speech.setLocale(QLocale(language))
        self._done: Done | None = None
        self._speech.stateChanged.connect(self._on_state)
        self._watchdog = QTimer()
        self._watchdog.setSingleShot(True)
        self._watchdog.timeout.connect(self._gave_up)

    def watchdog_ms(self, line: Line) -> int:
        return self.WATCHDOG_MS_PER_CHAR * len(line.text) + self.WATCHDOG_SLACK_MS

    def speak(self, line: Line, done: Done) -> None:
        self._done = done
        self._watchdog.start(self.watchdog_ms(line))
        self._speech.say(line.text)

    def _on_state(self, state: Any) -> None:
        ready = self._module.QTextToSpeech.State.Ready
        error = self._module.QTextToSpeech.State.Error
        if state in (ready, error):
            self._finish()

    def _gave_up(self) -> None:
        log.warning("voice: the speech engine did not finish a line in time; stopping it")
        self._speech.stop()
        self._finish()

    def _finish(self) -> None:
        self._watchdog.stop()
        if self._done is not None:
            done, self._done = self._done, None
            done()

    def stop(self) -> None:
        self._watchdog.stop()
        self._speech.stop()


def concatenate_wavs(paths: list[Path]) -> bytes:
    """One WAV from several clips that share channels, sample width and rate."""
    out = io.BytesIO()
    params = None
    with wave.open(out, "wb") as target:
        for path in paths:
            with wave.open(str(path), "rb") as clip:
                p = (clip.getnchannels(), clip.getsampwidth(), clip.getframerate())
                if params is None:
                    params = p
                    target.setnchannels(p[0])
                    target.setsampwidth(p[1])
                    target.setframerate(p[2])
                elif p != params:
                    raise ValueError(f"{path.name}: clip format {p} differs from {params}")
                target.writeframes(clip.readframes(clip.getnframes()))
    return out.getvalue()


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as w:
        return w.getnframes() / float(w.getframerate() or 1)


class ClipBackend(Backend):
    """Recorded clips from a folder, concatenated per line."""

    name = "clips"

    def __init__(self, folder: Path, player: str | None = "auto") -> None:
        self.folder = Path(folder)
        if player == "auto":
            player = shutil.which("aplay") or shutil.which("paplay")
        self.player = player
        self.last_wav: bytes = b""
        self._process: subprocess.Popen[bytes] | None = None
        self._tmp = Path(tempfile.mkdtemp(prefix="hall-voice-"))

    def available(self) -> bool:
        return (self.folder / "qing.wav").exists()

    def missing(self, line: Line) -> list[str]:
        return [n for n in line.clips if not (self.folder / f"{n}.wav").exists()]

    def render(self, line: Line) -> bytes:
        return concatenate_wavs([self.folder / f"{n}.wav" for n in line.clips])

    def speak(self, line: Line, done: Done) -> None:
        missing = self.missing(line)
        if missing:
            log.warning("voice: no clip for %s; line not spoken: %s", missing, line.text)
            QTimer.singleShot(0, done)
            return
        data = self.last_wav = self.render(line)
        seconds = wav_seconds(data)
        if self.player:
            path = self._tmp / "line.wav"
            path.write_bytes(data)
            try:
                self._process = subprocess.Popen(
                    [self.player, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            except OSError as exc:
                log.warning("voice: player %s failed: %s", self.player, exc)
                self._process = None
        log.info("voice (clips, %.1f s): %s", seconds, line.text)
        started = time.monotonic()

        def wait() -> None:  # the clip length bounds the wait even if the player hangs
            running = self._process is not None and self._process.poll() is None
            if running and time.monotonic() - started < seconds + 5:
                QTimer.singleShot(100, wait)
                return
            done()

        QTimer.singleShot(int(seconds * 1000), wait)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()


def make_backend(
    kind: str = "auto", clips_dir: Path | None = None, language: str = "zh_CN"
) -> Backend:
    """``auto``: Qt speech if an engine exists, else clips if the folder has them, else silent."""
    if kind in ("auto", "qt") and qt_speech_available():
        return QtSpeechBackend(language)
    if kind == "qt":
        log.warning("voice: QtTextToSpeech not installed (PySide6-Addons); using silent voice")
    if kind in ("auto", "clips") and clips_dir is not None:
        backend = ClipBackend(clips_dir)
        if backend.available():
            return backend
        log.warning("voice: no clips in %s; using silent voice", clips_dir)
    return SilentBackend()


class Announcer(QObject):
    """The hall's single voice: a queue of lines, one at a time, each call twice."""

    started = Signal(str)
    finished = Signal(str)

    def __init__(self, backend: Backend, language: Callable[[], str], gap_ms: int = GAP_MS):
        super().__init__()
        self.backend = backend
        self.language = language
        self.gap_ms = gap_ms
        self.queue: deque[Line] = deque()
        self.speaking: Line | None = None
        self.log: list[tuple[str, float, float]] = []  # text, start, end (monotonic)
        self._started_at = 0.0

    def announce_call(self, number: str, window: int) -> None:
        line = Line(
            announcement_text(number, window),
            clip_names(number, window, self.language()),
            number,
            window,
        )
        for _ in range(REPEAT):
            self.queue.append(line)
        if self.speaking is None:
            self._next()

    def _next(self) -> None:
        if self.speaking is not None or not self.queue:
            return
        line = self.speaking = self.queue.popleft()
        self._started_at = time.monotonic()
        self.started.emit(line.text)
        self.backend.speak(line, lambda: self._done(line))

    def _done(self, line: Line) -> None:
        if self.speaking is not line:
            return
        self.log.append((line.text, self._started_at, time.monotonic()))
        self.speaking = None
        self.finished.emit(line.text)
        QTimer.singleShot(self.gap_ms, self._next)

    def idle(self) -> bool:
        return self.speaking is None and not self.queue

    def stop(self) -> None:
        self.queue.clear()
        self.backend.stop()


# ---- recording a clip set -----------------------------------------------------------------
ZH_WORDS = {
    "qing": "请",
    "hao": "号",
    "dao": "到",
    "hao_chuangkou": "号窗口",
    "banli": "办理",
    **{str(d): "零一二三四五六七八九"[d] for d in range(10)},
}
EN_WORDS = {"number": "Number", "please_go_to_window": "please go to window"}


def make_clips(folder: Path, rate: int = 22050) -> list[Path]:
    """Record the clip set with espeak-ng (Mandarin voice for Chinese words and digits,
    letters spelt in English, as halls do). All clips share one format."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SystemExit("espeak-ng not found: apt-get install espeak-ng, or record clips")
    folder.mkdir(parents=True, exist_ok=True)
    words: dict[str, tuple[str, str]] = {k: (v, "cmn") for k, v in ZH_WORDS.items()}
    words.update({k: (v, "en") for k, v in EN_WORDS.items()})
    words.update({chr(c): (chr(c), "en") for c in range(ord("A"), ord("Z") + 1)})
    made = []
    for name, (text, voice) in words.items():
        path = folder / f"{name}.wav"
        subprocess.run([espeak, "-v", voice, "-s", "150", "-w", str(path), text], check=True)
        made.append(path)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui.voice")
    parser.add_argument("--make-clips", metavar="DIR", required=True)
    args = parser.parse_args(argv)
    made = make_clips(Path(args.make_clips))
    print(f"{len(made)} clips in {args.make_clips}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
