"""Kiosk presenter: take a ticket (button, ID card, appointment QR), guides, progress.

The ticket is committed by the core before its number reaches the screen (a number shown
to a citizen is in the store); printing runs afterwards on the printer's worker thread and
never holds the number back.

On a terminal the issue runs off the GUI thread (the hub may take up to ~15 s of retries):
the kiosk says "please wait" (``busy``) meanwhile, ignores further taps, and shows the
number as soon as the hub answers. No answer at all means the number *may* exist: the
citizen is told to ask the staff, never that it failed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, Signal

from agent import commands as c
from agent.config import HallConfig
from agent.errors import HallError
from agent.privacy import citizen_hash
from ui.core import Background, CoreClient
from ui.i18n import Languages
from ui.messages import (
    bundle_leg_text,
    device_reason_text,
    error_text,
    fill,
    issue_failed_text,
    opening_text,
    service_desk_text,
    unreachable_text,
)
from ui.ports import CardRead, DevicePort, PrintOutcome, SlipLayout
from ui.presenters.base import HallReading, Presenter, reach_error
from ui.search import search_keys

log = logging.getLogger(__name__)
_keys = functools.lru_cache(maxsize=1024)(search_keys)  # pinyin of a name, once per name

TICKET_QR_PREFIX = "HT1:"


@dataclass(frozen=True)
class ServiceTile:
    code: str
    name: str
    waiting: int
    open_now: bool
    sold_out: bool
    windows: list[int]
    keys: tuple[str, ...] = ()  # what the service is found by (ui.search)
    opening: str = ""  # translated, for a closed service: why, and when it opens next

    @property
    def takeable(self) -> bool:
        return self.open_now and not self.sold_out


@dataclass(frozen=True)
class CategoryVM:
    code: str
    name: str
    services: tuple[str, ...]


@dataclass(frozen=True)
class BundleTile:
    """A "one thing" bundle (一件事): one ticket through its services in turn."""

    code: str
    name: str
    steps: str  # the services' names in order, translated
    takeable: bool
    opening: str = ""  # translated, when a service of the bundle is closed
    keys: tuple[str, ...] = ()  # what the bundle is found by (ui.search)


@dataclass(frozen=True)
class HomeVM:
    hall_name: str
    tiles: list[ServiceTile]
    citizen: str | None  # masked name of the card swiped, waiting for a service choice
    notice: str
    printer_problem: str  # translated, empty when fine
    categories: list[CategoryVM] = field(default_factory=list)
    bundles: list[BundleTile] = field(default_factory=list)


@dataclass(frozen=True)
class SlipVM:
    number: str
    service_name: str
    people_ahead: int
    estimated_wait_min: int
    windows: list[int]
    priority: str
    issued_at: str  # HH:MM
    citizen: str | None = None
    bundle: str = ""  # translated: which leg of which bundle


@dataclass(frozen=True)
class BookingVM:
    """A swiped card's appointment today, offered for check-in."""

    citizen: str  # masked name
    service_name: str
    slot: str  # HH:MM–HH:MM


@dataclass(frozen=True)
class PrintVM:
    number: str
    state: str  # printing | printed | failed | none
    reason: str = ""  # translated


@dataclass(frozen=True)
class GuideVM:
    code: str
    name: str
    materials: list[str]
    time_limit: str
    fee: str
    windows: list[int]
    sample_forms: list[str] = field(default_factory=list)  # image files that exist


@dataclass(frozen=True)
class AwayVM:
    """The hall system is out of reach (a terminal's hub is down): no numbers here now."""

    hall_name: str


@dataclass(frozen=True)
class ProgressVM:
    number: str
    service_name: str
    state: str
    people_ahead: int
    estimated_wait_min: int
    window: int | None  # where to go: set only while the ticket is called or served
    bundle: str = ""  # translated: which leg of which bundle


