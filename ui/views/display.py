"""Hall display (综合屏): read from across the hall; the latest call very large."""

from __future__ import annotations

from PySide6.QtCore import QDateTime, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ui.messages import fill, window_status_text
from ui.presenters.display import RECENT, DisplayPresenter, DisplayVM
from ui.views.alarms import alarm_banner, show_alarms
from ui.views.common import AMBER, DARK, Screen, box, clear, label, problem_banner, restyle

FLASH_MS = 500
FLASHES = 6

STYLE = f"""
QWidget#display {{ background: {DARK}; }}
QLabel {{ color: white; font-size: 34px; }}
QWidget#top {{ background: #0d2c57; }}
QLabel#hall {{ font-size: 52px; font-weight: bold; }}
QLabel#clock {{ font-size: 40px; }}
QWidget#callBox {{ background: #13396e; border: 4px solid {AMBER}; border-radius: 24px; }}
QWidget#callBoxFlash {{ background: #8a6d00; border: 4px solid white; border-radius: 24px; }}
QLabel#nowCalling {{ color: {AMBER}; font-size: 44px; font-weight: bold; }}
QLabel#latestNumber {{ color: {AMBER}; font-size: 180px; font-weight: bold; }}
QLabel#latestWindow {{ font-size: 60px; font-weight: bold; }}
QLabel#latestName {{ font-size: 44px; }}
QLabel#head {{ color: #9cc3f5; font-size: 34px; font-weight: bold; }}
QLabel#recentNumber {{ color: {AMBER}; font-size: 50px; font-weight: bold; }}
QLabel#recentWindow {{ font-size: 42px; }}
QLabel#windowCell {{ background: #13396e; border-radius: 12px; font-size: 38px; padding: 6px; }}
QLabel#windowPaused {{ background: #5a1f1f; border-radius: 12px; font-size: 38px; padding: 6px; }}
QLabel#waitingCell {{ font-size: 36px; }}
QWidget#noticeBar {{ background: #0d2c57; }}
QWidget#notice {{ font-size: 38px; }}
"""


