"""A Chinese screen has no English: every screen of a working hall is walked in zh_CN and
any Latin word outside ticket numbers, codes and keys fails the test."""

from __future__ import annotations

import re

import pytest
from PySide6.QtWidgets import QAbstractButton, QComboBox, QLabel, QLineEdit, QWidget

from agent import commands as c
from ui.views.pinpad import PinPad

pytestmark = pytest.mark.qt

ALLOWED = re.compile(
    r"\b(?:[A-Z]{1,2}\d{3,4}|F\d{1,2}|English)\b"  # ticket numbers, function keys, the switch
)
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def texts(top: QWidget) -> list[str]:
    """Every text a citizen or the staff can see on ``top`` (visible widgets only)."""
    out = [top.windowTitle()]
    for widget in [top, *top.findChildren(QWidget)]:
        if widget is not top and not widget.isVisibleTo(top):
            continue
        if isinstance(widget, (QLabel, QAbstractButton)):
            out.append(widget.text())
        elif isinstance(widget, QLineEdit):
            out.append(widget.placeholderText())
        elif isinstance(widget, QComboBox):
            out += [widget.itemText(i) for i in range(widget.count())]
        notice = getattr(widget, "set_notice", None)
        if notice is not None:
            out.append(widget.text())
    return out


def english_in(top: QWidget) -> list[str]:
    return [t for t in texts(top) if LATIN_WORD.search(ALLOWED.sub("", t))]


def test_every_chinese_screen_is_in_chinese(make_hall, qtbot):
    hall = make_hall(evaluator_windows=(1, 2))
    runtime = hall.core.runtime
    for code in ("social-security", "household", "enterprise", "civil-affairs"):
        runtime.execute(c.IssueTicket(code))
    hall.windows[1].call_next()
    hall.windows[2].call_next()
    hall.windows[2].start()
    hall.windows[3].call_next()
    hall.windows[3].start()
    hall.windows[3].finish()  # window 3 has no evaluator: the rating QR prompt
    kiosk, view = hall.kiosk, hall.kiosk_view
    for top in (view, *hall.window_views.values(), hall.display_view):
        top.resize(1366, 1024)
        top.show()
    qtbot.waitUntil(lambda: hall.display_view.latest_number.text() == "D001", timeout=3000)
    seen: dict[str, list[str]] = {}

    def walk(name: str, top: QWidget) -> None:
        qtbot.wait(20)
        seen[name] = english_in(top)

    walk("kiosk home", view)
    kiosk.take("household")
    qtbot.waitUntil(lambda: view.pages.currentWidget() is view.ticket_page, timeout=3000)
    walk("kiosk ticket", view)
    hall.devices.paper_out = True
    kiosk.take("civil-affairs")
    qtbot.waitUntil(lambda: "打印" in view.print_state.text(), timeout=3000)
    walk("kiosk printer failure", view)
    kiosk.guide("social-security")
    walk("kiosk guide", view)
    kiosk.show_progress("A001")
    walk("kiosk progress", view)
    kiosk.on_code("NOT-A-BOOKING-42")
    walk("kiosk message", view)
    kiosk.idle()
    view.guide_button.click()
    walk("kiosk guide choice", view)
    for number, station in hall.window_views.items():
        walk(f"window {number}", station)
    walk("display", hall.display_view)
    pad = PinPad(view)
    qtbot.addWidget(pad)
    walk("PIN keypad", pad)
    assert {name: found for name, found in seen.items() if found} == {}
    assert len([t for t in texts(hall.window_views[1]) if t]) > 10  # the walk reads texts


def test_the_walk_finds_english(make_hall, qtbot):
    """The check can fail: the same screens in English are full of Latin words."""
    hall = make_hall(language="en")
    assert english_in(hall.kiosk_view) and english_in(hall.window_views[1])
