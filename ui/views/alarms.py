"""The amber alarm lines on the window station and the hall display (hidden when none)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from ui.views.common import AMBER, label


def alarm_banner(size_px: int) -> QLabel:
    banner = label("", "alarms", Qt.AlignmentFlag.AlignLeft, wrap=True)
    banner.setStyleSheet(
        f"background: {AMBER}; color: #1b1b1b; font-size: {size_px}px; font-weight: bold;"
        " padding: 6px 10px;"
    )
    banner.hide()
    return banner


def show_alarms(banner: QLabel, lines: tuple[str, ...]) -> None:
    banner.setText("\n".join(lines))
    banner.setVisible(bool(lines))
