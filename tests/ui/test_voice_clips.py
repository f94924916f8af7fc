"""The shipped voice: a complete Mandarin and English clip set, and announcements that are
exactly the clips in reading order (ticket digits one by one, window as a whole number)."""

from __future__ import annotations

import argparse
import wave
from pathlib import Path

import pytest

from ui.app import VOICE_CLIPS
from ui.cli import register
from ui.voice import clip_texts, en_whole_number, zh_whole_number


def frames(path: Path) -> tuple[tuple[int, int, int], bytes]:
    with wave.open(str(path), "rb") as w:
        return (w.getnchannels(), w.getsampwidth(), w.getframerate()), w.readframes(-1)


def test_every_clip_is_shipped_mono_16k():
    for language, clips in clip_texts().items():
        for name in clips:
            params, data = frames(VOICE_CLIPS / language / f"{name}.wav")
            assert params == (1, 2, 16000), (language, name)
            assert len(data) > 2 * 16000 // 10, (language, name)  # at least 0.1 s of sound


@pytest.mark.parametrize(
    ("window", "zh", "en"),
    [
        (3, ("3",), ("n3",)),
        (10, ("shi",), ("n10",)),
        (12, ("shi", "2"), ("n12",)),
        (23, ("2", "shi", "3"), ("n20", "n3")),
        (100, ("1", "bai"), ("n1", "hundred")),
        (105, ("1", "bai", "0", "5"), ("n1", "hundred", "n5")),
        (110, ("1", "bai", "1", "shi"), ("n1", "hundred", "n10")),
    ],
)
def test_window_numbers_are_read_whole(window, zh, en):
    assert zh_whole_number(window) == zh
    assert en_whole_number(window) == en


@pytest.mark.parametrize(
    ("number", "window", "language", "order"),
    [
        ("A012", 10, "zh_CN", "qing A 0 1 2 hao dao shi hao_chuangkou banli"),
        ("AB305", 23, "zh_CN", "qing A B 3 0 5 hao dao 2 shi 3 hao_chuangkou banli"),
        ("A012", 10, "en", "number A n0 n1 n2 please_go_to_window n10"),
    ],
)
def test_voice_say_is_the_shipped_clips_in_reading_order(tmp_path, number, window, language, order):
    """GIVEN the shipped clips WHEN `hall-agent voice say --out` renders an announcement THEN
    its samples are exactly the clips' samples concatenated in reading order."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    out = tmp_path / "line.wav"
    args = parser.parse_args(
        ["voice", "say", "--number", number, "--window", str(window), "--lang", language,
         "--out", str(out)]
    )  # fmt: skip
    assert args.func(args) == 0
    folder = VOICE_CLIPS / ("en" if language == "en" else "zh")
    expected = b"".join(frames(folder / f"{name}.wav")[1] for name in order.split())
    params, rendered = frames(out)
    assert params == (1, 2, 16000)
    assert rendered == expected


def test_the_voice_guided_kiosk_speaks_each_step(make_hall, qtbot):
    """GIVEN a kiosk started with --voice-guide WHEN a card is read and a number taken THEN
    each step is spoken, the number letter by letter, through the kiosk's own voice."""
    from ui.app import ScreenOptions
    from ui.ports import CardRead

    hall = make_hall(screen_options=ScreenOptions(voice_guide=True))
    voice = hall.kiosk_voice
    assert voice is not None and voice is not hall.announcer
    hall.devices.swipe(CardRead(b"k" * 32, "张*", None))
    qtbot.waitUntil(lambda: voice.backend.spoken == ["已读取身份证，请选择办理事项"], timeout=3000)
    hall.kiosk_view.service_button("household").click()
    qtbot.waitUntil(lambda: len(voice.backend.spoken) == 2, timeout=3000)
    assert voice.backend.spoken[1] == "您的号码是 B001，请取走号票"
    assert hall.announcer.backend.spoken == []  # the hall's voice is not the kiosk's
    assert make_hall().kiosk_voice is None  # off unless asked for


def test_the_guide_prompts_are_in_the_pack():
    from ui.voice import number_clips

    clips = ("your_number", *number_clips("AB012", "zh_CN"), "take_slip", "card_read")
    for name in clips:
        assert (VOICE_CLIPS / "zh" / f"{name}.wav").exists(), name
    assert number_clips("A012", "en") == ("A", "n0", "n1", "n2")


def test_the_chinese_clips_are_spoken_in_mandarin():
    """GIVEN the voice the clip maker uses for Chinese WHEN espeak-ng spells a clip's text as
    phonemes THEN no part falls back to English (the plain cmn voice does for 请, 号窗口)."""
    import shutil
    import subprocess

    from ui.voice import ZH_PROMPTS, ZH_VOICE, ZH_WORDS

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng not installed (packaging/dev.sh installs it)")
    for text in [*ZH_WORDS.values(), *ZH_PROMPTS.values()]:
        phonemes = subprocess.run(
            [espeak, "-v", ZH_VOICE, "-q", "-x", text],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout  # fmt: skip
        assert "(en)" not in phonemes, (text, phonemes)
