"""The UI's port to the core: commands, reads and events, with Qt on the UI side only.

:class:`CoreClient` is what presenters hold: the local core runtime or, for a terminal on
another PC, the hub over the hall LAN. Events arrive on the core (or network) thread and are
re-emitted as the ``committed`` signal; Qt queues them to the GUI thread (the receiver lives
there), so no Qt object is touched from another thread.
:func:`in_gui` runs a callback on the GUI thread from any thread (device workers use it).
"""

from __future__ import annotations

import gc
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from agent import commands as c
from agent.config import HallConfig
from agent.model import Event
from agent.runtime import CoreRuntime

log = logging.getLogger(__name__)
#: An event from the hub's feed needs these; the others (its chain link) have defaults.
_REQUIRED_FIELDS = [f for f in Event._fields if f not in Event._field_defaults]
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


#: How often the GUI thread collects Python's cyclic garbage (see :func:`install_relay`).
GC_INTERVAL_MS = 1000


def install_relay() -> None:
    """On the GUI thread, once: the relay for :func:`in_gui`, and cyclic garbage collected
    here on a timer instead of automatically. Python collects on whichever thread allocates
    past its threshold, often a worker or paho's, and a QObject freed on another thread than
    its own leaves timers behind that crash the GUI thread's event loop."""
    global _relay, _gc_timer
    if _relay is None:
        _relay = _Relay()
        gc.disable()
        _gc_timer = QTimer()
        _gc_timer.timeout.connect(gc.collect)
        _gc_timer.start(GC_INTERVAL_MS)


_gc_timer: QTimer | None = None


