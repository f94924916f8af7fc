"""The core actor: one thread owns the store; everyone else posts typed requests to its inbox.

Device threads, the MQTT network thread and the UI go through the named entry points below:
a command (with a request id and ``meta`` rows), a named read of :data:`agent.views.QUERIES`,
the sync's watermark and inbound versions. No other layer runs code of its own on the core
thread or sees the store's connection (a test scans sync/, ui/ and devices/ for it). Events
go out to subscribers after their commit, on the core thread (subscribers must only hand
them on: a Qt presenter re-emits them as signals, the sync wakes its publisher).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, NamedTuple, TypeVar

from agent import commands as c
from agent.config import HallConfig
from agent.errors import DiskFull, HallError, StoreError
from agent.model import Event
from agent.storage import DISK_FULL, STORAGE_DEVICE
from agent.store import CommandResult, Store
from agent.views import QUERIES, signed_link
from agent.watchdog import Heartbeat

log = logging.getLogger(__name__)

T = TypeVar("T")
Subscriber = Callable[[Event], None]
INBOX_SIZE = 1000
TICK_SECONDS = 1.0


class _Job:
    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[Store], Any], future: Future[Any]) -> None:
        self.fn = fn
        self.future = future


_NO_JOB = _Job(lambda store: None, Future())
#: Commands whose ticket gets a slip: its view carries the signed link (agent/ticketlink.py).
_SLIP_COMMANDS = (c.IssueTicket, c.CheckIn, c.CheckInByCard)


class CommandReport(NamedTuple):
    """What a command did, as a screen or a terminal is told: the view of the ticket it
    touched (no citizen hash), its events, and the store's last seq after it."""

    ticket: dict[str, Any] | None
    events: list[Event]
    last_seq: int


def _report(
    store: Store, command: c.Command, request_id: str | None, meta: dict[str, str] | None
) -> CommandReport:
    result = store.execute(command, meta=meta, request_id=request_id)
    view = None if result.ticket is None else store.ticket_view(result.ticket)
    if view is not None and isinstance(command, _SLIP_COMMANDS):
        view["link"] = signed_link(store, view["business_date"], view["number"])
    return CommandReport(view, result.events, store.last_seq)


