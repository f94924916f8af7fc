"""Window station (虚拟呼叫器): small, every action on a button and a function key."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QDateTime, QRegularExpression, Qt, QTimer
from PySide6.QtGui import (
    QKeyEvent,
    QKeySequence,
    QRegularExpressionValidator,
    QResizeEvent,
    QShortcut,
)
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QVBoxLayout,
    QWidget,
)

from ui.messages import fill, ticket_state_text, window_status_text
from ui.presenters.window import WindowPresenter, WindowVM
from ui.views.alarms import alarm_banner, show_alarms, size_alarm_banner
from ui.views.common import (
    AMBER,
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
    "assist": "F10",
}


def _style(scale: float) -> str:
    """The station's sheet, drawn for 1366 × 768 and scaled to the screen."""

    def px(size: int) -> str:
        return f"{max(1, round(size * scale))}px"

    return f"""
QWidget#station {{ background: #eef2f7; }}
QLabel {{ font-size: {px(19)}; color: #1b2736; }}
QLabel#title {{ font-size: {px(28)}; font-weight: bold; color: {BLUE}; }}
QLabel#figure {{ font-size: {px(22)}; color: #1b2736; background: white; border-radius: 10px;
    padding: {px(6)} {px(14)}; }}
QLabel#badgeOpen {{ background: {GREEN}; color: white; border-radius: 10px;
    padding: {px(6)} {px(16)}; font-size: {px(22)}; font-weight: bold; }}
QLabel#badgePaused {{ background: {RED}; color: white; border-radius: 10px;
    padding: {px(6)} {px(16)}; font-size: {px(22)}; font-weight: bold; }}
QWidget#currentBox {{ background: white; border: 2px solid #c9d3df; border-radius: 16px; }}
QLabel#currentNumber {{ font-size: {px(110)}; font-weight: bold; color: {BLUE}; }}
QLabel#currentState {{ font-size: {px(24)}; }}
QLabel#timer {{ font-size: {px(30)}; font-weight: bold; color: #3b4b61; }}
QLabel#head {{ font-size: {px(21)}; font-weight: bold; }}
QLabel#message {{ color: {RED}; font-size: {px(22)}; font-weight: bold; }}
QLabel#feedback {{ color: {GREEN}; font-size: {px(22)}; font-weight: bold; }}
QLabel#rating {{ font-size: {px(20)}; }}
QPushButton {{ font-size: {px(22)}; padding: {px(6)} {px(8)}; min-height: {px(52)};
    background: white; color: #1b2736; border: 2px solid #9fb3cc; border-radius: 12px; }}
QPushButton:pressed {{ background: #d6e6fa; }}
QPushButton:disabled {{ color: #a3adba; border-color: #d5dce5; background: #f4f6f9; }}
QPushButton#primary {{ background: {BLUE}; color: white; border: none; font-weight: bold; }}
QPushButton#primary:disabled {{ background: #9fb3cc; }}
QPushButton#confirm {{ background: {AMBER}; color: #1b2736; border: none; font-weight: bold; }}
QWidget#confirmBar {{ background: #fff4d6; border: 2px solid #e0a800; border-radius: 12px; }}
QComboBox, QLineEdit {{ font-size: {px(21)}; min-height: {px(48)}; padding: 0 {px(8)}; }}
QListWidget {{ font-size: {px(21)}; background: white; border-radius: 10px; }}
QLabel#deviceOk {{ color: {GREEN}; font-size: {px(18)}; }}
QLabel#deviceBad {{ color: {RED}; font-weight: bold; font-size: {px(18)}; }}
QWidget#signInBox {{ background: white; border: 2px solid #c9d3df; border-radius: 16px; }}
QLabel#signInTitle {{ font-size: {px(34)}; font-weight: bold; color: {BLUE}; }}
QLabel#signInHint {{ font-size: {px(22)}; color: #3b4b61; }}
QWidget#signInBox QLineEdit {{ font-size: {px(28)}; min-height: {px(60)}; }}
"""


FEEDBACK_S = 8