class Background:
    """One worker thread per device line (prints never overlap; the GUI never waits)."""

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def run(
        self,
        fn: Callable[[], T],
        done: Callable[[T | None, BaseException | None], None] | None = None,
    ) -> Future[T]:
        """Run ``fn`` on the worker, then ``done(result, error)`` on the GUI thread.

        ``fn`` and ``done`` are mostly bound methods of presenters (QObjects with timers). The
        worker never holds the last reference to them: a QObject freed on another thread than
        its own leaves timers registered with a dispatcher that then crashes the GUI thread.
        So both stay in a box that only the GUI thread empties, after the hand-over (also the
        error's traceback, whose frames hold them too)."""
        box: list[Any] = [fn, done]

        def work() -> T:
            call = box[0]
            try:
                result: T = call()
                return result
            finally:
                del call

        def finished(f: Future[T]) -> None:
            if f.cancelled():  # (at shutdown, on the thread calling it: the GUI thread)
                box.clear()
                return
            exc = f.exception()
            result = None if exc is not None else f.result()

            def hand_over() -> None:
                callback = box[1]
                box.clear()
                try:
                    if callback is not None:
                        callback(result, exc)
                finally:
                    del callback
                    if exc is not None:
                        exc.__traceback__ = None

            in_gui(hand_over)

        future = self._pool.submit(work)
        future.add_done_callback(finished)
        return future

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class CoreClient(QObject):
    """Commands and reads for presenters; ``committed`` carries every committed core event.

    Two kinds: :class:`LocalCore` (the hub's store in this process) and :class:`RemoteCore`
    (the hub on another PC, over the hall LAN). Presenters cannot tell them apart.
    (The signal is not named ``event``: that would hide ``QObject.event``.)

    ``resync`` says the events seen may not be the whole story (a gap in the event sequence,
    the hub lost or back): screens read the hall again.
    """

    committed = Signal(object)
    resync = Signal()

    def __init__(self) -> None:
        super().__init__()
        install_relay()
        self.closed = False
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="core-client")

    def close(self) -> None:
        """After this, presenters stop reading (their timers may still fire once)."""
        self.closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- what each kind provides ----------------------------------------------------------
    def command(self, command: c.Command) -> dict[str, Any] | None:
        """Run a command and wait for its commit; the touched ticket's view. Raises HallError.

        A timeout (``TimeoutError``, or ``HubUnreachable`` from a terminal) means *unknown*,
        not *failed*: the command may have committed after the caller stopped waiting. Tell
        the citizen so (never "try again"), and read the state before acting on it.
        """
        raise NotImplementedError

    def query(self, name: str, **args: Any) -> Any:
        """One of the core's named reads (``agent.views.QUERIES``)."""
        raise NotImplementedError

    @property
    def online(self) -> bool:
        """Whether reads can reach the core now (a screen skips reading, and says so, if not)."""
        return True

    @property
    def blocking(self) -> bool:
        """Whether a command may keep its caller waiting long (a terminal retries an
        unanswered command for up to ~15 s): screens then run commands off the GUI thread.
        A local core answers at once, so its commands run in the tap's own slot."""
        return False

    # ---- for presenters ------------------------------------------------------------------
    def execute(self, command: c.Command) -> dict[str, Any] | None:
        return self.command(command)

    def submit(self, command: c.Command) -> Future[dict[str, Any] | None]:
        """Post a command without waiting (device threads use this)."""
        return self._pool.submit(self.command, command)

    def issue(self, command: c.IssueTicket | c.CheckIn | c.CheckInByCard) -> dict[str, Any]:
        """Issue (or check in) and return the ticket view, in one trip to the core."""
        view = self.command(command)
        assert view is not None
        return view

    def config(self) -> HallConfig:
        return HallConfig.model_validate(self.query("config"))

    def fresh_config(self) -> HallConfig:
        """The hall config as the core has it now (a terminal's :meth:`config` may answer
        from its cache, known stale, so that the GUI thread never waits for the hub)."""
        return self.config()

    def known_config(self) -> HallConfig | None:
        """The hall config if it is known without asking the hub (None on a terminal that
        has not read it yet): for the GUI thread while the hub may be away."""
        return self.config()

    def hall_status(self) -> dict[str, Any]:
        return dict(self.query("hall_status"))

    def waiting_list(self, window: int) -> list[dict[str, Any]]:
        return list(self.query("waiting_list", window=window))

    def ticket(self, number: str) -> dict[str, Any] | None:
        view = self.query("ticket", number=number)
        return None if view is None else dict(view)

    def ticket_by_link(self, link: str) -> dict[str, Any] | None:
        """The ticket a scanned slip link names (raises ``bad_ticket_link`` for a link this
        hall's hub did not sign for today)."""
        view = self.query("ticket_by_link", text=link)
        return None if view is None else dict(view)

    def booking_for_card(self, citizen_hash: str) -> dict[str, Any] | None:
        """Today's appointment of a swiped card's citizen (service, slot, status), if any."""
        found = self.query("booking_for_card", citizen_hash=citizen_hash)
        return None if found is None else dict(found)

    def notices(self) -> list[dict[str, Any]]:
        """Notices published through the log (from the central platform), oldest first."""
        return list(self.query("notices"))


class LocalCore(CoreClient):
    """The core runtime in this process (the hub PC, or a village point's single PC)."""

    def __init__(self, runtime: CoreRuntime) -> None:
        super().__init__()
        self.runtime = runtime
        self._unsubscribe = runtime.subscribe(self.committed.emit)  # core thread: hand on

    def close(self) -> None:
        super().close()
        self._unsubscribe()

    def command(self, command: c.Command) -> dict[str, Any] | None:
        return self.runtime.submit_report(command).result(10.0).ticket

    def query(self, name: str, **args: Any) -> Any:
        return self.runtime.read(name, 10.0, **args)

    def config(self) -> HallConfig:
        return self.runtime.hall_config()  # the live model, no copy