class CoreRuntime:
    def __init__(self, store_factory: Callable[[], Store], tick_seconds: float = TICK_SECONDS):
        self._store_factory = store_factory
        self._tick_seconds = tick_seconds
        self._inbox: queue.Queue[_Job | None] = queue.Queue(maxsize=INBOX_SIZE)
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._published_seq = 0
        self._disk_full_seen = False  # a command failed for space since the last tick
        self._last_step_error: str | None = None
        #: The core loop's last turn (at least once a tick): the systemd watchdog reads it.
        self.heartbeat = Heartbeat()

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> CoreRuntime:
        self._thread = threading.Thread(target=self._run, name="hall-core", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        self._inbox.put(None)
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> CoreRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- API for other threads -----------------------------------------------------------
    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    # commands
    def submit(
        self,
        command: c.Command,
        *,
        request_id: str | None = None,
        meta: dict[str, str] | None = None,
    ) -> Future[CommandResult]:
        """Post a command; the future holds its result after the commit (or its HallError).
        ``request_id`` and ``meta`` as in :meth:`Store.execute`."""
        return self._call(lambda store: store.execute(command, meta=meta, request_id=request_id))

    def execute(
        self,
        command: c.Command,
        timeout: float = 30.0,
        *,
        request_id: str | None = None,
        meta: dict[str, str] | None = None,
    ) -> CommandResult:
        """Post a command and wait for its commit; raises the command's ``HallError``."""
        return self.submit(command, request_id=request_id, meta=meta).result(timeout)

    def submit_report(
        self,
        command: c.Command,
        *,
        request_id: str | None = None,
        meta: dict[str, str] | None = None,
    ) -> Future[CommandReport]:
        """Like :meth:`submit`, with the touched ticket's view made on the core thread (what
        screens and terminals show)."""
        return self._call(lambda store: _report(store, command, request_id, meta))

    # reads
    def submit_read(self, name: str, args: dict[str, Any] | None = None) -> Future[Any]:
        """One of the named reads of :data:`agent.views.QUERIES`; raises KeyError for another."""
        fn = QUERIES[name]
        kwargs = dict(args or {})
        return self._call(lambda store: fn(store, **kwargs))

    def read(self, name: str, timeout: float = 30.0, **args: Any) -> Any:
        return self.submit_read(name, args).result(timeout)

    def hall_config(self, timeout: float = 30.0) -> HallConfig:
        """The hall config in effect (the live model, not a copy: do not change it)."""
        return self._query(lambda store: store.config, timeout)

    def last_seq(self, timeout: float = 30.0) -> int:
        """The highest seq in this node's log, other processes' commits included."""
        return self._query(_refreshed_last_seq, timeout)

    def config_version(self, timeout: float = 30.0) -> int:
        """The version of the hall config applied from the central platform (0: the file's)."""
        return self._query(lambda store: store.state.config_version, timeout)

    # the central sync's bookkeeping
    def advance_watermark(self, seq: int) -> Future[int]:
        """Store the acknowledged watermark (never backwards); the future holds the stored one."""
        return self._call(lambda store: store.advance_watermark(seq))

    def reset_watermark(self, seq: int, timeout: float = 30.0) -> None:
        """Set the watermark, also backwards (central asked to resend)."""
        self._query(lambda store: store.reset_watermark(seq), timeout)

    def inbound_version(self, slot: str, timeout: float = 30.0) -> int:
        return self._query(lambda store: store.inbound_version(slot), timeout)

    def record_inbound_version(self, slot: str, version: int, timeout: float = 30.0) -> None:
        self._query(lambda store: store.record_inbound_version(slot, version), timeout)

    # ---- for agent/ only: any function of the store on the core thread -------------------
    def _call(self, fn: Callable[[Store], T]) -> Future[T]:
        """Run ``fn(store)`` on the core thread; returns a future."""
        if self._thread is None:
            raise StoreError("the core is not running")
        future: Future[T] = Future()
        try:
            self._inbox.put(_Job(fn, future), timeout=10)
        except queue.Full as exc:
            raise StoreError("the core is busy: its inbox has been full for 10 s") from exc
        return future

    def _query(self, fn: Callable[[Store], T], timeout: float = 30.0) -> T:
        return self._call(fn).result(timeout)

    # ---- the core thread -----------------------------------------------------------------
    def _run(self) -> None:
        try:
            store = self._store_factory()
        except Exception as exc:  # noqa: BLE001 - re-raised by start()
            self._startup_error = exc
            self._ready.set()
            return
        self._published_seq = store.last_seq
        self._ready.set()
        try:
            next_tick = time.monotonic() + self._tick_seconds
            while True:
                self.heartbeat.beat()
                # Ticks come on time even when commands never stop arriving.
                try:
                    job = self._inbox.get(timeout=max(0.0, next_tick - time.monotonic()))
                except queue.Empty:
                    job = _NO_JOB
                if job is None:
                    break
                if job is not _NO_JOB:
                    self._run_job(store, job)
                if time.monotonic() >= next_tick:
                    self._tick(store)
                    next_tick = time.monotonic() + self._tick_seconds
        finally:
            store.close()

    def _run_job(self, store: Store, job: _Job) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        try:
            result = job.fn(store)
        except HallError as exc:
            self._disk_full_seen |= isinstance(exc, DiskFull)
            job.future.set_exception(exc)
        except Exception as exc:  # handed to the caller, never swallowed
            log.exception("core job failed")
            store.invalidate()
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)
        self._guarded(store, self._publish_new)

    def _tick(self, store: Store) -> None:
        self._guarded(store, lambda s: s.execute(c.Tick()))
        self._guarded(store, self._watch_disk)
        self._guarded(store, self._publish_new)
        self._guarded(store, Store.flush_witness)
        self._guarded(store, Store.prune_daily)

    def _watch_disk(self, store: Store) -> None:
        """Keep the ``storage`` device's recorded status true: ``fault``/``disk_full`` while
        the disk is below the reserve or a write failed for space since the last tick, else
        ``online``. The event reaches central like any device fault (written as soon as
        there is room for it: the reserve is there so that there is)."""
        full, self._disk_full_seen = self._disk_full_seen or store.reserve.short(), False
        wanted = ("fault", DISK_FULL) if full else ("online", None)
        if store.state.devices.get(STORAGE_DEVICE, ("online", None)) != wanted:
            store.execute(c.DeviceStatusChanged(STORAGE_DEVICE, *wanted))
            if full:
                log.error("data disk full: new tickets refused until space is freed")
            else:
                log.warning("data disk has room again: new tickets accepted")

    def _guarded(self, store: Store, step: Callable[[Store], object]) -> None:
        """A failing step (disk full, a lock held too long) is logged and retried on the next
        tick; it must never end the core thread, or the whole hall stops answering."""
        try:
            step(store)
        except StoreError as exc:  # named already: one line, and once while it lasts
            self._disk_full_seen |= isinstance(exc, DiskFull)
            if str(exc) != self._last_step_error:
                log.error("core step failed, retrying each tick: %s", exc)
            self._last_step_error = str(exc)
            store.invalidate()
        except Exception:  # logged; the store folds again before the next step
            log.exception("core step failed; retrying on the next tick")
            store.invalidate()
        else:
            self._last_step_error = None

    def _publish_new(self, store: Store) -> None:
        """Send subscribers every event committed since the last publish, ours or not."""
        store.refresh()
        if store.last_seq <= self._published_seq:
            return
        events = list(store.events_since(self._published_seq))
        self._published_seq = store.last_seq
        with self._lock:
            subscribers = list(self._subscribers)
        for event in events:
            for subscriber in subscribers:
                try:
                    subscriber(event)
                except Exception:
                    log.exception("event subscriber failed", extra={"event_type": event.type})


def _refreshed_last_seq(store: Store) -> int:
    store.refresh()
    return store.last_seq
