"""What every screen's presenter shares: the core, the language, and one coalesced refresh.

One command can commit several events (calling the next citizen while the last one called
never came commits ``TicketNoShow`` and ``TicketCalled``), and each would otherwise re-read
the whole hall. Presenters call
:meth:`Presenter.refresh_soon` instead: a short single-shot timer folds a burst into one read.

Events are a live feed, not a log: a screen also reads again when the core says it may have
missed some (``CoreClient.resync``) and, as a safety net, every :attr:`Presenter.SAFETY_MS`.
A read that fails (the hub unreachable) never escapes the Qt slot: ``hub_problem`` carries a
translated sentence for the screen, and an empty one once reads work again.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from agent.config import HallConfig
from agent.errors import HallError
from ui.core import CoreClient
from ui.i18n import Languages
from ui.messages import unreachable_text

log = logging.getLogger(__name__)


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
