"""Shared pieces of the screens: retranslation, colours, small widget builders, QR pixmaps.

The screens are styled by Qt style sheets keyed on object names, so most helpers here are
about naming a widget and re-applying the sheet when its name changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QDateTime, QEvent, Qt, QTimeZone
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QLayout, QPushButton, QWidget

#: A screen's root layout: the screen keeps the size of the screen it is on, whatever its
#: content asks for (sizes are derived from it; content that does not fit is a bug that
#: ``ui.fit.misfits`` reports, not a window that grows past the edge).
FIXED_SCREEN = QLayout.SizeConstraint.SetNoConstraint

BLUE = "#0b4f9c"
DARK = "#0a1f3d"
RED = "#c62828"
GREEN = "#2e7d32"
AMBER = "#ffcc33"


class Screen(QWidget):
    """A widget whose texts come from ``retranslate()``, called again on a language change.

    ``name`` and ``style``: the object name its style sheet keys the background on.
    """

    def __init__(self, name: str = "", style: str = "") -> None:
        super().__init__()
        if name:
            self.setObjectName(name)
            self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        if style:
            self.setStyleSheet(style)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def retranslate(self) -> None:
        return None


def hall_clock(zone: str | None) -> QDateTime:
    """Now, in the hall's time zone (the PC's own when the zone is not known yet)."""
    now = QDateTime.currentDateTime()
    if zone:
        hall = QTimeZone(zone.encode("ascii"))
        if hall.isValid():
            return now.toTimeZone(hall)
    return now


def label(
    text: str = "", name: str = "", align: Qt.AlignmentFlag | None = None, wrap: bool = False
) -> QLabel:
    widget = QLabel(text)
    # Plain text always: hall names, service names, guides, notices and roster names come
    # down from central, and QLabel would otherwise render any text that looks like HTML
    # (``<img onerror=…>``, ``<b>``) as rich text.
    widget.setTextFormat(Qt.TextFormat.PlainText)
    if name:
        widget.setObjectName(name)
    if align is not None:
        widget.setAlignment(align)
    widget.setWordWrap(wrap)
    return widget


def problem_banner(hub_problem: Any, size_px: int = 28) -> QLabel:
    """A red line shown while a presenter's ``hub_problem`` has text (hidden when empty)."""
    banner = label("", "hubProblem", Qt.AlignmentFlag.AlignCenter, wrap=True)
    banner.setStyleSheet(
        f"background: {RED}; color: white; font-size: {size_px}px; font-weight: bold;"
        " padding: 10px;"
    )
    banner.hide()

    def show(text: str) -> None:
        banner.setText(text)
        banner.setVisible(bool(text))

    hub_problem.connect(show)
    return banner


def literal(text: str) -> str:
    """Hall data for a button or tab, shown as written: Qt reads ``&`` there as a shortcut
    marker ("Social & medical" would lose its ``&``)."""
    return text.replace("&", "&&")


def button(name: str = "", clicked: Callable[[], object] | None = None) -> QPushButton:
    """A button whose text is set by ``retranslate()``."""
    widget = QPushButton()
    if name:
        widget.setObjectName(name)
    if clicked is not None:
        widget.clicked.connect(lambda _checked=False: clicked())
    return widget


def box(name: str) -> QWidget:
    """A plain container that draws the background its style sheet gives ``name``."""
    widget = QWidget()
    widget.setObjectName(name)
    widget.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
    return widget


def restyle(widget: QWidget, name: str) -> None:
    """Give ``widget`` another object name and re-apply the style sheet (Qt does not).

    Setting the widget's own sheet again makes Qt send it a style change, so a label also
    recomputes its size (padding and borders differ between names); polishing alone would
    repaint it in the new colours at the old size.
    """
    widget.setObjectName(name)
    widget.setStyleSheet(widget.styleSheet())
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def clear(layout: QLayout) -> None:
    """Remove and delete every widget of a layout that is rebuilt from a view-model."""
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget() if item is not None else None
        if widget is not None:
            widget.hide()
            widget.deleteLater()


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
