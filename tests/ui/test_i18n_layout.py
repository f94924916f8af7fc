"""Translations complete; the run command (layouts: tests/ui/test_screen_fit.py)."""

from __future__ import annotations

import argparse

from ui.cli import register
from ui.fonts import cjk_family
from ui.i18n.build import TS_FILES, unfinished


def test_every_string_has_a_chinese_translation():
    for ts in TS_FILES:
        assert unfinished(ts) == []
        assert ts.with_suffix(".qm").exists()


def test_a_chinese_font_is_installed():
    assert cjk_family() == "Noto Sans CJK SC"


def test_run_command_is_registered():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["run", "--role", "window", "--window", "2", "--lang", "en"])
    assert (args.role, args.window, args.lang, args.fullscreen) == ("window", [2], "en", False)
