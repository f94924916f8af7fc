"""Self-service kiosk (自助取号机): big touch targets, the number always on screen."""

from __future__ import annotations

import functools

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QBoxLayout,
    QGridLayout,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ui.messages import ahead_text, fill, service_desk_text, ticket_state_text, windows_text
from ui.presenters.kiosk import (
    AwayVM,
    BookingVM,
    GuideVM,
    HomeVM,
    KioskPresenter,
    PrintVM,
    ProgressVM,
    SlipVM,
)
from ui.search import matches
from ui.views.common import (
    BLUE,
    FIXED_SCREEN,
    GREEN,
    RED,
    Screen,
    box,
    button,
    clear,
    hall_clock,
    label,
    literal,
    problem_banner,
    restyle,
)
from ui.views.pager import Pager

IDLE_HOME_S = 60
BUNDLE_KEY = "bundle:"  # tiles are kept by code; a bundle's key cannot clash with a service
TICKET_HOME_S = 30
MESSAGE_S = 8


# The screens the sizes below are drawn for; other screens scale them (see scale_for).
PORTRAIT = (1080, 1920)
LANDSCAPE = (1920, 1500)
LARGE_TEXT = 1.3
SEARCH_FROM = 8  # a hall with more services than this gets 拼音查找


def scale_for(width: int, height: int) -> float:
    """How much bigger or smaller than the drawn sizes this screen's texts are."""
    base_w, base_h = PORTRAIT if height >= width else LANDSCAPE
    return min(width / base_w, height / base_h)


def _style(scale: float, number_scale: float) -> str:
    """The kiosk's sheet at ``scale``; the ticket number (already huge) at ``number_scale``,
    which 大字模式 leaves alone."""

    def px(size: int) -> str:
        return f"{max(1, round(size * scale))}px"

    return f"""
    QWidget#kiosk {{ background: #eef3f9; }}
    QLabel {{ color: #15253b; font-size: {px(30)}; }}
    QWidget#header {{ background: {BLUE}; }}
    QLabel#hallName {{ color: white; font-size: {px(44)}; font-weight: bold; }}
    QLabel#clock {{ color: white; font-size: {px(30)}; }}
    QPushButton#headerButton {{ color: white; background: transparent; border: 2px solid white;
        border-radius: 12px; font-size: {px(28)}; padding: {px(10)} {px(22)}; }}
    QLabel#prompt {{ font-size: {px(44)}; font-weight: bold; color: {BLUE}; }}
    QLabel#awayHall {{ font-size: {px(64)}; font-weight: bold; color: {BLUE}; }}
    QLabel#awayTitle {{ font-size: {px(48)}; font-weight: bold; color: #15253b; }}
    QLabel#awayDesk {{ font-size: {px(72)}; font-weight: bold; color: {RED}; }}
    QPushButton#service {{ background: white; border: 3px solid {BLUE}; border-radius: 24px;
        color: #15253b; font-size: {px(46)}; font-weight: bold; padding: {px(12)}; }}
    QPushButton#service:pressed {{ background: #d6e6fa; }}
    QLabel#serviceName {{ font-size: {px(46)}; font-weight: bold; color: #15253b; }}
    QLabel#serviceLine {{ font-size: {px(36)}; color: #3b4b61; }}
    QLabel#serviceName:disabled, QLabel#serviceLine:disabled {{ color: #8a94a3; }}
    QPushButton#service:disabled {{ border-color: #b0b8c4; color: #8a94a3; background: #f2f4f7; }}
    QPushButton#big {{ background: {BLUE}; color: white; border-radius: 20px;
        font-size: {px(36)}; padding: {px(22)} {px(30)}; }}
    QPushButton#bigGhost {{ background: white; color: {BLUE}; border: 3px solid {BLUE};
        border-radius: 20px; font-size: {px(34)}; padding: {px(18)} {px(24)}; }}
    QPushButton#bigGhost:disabled {{ color: #8a94a3; border-color: #b0b8c4; }}
    QLabel#pageLabel {{ font-size: {px(32)}; color: #3b4b61; }}
    QPushButton#category {{ background: white; color: {BLUE}; border: 2px solid {BLUE};
        border-radius: 14px; font-size: {px(30)}; padding: {px(6)} {px(10)}; }}
    QPushButton#category:checked {{ background: {BLUE}; color: white; }}
    QPushButton#key {{ background: white; color: #15253b; border: 2px solid #9fb3cc;
        border-radius: 12px; font-size: {px(36)}; font-weight: bold; }}
    QPushButton#key:pressed {{ background: #d6e6fa; }}
    QLabel#query {{ background: white; border: 2px solid {BLUE}; border-radius: 12px;
        font-size: {px(34)}; padding: {px(8)}; }}
    QLabel#hint {{ font-size: {px(30)}; color: #3b4b61; }}
    QLabel#citizen {{ background: #fff4d6; border: 2px solid #e0a800; border-radius: 14px;
        font-size: {px(34)}; padding: {px(16)}; }}
    QLabel#message {{ background: {RED}; color: white; border-radius: 14px;
        font-size: {px(34)}; padding: {px(18)}; }}
    QLabel#wait {{ background: {BLUE}; color: white; border-radius: 14px;
        font-size: {px(40)}; font-weight: bold; padding: {px(18)}; }}
    QLabel#notice {{ background: #dfe9f5; color: #15253b; font-size: {px(28)}; padding: {px(14)}; }}
    QLabel#yourNumber {{ font-size: {px(44)}; color: #3b4b61; }}
    QLabel#number {{ font-size: {round(260 * number_scale)}px; font-weight: bold; color: {BLUE}; }}
    QLabel#slipService {{ font-size: {px(52)}; font-weight: bold; }}
    QLabel#slipLine {{ font-size: {px(40)}; }}
    QLabel#priority {{ background: {GREEN}; color: white; border-radius: 12px;
        font-size: {px(34)}; padding: {px(8)} {px(20)}; }}
    QLabel#printOk {{ color: {GREEN}; font-size: {px(38)}; }}
    QLabel#printBad {{ background: #fdecea; color: {RED}; border: 3px solid {RED};
        border-radius: 14px; font-size: {px(38)}; font-weight: bold; padding: {px(16)}; }}
    QLabel#guideTitle {{ font-size: {px(52)}; font-weight: bold; color: {BLUE}; }}
    QLabel#guideHead {{ font-size: {px(38)}; font-weight: bold; }}
    QLabel#guideItem {{ font-size: {px(34)}; }}
    """


