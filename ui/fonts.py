"""CJK fonts: the app font is Noto Sans CJK SC; a clear warning when no Chinese font exists.

Without an explicit SC family Qt falls back to Noto Sans CJK JP and some characters get
Japanese shapes (直, 骨); without any CJK font every Chinese character is a box.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)

PREFERRED = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Noto Sans SC",
)
MISSING_HINT = "no Simplified Chinese font found: install fonts-noto-cjk (apt) or Noto Sans CJK SC"


def cjk_family() -> str | None:
    """The first installed Simplified Chinese family we prefer, or any family that has Hanzi."""
    families = set(QFontDatabase.families())
    for name in PREFERRED:
        if name in families:
            return name
    for name in sorted(families):
        if QFontDatabase.WritingSystem.SimplifiedChinese in QFontDatabase.writingSystems(name):
            return name
    return None


def setup_fonts(app: QCoreApplication, point_size: int = 12) -> str | None:
    """Set the application font; returns the family, or None (and warns) without CJK fonts."""
    family = cjk_family()
    if family is None:
        log.warning(MISSING_HINT)
        print(f"hall-agent: warning: {MISSING_HINT}", flush=True)
        return None
    font = QFont(family, point_size)
    font.setStyleStrategy(QFont.StyleStrategy.PreferAntialias)
    QApplication.setFont(font)  # (application-wide; ``app`` is the running instance)
    return family
