"""Voice announcements (语音播报): "请 A012 号到 3 号窗口办理", each call twice, never overlapping.

:class:`Announcer` keeps one queue; a backend speaks one line at a time and reports when it
is done, and only then does the next line start. Backends:

* :class:`QtSpeechBackend` — Qt's text to speech, when ``PySide6.QtTextToSpeech`` is
  installed (it is in PySide6-Addons, not Essentials) and an engine exists;
* :class:`ClipBackend` — clips from a voice pack (``zh/qing.wav``, ``zh/A.wav``, ``en/n10.wav``…),
  concatenated into one WAV per line and played with ``aplay``/``paplay`` when present. The
  package ships a synthetic set made offline with espeak-ng (``python -m ui.voice
  --make-clips DIR``); a recorded human voice pack has the same names (docs/ui.md);
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
    language: str = "zh_CN"


def zh_whole_number(n: int) -> tuple[str, ...]:
    """A window number read as a whole number, as Chinese halls do: 10 → 十, 23 → 二十三,
    105 → 一百零五, 110 → 一百一十 (clip names: digits, ``shi``, ``bai``)."""
    if not 0 < n < 1000:
        raise ValueError(f"window number {n} is not between 1 and 999")
    hundreds, tens, ones = n // 100, n // 10 % 10, n % 10
    out: list[str] = []
    if hundreds:
        out += [str(hundreds), "bai"]
        if tens == 0 and ones:
            return (*out, "0", str(ones))
    if tens:
        if tens > 1 or hundreds:
            out.append(str(tens))
        out.append("shi")
    if ones:
        out.append(str(ones))
    return tuple(out)


def en_whole_number(n: int) -> tuple[str, ...]:
    """10 → ten, 23 → twenty three, 105 → one hundred five (clip names ``n0``…``n19``,
    ``n20``…``n90``, ``hundred``)."""
    if not 0 < n < 1000:
        raise ValueError(f"window number {n} is not between 1 and 999")
    hundreds, rest = divmod(n, 100)
    out: list[str] = [f"n{hundreds}", "hundred"] if hundreds else []
    if rest >= 20:
        out.append(f"n{rest // 10 * 10}")
        if rest % 10:
            out.append(f"n{rest % 10}")
    elif rest:
        out.append(f"n{rest}")
    return tuple(out)


def clip_names(number: str, window: int, language: str) -> tuple[str, ...]:
    """请 A 0 1 2 号 到 十 号窗口 办理 → ``qing A 0 1 2 hao dao shi hao_chuangkou banli``:
    the ticket's letters and digits one by one, the window as a whole number. English:
    "Number A 0 1 2, please go to window ten"."""
    chars = tuple(ch for ch in number.upper() if ch.isalnum())
    if language == "en":
        spelt = tuple(f"n{ch}" if ch.isdigit() else ch for ch in chars)
        return ("number", *spelt, "please_go_to_window", *en_whole_number(window))
    return ("qing", *chars, "hao", "dao", *zh_whole_number(window), "hao_chuangkou", "banli")


def language_folder(language: str) -> str:
    """The clip folder of a language: ``zh`` or ``en``."""
    return "en" if language == "en" else "zh"


def make_line(number: str, window: int, language: str) -> Line:
    """One announcement in ``language`` (the text in the screens' current language)."""
    return Line(
        announcement_text(number, window),
        clip_names(number, window, language),
        number,
        window,
        language,
    )


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
        """``folder``: a voice pack, one sub-folder per language (``zh/``, ``en/``)."""
        self.folder = Path(folder)
        if player == "auto":
            player = shutil.which("aplay") or shutil.which("paplay")
        self.player = player
        self.last_wav: bytes = b""
        self._process: subprocess.Popen[bytes] | None = None
        self._tmp = Path(tempfile.mkdtemp(prefix="hall-voice-"))

    def available(self) -> bool:
        return (self.folder / "zh" / "qing.wav").exists()

    def clip_path(self, line: Line, name: str) -> Path:
        return self.folder / language_folder(line.language) / f"{name}.wav"

    def missing(self, line: Line) -> list[str]:
        return [n for n in line.clips if not self.clip_path(line, n).exists()]

    def render(self, line: Line) -> bytes:
        return concatenate_wavs([self.clip_path(line, n) for n in line.clips])

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
    """``auto``: the clips if the folder has them (the package ships a set), else Qt speech
    if an engine exists, else silent."""
    if kind in ("auto", "clips") and clips_dir is not None:
        backend = ClipBackend(clips_dir)
        if backend.available():
            return backend
        log.warning(
            "voice: no clips in %s (zh/qing.wav missing); make a set with"
            " 'python -m ui.voice --make-clips DIR' (needs espeak-ng and sox) or record one",
            clips_dir,
        )
    if kind in ("auto", "qt") and qt_speech_available():
        return QtSpeechBackend(language)
    if kind == "qt":
        log.warning("voice: QtTextToSpeech not installed (PySide6-Addons)")
    log.warning("voice: using silent voice (announcements are only logged)")
    return SilentBackend()


def number_clips(number: str, language: str) -> tuple[str, ...]:
    """A ticket number read letter by letter and digit by digit."""
    chars = tuple(ch for ch in number.upper() if ch.isalnum())
    if language == "en":
        return tuple(f"n{ch}" if ch.isdigit() else ch for ch in chars)
    return chars


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
        self.say(make_line(number, window, self.language()), REPEAT)

    def say(self, line: Line, times: int = 1) -> None:
        """Queue a line (after whatever is being said)."""
        for _ in range(times):
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
    "shi": "十",
    "bai": "百",
    **{str(d): "零一二三四五六七八九"[d] for d in range(10)},
}
# The voice-guided kiosk's prompts (适老化), one clip each.
ZH_PROMPTS = {
    "card_read": "已读取身份证，请选择办理事项",
    "your_number": "您的号码是",
    "take_slip": "请取走号票，留意叫号",
}
EN_PROMPTS = {
    "card_read": "Your ID card is read. Please choose a service",
    "your_number": "Your number is",
    "take_slip": "Please take your ticket and listen for your number",
}
EN_NUMBERS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
EN_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
EN_WORDS = {
    "number": "Number",
    "please_go_to_window": "please go to window",
    "hundred": "hundred",
    **{f"n{i}": word for i, word in enumerate(EN_NUMBERS)},
    **{f"n{(i + 2) * 10}": word for i, word in enumerate(EN_TENS)},
}
LETTERS = {chr(c): chr(c) for c in range(ord("A"), ord("Z") + 1)}
CLIP_RATE = 16000
# espeak-ng's plain "cmn" voice reads some characters through English rules (请 comes out as
# English phonemes in espeak-ng 1.51); "cmn-latn-pinyin" says every character in Mandarin.
ZH_VOICE = "cmn-latn-pinyin"


