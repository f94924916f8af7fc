"""What every screen's presenter shares: the core, the language, and one coalesced refresh.

One command can commit several events (calling the next citizen while the last one called
never came commits ``TicketNoShow`` and ``TicketCalled``), and each would otherwise re-read
the whole hall. Presenters call
:meth:`Presenter.refresh_soon` instead: a short single-shot timer folds a burst into one read.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer

from agent.config import HallConfig
from ui.core import CoreClient
from ui.i18n import Languages


class Presenter(QObject):
    """Subclasses build their view-model in :meth:`show` and say in :meth:`on_event` which
    core events concern them (by default all)."""

    REFRESH_MS = 30

    def __init__(self, core: CoreClient, languages: Languages) -> None:
        super().__init__()
        self.core = core
        self.languages = languages
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(self.REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        core.committed.connect(self.on_event)
        languages.changed.connect(self.on_language)

    def refresh_soon(self, *_signal_args: object) -> None:
        self._refresh_timer.start()

    def refresh(self) -> None:
        """Read the hall now and emit a fresh view-model; nothing once the core is closed
        (a pending timer may still fire while the application shuts down)."""
        if self.core.closed:
            return
        self.show(self.core.hall_status(), self.core.config())

    def show(self, status: dict[str, Any], config: HallConfig) -> None:
        raise NotImplementedError

    def on_event(self, event: Any) -> None:
        self.refresh_soon()

    def on_language(self, _language: str) -> None:
        self.refresh()
