"""Hall display (综合屏): read from across the hall; the latest call very large.

Every size comes from the screen's height: the latest call is at least 1/6 of it, recent
calls, windows and waiting counts at least 1/16 (:func:`text_sizes`). Nothing shrinks to fit
a large hall: what does not fit goes to the next page, and the pages rotate.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QBoxLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ui.messages import fill, window_state_text
from ui.presenters.display import DisplayPresenter, DisplayVM
from ui.views.alarms import alarm_banner, show_alarms, size_alarm_banner
from ui.views.common import (
    AMBER,
    DARK,
    FIXED_SCREEN,
    GREEN,
    Screen,
    box,
    hall_clock,
    label,
    problem_banner,
    restyle,
)
from ui.views.pager import Pager

FLASH_MS = 500
FLASHES = 6
HIGHLIGHT_S = 30  # a call stays "now calling" this long, then shows as the last call
ROTATE_S = 8  # pages of windows and waiting counts turn this often
STATE_COLOURS = {
    "calling": (AMBER, "#10223f"),
    "serving": (GREEN, "white"),
    "paused": ("#8e2a2a", "white"),
    "closed": ("#4a5566", "#d5dbe3"),
    "idle": ("#13396e", "white"),
}


def text_sizes(width: int, height: int) -> dict[str, int]:
    """Pixel sizes of the display's texts on a screen of this size (the rules of the hall:
    the latest call ≥ 1/6 of the height, recent calls, windows and waiting ≥ 1/16)."""
    unit = min(width / 1920, height / 1080) if width >= height else width / 1080
    row = math.ceil(height / 16)
    return {
        "latest": math.ceil(height / 6),
        "row": row,
        "head": round(34 * unit),
        "call_line": min(max(round(60 * unit), row), width // 14),
        "hall": round(40 * unit),
        "clock": round(34 * unit),
        "notice": round(38 * unit),
        "legend": max(round(26 * unit), 14),
        "gap": max(8, round(24 * unit)),
    }


def _style(px: dict[str, int]) -> str:
    cells = "".join(
        f"QLabel#cell_{state} {{ background: {bg}; color: {fg}; border-radius: {px['gap']}px;"
        f" font-size: {px['row']}px; font-weight: bold; padding: 0px {px['gap']}px; }}\n"
        f"QLabel#legend_{state} {{ background: {bg}; color: {fg}; border-radius: 6px;"
        f" font-size: {px['legend']}px; padding: 2px 8px; }}\n"
        for state, (bg, fg) in STATE_COLOURS.items()
    )
    return f"""
QWidget#display {{ background: {DARK}; }}
QLabel {{ color: white; font-size: {px["head"]}px; }}
QWidget#top {{ background: #0d2c57; }}
QLabel#hall {{ font-size: {px["hall"]}px; font-weight: bold; }}
QLabel#clock {{ font-size: {px["clock"]}px; }}
QWidget#callBox {{ background: #13396e; border: 4px solid {AMBER}; border-radius: 24px; }}
QWidget#callBoxFlash {{ background: #8a6d00; border: 4px solid white; border-radius: 24px; }}
QWidget#callBoxQuiet {{ background: #102a50; border: 4px solid #2c4a75; border-radius: 24px; }}
QLabel#nowCalling {{ color: {AMBER}; font-size: {px["head"]}px; font-weight: bold; }}
QLabel#lastCall {{ color: #9cc3f5; font-size: {px["head"]}px; font-weight: bold; }}
QLabel#latestNumber {{ color: {AMBER}; font-size: {px["latest"]}px; font-weight: bold; }}
QLabel#latestWindow {{ font-size: {px["call_line"]}px; font-weight: bold; }}
QLabel#latestName {{ font-size: {px["head"]}px; }}
QLabel#head {{ color: #9cc3f5; font-size: {px["head"]}px; font-weight: bold; }}
QLabel#pageMark {{ color: #9cc3f5; font-size: {px["head"]}px; }}
QLabel#recentNumber {{ color: {AMBER}; font-size: {px["row"]}px; font-weight: bold; }}
QLabel#recentWindow {{ font-size: {px["row"]}px; }}
QWidget#recentCell {{ border-bottom: 2px solid #2c4a75; }}
QLabel#waitingCell {{ background: #102a50; border-radius: {px["gap"]}px; font-size: {px["row"]}px;
    padding: 0px {px["gap"]}px; }}
