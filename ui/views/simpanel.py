"""The demo's simulator panel: "swipe" a sample card, "scan" a code, break the printer,
press an evaluator key. It drives the simulated devices only; the hall sees real bytes."""

from __future__ import annotations

import functools

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.demo import INVALID_CODE, SAMPLE_APPOINTMENTS, DemoControls
from ui.messages import score_text
from ui.views.common import Screen, button, label

SCORES = (5, 4, 3, 2, 1)  # the evaluator's keys, best first
STYLE = """
QLabel, QPushButton, QCheckBox, QComboBox, QGroupBox { font-size: 15px; }
QLabel#title { font-size: 18px; font-weight: bold; }
"""


def _group(root: QVBoxLayout, *widgets: QWidget) -> QGroupBox:
    """One simulated device: a titled box (titled by ``retranslate()``) of its controls."""
    group = QGroupBox()
    column = QVBoxLayout(group)
    for widget in widgets:
        column.addWidget(widget)
    root.addWidget(group)
    return group


class SimulatorPanel(Screen):
    def __init__(self, controls: DemoControls, windows: list[int]) -> None:
        super().__init__(style=STYLE)
        self.controls = controls
        root = QVBoxLayout(self)
        self.title = label(name="title")
        root.addWidget(self.title)

        self._next_appointment = 0
        self.swipe_elderly = button(clicked=lambda: controls.swipe("resident-elderly"))
        self.swipe_young = button(clicked=lambda: controls.swipe("resident-young"))
        self.card_box = _group(root, self.swipe_elderly, self.swipe_young)
        self.scan_appointment = button(clicked=self._scan_appointment)
        self.scan_invalid = button(clicked=lambda: controls.scan(INVALID_CODE))
        self.scan_box = _group(root, self.scan_appointment, self.scan_invalid)
        self.paper_out = QCheckBox()
        self.paper_out.toggled.connect(controls.set_paper_out)
        self.printer_box = _group(root, self.paper_out)

        self.rating_box = QGroupBox()
        grid = QGridLayout(self.rating_box)
        self.window_choice = QComboBox()
        for number in windows:
            self.window_choice.addItem(str(number), number)
        grid.addWidget(self.window_choice, 0, 0, 1, 5)
        self.score_buttons: list[QPushButton] = []
        for i, score in enumerate(SCORES):
            key = button(clicked=functools.partial(self._press, score))
            grid.addWidget(key, 1 + i // 3, i % 3)
            self.score_buttons.append(key)
        root.addWidget(self.rating_box)
        self.status = label(wrap=True)
        root.addWidget(self.status)
        root.addStretch(1)
        self.retranslate()

    def retranslate(self) -> None:
        self.title.setText(self.tr("Device simulator"))
        self.card_box.setTitle(self.tr("ID-card reader"))
        self.swipe_elderly.setText(self.tr("Swipe a sample card (aged 70+)"))
        self.swipe_young.setText(self.tr("Swipe a sample card (young adult)"))
        self.scan_box.setTitle(self.tr("Code scanner"))
        self.scan_appointment.setText(self.tr("Scan a sample appointment"))
        self.scan_invalid.setText(self.tr("Scan an invalid code"))
        self.printer_box.setTitle(self.tr("Ticket printer"))
        self.paper_out.setText(self.tr("Out of paper"))
        self.rating_box.setTitle(self.tr("Evaluator at window"))
        for key, score in zip(self.score_buttons, SCORES, strict=True):
            key.setText(score_text(score))

    def _scan_appointment(self) -> None:
        code = SAMPLE_APPOINTMENTS[self._next_appointment % len(SAMPLE_APPOINTMENTS)]
        self._next_appointment += 1
        self.controls.scan(code)

    def _press(self, score: int) -> None:
        window = self.window_choice.currentData()
        ok = self.controls.press(window, score)
        self.status.setText("" if ok else self.tr("No rating was asked at this window"))