class WindowStationView(Screen):
    def __init__(self, presenter: WindowPresenter) -> None:
        super().__init__("station")
        self.presenter = presenter
        self._vm: WindowVM | None = None
        self._scale = 0.0

        root = QVBoxLayout(self)
        root.setSizeConstraint(FIXED_SCREEN)
        top = QHBoxLayout()
        self.title = label("", "title", wrap=True)
        self.served = label("", "figure")
        self.badge = label("", "badgeOpen")
        self.staff = label("", "figure")
        self.sign_out_button = button("", self._sign_out)
        top.addWidget(self.title, 1)
        top.addWidget(self.staff)
        top.addWidget(self.sign_out_button)
        top.addWidget(self.served)
        top.addWidget(self.badge)
        root.addLayout(top)
        self.hub_problem = problem_banner(presenter.hub_problem, 18)
        root.addWidget(self.hub_problem)
        self.sign_in_box = self._sign_in_panel()
        root.addWidget(self.sign_in_box, 1)

        self.work = QWidget()
        middle = QHBoxLayout(self.work)
        middle.setContentsMargins(0, 0, 0, 0)
        current = box("currentBox")
        column = QVBoxLayout(current)
        self.current_head = label("", "head")
        self.current_number = label("—", "currentNumber", Qt.AlignmentFlag.AlignCenter)
        self.current_state = label("", "currentState", Qt.AlignmentFlag.AlignCenter)
        self.current_detail = label("", "currentState", Qt.AlignmentFlag.AlignCenter, wrap=True)
        self.timer = label("", "timer", Qt.AlignmentFlag.AlignCenter)
        self.rating = label("", "rating", Qt.AlignmentFlag.AlignCenter, wrap=True)
        self.rating_qr = label(align=Qt.AlignmentFlag.AlignCenter)
        for widget in (
            self.current_head,
            self.current_number,
            self.current_state,
            self.current_detail,
            self.timer,
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
        self.transfer_to.currentIndexChanged.connect(lambda _i: self._cancel_transfer())
        buttons.addWidget(self.transfer_to, 3, 0)
        buttons.addWidget(self.buttons["transfer"], 3, 1)
        self.reactivate_number = QLineEdit()
        self.reactivate_number.setMaxLength(8)
        buttons.addWidget(self.reactivate_number, 4, 0)
        buttons.addWidget(self.buttons["reactivate"], 4, 1)
        buttons.addWidget(self.buttons["reprint"], 5, 0, 1, 2)
        # 帮办/代办: the mode and the assisting staff member's id, then the button
        self.assist_mode = QComboBox()
        self.assist_staff = QLineEdit()
        self.assist_staff.setMaxLength(32)
        buttons.addWidget(self.assist_mode, 6, 0)
        buttons.addWidget(self.assist_staff, 6, 1)
        buttons.addWidget(self.buttons["assist"], 7, 0, 1, 2)
        self.pause_reason = QComboBox()  # why the window pauses (hall.yaml staff.pause_reasons)
        buttons.addWidget(self.pause_reason, 8, 0, 1, 2)
        holder = QWidget()
        holder.setLayout(buttons)
        middle.addWidget(holder, 3)

        waiting = QVBoxLayout()
        self.waiting_head = label("", "head")
        self.waiting = QListWidget()
        waiting.addWidget(self.waiting_head)
        waiting.addWidget(self.waiting, 1)
        middle.addLayout(waiting, 2)
        root.addWidget(self.work, 1)

        self.confirm_bar = box("confirmBar")
        confirm = QHBoxLayout(self.confirm_bar)
        self.confirm_text = label("", "head", wrap=True)
        self.confirm_button = button("confirm", self._confirm_transfer)
        self.confirm_cancel = button("", self._cancel_transfer)
        confirm.addWidget(self.confirm_text, 1)
        confirm.addWidget(self.confirm_button)
        confirm.addWidget(self.confirm_cancel)
        self.confirm_bar.hide()
        root.addWidget(self.confirm_bar)
        self.message = label("", "message", wrap=True)
        root.addWidget(self.message)
        self.feedback_timer = QTimer(self)
        self.feedback_timer.setSingleShot(True)
        self.feedback_timer.setInterval(FEEDBACK_S * 1000)
        self.feedback_timer.timeout.connect(lambda: self.message.setText(""))
        self.clock = QTimer(self)
        self.clock.setInterval(1000)
        self.clock.timeout.connect(self._show_timer)
        self.clock.start()
        self.alarms = alarm_banner(16)
        root.addWidget(self.alarms)
        self.devices_row = QHBoxLayout()
        root.addLayout(self.devices_row)

        for action, key in SHORTCUTS.items():
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(lambda a=action: self.trigger(a))

        presenter.changed.connect(self.show_vm)
        presenter.message.connect(self.show_message)
        presenter.done.connect(self.show_done)
        self._apply_size()
        self.retranslate()

    def _sign_in_panel(self) -> QWidget:
        """工号 + PIN, or a staff card scanned by the badge scanner (it types the card's code
        and Enter into the focused field, like a keyboard)."""
        panel = box("signInBox")
        column = QVBoxLayout(panel)
        center = Qt.AlignmentFlag.AlignCenter
        self.sign_in_title = label("", "signInTitle", center)
        self.sign_in_hint = label("", "signInHint", center, wrap=True)
        self.staff_id_input = QLineEdit()
        self.staff_id_input.setMaxLength(32)
        self.pin_input = QLineEdit()
        self.pin_input.setMaxLength(12)
        self.pin_input.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin_input.setValidator(QRegularExpressionValidator(QRegularExpression("[0-9]*")))
        self.pin_input.returnPressed.connect(self._sign_in)
        self.staff_id_input.returnPressed.connect(self.pin_input.setFocus)
        self.sign_in_button = button("primary", self._sign_in)
        self.card_hint = label("", "signInHint", center, wrap=True)
        self.card_input = QLineEdit()
        self.card_input.setMaxLength(80)
        self.card_input.setEchoMode(QLineEdit.EchoMode.Password)  # a card's code is a secret
        self.card_input.returnPressed.connect(self._sign_in_card)
        form = QVBoxLayout()
        for widget in (
            self.sign_in_title,
            self.sign_in_hint,
            self.staff_id_input,
            self.pin_input,
            self.sign_in_button,
            self.card_hint,
            self.card_input,
        ):
            form.addWidget(widget)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addLayout(form, 2)
        row.addStretch(1)
        column.addStretch(1)
        column.addLayout(row)
        column.addStretch(1)
        panel.hide()
        return panel

    def _sign_in(self) -> None:
        pin = self.pin_input.text()
        self.pin_input.clear()  # never kept on screen or in memory longer than needed
        self.presenter.sign_in(self.staff_id_input.text(), pin)

    def _sign_in_card(self) -> None:
        code = self.card_input.text()
        self.card_input.clear()
        self.presenter.sign_in_card(code)

    def _sign_out(self) -> None:
        if self.sign_out_button.isEnabled():
            self.presenter.sign_out()

    def retranslate(self) -> None:
        self.message.setText("")  # a message in the other language is stale
        self.setWindowTitle(fill(self.tr("Window {n}"), n=str(self.presenter.window)))
        self._label_buttons()
        self.reactivate_number.setPlaceholderText(self.tr("Number, e.g. A012"))
        self.current_head.setText(self.tr("Current ticket"))
        self.confirm_button.setText(self.tr("Confirm transfer"))
        self.confirm_cancel.setText(self.tr("Cancel"))
        self.assist_staff.setPlaceholderText(self.tr("Staff ID"))
        mode = self.assist_mode.currentData()
        self.assist_mode.clear()
        self.assist_mode.addItem(self.tr("Assisted (帮办)"), "assisted")
        self.assist_mode.addItem(self.tr("Proxy (代办)"), "proxy")
        self.assist_mode.setCurrentIndex(max(0, self.assist_mode.findData(mode)))
        self.sign_in_title.setText(
            fill(self.tr("Sign in to window {n}"), n=str(self.presenter.window))
        )
        self.sign_in_hint.setText(self.tr("Staff ID (工号) and PIN"))
        self.staff_id_input.setPlaceholderText(self.tr("Staff ID"))
        self.pin_input.setPlaceholderText(self.tr("PIN"))
        self.sign_in_button.setText(self.tr("Sign in"))
        self.card_hint.setText(self.tr("Or scan your staff card"))
        self.card_input.setPlaceholderText(self.tr("Staff card"))
        self.sign_out_button.setText(self.tr("Sign out"))
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
            "assist": self.tr("Mark assisted"),
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
            self._ask_transfer()
        elif action == "reactivate":
            if p.reactivate(self.reactivate_number.text()):
                self.reactivate_number.clear()
        elif action == "reprint":
            p.reprint()
        elif action == "pause":
            if self._vm is not None and self._vm.status == "paused":
                p.resume()
            else:
                p.pause(self.pause_reason.currentData())
        elif action == "assist":
            p.assist(self.assist_mode.currentData(), self.assist_staff.text())

    def show_vm(self, vm: WindowVM) -> None:
        self._vm = vm
        self.title.setText(fill(self.tr("Window {n} · {name}"), n=str(vm.number), name=vm.name))
        self.served.setText(fill(self.tr("Served today: {n}"), n=str(vm.served_today)))
        badge = window_status_text(vm.status)
        if vm.status == "paused" and vm.pause_reason:
            badge += f" · {vm.pause_reason}"
        self.badge.setText(badge)
        restyle(self.badge, "badgePaused" if vm.status == "paused" else "badgeOpen")
        self._show_staff(vm)
        self.current_number.setText(vm.current or "—")
        self.current_state.setText(ticket_state_text(vm.current_state) if vm.current else "")
        detail = vm.service_name
        if vm.citizen_name:
            detail = f"{detail} · {vm.citizen_name}"
        for extra in (vm.bundle, vm.assist):
            if extra:
                detail += "\n" + extra
        self.current_detail.setText(detail)
        self._show_rating(vm)
        enabled = dict(vm.enabled)
        enabled["pause"] = enabled.get("pause", False) or enabled.get("resume", False)
        for action, action_button in self.buttons.items():
            action_button.setEnabled(enabled.get(action, False))
        self._label_buttons()
        current = self.transfer_to.currentData()
        self.transfer_to.blockSignals(True)  # a refresh is not the staff choosing
        self.transfer_to.clear()
        self.transfer_to.addItem(self.tr("Transfer to…"), None)  # no target until chosen
        for code, name in vm.transfer_targets:
            self.transfer_to.addItem(name, code)
        index = self.transfer_to.findData(current) if current is not None else -1
        self.transfer_to.setCurrentIndex(max(0, index))
        self.transfer_to.blockSignals(False)
        if vm.current is None:
            self.confirm_bar.hide()
        self._show_timer()
        self.waiting_head.setText(fill(self.tr("People waiting: {n}"), n=str(len(vm.waiting))))
        self.waiting.clear()
        for row in vm.waiting:
            text = f"{row.number}   {row.service_name}"
            if row.bundle_leg:
                text += "   " + fill(self.tr("one visit, step {leg}"), leg=row.bundle_leg)
            if row.priority != "none":
                text += "   " + self.tr("priority")
            if row.citizen_name:
                text += f"   {row.citizen_name}"
            self.waiting.addItem(text)
        show_alarms(self.alarms, vm.alarms)
        clear(self.devices_row)
        for device in vm.devices:
            widget = label(
                f"● {device.label}: {device.text}",
                "deviceOk" if device.status == "online" else "deviceBad",
            )
            self.devices_row.addWidget(widget)
        self.devices_row.addStretch(1)

    def _show_staff(self, vm: WindowVM) -> None:
        """Who is signed in, or the sign-in panel instead of the caller when nobody is."""
        signing_in = vm.needs_sign_in
        if signing_in and self.sign_in_box.isHidden():
            self.staff_id_input.setFocus()
        self.sign_in_box.setVisible(signing_in)
        self.work.setVisible(not signing_in)
        self.staff.setVisible(vm.staff_id is not None)
        self.sign_out_button.setVisible(vm.staff_id is not None)
        self.sign_out_button.setEnabled(vm.enabled.get("sign_out", False))
        if vm.staff_id is not None:
            who = f"{vm.staff_name} ({vm.staff_id})" if vm.staff_name else vm.staff_id
            self.staff.setText(fill(self.tr("Staff: {who}"), who=who))
        chosen = self.pause_reason.currentData()
        self.pause_reason.blockSignals(True)
        self.pause_reason.clear()
        self.pause_reason.addItem(self.tr("Pause because…"), None)
        for code, name in vm.pause_reasons:
            self.pause_reason.addItem(name, code)
        index = self.pause_reason.findData(chosen) if chosen is not None else -1
        self.pause_reason.setCurrentIndex(max(0, index))
        self.pause_reason.setEnabled(vm.enabled.get("pause", False))
        self.pause_reason.blockSignals(False)

    def _show_rating(self, vm: WindowVM) -> None:
        r = vm.rating
        texts = {
            "waiting": self.tr("Waiting for the citizen's rating of {number}…"),
            "rated": self.tr("{number} rated: {score}"),
            "none": self.tr("{number}: no rating given"),
            "qr": self.tr("No evaluator: the citizen scans this code to rate {number}"),
        }
        text = texts.get(r.state, "").replace("{number}", r.number).replace("{score}", r.text)
        if r.reasons:
            text += "\n" + self.tr("Reasons: {reasons}").replace("{reasons}", r.reasons)
        if r.case:
            text += "\n" + self.tr("Case number: {case}").replace("{case}", r.case)
        if r.state == "rated" and r.qr_payload:
            text += "\n" + self.tr("The citizen may scan this code to say why")
        self.rating.setText(text)
        pixmap = qr_pixmap(r.qr_payload, 140) if r.qr_payload else None
        if pixmap is not None:
            self.rating_qr.setPixmap(pixmap)
            self.rating_qr.show()
        else:
            self.rating_qr.clear()
            self.rating_qr.hide()

    def show_message(self, text: str) -> None:
        """Why an action did not happen (red), or "please wait"; empty clears the line."""
        restyle(self.message, "message")
        self.message.setText(text)
        self.feedback_timer.stop()

    def show_done(self, text: str) -> None:
        """What an action did (green), for a few seconds."""
        restyle(self.message, "feedback")
        self.message.setText(text)
        self.feedback_timer.start()

    # ---- transfer: an explicit target, then a confirmation ------------------------------
    def _ask_transfer(self) -> None:
        code = self.transfer_to.currentData()
        if not code or self._vm is None or self._vm.current is None:
            self.show_message(self.tr("Choose the service to transfer to first"))
            self.transfer_to.setFocus()
            return
        self.confirm_text.setText(
            fill(
                self.tr("Transfer {number} to {service}?"),
                number=self._vm.current,
                service=self.transfer_to.currentText(),
            )
        )
        self.confirm_bar.show()

    def _confirm_transfer(self) -> None:
        code = self.transfer_to.currentData()
        self.confirm_bar.hide()
        if code:
            self.presenter.transfer(code)
            self.transfer_to.setCurrentIndex(0)

    def _cancel_transfer(self) -> None:
        self.confirm_bar.hide()

    def _show_timer(self) -> None:
        """How long the current citizen has been at the window (called or in service)."""
        since = self._vm.current_since if self._vm is not None else None
        if not since:
            self.timer.setText("")
            return
        start = QDateTime.fromString(since, Qt.DateFormat.ISODateWithMs)
        seconds = max(0, start.secsTo(QDateTime.currentDateTime()))
        minutes, seconds = divmod(seconds, 60)
        self.timer.setText(fill(self.tr("For {time}"), time=f"{minutes:02d}:{seconds:02d}"))

    # ---- sizes --------------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        self._apply_size()
        super().resizeEvent(event)

    def _apply_size(self) -> None:
        scale = min(self.width() / 1366, self.height() / 768) if self.width() > 1 else 1.0
        scale = max(scale, 0.5)
        if abs(scale - self._scale) < 0.005:
            return
        self._scale = scale
        self.setStyleSheet(_style(scale))
        size_alarm_banner(self.alarms, round(18 * scale))
