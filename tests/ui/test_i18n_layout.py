"""Translations complete; every screen fits its size in both languages (nothing clipped)."""

from __future__ import annotations

import argparse

import pytest

from agent import commands as c
from ui.app import SIZES
from ui.cli import register
from ui.fonts import cjk_family
from ui.i18n.build import TS_FILES, unfinished


def test_every_string_has_a_chinese_translation():
    for ts in TS_FILES:
        assert unfinished(ts) == []
        assert ts.with_suffix(".qm").exists()


def test_a_chinese_font_is_installed():
    assert cjk_family() == "Noto Sans CJK SC"


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_screens_fit_their_size(make_hall, qtbot, language):
    """The minimum size of each screen (all labels at full text) fits the target screen."""
    hall = make_hall(language=language)
    hall.core.runtime.execute(c.IssueTicket("social-security"))
    hall.windows[1].call_next()
    kiosk = hall.kiosk_view
    qtbot.waitUntil(lambda: hall.display_view.latest_number.text() == "A001", timeout=3000)
    pages = [kiosk.home_page]
    hall.kiosk.take("enterprise")
    pages.append(kiosk.ticket_page)
    hall.kiosk.guide("enterprise")
    pages.append(kiosk.guide_page)
    for large in (False, True):
        if large:
            kiosk.toggle_large_font()
        for page in pages:
            kiosk.pages.setCurrentWidget(page)
            hint = kiosk.minimumSizeHint()
            assert hint.width() <= SIZES["kiosk"][0], (language, large, page)
            assert hint.height() <= SIZES["kiosk"][1], (language, large, page)
    for view in hall.window_views.values():
        hint = view.minimumSizeHint()
        assert hint.width() <= SIZES["window"][0] and hint.height() <= SIZES["window"][1]
    hint = hall.display_view.minimumSizeHint()
    assert hint.width() <= SIZES["display"][0] and hint.height() <= SIZES["display"][1]


def test_run_command_is_registered():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["run", "--role", "window", "--window", "2", "--lang", "en"])
    assert (args.role, args.window, args.lang, args.fullscreen) == ("window", [2], "en", False)