class Marquee(QWidget):
    """A notice line that scrolls right to left when it is wider than the screen."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("notice")
        self._text = ""
        self._scroll = 0
        self._timer = QTimer(self)
        self._timer.setInterval(30)
        self._timer.timeout.connect(self._step)
        self._timer.start()

    def text(self) -> str:
        return self._text

    def set_notice(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self._scroll = 0
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(400, QFontMetrics(self.font()).height() + 12)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def _step(self) -> None:
        width = QFontMetrics(self.font()).horizontalAdvance(self._text)
        if width > self.width():
            self._scroll = (self._scroll + 2) % (width + self.width())
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(QColor(AMBER))
        painter.setFont(self.font())
        metrics = QFontMetrics(self.font())
        y = (self.height() + metrics.ascent() - metrics.descent()) // 2
        width = metrics.horizontalAdvance(self._text)
        x = 0 if width <= self.width() else -self._scroll
        if x + width < 0:
            x += width + self.width()
        painter.drawText(x, y, self._text)
        painter.end()


class HallDisplayView(Screen):
    def __init__(self, presenter: DisplayPresenter) -> None:
        super().__init__("display", STYLE)
        self.presenter = presenter
        self._vm: DisplayVM | None = None
        self._flashes = 0

        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        top = box("top")
        top_row = QHBoxLayout(top)
        top_row.setContentsMargins(40, 16, 40, 16)
        self.hall = label("", "hall")
        self.clock = label("", "clock")
        top_row.addWidget(self.hall, 1)
        top_row.addWidget(self.clock)
        root.addWidget(top)
        self.hub_problem = problem_banner(presenter.hub_problem, 36)
        root.addWidget(self.hub_problem)
        self.alarms = alarm_banner(32)
        root.addWidget(self.alarms)

        body = QHBoxLayout()
        body.setContentsMargins(40, 24, 40, 16)
        body.setSpacing(40)
        self.call_box = box("callBox")
        call = QVBoxLayout(self.call_box)
        center = Qt.AlignmentFlag.AlignCenter
        self.now_calling = label("", "nowCalling", center)
        self.latest_number = label("—", "latestNumber", center)
        self.latest_window = label("", "latestWindow", center)
        self.latest_name = label("", "latestName", center)
        self.latest_name.hide()
        call.addStretch(1)
        for widget in (self.now_calling, self.latest_number, self.latest_window, self.latest_name):
            call.addWidget(widget)
        call.addStretch(1)
        body.addWidget(self.call_box, 5)

        side = QVBoxLayout()
        self.recent_head = label("", "head")
        side.addWidget(self.recent_head)
        self.recent_grid = QGridLayout()
        self.recent_grid.setHorizontalSpacing(30)
        self.recent_labels: list[tuple[QLabel, QLabel]] = []
        for i in range(RECENT):
            number, window = label("", "recentNumber"), label("", "recentWindow")
            self.recent_grid.addWidget(number, i, 0)
            self.recent_grid.addWidget(window, i, 1)
            self.recent_labels.append((number, window))
        side.addLayout(self.recent_grid)
        side.addStretch(1)
        body.addLayout(side, 4)
        root.addLayout(body, 1)

        lower = QGridLayout()
        lower.setContentsMargins(40, 0, 40, 12)
        lower.setHorizontalSpacing(24)
        self.windows_head = label("", "head")
        self.waiting_head = label("", "head")
        self.windows_row = QHBoxLayout()
        self.windows_row.setSpacing(20)
        self.waiting_row = QHBoxLayout()
        self.waiting_row.setSpacing(40)
        lower.addWidget(self.windows_head, 0, 0)
        lower.addLayout(self.windows_row, 0, 1)
        lower.addWidget(self.waiting_head, 1, 0)
        lower.addLayout(self.waiting_row, 1, 1)
        lower.setColumnStretch(1, 1)
        root.addLayout(lower)

        bar = box("noticeBar")
        bar_row = QHBoxLayout(bar)
        bar_row.setContentsMargins(40, 10, 40, 10)
        self.notice = Marquee()
        bar_row.addWidget(self.notice)
        root.addWidget(bar)

        self.tick = QTimer(self)
        self.tick.setInterval(1000)
        self.tick.timeout.connect(self._on_tick)
        self.tick.start()
        self.flash_timer = QTimer(self)
        self.flash_timer.setInterval(FLASH_MS)
        self.flash_timer.timeout.connect(self._flash_step)
        presenter.changed.connect(self.show_vm)
        presenter.called.connect(lambda _n, _w: self.flash())
        self.retranslate()

    def retranslate(self) -> None:
        self.now_calling.setText(self.tr("Now calling"))
        self.recent_head.setText(self.tr("Recent calls"))
        self.windows_head.setText(self.tr("Windows"))
        self.waiting_head.setText(self.tr("People waiting"))
        self._on_tick()
        if self._vm is not None:
            self.show_vm(self._vm)

    def _on_tick(self) -> None:
        chinese = self.presenter.languages.is_chinese()
        now = QDateTime.currentDateTime()
        if chinese:
            weekday = "一二三四五六日"[now.date().dayOfWeek() - 1]
            text = now.toString("yyyy年M月d日") + f" 星期{weekday} " + now.toString("HH:mm:ss")
        else:
            text = now.toString("ddd d MMM yyyy  HH:mm:ss")
        self.clock.setText(text)

    def _window_line(self, window: int) -> str:
        return fill(self.tr("Please go to window {window}"), window=str(window))

    def show_vm(self, vm: DisplayVM) -> None:
        self._vm = vm
        self.hall.setText(vm.hall_name)
        if vm.latest is not None:
            self.latest_number.setText(vm.latest.number)
            self.latest_window.setText(self._window_line(vm.latest.window))
            self.latest_name.setText(vm.latest.citizen_name or "")
            self.latest_name.setVisible(bool(vm.latest.citizen_name))
        else:
            self.latest_number.setText("—")
            self.latest_window.setText("")
            self.latest_name.setText("")
        for i, (number, window) in enumerate(self.recent_labels):
            if i < len(vm.recent):
                call = vm.recent[i]
                number.setText(call.number)
                window.setText(fill(self.tr("Window {window}"), window=str(call.window)))
            else:
                number.setText("")
                window.setText("")
        self._fill(
            self.windows_row,
            [
                (
                    fill(self.tr("Window {window}"), window=str(w.number))
                    + "  "
                    + (
                        w.current or (window_status_text(w.status) if w.status == "paused" else "—")
                    ),
                    "windowPaused" if w.status == "paused" else "windowCell",
                )
                for w in vm.windows
            ],
        )
        self._fill(
            self.waiting_row,
            [
                (fill(self.tr("{name}: {n}"), name=s.name, n=str(s.waiting)), "waitingCell")
                for s in vm.services
            ],
        )
        self.notice.set_notice(vm.notice)
        show_alarms(self.alarms, vm.alarms)

    def _fill(self, row: QHBoxLayout, cells: list[tuple[str, str]]) -> None:
        clear(row)
        for text, name in cells:
            row.addWidget(label(text, name, Qt.AlignmentFlag.AlignCenter, wrap=True), 1)

    def flash(self) -> None:
        self._flashes = FLASHES
        self.flash_timer.start()
        self._flash_step()

    def _flash_step(self) -> None:
        on = self._flashes % 2 == 0 and self._flashes > 0
        self._flashes -= 1
        if self._flashes <= 0:
            self.flash_timer.stop()
            on = False
        restyle(self.call_box, "callBoxFlash" if on else "callBox")