class RemoteCore(CoreClient):
    """The hub on another PC, through the hall broker (``sync.lan.LanClient``).

    A command is retried, with the same request id, while the hub cannot be reached (the
    hub answers a request id it has already done from memory: a retry never commits twice).
    """

    #: Tries of one command and the time they share.
    COMMAND_TRIES = 3
    COMMAND_BUDGET_S = 15.0
    #: How often the hub's presence is looked at (the LAN client has no reconnect callback).
    PRESENCE_POLL_MS = 1000

    def __init__(self, lan: Any) -> None:
        super().__init__()
        self.lan = lan
        self._config: HallConfig | None = None
        self._config_stale = False  # the hub may have another one (read it on a read thread)
        self._last_seq: tuple[str, int] | None = None  # (hub node id, seq); network thread
        self._was_online = bool(lan.hub_online)
        self._presence = QTimer(self)
        self._presence.setInterval(self.PRESENCE_POLL_MS)
        self._presence.timeout.connect(self._check_presence)
        self._presence.start()
        self._unsubscribe = lan.subscribe(self._from_hub)

    @property
    def online(self) -> bool:
        """Also a presence check: a screen that found the hub away (and shows so) must hear
        when it is back, even when the outage fell between two polls."""
        online = bool(self.lan.hub_online)
        self._note_presence(online)
        return online

    @property
    def blocking(self) -> bool:
        return True

    def _check_presence(self) -> None:
        self._note_presence(bool(self.lan.hub_online))

    def _note_presence(self, online: bool) -> None:
        """GUI thread: the hub lost or back means events were missed; read again."""
        if online != self._was_online:
            self._was_online = online
            log.info("hub %s", "back online" if online else "unreachable")
            self._config_stale = True
            self.resync.emit()

    def _from_hub(self, event: dict[str, Any]) -> None:  # network thread: hand on
        if not all(k in event for k in _REQUIRED_FIELDS):
            log.warning("hall LAN: an event without all its fields ignored")
            return
        fields = {k: event[k] for k in Event._fields if k in event}
        node, seq = str(fields.get("node_id", "")), fields.get("seq")
        if isinstance(seq, int):
            last = self._last_seq
            if last is not None and last[0] == node and seq <= last[1]:
                return  # delivered twice (QoS 1): already shown
            self._last_seq = (node, seq)
            if last is None or last[0] != node or seq != last[1] + 1:
                self.resync.emit()  # a gap (or the first event seen): the feed is not the log
        if event.get("type") == "HallConfigApplied":
            self._config_stale = True
        self.committed.emit(Event(**fields))

    def close(self) -> None:
        super().close()
        self._presence.stop()
        self._unsubscribe()

    def command(self, command: c.Command) -> dict[str, Any] | None:
        """Up to :attr:`COMMAND_TRIES` tries within :attr:`COMMAND_BUDGET_S`, one request id;
        the last ``HubUnreachable`` is raised (the outcome is then unknown)."""
        from sync.lan import HubUnreachable

        request_id = uuid.uuid4().hex
        deadline = time.monotonic() + self.COMMAND_BUDGET_S
        per_try = self.COMMAND_BUDGET_S / self.COMMAND_TRIES
        for attempt in range(1, self.COMMAND_TRIES + 1):
            left = deadline - time.monotonic()
            try:
                result = self.lan.execute(
                    command, timeout=max(0.1, min(per_try, left)), request_id=request_id
                )
                break
            except HubUnreachable as exc:
                left = deadline - time.monotonic()
                if attempt == self.COMMAND_TRIES or left <= 0:
                    raise
                log.warning("hub unreachable (try %d, %s); retrying %s", attempt, exc, request_id)
                self.lan.wait_hub(min(left, per_try))  # returns at once when it is back
        ticket = result.get("ticket")
        return None if ticket is None else dict(ticket)

    def query(self, name: str, **args: Any) -> Any:
        """A read at the hub. An answer also tells the presence check that the hub was
        online (a hub seen only between two checks would otherwise never be seen leave)."""
        result = self.lan.query(name, **args)
        self._was_online = True
        return result

    def config(self) -> HallConfig:
        """Fetched once; after that the last one fetched, also while :meth:`fresh_config`
        has not yet read the one the hub applied since (screens refresh right after)."""
        if self._config is None:
            return self.fresh_config()
        return self._config

    def known_config(self) -> HallConfig | None:
        return self._config

    def fresh_config(self) -> HallConfig:
        """Read again only when the hub applied another config or was away meanwhile."""
        config = self._config
        if config is None or self._config_stale:
            self._config_stale = False  # (a change seen during the read marks it again)
            try:
                config = self._config = super().config()
            except BaseException:
                self._config_stale = True
                raise
        return config