class ServiceButton(QPushButton):
    """A big service tile whose name wraps (long names stay inside the tile, never elided);
    the kiosk's pager gives it its size."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("service")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 8, 16, 8)
        layout.setSpacing(4)
        self.name = label("", "serviceName", Qt.AlignmentFlag.AlignCenter, wrap=True)
        self.line = label("", "serviceLine", Qt.AlignmentFlag.AlignCenter, wrap=True)
        for widget in (self.name, self.line):
            widget.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
            layout.addWidget(widget)

    def set_texts(self, name: str, line: str) -> None:
        self.name.setText(name)
        self.line.setText(line)

    def text(self) -> str:  # what a screen reader (and a test) reads
        return f"{self.name.text()}\n{self.line.text()}"


class CurrentPage(QStackedWidget):
    """Pages whose minimum size is the page on screen (a stack asks for its largest page,
    so one long guide would push the home screen below the edge)."""

    def __init__(self) -> None:
        super().__init__()
        self.currentChanged.connect(self._shown)

    def _shown(self, _index: int) -> None:
        for i in range(self.count()):
            page = self.widget(i)
            assert page is not None  # (i is below count())
            shown = page is self.currentWidget()
            policy = QSizePolicy.Policy.Preferred if shown else QSizePolicy.Policy.Ignored
            page.setSizePolicy(policy, policy)
        self.updateGeometry()

    def minimumSizeHint(self) -> QSize:
        page = self.currentWidget()
        return page.minimumSizeHint() if page is not None else QSize(0, 0)

    def sizeHint(self) -> QSize:
        return self.minimumSizeHint()


class KioskView(Screen):
    def __init__(self, presenter: KioskPresenter, idle_s: int = IDLE_HOME_S) -> None:
        super().__init__("kiosk")
        self.presenter = presenter
        self.large_font = False
        self._home: HomeVM | None = None
        self._slip: SlipVM | None = None
        self._print: PrintVM | None = None
        self._guide: GuideVM | None = None
        self._service_buttons: dict[str, ServiceButton] = {}
        self._countdown = 0
        self._choosing_guide = False
        self._scale = 0.0
        self._away = False  # the hall system is out of reach: the away page stays up

        root = QVBoxLayout(self)
        root.setSizeConstraint(FIXED_SCREEN)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        root.addWidget(self._build_header())
        self.hub_problem = problem_banner(presenter.hub_problem, 34)
        root.addWidget(self.hub_problem)
        self.message = label("", "message", Qt.AlignmentFlag.AlignCenter, wrap=True)
        self.message.hide()
        self.wait = label("", "wait", Qt.AlignmentFlag.AlignCenter, wrap=True)
        self.wait.hide()  # shown while a ticket is being issued and the hub has not answered
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(40, 24, 40, 24)
        body_layout.addWidget(self.message)
        body_layout.addWidget(self.wait)
        self.pages = CurrentPage()
        body_layout.addWidget(self.pages, 1)
        root.addWidget(body, 1)
        self.notice = label("", "notice", wrap=True)
        root.addWidget(self.notice)

        self.home_page = self._build_home()
        self.ticket_page = self._build_ticket()
        self.guide_page = self._build_guide()
        self.progress_page = self._build_progress()
        self.away_page = self._build_away()
        self.booking_page = self._build_booking()
        for page in (
            self.home_page,
            self.ticket_page,
            self.guide_page,
            self.progress_page,
            self.away_page,
            self.booking_page,
        ):
            self.pages.addWidget(page)

        self.idle_timer = QTimer(self)
        self.idle_timer.setSingleShot(True)
        self.idle_timer.setInterval(idle_s * 1000)
        self.idle_timer.timeout.connect(presenter.idle)
        self.tick = QTimer(self)
        self.tick.setInterval(1000)
        self.tick.timeout.connect(self._on_tick)
        self.tick.start()
        self.message_timer = QTimer(self)
        self.message_timer.setSingleShot(True)
        self.message_timer.setInterval(MESSAGE_S * 1000)
        self.message_timer.timeout.connect(self.message.hide)
        app = QApplication.instance()
        assert app is not None  # (a view exists only inside a running application)
        app.installEventFilter(self)  # any touch restarts the idle timer

        presenter.home_changed.connect(self.show_home_vm)
        presenter.ticket_shown.connect(self.show_ticket)
        presenter.print_changed.connect(self.show_print)
        presenter.guide_shown.connect(self.show_guide)
        presenter.progress_shown.connect(self.show_progress)
        presenter.booking_offered.connect(self.show_booking)
        presenter.message.connect(self.show_message)
        presenter.go_home.connect(self.go_home)
        presenter.busy.connect(self.show_busy)
        presenter.away_changed.connect(self.show_away)
        self._apply_size()
        self.retranslate()

    # ---- building -----------------------------------------------------------------------
    def _build_header(self) -> QWidget:
        header = box("header")
        layout = QHBoxLayout(header)
        layout.setContentsMargins(36, 20, 36, 20)
        self.hall_name = label("", "hallName", wrap=True)
        self.clock = label("", "clock")
        self.large_button = button("headerButton", self.toggle_large_font)
        self.language_button = button("headerButton", self.presenter.languages.toggle)
        layout.addWidget(self.hall_name, 1)
        layout.addWidget(self.clock)
        layout.addSpacing(20)
        layout.addWidget(self.large_button)
        layout.addWidget(self.language_button)
        return header

    def _build_home(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setSpacing(22)
        self.prompt = label("", "prompt", Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.prompt)
        self.citizen_row = QWidget()
        row = QHBoxLayout(self.citizen_row)
        row.setContentsMargins(0, 0, 0, 0)
        self.citizen = label("", "citizen", wrap=True)
        self.citizen_cancel = button("bigGhost", self.presenter.clear_citizen)
        row.addWidget(self.citizen, 1)
        row.addWidget(self.citizen_cancel)
        self.citizen_row.hide()
        layout.addWidget(self.citizen_row)
        self.filter_row = QWidget()
        filters = QHBoxLayout(self.filter_row)
        filters.setContentsMargins(0, 0, 0, 0)
        self.category_bar = Pager(max_columns=5, spacing=12, complete=True)
        self.search_button = button("bigGhost", self._toggle_search)
        filters.addWidget(self.category_bar, 1)
        filters.addWidget(self.search_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.filter_row)
        layout.addWidget(self._build_search())
        self.no_match = label("", "hint", Qt.AlignmentFlag.AlignCenter, wrap=True)
        self.no_match.hide()
        layout.addWidget(self.no_match)
        self.tiles = Pager(max_columns=2, spacing=24)
        layout.addWidget(self.tiles, 1)
        self.page_row = QWidget()
        pages = QHBoxLayout(self.page_row)
        pages.setContentsMargins(0, 0, 0, 0)
        self.previous_button = button("bigGhost", self.tiles.previous_page)
        self.page_label = label("", "pageLabel", Qt.AlignmentFlag.AlignCenter)
        self.next_button = button("bigGhost", self.tiles.next_page)
        pages.addWidget(self.previous_button)
        pages.addWidget(self.page_label, 1)
        pages.addWidget(self.next_button)
        layout.addWidget(self.page_row)
        self.tiles.page_changed.connect(self._show_page)
        self.card_hint = label("", "hint", wrap=True)
        self.qr_hint = label("", "hint", wrap=True)
        self.hints = QBoxLayout(QBoxLayout.Direction.TopToBottom)  # side by side in landscape
        self.hints.addWidget(self.card_hint, 1)
        self.hints.addWidget(self.qr_hint, 1)
        layout.addLayout(self.hints)
        self.printer_problem = label("", "printBad", wrap=True)
        self.printer_problem.hide()
        layout.addWidget(self.printer_problem)
        self.home_buttons = QWidget()
        buttons = QHBoxLayout(self.home_buttons)
        buttons.setContentsMargins(0, 0, 0, 0)
        self.guide_button = button("bigGhost", self._open_guide)
        self.progress_button = button("bigGhost", self._open_progress_hint)
        buttons.addWidget(self.guide_button)
        buttons.addWidget(self.progress_button)
        layout.addWidget(self.home_buttons)
        return page

    def _build_search(self) -> QWidget:
        """Letters to find a service by pinyin initials (社保 → S B) or English words."""
        self.search_panel = QWidget()
        column = QVBoxLayout(self.search_panel)
        column.setContentsMargins(0, 0, 0, 0)
        self.query = label("", "query", wrap=True)
        column.addWidget(self.query)
        keys = QGridLayout()
        keys.setSpacing(8)
        self.letter_buttons: dict[str, QPushButton] = {}
        for i in range(26):
            letter = chr(ord("A") + i)
            key = button("key", functools.partial(self._type, letter))
            key.setText(letter)
            keys.addWidget(key, i // 9, i % 9)
            self.letter_buttons[letter] = key
        self.backspace_button = button("key", self._backspace)
        keys.addWidget(self.backspace_button, 2, 8)
        column.addLayout(keys)
        self.search_panel.hide()
        self._letters = ""
        self._category: str | None = None
        return self.search_panel

    def _build_away(self) -> QWidget:
        """While the hall system is out of reach: the hall's name and where to go instead."""
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setSpacing(40)
        center = Qt.AlignmentFlag.AlignCenter
        self.away_hall = label("", "awayHall", center, wrap=True)
        self.away_title = label("", "awayTitle", center, wrap=True)
        self.away_desk = label("", "awayDesk", center, wrap=True)
        self.away_retry = label("", "hint", center, wrap=True)
        layout.addStretch(1)
        for widget in (self.away_hall, self.away_title, self.away_desk, self.away_retry):
            layout.addWidget(widget)
        layout.addStretch(2)
        return page

    def _build_ticket(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setSpacing(18)
        center = Qt.AlignmentFlag.AlignCenter
        self.your_number = label("", "yourNumber", center)
        self.number = label("", "number", center)
        self.slip_service = label("", "slipService", center, wrap=True)
        self.slip_bundle = label("", "slipLine", center, wrap=True)
        self.priority = label("", "priority", center)
        self.slip_ahead = label("", "slipLine", center, wrap=True)
        self.slip_windows = label("", "slipLine", center, wrap=True)
        self.print_state = label("", "printOk", center, wrap=True)
        self.reprint_button = button("big", self.presenter.reprint)
        self.done_button = button("bigGhost", self.presenter.idle)
        layout.addStretch(1)
        for widget in (self.your_number, self.number, self.slip_service, self.slip_bundle):
            layout.addWidget(widget)
        layout.addWidget(self.priority, 0, center)
        for widget in (self.slip_ahead, self.slip_windows):
            layout.addWidget(widget)
        layout.addSpacing(20)
        layout.addWidget(self.print_state)
        layout.addWidget(self.reprint_button, 0, center)
        layout.addStretch(1)
        layout.addWidget(self.done_button, 0, center)
        return page

    def _build_guide(self) -> QWidget:
        """The guide: title and materials, then time, fee, windows and forms (beside them on
        a landscape screen, below them on a portrait one)."""
        page = QWidget()
        layout = QVBoxLayout(page)
        self.guide_title = label("", "guideTitle", wrap=True)
        layout.addWidget(self.guide_title)
        self.guide_columns = QBoxLayout(QBoxLayout.Direction.TopToBottom)
        first, second = QVBoxLayout(), QVBoxLayout()
        self.guide_materials_head = label("", "guideHead")
        self.guide_materials = label("", "guideItem", wrap=True)
        self.guide_time_head = label("", "guideHead")
        self.guide_time = label("", "guideItem", wrap=True)
        self.guide_fee_head = label("", "guideHead")
        self.guide_fee = label("", "guideItem", wrap=True)
        self.guide_windows_head = label("", "guideHead")
        self.guide_windows = label("", "guideItem", wrap=True)
        self.guide_forms_head = label("", "guideHead")
        self.guide_forms = QHBoxLayout()
        for widget in (self.guide_materials_head, self.guide_materials):
            first.addWidget(widget)
        for widget in (
            self.guide_time_head,
            self.guide_time,
            self.guide_fee_head,
            self.guide_fee,
            self.guide_windows_head,
            self.guide_windows,
            self.guide_forms_head,
        ):
            second.addWidget(widget)
        second.addLayout(self.guide_forms)
        for column in (first, second):
            column.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.guide_columns.addLayout(first, 1)
        self.guide_columns.addLayout(second, 1)
        layout.addLayout(self.guide_columns)
        layout.addStretch(1)
        self.guide_take = button("big", self._take_from_guide)
        self.guide_back = button("bigGhost", self.go_home)
        self.guide_other = button("bigGhost", self._open_guide)
        layout.addWidget(self.guide_take)
        row = QHBoxLayout()
        row.addWidget(self.guide_back)
        row.addWidget(self.guide_other)
        layout.addLayout(row)
        return page

    def _build_progress(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        center = Qt.AlignmentFlag.AlignCenter
        self.progress_title = label("", "yourNumber", center)
        self.progress_number = label("", "number", center)
        self.progress_service = label("", "slipService", center, wrap=True)
        self.progress_state = label("", "slipLine", center)
        self.progress_line = label("", "slipLine", center, wrap=True)
        self.progress_back = button("bigGhost", self.go_home)
        layout.addStretch(1)
        for widget in (
            self.progress_title,
            self.progress_number,
            self.progress_service,
            self.progress_state,
            self.progress_line,
        ):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(self.progress_back, 0, center)
        return page

    def _build_booking(self) -> QWidget:
        """A swiped card with an appointment today: check in, or take another service."""
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setSpacing(24)
        center = Qt.AlignmentFlag.AlignCenter
        self.booking_title = label("", "prompt", center, wrap=True)
        self.booking_service = label("", "awayHall", center, wrap=True)
        self.booking_slot = label("", "slipService", center, wrap=True)
        self.booking_question = label("", "slipLine", center, wrap=True)
        self.booking_check_in = button("big", self.presenter.check_in_booking)
        self.booking_other = button("bigGhost", self.presenter.decline_booking)
        layout.addStretch(1)
        for widget in (
            self.booking_title,
            self.booking_service,
            self.booking_slot,
            self.booking_question,
        ):
            layout.addWidget(widget)
        layout.addSpacing(40)
        layout.addWidget(self.booking_check_in, 0, center)
        layout.addStretch(1)
        layout.addWidget(self.booking_other, 0, center)
        return page

    # ---- texts --------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.message.hide()  # a message in the other language is stale
        self.setWindowTitle(self.tr("Self-service kiosk"))
        self.large_button.setText(
            self.tr("Normal text") if self.large_font else self.tr("Large text")
        )
        self.language_button.setText("English" if self.presenter.languages.is_chinese() else "中文")
        self.wait.setText(self.tr("Please wait, your number is being issued…"))
        self._retext_home()
        self.citizen_cancel.setText(self.tr("Cancel"))
        self.card_hint.setText(
            self.tr("ID card: place your card on the reader, then choose a service")
        )
        self.qr_hint.setText(self.tr("Appointment: scan the QR code of your booking to check in"))
        self.guide_other.setText(self.tr("Other services"))
        self.previous_button.setText(self.tr("Previous page"))
        self.backspace_button.setText("⌫")
        self._retext_search()
        self.next_button.setText(self.tr("Next page"))
        self.progress_button.setText(self.tr("My ticket's progress"))
        self.your_number.setText(self.tr("Your number"))
        self.reprint_button.setText(self.tr("Print again"))
        self.guide_materials_head.setText(self.tr("Required materials"))
        self.guide_time_head.setText(self.tr("Time limit"))
        self.guide_fee_head.setText(self.tr("Fee"))
        self.guide_windows_head.setText(self.tr("Where"))
        self.guide_forms_head.setText(self.tr("Sample forms"))
        self.guide_take.setText(self.tr("Take a ticket for this service"))
        self.guide_back.setText(self.tr("Back"))
        self.booking_question.setText(self.tr("Check in now and take your appointment number?"))
        self.booking_check_in.setText(self.tr("Check in"))
        self.booking_other.setText(self.tr("No, choose another service"))
        self.progress_title.setText(self.tr("Ticket progress"))
        self.progress_back.setText(self.tr("Back"))
        self.away_title.setText(self.tr("Self-service numbers are not available right now"))
        self.away_desk.setText(service_desk_text())
        self.away_retry.setText(
            self.tr("Reconnecting to the hall system; this screen comes back by itself")
        )
        self._on_tick()
        if self._home is not None:
            self.show_home_vm(self._home)
        if self._slip is not None:
            self.show_ticket(self._slip, switch=False)
        if self._print is not None:
            self.show_print(self._print)
        self._update_done_button()

    def _retext_home(self) -> None:
        """The home screen takes tickets, or (after 办事指南) opens the guide of a tile."""
        if self._choosing_guide:
            self.prompt.setText(self.tr("Choose a service to read its guide"))
            self.guide_button.setText(self.tr("Back to taking a number"))
        else:
            self.prompt.setText(self.tr("Please choose a service"))
            self.guide_button.setText(self.tr("Service guides"))

    def _retext_search(self) -> None:
        searching = self.search_panel.isVisibleTo(self)
        self.search_button.setText(self.tr("Close search") if searching else self.tr("Search"))
        self.query.setText(
            fill(self.tr("Find: {letters}"), letters=self._letters)
            if self._letters
            else self.tr("Type the first letters of the pinyin, e.g. SB for 社保")
        )
        self.no_match.setText(self.tr("No service matches; please check the letters"))

    def _on_tick(self) -> None:
        fmt = "yyyy-MM-dd HH:mm" if self.presenter.languages.is_chinese() else "d MMM yyyy HH:mm"
        self.clock.setText(hall_clock(self.presenter.hall_timezone()).toString(fmt))
        if self.pages.currentWidget() is self.ticket_page and self._countdown > 0:
            self._countdown -= 1
            self._update_done_button()
            if self._countdown == 0:
                self.presenter.idle()

    def _update_done_button(self) -> None:
        self.done_button.setText(fill(self.tr("Done ({seconds} s)"), seconds=str(self._countdown)))

    # ---- presenter → screen -------------------------------------------------------------
    def show_home_vm(self, vm: HomeVM) -> None:
        self._home = vm
        self.hall_name.setText(vm.hall_name)
        self.notice.setText(vm.notice)
        self.notice.setVisible(bool(vm.notice))
        if vm.citizen:
            self.citizen.setText(
                fill(self.tr("ID card read: {name}. Please choose a service."), name=vm.citizen)
            )
        self.citizen_row.setVisible(bool(vm.citizen))
        if vm.printer_problem:
            self.printer_problem.setText(
                fill(
                    self.tr("Ticket printer: {problem}. Your number is still shown on screen."),
                    problem=vm.printer_problem,
                )
            )
        self.printer_problem.setVisible(bool(vm.printer_problem))
        codes = [t.code for t in vm.tiles] + [BUNDLE_KEY + b.code for b in vm.bundles]
        if codes != list(self._service_buttons):
            self._rebuild_tiles(vm)
        self._show_categories(vm)
        for tile in vm.tiles:
            if tile.sold_out:
                line = self.tr("Today's numbers are all taken")
            elif not tile.open_now:
                line = tile.opening or self.tr("Not open now")
            else:
                line = fill(self.tr("{n} waiting"), n=str(tile.waiting))
            tile_button = self._service_buttons[tile.code]
            tile_button.set_texts(tile.name, line)
            tile_button.setEnabled(tile.takeable)
        for bundle in vm.bundles:
            bundle_button = self._service_buttons[BUNDLE_KEY + bundle.code]
            line = bundle.steps if bundle.takeable else bundle.opening or self.tr("Not open now")
            bundle_button.set_texts(fill(self.tr("One visit: {name}"), name=bundle.name), line)
            bundle_button.setEnabled(bundle.takeable)

    def _rebuild_tiles(self, vm: HomeVM) -> None:
        """The hall's services changed (a new config): one tile each, paged as they fit."""
        self._service_buttons = {}
        for tile in vm.tiles:
            tile_button = ServiceButton()
            tile_button.clicked.connect(functools.partial(self._tile_tapped, tile.code))
            self._service_buttons[tile.code] = tile_button
        for bundle in vm.bundles:  # after the services: one ticket through several
            bundle_button = ServiceButton()
            bundle_button.clicked.connect(
                functools.partial(self.presenter.take_bundle, bundle.code)
            )
            self._service_buttons[BUNDLE_KEY + bundle.code] = bundle_button
        self.tiles.set_cells(list(self._service_buttons.values()))

    def _show_categories(self, vm: HomeVM) -> None:
        """The category bar (a hall config with categories): 全部 and one button each."""
        names = [("", self.tr("All"))] + [(k.code, k.name) for k in vm.categories]
        if not vm.categories:
            names = []
        codes = [code for code, _name in names]
        if codes != [b.property("code") for b in self.category_bar.cells]:
            cells: list[QWidget] = []
            for code in codes:
                category = button("category", functools.partial(self._choose_category, code))
                category.setProperty("code", code)
                category.setCheckable(True)
                cells.append(category)
            self.category_bar.set_cells(cells)
        for cell, (code, name) in zip(self.category_bar.cells, names, strict=True):
            assert isinstance(cell, QPushButton)
            cell.setText(literal(name))
            cell.setChecked(code == (self._category or ""))
        self.category_bar.fit_cells_to_content()
        self.category_bar.setVisible(bool(vm.categories))
        self.search_button.setVisible(len(vm.tiles) > SEARCH_FROM)
        self.filter_row.setVisible(bool(vm.categories) or len(vm.tiles) > SEARCH_FROM)
        self._filter()

    def _choose_category(self, code: str) -> None:
        self._category = code or None
        for cell in self.category_bar.cells:
            if isinstance(cell, QPushButton):
                cell.setChecked(cell.property("code") == code)
        self._filter()

    def _toggle_search(self) -> None:
        self._show_search(not self.search_panel.isVisibleTo(self))

    def _show_search(self, on: bool) -> None:
        """The letter keys take the place of the hints and the guide/progress buttons."""
        self.search_panel.setVisible(on)
        for widget in (self.card_hint, self.qr_hint, self.home_buttons):
            widget.setVisible(not on)
        self._letters = ""
        self._retext_search()
        self._filter()

    def _type(self, letter: str) -> None:
        self._letters = (self._letters + letter)[:12]
        self._retext_search()
        self._filter()

    def _backspace(self) -> None:
        self._letters = self._letters[:-1]
        self._retext_search()
        self._filter()

    def _filter(self) -> None:
        """The tiles of the chosen category that match the letters typed, in hall order;
        the bundles after them (under 全部 only)."""
        if self._home is None:
            return
        allowed = None
        for category in self._home.categories:
            if category.code == self._category:
                allowed = set(category.services)
        shown: list[QWidget] = [
            self._service_buttons[tile.code]
            for tile in self._home.tiles
            if (allowed is None or tile.code in allowed) and matches(self._letters, tile.keys)
        ]
        if allowed is None and not self._choosing_guide:  # a bundle has no guide of its own
            shown += [
                self._service_buttons[BUNDLE_KEY + bundle.code]
                for bundle in self._home.bundles
                if matches(self._letters, bundle.keys)
            ]
        self.tiles.set_cells(shown, delete_old=False)
        self.no_match.setVisible(not shown)

    def _tile_tapped(self, code: str) -> None:
        if self._choosing_guide:
            self.presenter.guide(code)
        else:
            self.presenter.take(code)

    def _show_page(self, page: int, pages: int) -> None:
        self.page_row.setVisible(pages > 1)
        self.page_label.setText(
            fill(self.tr("Page {page} of {pages}"), page=str(page + 1), pages=str(pages))
        )

    def show_ticket(self, vm: SlipVM, switch: bool = True) -> None:
        self._slip = vm
        self.number.setText(vm.number)
        self.slip_service.setText(vm.service_name)
        self.slip_bundle.setText(vm.bundle)
        self.slip_bundle.setVisible(bool(vm.bundle))
        self.priority.setText(self.tr("Priority (green channel)"))
        self.priority.setVisible(vm.priority != "none")
        self.slip_ahead.setText(ahead_text(vm.people_ahead, vm.estimated_wait_min))
        self.slip_windows.setText(
            fill(
                self.tr("Please listen for your number and go to {windows}"),
                windows=windows_text(vm.windows),
            )
        )
        if switch:
            self.message.hide()
            self._countdown = TICKET_HOME_S
            self._update_done_button()
            self.pages.setCurrentWidget(self.ticket_page)

    def show_print(self, vm: PrintVM) -> None:
        self._print = vm
        failed = vm.state == "failed"
        texts = {
            "printing": self.tr("Printing your ticket…"),
            "printed": self.tr("Please take your ticket slip"),
            "none": self.tr("Please remember your number"),
            "failed": fill(
                self.tr(
                    "Printer problem: {reason}. Please remember number {number}, or print again."
                ),
                reason=vm.reason,
                number=vm.number,
            ),
        }
        restyle(self.print_state, "printBad" if failed else "printOk")
        self.print_state.setText(texts.get(vm.state, ""))
        self.reprint_button.setVisible(failed)

    def show_guide(self, vm: GuideVM) -> None:
        self._guide = vm
        self.guide_title.setText(vm.name)
        self.guide_materials.setText("\n".join(f"{i}. {m}" for i, m in enumerate(vm.materials, 1)))
        self.guide_time.setText(vm.time_limit or "—")
        self.guide_fee.setText(vm.fee or "—")
        self.guide_windows.setText(windows_text(vm.windows))
        clear(self.guide_forms)
        for path in vm.sample_forms:
            image = label()
            image.setPixmap(QPixmap(path).scaledToHeight(round(360 * self._scale)))
            self.guide_forms.addWidget(image)
        if not vm.sample_forms:
            self.guide_forms.addWidget(
                label(self.tr("No sample forms for this service"), "guideItem", wrap=True)
            )
        self._choosing_guide = False
        self.pages.setCurrentWidget(self.guide_page)

    def show_progress(self, vm: ProgressVM) -> None:
        self.progress_number.setText(vm.number)
        self.progress_service.setText(
            f"{vm.service_name}\n{vm.bundle}" if vm.bundle else vm.service_name
        )
        self.progress_state.setText(ticket_state_text(vm.state))
        if vm.state == "waiting":
            line = ahead_text(vm.people_ahead, vm.estimated_wait_min)
        elif vm.window is not None:
            line = fill(self.tr("Please go to window {window}"), window=str(vm.window))
        else:
            line = ""
        self.progress_line.setText(line)
        self.pages.setCurrentWidget(self.progress_page)

    def show_booking(self, vm: BookingVM) -> None:
        self.booking_title.setText(
            fill(self.tr("{citizen}, you have an appointment today"), citizen=vm.citizen)
        )
        self.booking_service.setText(vm.service_name)
        self.booking_slot.setText(fill(self.tr("Booked time {slot}"), slot=vm.slot))
        self.message.hide()
        self.pages.setCurrentWidget(self.booking_page)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.message_timer.start()

    def show_busy(self, busy: bool) -> None:
        """A tap is being served (a terminal waiting for the hub): please wait."""
        if busy:
            self.message.hide()
        self.wait.setVisible(busy)

    def show_away(self, vm: AwayVM | None) -> None:
        """The hub is away (``vm``): this page, whatever the citizen was doing; None: home."""
        self._away = vm is not None
        if vm is None:
            if self.pages.currentWidget() is self.away_page:
                self.go_home()
            return
        self.away_hall.setText(vm.hall_name)
        if vm.hall_name and not self.hall_name.text():
            self.hall_name.setText(vm.hall_name)
        self.message.hide()
        self.wait.hide()
        self.pages.setCurrentWidget(self.away_page)

    def go_home(self) -> None:
        self._choosing_guide = False
        self._category = None
        self._show_search(False)
        if self._home is not None:
            self._show_categories(self._home)
        self._retext_home()
        self.message.hide()
        self._slip = None
        self._print = None
        self.pages.setCurrentWidget(self.away_page if self._away else self.home_page)

    # ---- local UI state -----------------------------------------------------------------
    def _open_guide(self) -> None:
        """Guides are chosen on the home screen's tiles (a tap opens the guide, no ticket)."""
        self._choosing_guide = not (
            self._choosing_guide and self.pages.currentWidget() is self.home_page
        )
        self.message.hide()
        self.pages.setCurrentWidget(self.home_page)
        self._retext_home()
        self._filter()

    def _take_from_guide(self) -> None:
        if self._guide is not None:
            self.presenter.take(self._guide.code)

    def _open_progress_hint(self) -> None:
        self.show_message(self.tr("Scan the QR code on your ticket slip to see its progress"))

    def toggle_large_font(self) -> None:
        self.large_font = not self.large_font
        self._apply_size()
        self.retranslate()

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._apply_size()
        super().resizeEvent(event)

    def _apply_size(self) -> None:
        """Texts and tiles sized from the screen (and 大字模式), not fixed pixels."""
        screen_scale = scale_for(self.width(), self.height())
        scale = screen_scale * (LARGE_TEXT if self.large_font else 1)
        # a narrow window (the demo's, or 大字模式 on a small kiosk) keeps the hall name
        # readable and drops the clock
        self.clock.setVisible(self.width() / scale >= 900)
        if abs(scale - self._scale) < 0.005:
            return
        self._scale = scale
        self.setStyleSheet(_style(scale, screen_scale))
        landscape = self.width() > self.height()
        across = QBoxLayout.Direction.LeftToRight if landscape else QBoxLayout.Direction.TopToBottom
        self.guide_columns.setDirection(across)
        self.hints.setDirection(across)
        self.tiles.max_columns = 4 if landscape else 2
        self.tiles.spacing = round(24 * scale)
        self.category_bar.spacing = round(12 * scale)
        self.category_bar.fit_cells_to_content()
        self.tiles.set_cell_size(
            QSize(round(360 * scale), round(215 * scale) + 20), max_cell_height=round(380 * scale)
        )

    def service_button(self, code: str) -> ServiceButton:
        return self._service_buttons[code]

    def bundle_button(self, code: str) -> ServiceButton:
        return self._service_buttons[BUNDLE_KEY + code]

    def service_codes(self) -> list[str]:
        """The services on the home screen (none until the hall was first read)."""
        return list(self._service_buttons)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (
            QEvent.Type.MouseButtonPress,
            QEvent.Type.KeyPress,
            QEvent.Type.TouchBegin,
        ):
            self.idle_timer.start()
        return False
