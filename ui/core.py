"""The UI's port to the core: commands, reads and events, with Qt on the UI side only.

:class:`CoreClient` wraps a running :class:`agent.runtime.CoreRuntime`. Events arrive on the
core thread and are re-emitted as the ``committed`` signal; Qt queues them to the GUI thread
(the receiver lives there), so no Qt object is touched from the core thread.
:func:`in_gui` runs a callback on the GUI thread from any thread (device workers use it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal

from agent import commands as c
from agent.config import HallConfig
from agent.model import Event
from agent.runtime import CoreRuntime
from agent.store import CommandResult, Store
from agent.views import active_notices, hall_status, ticket_progress, waiting_list

log = logging.getLogger(__name__)
T = TypeVar("T")


class _Relay(QObject):
    call = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.call.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def _run(self, fn: Callable[[], None]) -> None:
        fn()


_relay: _Relay | None = None


def in_gui(fn: Callable[[], None]) -> None:
    """Run ``fn`` on the GUI thread (queued); call ``install_relay()`` first from it."""
    if _relay is None:
        raise RuntimeError("ui.core.install_relay() was not called on the GUI thread")
    _relay.call.emit(fn)


def install_relay() -> None:
    global _relay
    if _relay is None:
        _relay = _Relay()


class Background:
    """One worker thread per device line (prints never overlap; the GUI never waits)."""

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def run(
        self,
        fn: Callable[[], T],
        done: Callable[[T | None, BaseException | None], None] | None = None,
    ) -> Future[T]:
        future = self._pool.submit(fn)
        if done is not None:

            def finished(f: Future[T]) -> None:
                exc = f.exception()
                result = None if exc is not None else f.result()
                in_gui(lambda: done(result, exc))

            future.add_done_callback(finished)
        return future

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _issue_and_view(store: Store, command: c.Command) -> tuple[CommandResult, dict[str, Any]]:
    result = store.execute(command)
    assert result.ticket is not None
    return result, store.ticket_view(result.ticket)


class CoreClient(QObject):
    """Commands and reads for presenters; ``committed`` carries every committed core event.

    (Not named ``event``: that would hide ``QObject.event``, Qt's event handler.)
    """

    committed = Signal(object)

    def __init__(self, runtime: CoreRuntime) -> None:
        super().__init__()
        install_relay()
        self.runtime = runtime
        self._unsubscribe = runtime.subscribe(self._from_core)
        self.closed = False

    def _from_core(self, event: Event) -> None:  # core thread: only hand on
        self.committed.emit(event)

    def close(self) -> None:
        """After this, presenters stop reading (their timers may still fire once)."""
        self.closed = True
        self._unsubscribe()

    # ---- commands (block until committed; raise HallError) -----------------------------
    def execute(self, command: c.Command, timeout: float = 10.0) -> CommandResult:
        return self.runtime.execute(command, timeout)

    def submit(self, command: c.Command) -> Future[CommandResult]:
        return self.runtime.submit(command)

    def issue(self, command: c.IssueTicket | c.CheckIn) -> dict[str, Any]:
        """Issue (or check in) and return the ticket view, in one trip to the core."""
        _result, view = self.runtime.query(lambda s: _issue_and_view(s, command), 10.0)
        return view

    # ---- reads --------------------------------------------------------------------------
    def config(self) -> HallConfig:
        return self.runtime.query(lambda s: s.config)

    def hall_status(self) -> dict[str, Any]:
        return self.runtime.query(hall_status)

    def waiting_list(self, window: int) -> list[dict[str, Any]]:
        return self.runtime.query(lambda s: waiting_list(s, window))

    def ticket(self, number: str) -> dict[str, Any] | None:
        return self.runtime.query(lambda s: ticket_progress(s, number))

    def notices(self) -> list[dict[str, Any]]:
        """Notices published through the log (from the central platform), oldest first."""
        return self.runtime.query(active_notices)
