"""The core actor: one thread owns the store; everyone else posts commands to its inbox.

Device threads, the MQTT network thread and the UI call ``submit``/``execute``; events go
out to subscribers after their commit, on the core thread (subscribers must only hand them
on: a Qt presenter re-emits them as signals, the sync wakes its publisher).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from agent import commands as c
from agent.errors import HallError, StoreError
from agent.model import Event
from agent.store import CommandResult, Store
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

    def call(self, fn: Callable[[Store], T]) -> Future[T]:
        """Run ``fn(store)`` on the core thread (reads or commands); returns a future."""
        if self._thread is None:
            raise StoreError("the core is not running")
        future: Future[T] = Future()
        try:
            self._inbox.put(_Job(fn, future), timeout=10)
        except queue.Full as exc:
            raise StoreError("the core is busy: its inbox has been full for 10 s") from exc
        return future

    def submit(self, command: c.Command) -> Future[CommandResult]:
        return self.call(lambda store: store.execute(command))

    def execute(self, command: c.Command, timeout: float = 30.0) -> CommandResult:
        """Post a command and wait for its commit; raises the command's ``HallError``."""
        return self.submit(command).result(timeout)

    def query(self, fn: Callable[[Store], T], timeout: float = 30.0) -> T:
        return self.call(fn).result(timeout)

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
        self._guarded(store, self._publish_new)

    def _guarded(self, store: Store, step: Callable[[Store], object]) -> None:
        """A failing step (disk full, a lock held too long) is logged and retried on the next
        tick; it must never end the core thread, or the whole hall stops answering."""
        try:
            step(store)
        except Exception:  # logged; the store folds again before the next step
            log.exception("core step failed; retrying on the next tick")
            store.invalidate()

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