# What the home screen shows: waiting counts, opening, caps, notices, the printer's health.
HOME_EVENTS = frozenset(
    {
        "TicketIssued",
        "TicketCalled",
        "ServiceFinished",
        "TicketNoShow",
        "TicketTransferred",
        "TicketCancelled",
        "TicketReactivated",
        "NoticePublished",
        "HallConfigApplied",
        "CalendarApplied",
        "BundleLegQueued",
        "DeviceStatusChanged",
        "WindowPaused",
        "WindowResumed",
        "StaffSignedIn",
        "StaffSignedOut",
    }
)


class KioskPresenter(Presenter):
    home_changed = Signal(object)  # HomeVM
    ticket_shown = Signal(object)  # SlipVM
    print_changed = Signal(object)  # PrintVM
    guide_shown = Signal(object)  # GuideVM
    progress_shown = Signal(object)  # ProgressVM
    booking_offered = Signal(object)  # BookingVM: the swiped card has an appointment today
    message = Signal(str)  # translated, for citizens
    go_home = Signal()
    busy = Signal(bool)  # a ticket is being issued and the hub has not answered yet
    away_changed = Signal(object)  # AwayVM while the hall system is out of reach, else None

    def __init__(
        self,
        core: CoreClient,
        devices: DevicePort,
        languages: Languages,
        config_dir: str | None = None,
        own_config: HallConfig | None = None,
    ) -> None:
        """``own_config``: this PC's copy of the hall config, for the hall's name while the
        hub is away before its config could be read."""
        super().__init__(core, languages)
        self.devices = devices
        self.config_dir = config_dir
        self.own_config = own_config
        self._printer = Background("kiosk-printer")
        self._citizen: CardRead | None = None
        self._offer: dict[str, Any] | None = None  # the card's booking on offer for check-in
        self._business_date: str | None = None  # of the last hall reading
        self._last: tuple[dict[str, Any], SlipLayout] | None = None
        self._print: PrintVM | None = None
        self._print_reason: str | None = None
        self._issuing = False  # a tap is being served: further taps are ignored
        self._waiting = False  # ...and the screen says "please wait"
        devices.card.connect(self.on_card)
        devices.code.connect(self.on_code)
        devices.status.connect(self.refresh_soon)
        self.hub_away_changed.connect(self._show_away)

    # ---- reading ------------------------------------------------------------------------
    def on_event(self, event: Any) -> None:
        if event.type in HOME_EVENTS:
            self.refresh_soon()

    def _show_away(self, away: bool) -> None:
        """The hub is away: the kiosk names the hall and sends citizens to the service desk
        (it cannot issue numbers now); back to the home screen once the hub answers."""
        if not away:
            self.away_changed.emit(None)
            return
        config = self.core.known_config() or self.own_config
        name = self.languages.pick(config.name_zh, config.name_en) if config else ""
        self.away_changed.emit(AwayVM(name))

    def on_language(self, _language: str) -> None:
        """The slip on screen is re-sent too: its service name and print state are texts."""
        if self.hub_away:
            self._show_away(True)
        self.refresh()
        if self._offer is not None:
            self.booking_offered.emit(self._booking_vm(self._offer))
        if self._last is not None:
            self.ticket_shown.emit(self._slip(self._last[0]))
            if self._print is not None:
                self._set_print(self._print.state, self._print_reason)

    def read_more(self) -> list[dict[str, Any]]:
        return self.core.notices()

    def show(self, reading: HallReading) -> None:
        status, config, live = reading.status, reading.config, reading.more
        self._business_date = status["business_date"]
        pick = self.languages.pick
        tiles = [
            ServiceTile(
                code=s["code"],
                name=pick(s["name_zh"], s["name_en"]),
                waiting=s["waiting"],
                open_now=s["open_now"],
                sold_out=s["issued"] >= s["daily_cap"],
                windows=s["windows"],
                keys=_keys(s["name_zh"], s["name_en"]),
                opening="" if s["open_now"] else self._opening(s, status["business_date"]),
            )
            for s in status["services"]
        ]
        categories = [
            CategoryVM(k.code, pick(k.name_zh, k.name_en), tuple(k.services))
            for k in config.categories
        ]
        by_code = {tile.code: tile for tile in tiles}
        bundles = []
        for b in status.get("bundles", []):
            legs = [by_code[code] for code in b["services"]]
            closed = next((t for t in legs if not t.open_now), None)
            bundles.append(
                BundleTile(
                    code=b["code"],
                    name=pick(b["name_zh"], b["name_en"]),
                    steps=" → ".join(t.name for t in legs),
                    takeable=closed is None and not legs[0].sold_out,
                    opening=f"{closed.name}: {closed.opening}" if closed else "",
                    keys=_keys(b["name_zh"], b["name_en"]),
                )
            )
        notice = pick(config.display.notice_zh, config.display.notice_en)
        if live:
            notice = pick(live[-1]["text_zh"], live[-1]["text_en"])
        problem = ""
        for device, (state, reason) in self.devices.states.items():
            if self.devices.where(device).get("kind") == "printer" and state != "online":
                problem = device_reason_text(reason or state)
        citizen = self._citizen.name_masked if self._citizen else None
        self.home_changed.emit(
            HomeVM(
                pick(config.name_zh, config.name_en),
                tiles,
                citizen,
                notice,
                problem,
                categories,
                bundles,
            )
        )

    def _opening(self, service: dict[str, Any], today: str) -> str:
        """Why a service is closed (a holiday's or closure's name) and when it opens next."""
        opening = opening_text(service["opens_at"], today)
        why = service.get("closed_by") or {}
        name = self.languages.pick(why.get("name_zh", ""), why.get("name_en", ""))
        return f"{name} · {opening}" if name else opening

    def _bundle_text(self, view: dict[str, Any]) -> str:
        if not view.get("bundle"):
            return ""
        name = self.languages.pick(view["bundle_name_zh"], view["bundle_name_en"])
        return bundle_leg_text(name, view["bundle_leg"], view["bundle_legs"])

    def _service_name(self, code: str, chinese: bool | None = None) -> str:
        service = self.core.config().service(code)
        if service is None:
            return code
        if chinese:
            return service.name_zh
        return self.languages.pick(service.name_zh, service.name_en)

    def _slip(self, view: dict[str, Any]) -> SlipVM:
        issued = dt.datetime.fromisoformat(view["issued_at"])
        return SlipVM(
            number=view["number"],
            service_name=self._service_name(view["service"]),
            people_ahead=view["people_ahead"],
            estimated_wait_min=view["estimated_wait_min"],
            windows=view.get("windows_serving", []),
            priority=view["priority"],
            issued_at=issued.strftime("%H:%M"),
            citizen=view.get("citizen"),
            bundle=self._bundle_text(view),
        )

    def _with_windows(self, view: dict[str, Any]) -> dict[str, Any]:
        """A ticket view plus the windows serving its service (for the slip and the screen)."""
        return {**view, "windows_serving": self.core.config().windows_serving(view["service"])}

    # ---- taking a ticket ----------------------------------------------------------------
    def _card_holder(self) -> c.Citizen | None:
        """The citizen of the swiped card, if any: the ticket is taken in their name."""
        card = self._citizen
        if card is None:
            return None
        if self._business_date is None:  # no hall reading yet: ask for the day once
            self._business_date = self.core.hall_status()["business_date"]
        hashed = citizen_hash(card.citizen_key, dt.date.fromisoformat(self._business_date))
        if card.birth_date is None:
            return c.Citizen(hashed, card.name_masked)
        config = self.core.config()
        today = dt.datetime.now(config.zone).date()
        elderly = config.priority.is_elderly(card.birth_date, today)
        return c.Citizen(hashed, card.name_masked, elderly)

    def take(self, service: str, bundle: str | None = None) -> bool:
        """A tap on a service (with the swiped card, if any), or on a bundle."""
        citizen = self._card_holder()
        channel = "idcard" if citizen else "button"
        return self._issue(c.IssueTicket(service, citizen=citizen, channel=channel, bundle=bundle))

    def take_bundle(self, code: str) -> bool:
        """A tap on a "one thing" bundle: one ticket for its services in turn."""
        return self.take("", bundle=code)

    @property
    def issuing(self) -> bool:
        return self._issuing

    def check_in_booking(self) -> bool:
        """The citizen accepted the offered appointment: check in by the swiped card."""
        citizen = self._card_holder()
        if citizen is None:  # (the card was forgotten: idle, or a ticket taken meanwhile)
            self.go_home.emit()
            return False
        return self._issue(c.CheckInByCard(citizen))

    def _issue(self, command: c.IssueTicket | c.CheckIn | c.CheckInByCard) -> bool:
        """Issue, then show the number and print. True when a number is on screen on return
        (a local core); a terminal's issue finishes later, on the GUI thread. A tap while one
        is being served is ignored (False)."""
        if self._issuing:
            log.info("a tap while a ticket is being issued: ignored")
            return False
        if self.hub_away:  # (a card or a code while the kiosk says to go to the desk)
            self.message.emit(service_desk_text())
            return False
        self._issuing = True
        holder = self._citizen
        shown: list[bool] = []

        def done(view: dict[str, Any] | None, exc: BaseException | None) -> None:
            shown.append(self._issued(holder, view, exc))

        def issue() -> dict[str, Any]:
            view = self.core.issue(command)
            if self.core.blocking:  # warm the config cache here: the GUI must not wait for it
                with contextlib.suppress(HallError, TimeoutError):
                    self.core.fresh_config()
            return view

        try:
            self.run_command(issue, done)
        except BaseException:
            self._issuing = False  # a bug, not a refusal: the next tap must still work
            raise
        if self._issuing:  # still on its way to the hub
            self._waiting = True
            self.busy.emit(True)
        return bool(shown and shown[0])

    def _issued(
        self, holder: CardRead | None, view: dict[str, Any] | None, exc: BaseException | None
    ) -> bool:
        self._issuing = False
        if self._waiting:
            self._waiting = False
            self.busy.emit(False)
        if self.core.closed:
            return False
        if exc is not None or view is None:
            if not isinstance(exc, (HallError, TimeoutError)):
                log.error("issuing a ticket failed", exc_info=exc)
            self.message.emit(issue_failed_text(exc or RuntimeError("no ticket")))
            self.refresh_soon()
            return False
        if self._citizen is holder:
            self._citizen = None
            self._offer = None
        try:
            view = self._with_windows(view)
            if holder is not None:
                view["citizen"] = holder.name_masked
            layout = self._layout(view)
            slip = self._slip(view)
        except (HallError, TimeoutError) as err:  # issued, but the hall config is out of reach
            log.warning("ticket %s issued; cannot lay out its slip: %s", view["number"], err)
            self.message.emit(
                fill(
                    QCoreApplication.translate(
                        "Kiosk", "Your number is {number}; please remember it and wait to be called"
                    ),
                    number=view["number"],
                )
            )
            return True
        self._last = (view, layout)
        self.ticket_shown.emit(slip)
        self._start_print(layout)
        return True

    def _layout(self, view: dict[str, Any]) -> SlipLayout:
        config = self.core.config()
        windows = "、".join(str(w) for w in view["windows_serving"])
        return SlipLayout(
            hall_name=config.name_zh,
            service_name=self._service_name(view["service"], chinese=True),
            number=view["number"],
            people_ahead=view["people_ahead"],
            # nobody ahead: no "about 0 minutes" on the slip
            estimated_wait_min=max(1, view["estimated_wait_min"]) if view["people_ahead"] else None,
            issued_at=dt.datetime.fromisoformat(view["issued_at"]),
            windows=f"{windows}号窗口" if windows else "",
            # the signed link where the hall config sets its base (a phone can follow it)
            qr_payload=view.get("link")
            or f"{TICKET_QR_PREFIX}{view['business_date']}:{view['number']}",
            notice=("请留意叫号和语音播报", "过号请到窗口说明情况"),
        )

    def _set_print(self, state: str, reason: str | None = None) -> None:
        assert self._last is not None
        self._print_reason = reason
        vm = PrintVM(self._last[1].number, state, device_reason_text(reason))
        self._print = vm
        self.print_changed.emit(vm)

    def _start_print(self, layout: SlipLayout) -> None:
        if not self.devices.has_printer():
            self._set_print("none")
            return
        self._set_print("printing")
        number = layout.number

        def done(result: PrintOutcome | None, exc: BaseException | None) -> None:
            if self._last is None or self._last[1].number != number:
                return  # a newer ticket is on screen
            if exc is not None or result is None:
                log.warning("print of %s failed", number, exc_info=exc)
                self._set_print("failed", "error")
            elif result.ok:
                self._set_print("printed", result.reason)
            else:
                self._set_print("failed", result.reason)

        self._printer.run(lambda: self.devices.print_ticket(layout), done)

    def reprint(self) -> None:
        if self._last is not None:
            self._start_print(self._last[1])

    def reprint_number(
        self, number: str, done: Callable[[PrintOutcome], None] | None = None
    ) -> None:
        """Reprint a ticket's slip (from a window station); the kiosk screen is left alone."""
        self.run_read(
            lambda: self.core.ticket(number),
            lambda view, exc: self._reprint_read(number, view, exc, done),
        )

    def _reprint_read(
        self,
        number: str,
        view: dict[str, Any] | None,
        exc: BaseException | None,
        done: Callable[[PrintOutcome], None] | None,
    ) -> None:
        if exc is not None:
            log.warning("reprint of %s: cannot read the ticket: %s", number, exc)
        if view is None or not self.devices.has_printer():
            if done is not None:
                reason = "no_printer" if view else "error" if exc else "unknown_ticket"
                done(PrintOutcome(False, reason))
            return
        layout = self._layout(self._with_windows(view))

        def finished(result: PrintOutcome | None, exc: BaseException | None) -> None:
            if exc is not None:
                log.warning("reprint of %s failed", number, exc_info=exc)
            if done is not None:
                done(result if result is not None else PrintOutcome(False, "error"))

        self._printer.run(lambda: self.devices.print_ticket(layout), finished)

    # ---- ID card and scanner ------------------------------------------------------------
    def on_card(self, card: CardRead) -> None:
        """A swiped card: the next service tapped is taken for this citizen. A card whose ID
        number fails its check was misread: it is not used, the citizen swipes again."""
        if not card.number_checksum_ok:
            self._citizen = None
            self.message.emit(
                QCoreApplication.translate(
                    "Kiosk", "The card could not be read; please swipe it again"
                )
            )
            self.refresh()
            return
        self._citizen = card
        self._offer = None
        self.go_home.emit()
        self.refresh()
        self._look_for_booking(card)

    def _look_for_booking(self, card: CardRead) -> None:
        """Ask the hub whether the card's citizen booked a slot today: an open one is offered
        for check-in; a used or expired one is said; none leaves the home screen as it is."""
        citizen = self._card_holder()
        assert citizen is not None

        def found(booking: dict[str, Any] | None, exc: BaseException | None) -> None:
            if exc is not None:
                log.info("no appointment look-up for the card: %s", exc)
            if booking is None or self._citizen is not card:
                return
            if booking["status"] == "used":
                self.message.emit(error_text("appointment_used", {"number": booking["number"]}))
            elif booking["status"] == "expired":
                self.message.emit(error_text("appointment_expired"))
            else:
                self._offer = booking
                self.booking_offered.emit(self._booking_vm(booking))

        self.run_read(lambda: self.core.booking_for_card(citizen.citizen_hash), found)

    def _booking_vm(self, booking: dict[str, Any]) -> BookingVM:
        start, end = (booking[k][11:16] for k in ("slot_start", "slot_end"))
        name = self._citizen.name_masked if self._citizen else ""
        return BookingVM(name, self._service_name(booking["service"]), f"{start}–{end}")

    def decline_booking(self) -> None:
        """Not now: the card stays swiped, the citizen chooses a service on the home screen."""
        self._offer = None
        self.go_home.emit()

    def clear_citizen(self) -> None:
        self._citizen = None
        self._offer = None
        self.refresh()

    def on_code(self, text: str) -> None:
        text = text.strip()
        if text.startswith(TICKET_QR_PREFIX):
            self._slip_scanned(text[len(TICKET_QR_PREFIX) :])
            return
        if text.startswith(("https://", "http://")):
            self.run_read(lambda: self.core.ticket_by_link(text), self._show_progress)
            return
        if not text or len(text) > 256 or not text.isprintable():
            self.message.emit(error_text("unknown_appointment"))
            return
        self._issue(c.CheckIn(text, citizen=self._card_holder()))

    def _slip_scanned(self, rest: str) -> None:
        """``HT1:{business date}:{number}``: numbers start again every day, so a slip from
        another day is refused (today's ticket of that number is another citizen's)."""
        date, _, number = rest.partition(":")
        if not number:
            self.message.emit(error_text("unknown_ticket"))
            return

        def read() -> tuple[str, dict[str, Any] | None]:
            today = self.core.hall_status()["business_date"]
            return today, self.core.ticket(number) if date == today else None

        def done(found: tuple[str, dict[str, Any] | None] | None, exc: BaseException | None):
            if found is not None and found[0] != date:
                self.message.emit(
                    QCoreApplication.translate(
                        "Kiosk", "This ticket is from another day; its number is not valid today"
                    )
                )
                return
            self._show_progress(found[1] if found else None, exc)

        self.run_read(read, done)

    def show_progress(self, number: str) -> None:
        self.run_read(lambda: self.core.ticket(number), self._show_progress)

    def _show_progress(self, view: dict[str, Any] | None, exc: BaseException | None) -> None:
        if exc is not None:
            self.message.emit(unreachable_text(reach_error(exc)))
            return
        if view is None:
            self.message.emit(error_text("unknown_ticket"))
            return
        at_window = view["state"] in ("called", "serving")
        self.progress_shown.emit(
            ProgressVM(
                number=view["number"],
                service_name=self._service_name(view["service"]),
                state=view["state"],
                people_ahead=view["people_ahead"],
                estimated_wait_min=view["estimated_wait_min"],
                window=view["window"] if at_window else None,
                bundle=self._bundle_text(view),
            )
        )

    # ---- guides -------------------------------------------------------------------------
    def guide(self, code: str) -> None:
        config = self.core.config()
        service = config.service(code)
        if service is None:
            self.message.emit(error_text("unknown_service"))
            return
        g, pick = service.guide, self.languages.pick
        zh = self.languages.is_chinese()
        self.guide_shown.emit(
            GuideVM(
                code=code,
                name=pick(service.name_zh, service.name_en),
                materials=list(g.materials_zh if zh or not g.materials_en else g.materials_en),
                time_limit=pick(g.time_limit_zh, g.time_limit_en),
                fee=pick(g.fee_zh, g.fee_en),
                windows=config.windows_serving(code),
                sample_forms=[str(p) for p in map(self._form_path, g.sample_forms) if p.exists()],
            )
        )

    def _form_path(self, name: str) -> Path:
        """Sample forms are named in the hall config relative to the data dir."""
        path = Path(name)
        if not path.is_absolute() and self.config_dir:
            path = Path(self.config_dir) / path
        return path

    def idle(self) -> None:
        """Nobody touched the kiosk for a while: back to the home screen, card forgotten."""
        self._citizen = None
        self._offer = None
        self._last = None
        self._print = None
        self.go_home.emit()
        self.refresh()

    def close(self) -> None:
        super().close()
        self._printer.shutdown()
