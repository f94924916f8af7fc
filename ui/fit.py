"""Does a screen fit its screen? The checks the layout tests (and ``demo --screenshots``) run.

A screen fits when every visible widget lies inside it, every label's and button's text fits
its box (one line unless the label wraps; a wrapping label is never so narrow that its text
breaks one character per line), and no text is smaller than a size the screen asks for.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

#: A wrapping label narrower than this many of its characters would read as a column.
MIN_WRAP_CHARS = 4


def _visible(widget: QWidget, top: QWidget) -> bool:
    return widget.isVisibleTo(top) and widget.width() > 0 and widget.height() > 0


def _rect_in(widget: QWidget, top: QWidget) -> QRect:
    return QRect(widget.mapTo(top, widget.rect().topLeft()), widget.size())


def _where(widget: QWidget) -> str:
    text = ""
    if isinstance(widget, (QLabel, QAbstractButton)):
        text = widget.text().replace("\n", " ")[:30]
    return f"{type(widget).__name__}#{widget.objectName() or '?'} {text!r}"


def _label_problem(widget: QLabel) -> str | None:
    text = widget.text()
    if not text or (widget.pixmap() is not None and not widget.pixmap().isNull()):
        return None
    if widget.textFormat() == Qt.TextFormat.RichText:
        return None
    metrics = QFontMetrics(widget.font())
    box = widget.contentsRect()
    margin = widget.margin() * 2 + widget.indent() if widget.indent() > 0 else widget.margin() * 2
    width = box.width() - margin
    lines = text.split("\n")
    if not widget.wordWrap():
        widest = max(metrics.horizontalAdvance(line) for line in lines)
        if widest > width + 1:
            return f"text {widest} px wide in {width} px"
        if metrics.height() * len(lines) > box.height() + 2:
            return f"text {metrics.height() * len(lines)} px high in {box.height()} px"
        return None
    chars = min(len(text), MIN_WRAP_CHARS)
    if width < metrics.horizontalAdvance("国" * chars) and metrics.horizontalAdvance(text) > width:
        return f"wraps in {width} px, under {chars} characters"
    needed = widget.heightForWidth(widget.width())
    if needed > widget.height() + 2:
        return f"wrapped text needs {needed} px high, has {widget.height()}"
    return None


def _button_problem(widget: QAbstractButton) -> str | None:
    text = widget.text()
    if not text or widget.layout() is not None:
        return None  # a button laid out with labels inside is checked through its labels
    metrics = QFontMetrics(widget.font())
    widest = max(metrics.horizontalAdvance(line) for line in text.split("\n"))
    if widest > widget.contentsRect().width() + 1:
        return f"text {widest} px wide in a {widget.contentsRect().width()} px button"
    return None


def misfits(top: QWidget, min_text_px: Iterable[tuple[QWidget, int]] = ()) -> list[str]:
    """Everything on ``top`` (a screen at its final size) that does not fit, as sentences.

    ``min_text_px``: (widget, px) pairs, each widget's font at least that many pixels high.
    """
    problems: list[str] = []
    screen = top.rect()
    for widget in top.findChildren(QWidget):
        if not _visible(widget, top):
            continue
        rect = _rect_in(widget, top)
        if not screen.contains(rect):
            problems.append(f"{_where(widget)} at {rect.getRect()} is outside {screen.size()}")
            continue
        problem = None
        if isinstance(widget, QLabel):
            problem = _label_problem(widget)
        elif isinstance(widget, QAbstractButton):
            problem = _button_problem(widget)
        if problem:
            problems.append(f"{_where(widget)}: {problem}")
    for widget, px in min_text_px:
        if not _visible(widget, top):
            continue
        size = text_px(widget)
        if size < px:
            problems.append(f"{_where(widget)}: text {size} px, the rule is at least {px} px")
    return problems


def text_px(widget: QWidget) -> int:
    """The pixel size of a widget's font (style sheets set pixel sizes)."""
    font = widget.font()
    return font.pixelSize() if font.pixelSize() > 0 else round(font.pointSizeF() * 96 / 72)
