"""The amber alarm lines on the window station and the hall display (hidden when none)."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QLabel

from ui.messages import fill
from ui.views.common import AMBER, label

MOST_LINES = 3  # a busy large hall may raise dozens: the rest are counted, not listed


def alarm_banner(size_px: int) -> QLabel:
    banner = label("", "alarms", Qt.AlignmentFlag.AlignLeft, wrap=True)
    size_alarm_banner(banner, size_px)
    banner.hide()
    return banner


def size_alarm_banner(banner: QLabel, size_px: int) -> None:
    """The banner's text size, from the screen's (the screens scale with their size)."""
    banner.setStyleSheet(
        f"background: {AMBER}; color: #1b1b1b; font-size: {size_px}px; font-weight: bold;"
        f" padding: {max(2, size_px // 4)}px {max(4, size_px // 2)}px;"
    )


def show_alarms(banner: QLabel, lines: tuple[str, ...], most: int = MOST_LINES) -> None:
    """The first alarms, one a line; beyond ``most`` lines the rest are counted."""
    shown = list(lines)
    if len(shown) > most:
        keep = max(most - 1, 1)
        text = QCoreApplication.translate("Alarm", "…and {n} more alarms")
        more = fill(text, n=str(len(shown) - keep))
        shown = shown[:keep]
        if most == 1:
            shown[0] = f"{shown[0]}  {more}"
        else:
            shown.append(more)
    banner.setText("\n".join(shown))
    banner.setVisible(bool(lines))
