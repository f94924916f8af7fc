"""Window station (虚拟呼叫器): small, every action on a button and a function key."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QVBoxLayout,
    QWidget,
)

from ui.messages import fill, ticket_state_text, window_status_text
from ui.presenters.window import WindowPresenter, WindowVM
from ui.views.common import (
    BLUE,
    FIXED_SCREEN,
    GREEN,
    RED,
    Screen,
    box,
    button,
    clear,
    label,
    problem_banner,
    qr_pixmap,
    restyle,
)

SHORTCUTS = {
    "call": "F1",
    "recall": "F2",
    "no_show": "F3",
    "start": "F4",
    "finish": "F5",
    "transfer": "F6",
    "reactivate": "F7",
    "reprint": "F8",
    "pause": "F9",
}

STYLE = f"""
QWidget#station {{ background: #f4f6f9; }}
QLabel {{ font-size: 15px; color: #1b2736; }}
QLabel#title {{ font-size: 22px; font-weight: bold; color: {BLUE}; }}
QLabel#badgeOpen {{ background: {GREEN}; color: white; border-radius: 8px; padding: 4px 12px;
    font-size: 16px; }}
QLabel#badgePaused {{ background: {RED}; color: white; border-radius: 8px; padding: 4px 12px;
    font-size: 16px; }}
