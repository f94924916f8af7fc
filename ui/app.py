"""Putting a hall together: core runtime, devices, presenters, screens, voice.

``run_demo(args)`` is the ``hall-agent demo`` entry point (all roles in one process, the
sample hall open all day, simulated devices); ``run_role(args)`` is ``hall-agent run``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import functools
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import commands as c
from agent.adminpin import ATTEMPTS_FILE, MAX_FAILURES, PinGuard
from agent.calendar import Closure, HallCalendar
from agent.config import always_open
from agent.datadir import DataDir, resolve_data_dir
from agent.demostaff import demo_staff
from agent.errors import HallError
from agent.node_runtime import Node

if TYPE_CHECKING:
    from agent.node import DeviceSpec
    from agent.watchdog import NodeMonitor
    from sync.node import NodeServices
    from ui.core import CoreClient
    from ui.ports import DevicePort

log = logging.getLogger(__name__)

EXIT_NO_DISPLAY = 2
#: How long a terminal's start waits for the hub before its screens appear (they then say
#: they are connecting, and come alive by themselves when the hub answers).
HUB_WAIT_S = 1.0
SCREENS_SILENT_S = 30.0  # an event loop silent this long is hung: the watchdog restarts it
CONFIG_RETRY_MS = 1000
VOICE_CLIPS = Path(__file__).resolve().parent / "assets" / "voice"  # shipped: espeak-ng clips
SIZES = {"kiosk": (1080, 1920), "window": (1366, 768), "display": (1920, 1080), "panel": (440, 720)}


def has_display() -> bool:
    """Whether Qt can open windows here (an explicit QT_QPA_PLATFORM, e.g. offscreen, counts):
    without one Qt aborts the process instead of raising."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


_QUIET = ("propagateSizeHints",)


def _qt_messages(mode: Any, context: Any, message: str) -> None:
    if any(text in message for text in _QUIET):
        return  # the offscreen platform's harmless chatter
    log.warning("qt: %s", message)


def make_qt_app(argv: list[str] | None = None) -> Any:
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from ui.fonts import setup_fonts

    qInstallMessageHandler(_qt_messages)
    app = QApplication.instance() or QApplication(argv or ["hall-agent"])
    app.setApplicationName("hall-agent")
    setup_fonts(app)
    return app


@dataclasses.dataclass(frozen=True)
class ScreenOptions:
    """Settings of the screens from the command line (``hall-agent run``)."""

    voice_pack: Path | None = None  # clips folder (zh/, en/); None: the shipped set
    call_highlight_s: int = 30  # a call stays "now calling" on the display this long
    voice_guide: bool = False  # the kiosk speaks each step (适老化)


