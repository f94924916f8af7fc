"""The core actor: commands from other threads, events to subscribers, other processes seen."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agent import commands as c
from agent.config import HallConfig
from agent.errors import NobodyWaiting
from agent.model import Event
from agent.runtime import CoreRuntime
from agent.store import Store


def test_commands_from_many_threads_and_events_to_subscribers(
    tmp_path: Path, hall: HallConfig, clock
) -> None:
    seen: list[Event] = []
    runtime = CoreRuntime(lambda: Store(tmp_path / "h.db", "n", hall, clock), tick_seconds=0.05)
    with runtime:
        runtime.subscribe(seen.append)
        threads = [
            threading.Thread(
                target=lambda: [runtime.execute(c.IssueTicket("household")) for _ in range(10)]
            )
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with pytest.raises(NobodyWaiting):
            runtime.execute(c.CallNext(1))
        numbers = runtime._query(lambda s: sorted(t.number for t in s.state.tickets.values()))
    assert numbers == [f"B{n:03d}" for n in range(1, 41)]
    assert [e.seq for e in seen] == list(range(1, 41))


def test_events_committed_by_another_process_reach_subscribers(tmp_path: Path, hall, clock):
    other = Store(tmp_path / "h.db", "n", hall, clock)
    got = threading.Event()
    seen: list[Event] = []

    def on_event(event: Event) -> None:
        seen.append(event)
        got.set()

    with CoreRuntime(lambda: Store(tmp_path / "h.db", "n", hall, clock), tick_seconds=0.05) as rt:
        rt.subscribe(on_event)
        other.execute(c.IssueTicket("household"))
        assert got.wait(10)
        assert rt._query(lambda s: s.state.counters) == {"household": 1}
    assert [e.type for e in seen] == ["TicketIssued"]
    other.close()


def test_a_store_that_cannot_open_fails_start(tmp_path: Path, hall) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(Exception, match="unable to open"):
        CoreRuntime(lambda: Store(tmp_path / "dir.db", "n", hall)).start()


def test_ticks_run_even_while_commands_keep_arriving(tmp_path: Path, hall, clock) -> None:
    """GIVEN a called citizen who never comes and a kiosk that never stops issuing
    WHEN the no-show time passes THEN the tick still marks the no-show."""
    roomy = [s.model_copy(update={"daily_cap": 9999}) for s in hall.services]
    hall = hall.model_copy(update={"services": roomy})
    with CoreRuntime(lambda: Store(tmp_path / "h.db", "n", hall, clock), tick_seconds=0.05) as rt:
        rt.execute(c.IssueTicket("social-security"))
        rt.execute(c.CallNext(1))
        clock.advance(minutes=hall.no_show.auto_minutes)
        no_show = False
        deadline = time.monotonic() + 30  # a bound, not a speed assumption
        while time.monotonic() < deadline:  # a busy kiosk, one command after another
            rt.execute(c.IssueTicket("household"))
            if rt._query(lambda s: s.state.windows[1].current is None):
                no_show = True
                break
    assert no_show


def test_a_failing_step_does_not_stop_the_core(tmp_path: Path, hall, clock) -> None:
    """GIVEN a tick that hits a database error (a lock held too long, a full disk)
    THEN the core logs it and keeps answering commands."""
    import sqlite3

    failures = [sqlite3.OperationalError("database is locked")]

    class FlakyStore(Store):
        def execute(self, command: c.Command, **kwargs: Any):  # type: ignore[override]
            if isinstance(command, c.Tick) and failures:
                raise failures.pop()
            return super().execute(command, **kwargs)

    with CoreRuntime(
        lambda: FlakyStore(tmp_path / "h.db", "n", hall, clock), tick_seconds=0.01
    ) as rt:
        deadline = time.monotonic() + 30
        while failures and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not failures  # the failing tick happened
        assert rt.execute(c.IssueTicket("household")).ticket.number == "B001"  # type: ignore[union-attr]