def clip_texts() -> dict[str, dict[str, tuple[str, str]]]:
    """Every clip of the shipped set: language folder → name → (text, espeak-ng voice).
    Letters are spelt with the English voice in both (as halls read A, B, C)."""
    letters = {k: (v, "en") for k, v in LETTERS.items()}
    zh = {**ZH_WORDS, **ZH_PROMPTS}
    en = {**EN_WORDS, **EN_PROMPTS}
    return {
        "zh": {**{k: (v, ZH_VOICE) for k, v in zh.items()}, **letters},
        "en": {**{k: (v, "en") for k, v in en.items()}, **letters},
    }


def make_clips(folder: Path, rate: int = CLIP_RATE) -> list[Path]:
    """Record the clip set with espeak-ng (synthetic, offline) and sox: mono 16-bit PCM at
    ``rate``, silence trimmed from both ends, so concatenated clips read as one line."""
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak is None or sox is None:
        raise SystemExit("espeak-ng and sox are needed: apt-get install espeak-ng sox")
    made = []
    with tempfile.TemporaryDirectory(prefix="hall-clips-") as tmp:
        raw = Path(tmp) / "raw.wav"
        for language, clips in clip_texts().items():
            (folder / language).mkdir(parents=True, exist_ok=True)
            for name, (text, voice) in clips.items():
                path = folder / language / f"{name}.wav"
                speed = "165" if voice == ZH_VOICE else "160"
                subprocess.run([espeak, "-v", voice, "-s", speed, "-w", str(raw), text], check=True)
                trim = ["silence", "1", "0.02", "0.5%", "reverse"]
                subprocess.run(
                    [sox, str(raw), "-D", "-r", str(rate), "-c", "1", "-b", "16", str(path),
                     *trim, *trim, "gain", "-n", "-1", "pad", "0", "0.06"],
                    check=True,
                )  # fmt: skip
                made.append(path)
    return made


def say(number: str, window: int, language: str, pack: Path, out: Path | None) -> int:
    """``hall-agent voice say``: one announcement from a voice pack, written to ``out`` or
    played (twice, as in the hall) for an installer testing the speakers."""
    backend = ClipBackend(pack, player=None)
    line = make_line(number.strip().upper(), window, language)
    missing = backend.missing(line)
    if missing:
        print(f"hall-agent voice: {pack} has no clip for {missing}", file=sys.stderr)
        return 2
    data = backend.render(line)
    if out is not None:
        out.write_bytes(data)
        print(f"{out}: {wav_seconds(data):.1f} s, clips {' '.join(line.clips)}")
        return 0
    player = shutil.which("aplay") or shutil.which("paplay")
    if player is None:
        print("hall-agent voice: no player (aplay/paplay); use --out FILE.wav", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="hall-voice-") as tmp:
        path = Path(tmp) / "line.wav"
        path.write_bytes(data)
        for _ in range(REPEAT):
            subprocess.run([player, str(path)], check=False, timeout=wav_seconds(data) + 10)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui.voice")
    parser.add_argument("--make-clips", metavar="DIR", required=True)
    args = parser.parse_args(argv)
    made = make_clips(Path(args.make_clips))
    print(f"{len(made)} clips in {args.make_clips}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