class HallApp:
    """Every part of one process's hall UI; ``roles`` picks which screens exist.

    A terminal's screens exist at once and say "connecting to the hall system…" (the kiosk:
    the hall's name and "please go to the service desk") until the hall config was read from
    the hub, off the GUI thread (tried at once, every :data:`CONFIG_RETRY_MS` and on the
    core's ``resync``), then come alive: a hub that is down at start, or comes up later,
    never stops a terminal. Its window stations are those of ``windows`` or of this node's
    own hall config. A local core's config is read at once.
    """

    monitor: NodeMonitor | None = None  # set by open_hall: the screens add their own check

    def __init__(
        self,
        node: Node,
        core: CoreClient,
        devices: DevicePort,
        language: str = "zh_CN",
        roles: tuple[str, ...] = ("kiosk", "window", "display"),
        windows: list[int] | None = None,
        voice: str = "auto",
        screen_options: ScreenOptions | None = None,
    ) -> None:
        from ui.i18n import Languages
        from ui.presenters.display import DisplayPresenter
        from ui.presenters.kiosk import KioskPresenter
        from ui.presenters.window import WindowPresenter
        from ui.views.display import HallDisplayView
        from ui.views.kiosk import KioskView
        from ui.views.window import WindowStationView
        from ui.voice import Announcer, make_backend

        self.node = node
        self.core = core
        self.devices = devices
        self.languages = Languages(language)
        config = None if core.blocking else core.config()
        self.config_ready = config is not None
        self._fetching = False  # a terminal's config read is under way
        self.kiosk: KioskPresenter | None = None
        self.kiosk_view: KioskView | None = None
        self.windows: dict[int, WindowPresenter] = {}
        self.window_views: dict[int, WindowStationView] = {}
        self.display: DisplayPresenter | None = None
        self.display_view: HallDisplayView | None = None
        self.announcer: Announcer | None = None
        options = screen_options or ScreenOptions()
        pack = options.voice_pack or VOICE_CLIPS
        self.kiosk_voice: Announcer | None = None
        self._voice_guide: Any = None
        if "kiosk" in roles:
            self.kiosk = KioskPresenter(
                self.core, devices, self.languages, str(node.data.root), own_config=node.hall
            )
            self.kiosk_view = KioskView(self.kiosk)
            if options.voice_guide:
                from ui.voice_guide import KioskVoiceGuide

                kiosk_backend = make_backend(voice, pack, language)
                self.kiosk_voice = Announcer(kiosk_backend, lambda: self.languages.current)
                self._voice_guide = KioskVoiceGuide(self.kiosk, self.kiosk_voice)
        if "window" in roles:
            numbers = windows or [w.number for w in (config or node.hall).windows]
            for number in numbers:
                presenter = WindowPresenter(
                    self.core, devices, self.languages, number, reprint=self._reprint
                )
                self.windows[number] = presenter
                self.window_views[number] = WindowStationView(presenter)
        if "display" in roles:
            self.display = DisplayPresenter(self.core, self.languages)
            self.display_view = HallDisplayView(self.display, options.call_highlight_s)
            backend = make_backend(voice, pack, language)
            self.announcer = Announcer(backend, lambda: self.languages.current)
            self.display.called.connect(self.announcer.announce_call)
        self._config_retry: Any = None
        if self.config_ready:
            for presenter in self.presenters():
                presenter.refresh()
            return
        self._wait_for_hub()

    def _wait_for_hub(self) -> None:
        """Screens say "connecting" while the hall config is read from the hub (a terminal)."""
        from PySide6.QtCore import QTimer

        from ui.core import Background

        for presenter in self.presenters():
            presenter.set_connecting(True)
        self._config_reader = Background("hall-config")
        self._config_retry = QTimer()
        self._config_retry.setInterval(CONFIG_RETRY_MS)
        self._config_retry.timeout.connect(self._retry_config)
        self._config_retry.start()
        self.core.resync.connect(self._retry_config)
        self._retry_config()

    def presenters(self) -> list[Any]:
        out: list[Any] = [self.kiosk, *self.windows.values(), self.display]
        return [p for p in out if p is not None]

    def _retry_config(self) -> None:
        """Read the hall config from the hub on the config thread, unless one read is under
        way or the hub is known to be away (a read would only wait for its timeout)."""
        if self.config_ready or self.core.closed:
            if self._config_retry is not None:
                self._config_retry.stop()
            return
        if self._fetching or not self.core.online:
            return
        self._fetching = True
        self._config_reader.run(self.core.fresh_config, self._config_read)

    def _config_read(self, config: Any, exc: BaseException | None) -> None:
        self._fetching = False
        if self.config_ready or self.core.closed:
            return
        if exc is not None or config is None:
            log.warning("cannot read the hall config from the hub: %s", exc)
            return
        log.info("hall config read from the hub; the screens come alive")
        self.config_ready = True
        self._config_retry.stop()
        for presenter in self.presenters():
            presenter.set_connecting(False)

    def report_pin_lockout(self, seconds: int) -> None:
        """A locked-out admin PIN becomes a core event (central sees it in the log)."""
        command = c.ReportAdminPinLockout(self.node.node.node_id, MAX_FAILURES, seconds)
        try:
            future = self.core.submit(command)
        except HallError as exc:  # the core is stopping
            log.warning("PIN lockout not recorded: %s", exc)
            return
        future.add_done_callback(_warn_unrecorded)

    def _reprint(self, number: str) -> None:
        if self.kiosk is not None:
            self.kiosk.reprint_number(number)

    def views(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.kiosk_view is not None:
            out["kiosk"] = self.kiosk_view
        for number, view in self.window_views.items():
            out[f"window-{number}"] = view
        if self.display_view is not None:
            out["display"] = self.display_view
        return out

    def close(self) -> None:
        if self._config_retry is not None:
            self._config_retry.stop()
            self._config_reader.shutdown()
        for presenter in self.presenters():
            presenter.close()
        for announcer in (self.announcer, self.kiosk_voice):
            if announcer is not None:
                announcer.stop()


def _warn_unrecorded(future: Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("not recorded: %s", future.exception())


# ---- opening a node --------------------------------------------------------------------------
def open_demo_node(data_dir: str | None, hall_file: str | None = None) -> Node:
    """The demo's node: the sample hall, or the hall config in ``hall_file``, open all day."""
    root = data_dir or tempfile.mkdtemp(prefix="hall-demo-")
    if hall_file:
        DataDir(Path(root)).init(Path(hall_file))
    node = Node.open(root, init=True)
    return dataclasses.replace(node, hall=always_open(node.hall))


def device_specs(node: Node, simulated_demo: bool) -> list[DeviceSpec]:
    """node.yaml's devices; the demo's simulated hall for the demo."""
    if not simulated_demo:
        return list(node.node.devices)
    from ui.hall_devices import demo_device_specs

    windows = [w.number for w in node.hall.windows]
    return demo_device_specs(windows, evaluator_windows=windows[:-1])


def make_devices(services: NodeServices) -> DevicePort:
    """The screens' port on the devices the node start-up opened (none: no devices)."""
    from ui.ports import DevicePort

    if services.devices is None:
        return DevicePort()
    from ui.hall_devices import ManagedDevices

    devices = ManagedDevices(services.devices)
    if services.window_devices is not None:
        services.window_devices.on_rating(devices.rating_ended)
    return devices


@contextlib.contextmanager
def open_hall(
    node: Node,
    broker: str | None,
    *,
    simulated: bool,
    language: str,
    roles: tuple[str, ...] = ("kiosk", "window", "display"),
    windows: list[int] | None = None,
    voice: str = "auto",
    remote: bool = False,
    screen_options: ScreenOptions | None = None,
    role: str = "all",
) -> Iterator[HallApp]:
    """Start the node (:func:`sync.node.start_node`, which opens the devices too) and the
    screens of ``node``; on leaving, stop whatever was started, in reverse order, even when a
    later step failed (a device or sync thread left running would keep the process alive)."""
    from sync.node import start_node

    with contextlib.ExitStack() as started:
        specs = device_specs(node, simulated_demo=simulated)
        services = started.enter_context(
            start_node(node, role, broker=broker, remote=remote, devices=specs)
        )
        core = _core_client(services)
        started.callback(core.close)
        devices = make_devices(services)
        started.callback(devices.close)
        hall = HallApp(node, core, devices, language, roles, windows, voice, screen_options)
        hall.monitor = services.monitor
        started.callback(hall.close)
        yield hall


def _core_client(services: NodeServices) -> CoreClient:
    """This PC's way to the queue: the hub over the hall LAN, or the core in this process."""
    from ui.core import LocalCore, RemoteCore

    if services.lan_client is not None:
        if not services.lan_client.wait_hub(HUB_WAIT_S):
            log.warning("the hub is not reachable yet; screens will retry")
        return RemoteCore(services.lan_client)
    assert services.runtime is not None
    return LocalCore(services.runtime)


def screen_size(view_name: str) -> tuple[int, int]:
    """The size a screen is laid out for; ``window-2`` is a window station."""
    return SIZES[view_name.split("-")[0]]


# ---- the demo --------------------------------------------------------------------------------
def run_demo(args: argparse.Namespace) -> int:
    screenshots = getattr(args, "screenshots", None)
    quit_after = getattr(args, "quit_after", None)
    language = getattr(args, "lang", None) or "zh_CN"
    if not has_display():
        if not screenshots and quit_after is None:
            print(
                "hall-agent demo: no display found (DISPLAY/WAYLAND_DISPLAY unset).\n"
                "  hall-agent demo --screenshots DIR   saves every screen as PNG (no display)\n"
                "  hall-agent demo --headless          simulates a hall day in the terminal",
                file=sys.stderr,
            )
            return EXIT_NO_DISPLAY
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    qt = make_qt_app()
    node = open_demo_node(getattr(args, "data_dir", None), getattr(args, "hall", None))
    node, staff = demo_staff(node)
    broker = getattr(args, "broker", None)
    with open_hall(node, broker, simulated=True, language=language, role="demo") as hall:
        _load_demo_roster(hall.core, node)
        _sign_in_demo_staff(hall.core, staff)
        from ui.demo import DemoControls
        from ui.views.simpanel import SimulatorPanel

        controls = DemoControls(hall.devices, node.secret or b"")
        panel = SimulatorPanel(controls, [w.number for w in node.hall.windows])
        print(f"hall-agent demo: data dir {node.data.root}", flush=True)
        if screenshots:
            screen = getattr(args, "screen", None)
            saved = scripted_screenshots(qt, hall, controls, panel, Path(screenshots), screen)
            print(f"hall-agent demo: {len(saved)} screenshots in {screenshots}", flush=True)
            return 0
        tabs = _window_tabs(hall)  # held here: Qt deletes an unreferenced top-level window
        _show_demo(hall, tabs, panel)
        return _exec(qt, quit_after)


def _sign_in_demo_staff(core: CoreClient, staff: dict[int, tuple[str, str]]) -> None:
    """Each window's demo staff signs in (their PINs are printed: sign out and in again)."""
    for window, (staff_id, pin) in staff.items():
        core.command(c.SignIn(window, staff_id, pin=pin))
        print(f"hall-agent demo: window {window}: staff {staff_id}, PIN {pin}", flush=True)


def _load_demo_roster(core: CoreClient, node: Node) -> None:
    from ui.demo import sample_roster

    now = dt.datetime.fromisoformat(core.query("now"))
    core.command(sample_roster(node.hall, now, node.secret))


def _window_tabs(hall: HallApp) -> Any:
    """The demo's window stations as the tabs of one top-level window (tab text: each
    station's translated title, following language changes)."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QTabWidget

    from ui.views.common import literal

    tabs = QTabWidget()
    tabs.setWindowTitle(QCoreApplication.translate("Demo", "Window stations"))
    for view in hall.window_views.values():
        index = tabs.addTab(view, literal(view.windowTitle()))
        view.windowTitleChanged.connect(lambda title, i=index: tabs.setTabText(i, literal(title)))
    return tabs


def demo_geometry(width: int, height: int) -> dict[str, tuple[int, int, int, int]]:
    """Where the demo's windows go on a screen of this size (x, y, w, h each): the kiosk as
    a portrait column on the left, the hall display 16:9 at the top right, the window
    stations and the simulator panel side by side below it."""
    kiosk_w = min(height * 9 // 16, width * 3 // 10)
    right = width - kiosk_w
    display_h = min(right * 9 // 16, height * 11 // 20)
    lower = height - display_h
    panel_w = min(440, right // 3)
    return {
        "kiosk": (0, 0, kiosk_w, height),
        "display": (kiosk_w, 0, right, display_h),
        "windows": (kiosk_w, display_h, right - panel_w, lower),
        "panel": (width - panel_w, display_h, panel_w, lower),
    }


def _show_demo(hall: HallApp, tabs: Any, panel: Any) -> None:
    """Every window of the demo on the screen it finds, side by side, none off the edge."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QGuiApplication

    area = QGuiApplication.primaryScreen().availableGeometry()
    places = demo_geometry(area.width(), area.height())
    panel.setWindowTitle(QCoreApplication.translate("Demo", "Device simulator"))
    windows = {"kiosk": hall.kiosk_view, "display": hall.display_view, "windows": tabs}
    for name, widget in {**windows, "panel": panel}.items():
        if widget is None:
            continue
        x, y, w, h = places[name]
        widget.setGeometry(area.x() + x, area.y() + y, w, h)
        widget.show()


def _exec(qt: Any, quit_after: float | None) -> int:
    """Run the Qt event loop; ``quit_after`` seconds end it (smoke tests, CI)."""
    if quit_after is not None:
        from PySide6.QtCore import QTimer

        # exit(), not quit(): quit() asks every window to close first, which a locked kiosk
        # refuses, and the process would run on
        QTimer.singleShot(int(quit_after * 1000), lambda: qt.exit(0))
    return int(qt.exec())


# ---- scripted screenshots -------------------------------------------------------------------
def _wait(qt: Any, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        qt.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    qt.processEvents()
    return condition()


def _settle(qt: Any, seconds: float = 0.3) -> None:
    _wait(qt, lambda: False, seconds)


def scripted_screenshots(
    qt: Any,
    hall: HallApp,
    controls: Any,
    panel: Any,
    folder: Path,
    screen: tuple[int, int] | None = None,
) -> list[Path]:
    """Take tickets, call, start, finish, rate; save every screen in Chinese and English.

    ``screen``: every screen at this size (default: each at the size it is drawn for).
    Works with any hall: services and windows are taken in the hall config's order.
    """
    assert hall.kiosk is not None and hall.kiosk_view is not None
    folder.mkdir(parents=True, exist_ok=True)
    kiosk, kiosk_view = hall.kiosk, hall.kiosk_view
    views = hall.views()
    for name, view in views.items():
        view.resize(*(screen or screen_size(name)))
        view.show()
    panel.resize(*SIZES["panel"])
    panel.show()
    _settle(qt)

    def printed(n: int) -> bool:
        return len(controls.printed()) >= n

    config = hall.node.hall
    codes = [s.code for s in config.services]

    def code(i: int) -> str:
        return codes[i % len(codes)]

    # citizens take tickets (for every window's first service in a large hall)
    firsts = [w.services[0] for w in config.windows[3:]]
    for service in [code(0), code(0), code(1), code(3), code(0), code(2), code(1), *firsts]:
        kiosk_view.service_button(service).click()
        _wait(qt, lambda: kiosk._print is not None and kiosk._print.state != "printing", 10)
    controls.swipe("resident-elderly")
    _wait(qt, lambda: kiosk._citizen is not None, 10)
    kiosk_view.service_button(code(2)).click()
    _settle(qt)
    controls.scan("APPT-DEMO-0002")
    _wait(
        qt, lambda: kiosk._last is not None and kiosk._last[0].get("priority") == "appointment", 10
    )

    # windows call, serve, finish; citizens rate
    w1, w2, w3, *others = hall.windows.values()
    for i, window in enumerate(others):  # a large hall: windows calling, paused, serving
        if i % 3 == 1:
            window.pause("meeting")
            continue
        window.call_next()
        if i % 3 == 2:
            window.start()
    w1.call_next()
    w1.start()
    w1.finish()
    if _wait(qt, lambda: controls.rating_pending(1), 10):
        controls.press(1, 5)
        _wait(qt, lambda: w1._rating.state == "rated", 10)
    w2.call_next()
    w2.start()
    w3.call_next()
    w3.start()
    w3.finish()
    w1.call_next()
    w3.call_next()
    w1.recall()
    _settle(qt, 0.5)

    saved: list[Path] = []

    def shoot(widget: Any, name: str) -> None:
        _settle(qt, 0.25)
        path = folder / f"{name}.png"
        widget.grab().save(str(path))
        saved.append(path)

    for language in ("zh_CN", "en"):
        hall.languages.set(language)
        kiosk.idle()
        _settle(qt, 0.4)
        shoot(kiosk_view, f"kiosk-home-{language}")
        if config.bundles:
            kiosk_view.bundle_button(config.bundles[0].code).click()
            _wait(qt, lambda: kiosk._print is not None and kiosk._print.state == "printed", 10)
            shoot(kiosk_view, f"kiosk-bundle-ticket-{language}")
            kiosk.idle()
        kiosk_view.service_button(code(0)).click()
        _wait(qt, lambda: kiosk._print is not None and kiosk._print.state == "printed", 10)
        shoot(kiosk_view, f"kiosk-ticket-{language}")
        controls.set_paper_out(True)
        kiosk.idle()
        kiosk_view.service_button(code(1)).click()
        _wait(qt, lambda: kiosk._print is not None and kiosk._print.state == "failed", 15)
        shoot(kiosk_view, f"kiosk-printer-failure-{language}")
        controls.set_paper_out(False)
        kiosk.idle()
        kiosk.guide(code(1))
        shoot(kiosk_view, f"kiosk-guide-{language}")
        kiosk.idle()
        controls.scan("NOT-A-BOOKING-42")
        _wait(qt, lambda: kiosk_view.message.isVisible(), 10)
        shoot(kiosk_view, f"kiosk-invalid-qr-{language}")
        kiosk.idle()
        for number in list(hall.windows)[:3]:
            shoot(views[f"window-{number}"], f"window-{number}-{language}")
        shoot(views["display"], f"display-{language}")
        shoot(panel, f"simulator-panel-{language}")
    # a bad rating on window 2's keys-only evaluator: "no reason given", and the QR to say why
    w2.finish()
    if _wait(qt, lambda: controls.rating_pending(2), 10):
        controls.press(2, 1)
        _wait(qt, lambda: w2._rating.state == "rated" and bool(w2._rating.qr_payload), 10)
        for language in ("zh_CN", "en"):
            hall.languages.set(language)
            shoot(views["window-2"], f"window-2-bad-rating-{language}")
    _close_for_the_day(hall.core, code(3))
    for language in ("zh_CN", "en"):
        hall.languages.set(language)
        kiosk.idle()
        _settle(qt, 0.4)
        shoot(kiosk_view, f"kiosk-closed-{language}")
    return saved


def show_full_screen(view: Any) -> None:
    """Full screen with or without a window manager. Under bare X (a kiosk session: xinit
    and the agent, no desktop) nobody acts on the full-screen request, so the window is
    also given the screen's geometry itself, frameless and on top."""
    from PySide6.QtCore import Qt

    view.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
    view.setGeometry(view.screen().geometry())
    view.showFullScreen()


def _log_geometry(name: str, view: Any) -> None:
    """Where a full-screen view ended up (an installer checks a kiosk session with it)."""
    got, screen = view.geometry(), view.screen().geometry()
    log.info(
        "%s: full screen %dx%d at %d,%d on a %dx%d screen",
        name, got.width(), got.height(), got.x(), got.y(), screen.width(), screen.height(),
    )  # fmt: skip


def _close_for_the_day(core: CoreClient, service: str) -> None:
    """A calendar closing one service today, as central would push it (the tour's last
    screen shows the closed tile with its next opening)."""
    today = dt.date.fromisoformat(core.query("now")[:10])
    closure = Closure(start=today, services=[service], name_zh="系统升级", name_en="System upgrade")
    core.command(c.ApplyCalendar(HallCalendar(closures=[closure]), version=int(time.time())))


# ---- hall-agent run ---------------------------------------------------------------------------
ROLE_SCREENS = {
    "kiosk": ("kiosk",),
    "window": ("window",),
    "display": ("display",),
    "all": ("kiosk", "window", "display"),
    "hub": (),
}


def run_role(args: argparse.Namespace) -> int:
    """Open this node's data dir and show the screens of its role.

    ``all`` (a village point's single PC) opens the local store. ``kiosk``, ``window`` and
    ``display`` reach the hub over the hall LAN when ``node.yaml`` names a ``hall_broker``,
    and otherwise open the local store (a screen on the hub PC itself).
    """
    if not has_display():
        print("hall-agent run: no display found (DISPLAY/WAYLAND_DISPLAY unset)", file=sys.stderr)
        return EXIT_NO_DISPLAY
    data = DataDir(resolve_data_dir(getattr(args, "data_dir", None)))
    if getattr(args, "config", None):
        data.init(Path(args.config))
    node = Node.open(data.root, init=True)
    role = args.role or node.node.role
    screens = ROLE_SCREENS.get(role, ())
    if not screens:
        print(f"hall-agent run: role {role!r} has no screens", file=sys.stderr)
        return EXIT_NO_DISPLAY
    if args.fullscreen and "kiosk" in screens and node.node.admin_pin_hash is None:
        print(
            "hall-agent run: a full-screen kiosk needs an admin PIN to leave it; "
            "set one with 'hall-agent admin set-pin'",
            file=sys.stderr,
        )
        return EXIT_NO_DISPLAY
    qt = make_qt_app()
    language = args.lang or node.node.language
    with open_hall(
        node,
        getattr(args, "broker", None),
        simulated=False,
        language=language,
        roles=screens,
        windows=args.window,
        voice=args.voice,
        screen_options=ScreenOptions(
            Path(args.voice_pack) if getattr(args, "voice_pack", None) else None,
            getattr(args, "call_highlight", 30),
            getattr(args, "voice_guide", False),
        ),
        remote=role != "all" and node.node.hall_broker is not None,
        role=role,
    ) as hall:
        heartbeat = _screens_heartbeat(hall)  # held: a timer no longer referenced stops
        locks = []  # held: the lock lives as long as the screen
        for name, view in hall.views().items():
            view.resize(*screen_size(name))
            if args.fullscreen and name in ("kiosk", "display"):
                show_full_screen(view)
                from PySide6.QtCore import QTimer

                QTimer.singleShot(1000, functools.partial(_log_geometry, name, view))
            else:
                view.show()
            if args.fullscreen and name == "kiosk" and node.node.admin_pin_hash:
                from ui.kiosk_lock import KioskLock

                attempts = node.data.root / ATTEMPTS_FILE
                guard = PinGuard(node.node.admin_pin_hash, attempts)
                locks.append(
                    KioskLock(
                        view,
                        view.hall_name,
                        guard,
                        qt.quit,
                        report_lockout=hall.report_pin_lockout,
                    )
                )
        result = _exec(qt, getattr(args, "quit_after", None))
        heartbeat.stop()
        return result


def _screens_heartbeat(hall: HallApp) -> Any:
    """The Qt event loop beats once a second; the watchdog is fed only while it does."""
    from PySide6.QtCore import QTimer

    from agent.watchdog import Heartbeat

    beat = Heartbeat()
    timer = QTimer()
    timer.timeout.connect(beat.beat)
    timer.start(1000)
    if hall.monitor is not None:
        hall.monitor.add_check("screens", lambda: beat.fresh(SCREENS_SILENT_S))
    return timer
