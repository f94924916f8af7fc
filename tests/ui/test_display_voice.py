"""Hall display and voice: recent calls, announcements queued, clip backend."""

from __future__ import annotations

import enum
import io
import struct
import wave
from pathlib import Path
from types import SimpleNamespace

from PySide6.QtCore import QObject, Signal

from agent import commands as c
from ui import voice
from ui.i18n import Languages
from ui.voice import (
    Announcer,
    ClipBackend,
    Line,
    QtSpeechBackend,
    SilentBackend,
    clip_names,
    concatenate_wavs,
)


def test_display_recent_calls_and_waiting(make_hall, qtbot):
    hall = make_hall()
    for service in ("social-security", "household", "enterprise"):
        hall.core.runtime.execute(c.IssueTicket(service))
    for window in (1, 2, 3):
        hall.windows[window].call_next()
    display = hall.display_view
    qtbot.waitUntil(lambda: display.latest_number.text() == "D001", timeout=3000)
    assert display.latest_window.text() == "请到 3 号窗口办理"
    assert display.recent_calls()[:2] == [("B001", "2 号窗口"), ("A001", "1 号窗口")]
    assert display.notice.text().startswith("请携带身份证原件")
    hall.core.runtime.execute(
        c.PublishNotice("n1", "今日下午系统维护", "Maintenance this afternoon")
    )
    qtbot.waitUntil(lambda: display.notice.text() == "今日下午系统维护", timeout=3000)
    hall.languages.set("en")
    qtbot.waitUntil(lambda: display.notice.text() == "Maintenance this afternoon", timeout=3000)
    qtbot.waitUntil(lambda: display.now_calling.text() == "Now calling", timeout=3000)


def test_announcements_never_overlap(qtbot):
    Languages("zh_CN")
    backend = SilentBackend(ms_per_char=5, minimum_ms=30)
    announcer = Announcer(backend, lambda: "zh_CN", gap_ms=10)
    announcer.announce_call("A012", 3)
    announcer.announce_call("B001", 1)  # arrives while the first is being spoken
    qtbot.waitUntil(announcer.idle, timeout=5000)
    assert backend.spoken == ["请 A012 号到 3 号窗口办理"] * 2 + ["请 B001 号到 1 号窗口办理"] * 2
    for (_, _s1, end), (_, start, _e2) in zip(announcer.log, announcer.log[1:], strict=False):
        assert start >= end


def test_clip_names():
    assert clip_names("A012", 10, "zh_CN") == (
        "qing", "A", "0", "1", "2", "hao", "dao", "shi", "hao_chuangkou", "banli",
    )  # fmt: skip
    assert clip_names("AB7", 23, "en") == (
        "number", "A", "B", "n7", "please_go_to_window", "n20", "n3",
    )  # fmt: skip


def _clip(path: Path, frames: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(struct.pack(f"<{frames}h", *([100] * frames)))


def test_clip_backend_concatenates_and_reports_done(tmp_path, qtbot):
    names = clip_names("A01", 2, "zh_CN")
    (tmp_path / "zh").mkdir()
    for i, name in enumerate(set(names)):
        _clip(tmp_path / "zh" / f"{name}.wav", 80 + i)
    data = concatenate_wavs([tmp_path / "zh" / f"{n}.wav" for n in names])
    total = 0
    for name in names:
        with wave.open(str(tmp_path / "zh" / f"{name}.wav")) as clip:
            total += clip.getnframes()
    with wave.open(io.BytesIO(data)) as w:
        assert w.getnframes() == total
    backend = ClipBackend(tmp_path, player=None)
    done = []
    backend.speak(Line("请 A01 号到 2 号窗口办理", names, "A01", 2), lambda: done.append(1))
    qtbot.waitUntil(lambda: done == [1], timeout=3000)
    assert backend.last_wav == data


def test_clip_backend_skips_a_line_with_missing_clips(tmp_path, qtbot):
    backend = ClipBackend(tmp_path, player=None)
    done = []
    backend.speak(Line("x", ("qing", "Z"), "Z", 1), lambda: done.append(1))
    qtbot.waitUntil(lambda: done == [1], timeout=3000)


def test_qt_speech_absent_falls_back(tmp_path):
    from ui.voice import make_backend, qt_speech_available

    backend = make_backend("qt", None)
    if not qt_speech_available():
        assert isinstance(backend, SilentBackend)
    assert isinstance(make_backend("clips", tmp_path), SilentBackend)  # empty folder


class _MuteEngine(QObject):
    """A QTextToSpeech that accepts lines and never reports Ready or Error."""

    class State(enum.Enum):
        Ready = 0
        Speaking = 1
        Error = 3

    stateChanged = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.said: list[str] = []
        self.stopped = 0

    def setLocale(self, _locale: object) -> None:
        pass

    def say(self, text: str) -> None:
        self.said.append(text)

    def stop(self) -> None:
        self.stopped += 1


def test_a_speech_engine_that_never_finishes_does_not_silence_the_hall(qtbot, monkeypatch):
    """GIVEN a Qt speech engine that never signals Ready or Error WHEN two calls are announced
    THEN a watchdog bounded by the line's length ends each line and the next is spoken."""
    module = SimpleNamespace(QTextToSpeech=_MuteEngine)
    monkeypatch.setattr(voice.importlib, "import_module", lambda _name: module)
    monkeypatch.setattr(QtSpeechBackend, "WATCHDOG_MS_PER_CHAR", 1, raising=False)
    monkeypatch.setattr(QtSpeechBackend, "WATCHDOG_SLACK_MS", 20, raising=False)
    Languages("zh_CN")
    backend = QtSpeechBackend("zh_CN")
    announcer = Announcer(backend, lambda: "zh_CN", gap_ms=5)
    announcer.announce_call("A012", 3)
    announcer.announce_call("B001", 1)
    qtbot.waitUntil(announcer.idle, timeout=3000)
    assert len(backend._speech.said) == 4  # each call twice
    assert backend._speech.stopped >= 4


def test_a_call_is_highlighted_for_a_time_then_shown_as_the_last_call(make_hall, qtbot):
    """GIVEN a display whose calls stay highlighted 0.3 s WHEN a window calls THEN 正在呼叫 in
    the highlighted box, and after the time 上一位 in the quiet one, the number still large."""
    hall = make_hall()
    display = hall.display_view
    display.highlight_s = 0.3
    assert display.now_calling.text() == "上一位"  # nothing called yet in this session
    hall.core.runtime.execute(c.IssueTicket("social-security"))
    hall.windows[1].call_next()
    qtbot.waitUntil(lambda: display.latest_number.text() == "A001", timeout=3000)
    assert display.now_calling.text() == "正在呼叫"
    assert display.call_box.objectName() in ("callBox", "callBoxFlash")
    qtbot.waitUntil(lambda: display.now_calling.text() == "上一位", timeout=3000)
    assert display.call_box.objectName() == "callBoxQuiet"
    assert display.latest_number.text() == "A001"
