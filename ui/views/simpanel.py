"""The demo's simulator panel: "swipe" a sample card, "scan" a code, break the printer,
press an evaluator key. It drives the simulated devices only; the hall sees real bytes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from ui.demo import INVALID_CODE, SAMPLE_APPOINTMENTS, DemoControls
from ui.messages import score_text
from ui.views.common import Screen


class SimulatorPanel(Screen):
    def __init__(self, controls: DemoControls, windows: list[int]) -> None:
        super().__init__()
        self.controls = controls
        self.setStyleSheet(
            "QLabel, QPushButton, QCheckBox, QComboBox, QGroupBox { font-size: 15px; }"
        )
        root = QVBoxLayout(self)
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 18px; font-weight: bold;")
        root.addWidget(self.title)

        self.card_box = QGroupBox()
        cards = QVBoxLayout(self.card_box)
        self.swipe_elderly = QPushButton()
        self.swipe_elderly.clicked.connect(lambda: controls.swipe("resident-elderly"))
        self.swipe_young = QPushButton()
        self.swipe_young.clicked.connect(lambda: controls.swipe("resident-young"))
        cards.addWidget(self.swipe_elderly)
        cards.addWidget(self.swipe_young)
        root.addWidget(self.card_box)

        self.scan_box = QGroupBox()
        scans = QVBoxLayout(self.scan_box)
        self.scan_appointment = QPushButton()
        self._next_appointment = 0
        self.scan_appointment.clicked.connect(self._scan_appointment)
        self.scan_invalid = QPushButton()
        self.scan_invalid.clicked.connect(lambda: controls.scan(INVALID_CODE))
        scans.addWidget(self.scan_appointment)
        scans.addWidget(self.scan_invalid)
        root.addWidget(self.scan_box)

        self.printer_box = QGroupBox()
        printer = QVBoxLayout(self.printer_box)
        self.paper_out = QCheckBox()
        self.paper_out.toggled.connect(controls.set_paper_out)
        printer.addWidget(self.paper_out)
        root.addWidget(self.printer_box)

        self.rating_box = QGroupBox()
        grid = QGridLayout(self.rating_box)
        self.window_choice = QComboBox()
        for number in windows:
            self.window_choice.addItem(str(number), number)
        grid.addWidget(self.window_choice, 0, 0, 1, 5)
        self.score_buttons: list[QPushButton] = []
        for i, score in enumerate((5, 4, 3, 2, 1)):
            button = QPushButton()
            button.clicked.connect(lambda _=False, s=score: self._press(s))
            grid.addWidget(button, 1 + i // 3, i % 3)
            self.score_buttons.append(button)
        root.addWidget(self.rating_box)
        self.status = QLabel()
        self.status.setWordWrap(True)
        root.addWidget(self.status)
        root.addStretch(1)
        row = QHBoxLayout()
        root.addLayout(row)
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
        for button, score in zip(self.score_buttons, (5, 4, 3, 2, 1), strict=True):
            button.setText(score_text(score))

    def _scan_appointment(self) -> None:
        code = SAMPLE_APPOINTMENTS[self._next_appointment % len(SAMPLE_APPOINTMENTS)]
        self._next_appointment += 1
        self.controls.scan(code)

    def _press(self, score: int) -> None:
        window = self.window_choice.currentData()
        ok = self.controls.press(window, score)
        self.status.setText("" if ok else self.tr("No rating was asked at this window"))
        self.status.setAlignment(Qt.AlignmentFlag.AlignLeft)
