"""The on-screen PIN keypad staff use to leave a locked kiosk (a touch screen has no keyboard).

Digits only, shown as dots; 删除 removes the last digit, 取消 gives up, 确定 answers. It is
sized from the kiosk it covers.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QGridLayout, QVBoxLayout, QWidget

from ui.views.common import BLUE, button, label

MAX_DIGITS = 12


def _style(px: int) -> str:
    return f"""
    QDialog {{ background: white; border: 3px solid {BLUE}; border-radius: 20px; }}
    QLabel#padTitle {{ font-size: {px}px; font-weight: bold; color: {BLUE}; }}
    QLabel#padHint {{ font-size: {px * 3 // 4}px; color: #3b4b61; }}
    QLabel#padDots {{ font-size: {px * 3 // 2}px; color: #15253b; letter-spacing: 6px; }}
    QPushButton {{ font-size: {px * 5 // 4}px; min-height: {px * 2}px; border-radius: 14px;
        background: #eef3f9; border: 2px solid #b0c4de; color: #15253b; }}
    QPushButton:pressed {{ background: #d6e6fa; }}
    QPushButton#padOk {{ background: {BLUE}; color: white; border: none; }}
    QPushButton#padFunction {{ font-size: {px * 3 // 4}px; }}
    """


class PinPad(QDialog):
    """Asks for the admin PIN with on-screen digits; :meth:`ask` returns it or None."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowFlags(Qt.WindowType.Dialog | Qt.WindowType.FramelessWindowHint)
        self.setModal(True)
        self.pin = ""
        width = parent.width() if parent is not None and parent.width() > 200 else 1080
        px = max(20, width // 28)
        self.setStyleSheet(_style(px))
        column = QVBoxLayout(self)
        column.setContentsMargins(px, px, px, px)
        center = Qt.AlignmentFlag.AlignCenter
        self.title = label(self.tr("Staff only"), "padTitle", center)
        self.setWindowTitle(self.title.text())
        self.hint = label(self.tr("Enter the admin PIN"), "padHint", center, wrap=True)
        self.dots = label("", "padDots", center)
        for widget in (self.title, self.hint, self.dots):
            column.addWidget(widget)
        grid = QGridLayout()
        grid.setSpacing(px // 2)
        self.digit_buttons = []
        for i, digit in enumerate("123456789"):
            key = button("", partial(self.press, digit))
            key.setText(digit)
            grid.addWidget(key, i // 3, i % 3)
            self.digit_buttons.append(key)
        self.delete_button = button("padFunction", self.delete)
        self.delete_button.setText(self.tr("Delete"))
        zero = button("", partial(self.press, "0"))
        zero.setText("0")
        self.digit_buttons.append(zero)
        self.ok_button = button("padOk", self.accept)
        self.ok_button.setText(self.tr("OK"))
        grid.addWidget(self.delete_button, 3, 0)
        grid.addWidget(zero, 3, 1)
        grid.addWidget(self.ok_button, 3, 2)
        column.addLayout(grid)
        self.cancel_button = button("padFunction", self.reject)
        self.cancel_button.setText(self.tr("Cancel"))
        column.addWidget(self.cancel_button)
        self.setFixedWidth(min(width, px * 16))

    def press(self, digit: str) -> None:
        if len(self.pin) < MAX_DIGITS:
            self.pin += digit
            self.dots.setText("●" * len(self.pin))

    def delete(self) -> None:
        self.pin = self.pin[:-1]
        self.dots.setText("●" * len(self.pin))

    def ask(self) -> str | None:
        """Shown over its parent until 确定 or 取消; the PIN typed, or None."""
        parent = self.parentWidget()
        if parent is not None:
            self.adjustSize()
            center = parent.geometry().center()
            self.move(center.x() - self.width() // 2, center.y() - self.height() // 2)
        return self.pin if self.exec() == QDialog.DialogCode.Accepted else None
