"""Text that comes down from central (notices, hall and service names, guides, roster names)
is shown as plain text on every screen: nothing that looks like HTML is rendered."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from agent import commands as c

pytestmark = pytest.mark.qt

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(1)"><b>今日维护</b>'


def test_a_notice_with_markup_is_shown_as_written_on_every_screen(make_hall, qtbot) -> None:
    hall = make_hall()
    hall.core.runtime.execute(c.PublishNotice("n1", HOSTILE, HOSTILE))
    kiosk, display = hall.kiosk_view, hall.display_view
    qtbot.waitUntil(lambda: kiosk.notice.text() == HOSTILE, timeout=3000)
    qtbot.waitUntil(lambda: display.notice.text() == HOSTILE, timeout=3000)
    assert kiosk.notice.textFormat() == Qt.TextFormat.PlainText
    for name, view in hall.views().items():
        labels = view.findChildren(QLabel)
        assert labels, name
        rich = [w.objectName() for w in labels if w.textFormat() != Qt.TextFormat.PlainText]
        assert rich == [], f"{name}: labels that would render HTML: {rich}"
