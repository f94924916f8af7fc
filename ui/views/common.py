"""Shared pieces of the screens: retranslation, colours, QR pixmaps."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

BLUE = "#0b4f9c"
DARK = "#0a1f3d"
RED = "#c62828"
GREEN = "#2e7d32"
AMBER = "#ffcc33"
GREY = "#5f6b7a"


class Screen(QWidget):
    """A widget whose texts come from ``retranslate()``, called again on a language change."""

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def retranslate(self) -> None:
        return None


def label(text: str = "", name: str = "", align: Qt.AlignmentFlag | None = None) -> QLabel:
    widget = QLabel(text)
    if name:
        widget.setObjectName(name)
    if align is not None:
        widget.setAlignment(align)
    widget.setWordWrap(False)
    return widget


def expanding(widget: QWidget) -> QWidget:
    widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    return widget


def qr_pixmap(payload: str, size: int) -> QPixmap | None:
    """A QR code as a pixmap (needs the ``qrcode`` package; None without it)."""
    try:
        import qrcode
    except ImportError:
        return None
    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    n = len(matrix)
    image = QImage(n, n, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                painter.fillRect(x, y, 1, 1, QColor("black"))
    painter.end()
    return QPixmap.fromImage(
        image.scaled(
            size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
        )
    )