QWidget#noticeBar {{ background: #0d2c57; }}
QWidget#notice {{ font-size: {px["notice"]}px; }}
{cells}"""


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

    def scrolls(self) -> bool:
        return QFontMetrics(self.font()).horizontalAdvance(self._text) > self.width()

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
            step = max(2, self.font().pixelSize() // 16)
            self._scroll = (self._scroll + step) % (width + self.width())
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


class RecentCell(QWidget):
    """One recent call: the number and its window, in columns aligned across rows."""

    def __init__(self, number: str, window: str) -> None:
        super().__init__()
        self.setObjectName("recentCell")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.number = label(number, "recentNumber")
        self.where = label(window, "recentWindow", Qt.AlignmentFlag.AlignRight)
        row.addWidget(self.number, 1)
        row.addWidget(self.where)


class Section(QWidget):
    """A titled, paged band of cells (windows, waiting): a title row (title, legend, page
    mark) above the cells; the pages rotate."""

    def __init__(self) -> None:
        super().__init__()
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        self.title_row = QHBoxLayout()
        self.head = label("", "head")
        self.page_mark = label("", "pageMark")
        self.title_row.addWidget(self.head)
        self.title_row.addStretch(1)
        self.title_row.addWidget(self.page_mark)
        column.addLayout(self.title_row)
        self.pager = Pager(max_columns=12, max_rows=1)
        column.addWidget(self.pager, 1)
        self.pager.page_changed.connect(self._page_mark)

    def add_legend(self, widget: QWidget) -> None:
        self.title_row.insertWidget(self.title_row.count() - 2, widget)

    def _page_mark(self, page: int, pages: int) -> None:
        self.page_mark.setText(
            fill(self.tr("Page {page} of {pages}"), page=str(page + 1), pages=str(pages))
            if pages > 1
            else ""
        )

    def set_gap(self, gap: int) -> None:
        self.title_row.setSpacing(gap)
        self.pager.spacing = gap


class HallDisplayView(Screen):
    def __init__(self, presenter: DisplayPresenter, highlight_s: float = HIGHLIGHT_S) -> None:
        super().__init__("display")
        self.presenter = presenter
        self.highlight_s = highlight_s
        self._vm: DisplayVM | None = None
        self._flashes = 0
        self._px: dict[str, int] = {}
        self._highlighted = False

        root = QVBoxLayout(self)
        root.setSizeConstraint(FIXED_SCREEN)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        top = box("top")
        top_row = QHBoxLayout(top)
        self.top_row = top_row
        self.hall = label("", "hall", wrap=True)
        self.clock = label("", "clock")
        top_row.addWidget(self.hall, 1)
        top_row.addWidget(self.clock)
        root.addWidget(top)
        self.hub_problem = problem_banner(presenter.hub_problem, 36)
        root.addWidget(self.hub_problem)

        self.body = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.call_box = box("callBox")
        call = QVBoxLayout(self.call_box)
        call.setContentsMargins(6, 6, 6, 6)
        center = Qt.AlignmentFlag.AlignCenter
        self.now_calling = label("", "nowCalling", center)
        self.latest_number = label("—", "latestNumber", center)
        self.latest_window = label("", "latestWindow", center, wrap=True)
        self.latest_name = label("", "latestName", center)
        self.latest_name.hide()
        call.addStretch(1)
        for widget in (self.now_calling, self.latest_number, self.latest_window, self.latest_name):
            call.addWidget(widget)
        call.addStretch(1)
        self.body.addWidget(self.call_box, 5)
        side = QVBoxLayout()
        # alarms above the recent calls: their room comes from the recent list (which shows
        # as many as fit), never from the latest call
        self.alarms = alarm_banner(32)
        side.addWidget(self.alarms)
        self.recent_head = label("", "head")
        side.addWidget(self.recent_head)
        self.recent = Pager(max_columns=1, max_rows=4, optional=True)
        side.addWidget(self.recent, 1)
        self.body.addLayout(side, 4)
        root.addLayout(self.body, 1)

        self.windows = Section()
        self.waiting = Section()
        self.legend_labels = {state: label("", f"legend_{state}") for state in STATE_COLOURS}
        for state in ("calling", "serving", "paused", "closed"):
            self.windows.add_legend(self.legend_labels[state])
        self.legend_labels["idle"].hide()
        self.sections = QVBoxLayout()
        self.sections.addWidget(self.windows)
        self.sections.addWidget(self.waiting)
        root.addLayout(self.sections)

        bar = box("noticeBar")
        bar_row = QHBoxLayout(bar)
        self.bar_row = bar_row
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
        self.highlight_timer = QTimer(self)
        self.highlight_timer.setSingleShot(True)
        self.highlight_timer.timeout.connect(lambda: self._highlight(False))
        self.rotate_timer = QTimer(self)
        self.rotate_timer.setInterval(ROTATE_S * 1000)
        self.rotate_timer.timeout.connect(self.rotate)
        self.rotate_timer.start()
        presenter.changed.connect(self.show_vm)
        presenter.called.connect(lambda _n, _w: self.flash())
        self._apply_size()
        self._highlight(False)
        self.retranslate()

    # ---- sizes --------------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        self._apply_size()
        super().resizeEvent(event)

    def _apply_size(self) -> None:
        px = text_sizes(max(self.width(), 1), max(self.height(), 1))
        if px == self._px:
            return
        self._px = px
        self._on_tick()
        gap = px["gap"]
        portrait = self.height() > self.width()
        self.setStyleSheet(_style(px))
        size_alarm_banner(self.alarms, px["legend"])
        self.top_row.setContentsMargins(gap * 2, gap // 2, gap * 2, gap // 2)
        self.bar_row.setContentsMargins(gap * 2, gap // 3, gap * 2, gap // 3)
        self.body.setDirection(
            QBoxLayout.Direction.TopToBottom if portrait else QBoxLayout.Direction.LeftToRight
        )
        side = gap if portrait else gap * 2
        self.body.setContentsMargins(side, gap, side, gap // 2)
        self.body.setSpacing(gap if portrait else gap * 2)
        self.sections.setContentsMargins(gap * 2, 0, gap * 2, gap // 2)
        self.sections.setSpacing(gap // 2)
        for section in (self.windows, self.waiting):
            section.set_gap(gap)
            # a landscape screen has room for one row of each; a portrait one for two
            section.pager.max_rows = 2 if portrait else 1
        if self._vm is not None:
            self.show_vm(self._vm)

    def _font(self, px: int, bold: bool = False) -> QFont:
        font = QFont(self.font())
        font.setPixelSize(px)
        font.setBold(bold)
        return font

    def _cell_size(self, texts: list[str], px: int, padding: int, bold: bool = True) -> QSize:
        """The size a cell needs for ``texts`` at ``px``: one line as wide as the widest; or,
        when that leaves room for one cell a row only, two lines at half the width (long
        English service names); or lines wrapped at the screen's width (a long name on a
        portrait screen)."""
        metrics = QFontMetrics(self._font(px, bold))
        widest = max((metrics.horizontalAdvance(t) for t in texts), default=px)
        gap = self._px["gap"]
        room = self.width() - 4 * gap - padding
        half = (room - gap - padding) // 2
        flags = int(Qt.TextFlag.TextWordWrap)

        def wrapped(width: int) -> int:
            return max(metrics.boundingRect(0, 0, width, 10 * px, flags, t).height() for t in texts)

        two_lines = 2 * metrics.height()
        halves = not bold and half >= metrics.horizontalAdvance("国" * 6)  # waiting cells only
        if widest <= half or (widest <= room and not (halves and wrapped(half) <= two_lines)):
            return QSize(widest + padding, metrics.height() + 6)
        width = half if halves and wrapped(half) <= two_lines else room
        return QSize(width + padding, wrapped(width) + 6)

    # ---- texts --------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Hall display"))
        self._call_head()
        self.recent_head.setText(self.tr("Recent calls"))
        self.windows.head.setText(self.tr("Windows"))
        self.waiting.head.setText(self.tr("People waiting"))
        for state, legend in self.legend_labels.items():
            legend.setText(window_state_text(state))
        self._on_tick()
        if self._vm is not None:
            self.show_vm(self._vm)

    def _call_head(self) -> None:
        on = self._highlighted
        self.now_calling.setText(self.tr("Now calling") if on else self.tr("Last call"))

    def _on_tick(self) -> None:
        chinese = self.presenter.languages.is_chinese()
        now = hall_clock(self.presenter.hall_timezone())
        short = self.height() > self.width()  # a portrait screen: no year, no seconds
        if chinese:
            weekday = "一二三四五六日"[now.date().dayOfWeek() - 1]
            date = now.toString("M月d日" if short else "yyyy年M月d日")
            text = f"{date} 星期{weekday} " + now.toString("HH:mm" if short else "HH:mm:ss")
        else:
            text = now.toString("ddd d MMM  HH:mm" if short else "ddd d MMM yyyy  HH:mm:ss")
        self.clock.setText(text)

    def _window_line(self, window: int) -> str:
        return fill(self.tr("Please go to window {window}"), window=str(window))

    def _window_name(self, window: int) -> str:
        return fill(self.tr("Window {window}"), window=str(window))

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
        px, gap = self._px, self._px["gap"]
        recent = [(call.number, self._window_name(call.window)) for call in vm.recent]
        self.recent.set_cells([RecentCell(n, w) for n, w in recent])
        numbers = self._cell_size([n for n, _w in recent], px["row"], 0)
        windows = self._cell_size([w for _n, w in recent], px["row"], 0, bold=False)
        self.recent.set_cell_size(
            QSize(numbers.width() + windows.width() + gap * 2, numbers.height())
        )
        cells = [(self._window_cell(w.number, w.current, w.state), w.state) for w in vm.windows]
        self._fill(self.windows.pager, [(t, f"cell_{s}") for t, s in cells], bold=True)
        waiting = [fill(self.tr("{name}: {n}"), name=s.name, n=str(s.waiting)) for s in vm.services]
        self._fill(self.waiting.pager, [(t, "waitingCell") for t in waiting], bold=False)
        self.notice.set_notice(vm.notice)
        portrait = self.height() > self.width()
        show_alarms(self.alarms, vm.alarms, most=1 if portrait else 2)
        # a portrait screen has no room for both under the latest call: alarms come first
        for widget in (self.recent_head, self.recent):
            widget.setVisible(not (portrait and vm.alarms))

    def _window_cell(self, number: int, current: str | None, state: str) -> str:
        shown = current if state in ("calling", "serving") and current else ""
        return fill(
            self.tr("{window} {state}"),
            window=fill(self.tr("No. {n}"), n=str(number)),
            state=shown or window_state_text(state),
        )

    def _fill(self, pager: Pager, cells: list[tuple[str, str]], bold: bool) -> None:
        row, gap = self._px["row"], self._px["gap"]
        pager.set_cells(
            [label(text, name, Qt.AlignmentFlag.AlignCenter, wrap=True) for text, name in cells]
        )
        size = self._cell_size([t for t, _n in cells], row, gap * 3, bold)
        pager.set_cell_size(size, max_cell_height=size.height())

    def recent_calls(self) -> list[tuple[str, str]]:
        """(number, window) of the recent calls, as listed (shown or not)."""
        cells = [c for c in self.recent.cells if isinstance(c, RecentCell)]
        return [(c.number.text(), c.where.text()) for c in cells]

    def window_cells(self) -> list[str]:
        """Every window's cell text, on whichever page it is."""
        return [c.text() for c in self.windows.pager.cells if isinstance(c, QLabel)]

    def rotate(self) -> None:
        """The next page of windows and of waiting counts (when they have several)."""
        for section in (self.windows, self.waiting):
            if section.pager.pages > 1:
                section.pager.next_page()

    # ---- a call -------------------------------------------------------------------------
    def flash(self) -> None:
        self._highlight(True)
        self.highlight_timer.start(round(self.highlight_s * 1000))
        self._flashes = FLASHES
        self.flash_timer.start()
        self._flash_step()

    def _highlight(self, on: bool) -> None:
        """A new call is "now calling" (amber) for ``highlight_s``, then the "last call"."""
        self._highlighted = on
        restyle(self.call_box, "callBox" if on else "callBoxQuiet")
        restyle(self.now_calling, "nowCalling" if on else "lastCall")
        self._call_head()

    def _flash_step(self) -> None:
        on = self._flashes % 2 == 0 and self._flashes > 0
        self._flashes -= 1
        if self._flashes <= 0:
            self.flash_timer.stop()
            on = False
        if self._highlighted:
            restyle(self.call_box, "callBoxFlash" if on else "callBox")
