"""What every screen's presenter shares: the core, the language, and one coalesced refresh.

One command can commit several events (calling the next citizen while the last one called
never came commits ``TicketNoShow`` and ``TicketCalled``), and each would otherwise re-read
the whole hall. Presenters call
:meth:`Presenter.refresh_soon` instead: a short single-shot timer folds a burst into one read.

Events are a live feed, not a log: a screen also reads again when the core says it may have
missed some (``CoreClient.resync``) and, as a safety net, every :attr:`Presenter.SAFETY_MS`.
A read that fails (the hub unreachable) never escapes the Qt slot: ``hub_problem`` carries a
translated sentence for the screen, and an empty one once reads work again.

A terminal started while its hub is down has no hall config yet: its screens are
:attr:`Presenter.connecting` (a translated "connecting" banner, no reads) until the
application fetched it. Commands go through :meth:`Presenter.run_command` and reads through
:meth:`Presenter.run_read`: at once with a local core, on the screen's own command or
reading thread with a terminal's, so the GUI thread never waits for the hub. A refresh is
one :meth:`Presenter.read` (on the reading thread) and one :meth:`Presenter.show` (on the
GUI thread); a refresh asked for while one is reading runs once more after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from agent.config import HallConfig
from agent.errors import HallError
from ui.core import Background, CoreClient
from ui.i18n import Languages
from ui.messages import connecting_text, unreachable_text

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class HallReading:
    """What one refresh read from the core: the hall at a glance, the hall config, and what
    the screen reads beside them (a window's waiting list, the live notices)."""

    status: dict[str, Any]
    config: HallConfig
    more: Any = None


def reach_error(exc: BaseException | None) -> HallError | TimeoutError | None:
    """A failed read's error as the screens word it; a bug (any other error) is logged with
    its traceback and worded like an unknown failure."""
    if exc is None or isinstance(exc, (HallError, TimeoutError)):
        return exc
    log.error("a read from the core failed", exc_info=exc)
    return None


def _unreachable(error: HallError | TimeoutError | None) -> bool:
    return error is None or (isinstance(error, HallError) and error.code == "hub_unreachable")


class Presenter(QObject):
    """Subclasses build their view-model in :meth:`show` and say in :meth:`on_event` which
    core events concern them (by default all)."""

    REFRESH_MS = 30
    SAFETY_MS = 30_000

    hub_problem = Signal(str)  # translated; empty when the core answers again
    hub_away_changed = Signal(bool)  # the hall system cannot be reached (a terminal's hub)

    def __init__(self, core: CoreClient, languages: Languages) -> None:
        super().__init__()
        self.core = core
        self.languages = languages
        self.problem = ""
        self.hub_away = False
        self.connecting = False
        self._commands = Background(f"{type(self).__name__}-commands")
        self._reads = Background(f"{type(self).__name__}-reads")
        self._reading = False  # a refresh is reading on the reading thread
        self._read_again = False  # ...and another was asked for meanwhile
        self._timezone: str | None = None  # the hall's, from the last reading
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(self.REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self._safety_timer = QTimer(self)
        self._safety_timer.setInterval(self.SAFETY_MS)
        self._safety_timer.timeout.connect(self.refresh_soon)
        self._safety_timer.start()
        core.committed.connect(self.on_event)
        core.resync.connect(self.refresh_soon)
        languages.changed.connect(self.on_language)

    def hall_timezone(self) -> str | None:
        """The hall's time zone (hall.yaml ``timezone``) from the last reading (None before
        the first): screen clocks show the hall's time, whatever the PC's own zone is."""
        return self._timezone

    def refresh_soon(self, *_signal_args: object) -> None:
        self._refresh_timer.start()

    def refresh(self) -> None:
        """Read the hall now and emit a fresh view-model; nothing once the core is closed
        (a pending timer may still fire while the application shuts down)."""
        if self.core.closed:
            return
        if self.connecting:  # no hall config yet: the application fetches it first
            self._set_problem(connecting_text(), away=True)
            return
        if not self.core.online:  # no read: it would only wait for its timeout
            self._set_problem(unreachable_text(None), away=True)
            return
        if self._reading:
            self._read_again = True
            return
        self._reading = True
        self.run_read(self.read, self._read_done)

    @property
    def reading(self) -> bool:
        """A refresh is reading the core (a terminal's, on the reading thread)."""
        return self._reading

    def read(self) -> HallReading:
        """What :meth:`show` needs, read from the core (on the reading thread of a terminal:
        touch no Qt object here)."""
        return HallReading(self.core.hall_status(), self.core.fresh_config(), self.read_more())

    def read_more(self) -> Any:
        """What this screen reads beside the hall status and config (None by default)."""
        return None

    def _read_done(self, reading: HallReading | None, exc: BaseException | None) -> None:
        self._reading = False
        if self.core.closed:
            return
        if exc is not None or reading is None:
            log.warning("%s: cannot read the hall: %s", type(self).__name__, exc)
            error = reach_error(exc)
            self._set_problem(unreachable_text(error), away=_unreachable(error))
        else:
            self._timezone = reading.config.timezone
            self.show(reading)
            self._set_problem("")
        if self._read_again:
            self._read_again = False
            self.refresh()

    def set_connecting(self, connecting: bool) -> None:
        """Show "connecting to the hall system" (no reads) until the hall config is known."""
        self.connecting = connecting
        if connecting:
            self._set_problem(connecting_text(), away=True)
        else:
            self.refresh()

    def run_command(
        self,
        fn: Callable[[], T],
        done: Callable[[T | None, BaseException | None], None],
    ) -> None:
        """Run ``fn`` (a command to the core) and hand its result or error to ``done`` on the
        GUI thread. A local core answers at once: both run now, in the caller's slot (a number
        is on screen right after the tap). A terminal's command may be retried for ~15 s: it
        runs on this screen's command thread and ``done`` comes back through ``in_gui``."""
        self._run_on(self._commands, fn, done)

    def run_read(
        self,
        fn: Callable[[], T],
        done: Callable[[T | None, BaseException | None], None],
    ) -> None:
        """Like :meth:`run_command`, for reads: a terminal's run on this screen's reading
        thread (each may wait for the hub up to its timeout), never on the GUI thread."""
        self._run_on(self._reads, fn, done)

    def _run_on(
        self,
        thread: Background,
        fn: Callable[[], T],
        done: Callable[[T | None, BaseException | None], None],
    ) -> None:
        if not self.core.blocking:
            try:
                result = fn()
            except (HallError, TimeoutError) as exc:
                done(None, exc)
                return
            done(result, None)
            return
        thread.run(fn, done)

    def close(self) -> None:
        """Stop the command and reading threads (a command already sent still finishes)."""
        self._commands.shutdown()
        self._reads.shutdown()

    def _set_problem(self, text: str, away: bool = False) -> None:
        """What the banner says (empty: nothing wrong), and whether the hall system is out of
        reach (a screen may then show more than the banner: the kiosk sends citizens to the
        service desk)."""
        if text != self.problem:
            self.problem = text
            self.hub_problem.emit(text)
        if away != self.hub_away:
            self.hub_away = away
            self.hub_away_changed.emit(away)

    def show(self, reading: HallReading) -> None:
        raise NotImplementedError

    def on_event(self, event: Any) -> None:
        self.refresh_soon()

    def on_language(self, _language: str) -> None:
        self.refresh()