QWidget#currentBox {{ background: white; border: 1px solid #c9d3df; border-radius: 10px; }}
QLabel#currentNumber {{ font-size: 72px; font-weight: bold; color: {BLUE}; }}
QLabel#currentState {{ font-size: 18px; }}
QLabel#head {{ font-size: 16px; font-weight: bold; }}
QLabel#message {{ color: {RED}; font-size: 16px; font-weight: bold; }}
QLabel#rating {{ font-size: 16px; }}
QPushButton {{ font-size: 16px; padding: 8px 10px; min-height: 30px; }}
QPushButton#primary {{ background: {BLUE}; color: white; border-radius: 6px; font-weight: bold; }}
QPushButton#primary:disabled {{ background: #9fb3cc; }}
QListWidget {{ font-size: 16px; }}
QLabel#deviceOk {{ color: {GREEN}; }}
QLabel#deviceBad {{ color: {RED}; font-weight: bold; }}
"""


class WindowStationView(Screen):
    def __init__(self, presenter: WindowPresenter) -> None:
        super().__init__("station", STYLE)
        self.presenter = presenter
        self._vm: WindowVM | None = None

        root = QVBoxLayout(self)
        root.setSizeConstraint(FIXED_SCREEN)
        top = QHBoxLayout()
        self.title = label("", "title")
        self.badge = label("", "badgeOpen")
        top.addWidget(self.title, 1)
        top.addWidget(self.badge)
        root.addLayout(top)
        self.hub_problem = problem_banner(presenter.hub_problem, 18)
        root.addWidget(self.hub_problem)

        middle = QHBoxLayout()
        current = box("currentBox")
        column = QVBoxLayout(current)
        self.current_head = label("", "head")
        self.current_number = label("—", "currentNumber", Qt.AlignmentFlag.AlignCenter)
        self.current_state = label("", "currentState", Qt.AlignmentFlag.AlignCenter)
        self.current_detail = label("", "currentState", Qt.AlignmentFlag.AlignCenter)
        self.rating = label("", "rating", Qt.AlignmentFlag.AlignCenter, wrap=True)
        self.rating_qr = QLabel()
        self.rating_qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        for widget in (
            self.current_head,
            self.current_number,
            self.current_state,
            self.current_detail,
            self.rating,
            self.rating_qr,
        ):
            column.addWidget(widget)
        column.addStretch(1)
        middle.addWidget(current, 3)

        buttons = QGridLayout()
        self.buttons = {
            action: button("primary" if action == "call" else "", partial(self.trigger, action))
            for action in SHORTCUTS
        }
        for i, action in enumerate(("call", "recall", "no_show", "start", "finish", "pause")):
            buttons.addWidget(self.buttons[action], i // 2, i % 2)
        self.transfer_to = QComboBox()
        buttons.addWidget(self.transfer_to, 3, 0)
        buttons.addWidget(self.buttons["transfer"], 3, 1)
        self.reactivate_number = QLineEdit()
        self.reactivate_number.setMaxLength(8)
        buttons.addWidget(self.reactivate_number, 4, 0)
        buttons.addWidget(self.buttons["reactivate"], 4, 1)
        buttons.addWidget(self.buttons["reprint"], 5, 0, 1, 2)
        holder = QWidget()
        holder.setLayout(buttons)
        middle.addWidget(holder, 3)

        waiting = QVBoxLayout()
        self.waiting_head = label("", "head")
        self.waiting = QListWidget()
        waiting.addWidget(self.waiting_head)
        waiting.addWidget(self.waiting, 1)
        middle.addLayout(waiting, 2)
        root.addLayout(middle, 1)

        self.message = label("", "message", wrap=True)
        root.addWidget(self.message)
        self.devices_row = QHBoxLayout()
        root.addLayout(self.devices_row)

        for action, key in SHORTCUTS.items():
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(lambda a=action: self.trigger(a))

        presenter.changed.connect(self.show_vm)
        presenter.message.connect(self.show_message)
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(fill(self.tr("Window {n}"), n=str(self.presenter.window)))
        self._label_buttons()
        self.reactivate_number.setPlaceholderText(self.tr("Number, e.g. A012"))
        self.current_head.setText(self.tr("Current ticket"))
        if self._vm is not None:
            self.show_vm(self._vm)

    def _label_buttons(self) -> None:
        """Each button says its action and its key; F9 pauses or resumes, as the window is."""
        paused = self._vm is not None and self._vm.status == "paused"
        names = {
            "call": self.tr("Call next"),
            "recall": self.tr("Recall"),
            "no_show": self.tr("No-show"),
            "start": self.tr("Start service"),
            "finish": self.tr("Finish"),
            "transfer": self.tr("Transfer"),
            "reactivate": self.tr("Reactivate"),
            "reprint": self.tr("Reprint slip"),
            "pause": self.tr("Resume") if paused else self.tr("Pause"),
        }
        for action, action_button in self.buttons.items():
            action_button.setText(f"{names[action]}  [{SHORTCUTS[action]}]")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Function keys also work when the shortcut system does not see them (no active
        window, e.g. under test or a remote desktop)."""
        key = QKeySequence(event.key()).toString()
        for action, shortcut in SHORTCUTS.items():
            if key == shortcut:
                self.trigger(action)
                return
        super().keyPressEvent(event)

    def trigger(self, action: str) -> None:
        """A button or its function key."""
        if not self.buttons[action].isEnabled():
            return  # a function key for an action the view-model does not allow now
        p = self.presenter
        if action == "call":
            p.call_next()
        elif action == "recall":
            p.recall()
        elif action == "no_show":
            p.no_show()
        elif action == "start":
            p.start()
        elif action == "finish":
            p.finish()
        elif action == "transfer":
            code = self.transfer_to.currentData()
            if code:
                p.transfer(code)
        elif action == "reactivate":
            if p.reactivate(self.reactivate_number.text()):
                self.reactivate_number.clear()
        elif action == "reprint":
            p.reprint()
        elif action == "pause":
            p.toggle_pause()

    def show_vm(self, vm: WindowVM) -> None:
        self._vm = vm
        self.title.setText(fill(self.tr("Window {n} · {name}"), n=str(vm.number), name=vm.name))
        self.badge.setText(window_status_text(vm.status))
        restyle(self.badge, "badgePaused" if vm.status == "paused" else "badgeOpen")
        self.current_number.setText(vm.current or "—")
        self.current_state.setText(ticket_state_text(vm.current_state) if vm.current else "")
        detail = vm.service_name
        if vm.citizen_name:
            detail = f"{detail} · {vm.citizen_name}"
        self.current_detail.setText(detail)
        self._show_rating(vm)
        enabled = dict(vm.enabled)
        enabled["pause"] = enabled.get("pause", False) or enabled.get("resume", False)
        for action, action_button in self.buttons.items():
            action_button.setEnabled(enabled.get(action, False))
        self._label_buttons()
        current = self.transfer_to.currentData()
        self.transfer_to.clear()
        for code, name in vm.transfer_targets:
            self.transfer_to.addItem(name, code)
        if current is not None:
            index = self.transfer_to.findData(current)
            if index >= 0:
                self.transfer_to.setCurrentIndex(index)
        self.waiting_head.setText(fill(self.tr("People waiting: {n}"), n=str(len(vm.waiting))))
        self.waiting.clear()
        for row in vm.waiting:
            text = f"{row.number}   {row.service_name}"
            if row.priority != "none":
                text += "   " + self.tr("priority")
            if row.citizen_name:
                text += f"   {row.citizen_name}"
            self.waiting.addItem(text)
        clear(self.devices_row)
        for device in vm.devices:
            widget = label(
                f"● {device.label}: {device.text}",
                "deviceOk" if device.status == "online" else "deviceBad",
            )
            self.devices_row.addWidget(widget)
        self.devices_row.addStretch(1)

    def _show_rating(self, vm: WindowVM) -> None:
        r = vm.rating
        texts = {
            "waiting": self.tr("Waiting for the citizen's rating of {number}…"),
            "rated": self.tr("{number} rated: {score}"),
            "none": self.tr("{number}: no rating given"),
            "qr": self.tr("No evaluator: the citizen scans this code to rate {number}"),
        }
        text = texts.get(r.state, "").replace("{number}", r.number).replace("{score}", r.text)
        self.rating.setText(text)
        pixmap = qr_pixmap(r.qr_payload, 140) if r.state == "qr" and r.qr_payload else None
        if pixmap is not None:
            self.rating_qr.setPixmap(pixmap)
            self.rating_qr.show()
        else:
            self.rating_qr.clear()
            self.rating_qr.hide()

    def show_message(self, text: str) -> None:
        self.message.setText(text)
