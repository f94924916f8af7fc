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
application fetched it. Commands go through :meth:`Presenter.run_command`: at once with a
local core, on the screen's own command thread with a terminal's (the GUI never waits for
the hub's retries).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from agent.config import HallConfig
from agent.errors import HallError
from ui.core import Background, CoreClient
from ui.i18n import Languages
from ui.messages import connecting_text, unreachable_text

log = logging.getLogger(__name__)
T = TypeVar("T")


class Presenter(QObject):
    """Subclasses build their view-model in :meth:`show` and say in :meth:`on_event` which
    core events concern them (by default all)."""

    REFRESH_MS = 30
    SAFETY_MS = 30_000

    hub_problem = Signal(str)  # translated; empty when the core answers again

    def __init__(self, core: CoreClient, languages: Languages) -> None:
        super().__init__()
        self.core = core
        self.languages = languages
        self.problem = ""
        self.connecting = False
        self._commands = Background(f"{type(self).__name__}-commands")
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

    def refresh_soon(self, *_signal_args: object) -> None:
        self._refresh_timer.start()

    def refresh(self) -> None:
        """Read the hall now and emit a fresh view-model; nothing once the core is closed
        (a pending timer may still fire while the application shuts down)."""
        if self.core.closed:
            return
        if self.connecting:  # no hall config yet: the application fetches it first
            self._set_problem(connecting_text())
            return
        if not self.core.online:  # no read: it would only wait for its timeout
            self._set_problem(unreachable_text(None))
            return
        try:
            self.show(self.core.hall_status(), self.core.config())
        except (HallError, TimeoutError) as exc:
            log.warning("%s: cannot read the hall: %s", type(self).__name__, exc)
            self._set_problem(unreachable_text(exc))
            return
        self._set_problem("")

    def set_connecting(self, connecting: bool) -> None:
        """Show "connecting to the hall system" (no reads) until the hall config is known."""
        self.connecting = connecting
        if connecting:
            self._set_problem(connecting_text())
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
        if not self.core.blocking:
            try:
                result = fn()
            except (HallError, TimeoutError) as exc:
                done(None, exc)
                return
            done(result, None)
            return
        self._commands.run(fn, done)

    def close(self) -> None:
        """Stop the command thread (a command already sent still finishes there)."""
        self._commands.shutdown()

    def _set_problem(self, text: str) -> None:
        if text != self.problem:
            self.problem = text
            self.hub_problem.emit(text)

    def show(self, status: dict[str, Any], config: HallConfig) -> None:
        raise NotImplementedError

    def on_event(self, event: Any) -> None:
        self.refresh_soon()

    def on_language(self, _language: str) -> None:
        self.refresh()
