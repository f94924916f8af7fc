"""RemoteCore without a broker: a fake LAN client stands in for ``sync.lan.LanClient``."""

from __future__ import annotations

from typing import Any

import pytest

from agent import commands as c
from sync.lan import HubUnreachable
from ui.core import RemoteCore


class FakeLan:
    """Answers like ``LanClient``: ``failures`` calls raise HubUnreachable, then a ticket."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[tuple[Any, float, str | None]] = []
        self.online = True
        self.callbacks: list[Any] = []
        self.queries: list[str] = []

    def execute(
        self, command: c.Command, timeout: float = 5.0, request_id: str | None = None
    ) -> dict[str, Any]:
        self.calls.append((command, timeout, request_id))
        if len(self.calls) <= self.failures:
            raise HubUnreachable("no reply from the hub within 5 s", request_id=request_id)
        return {"ticket": {"number": "A001"}, "events": [], "last_seq": 1}

    def query(self, name: str, timeout: float = 5.0, **args: Any) -> Any:
        if not self.online:
            raise HubUnreachable("the hub is offline")
        self.queries.append(name)
        return {}

    def wait_hub(self, timeout: float) -> bool:
        return self.online

    @property
    def hub_online(self) -> bool:
        return self.online

    def subscribe(self, callback: Any) -> Any:
        self.callbacks.append(callback)
        return lambda: self.callbacks.remove(callback)


def test_a_command_that_timed_out_is_retried_with_the_same_request_id(qapp):
    """GIVEN a hub whose first two replies are lost WHEN the kiosk issues a ticket
    THEN the command is sent three times with one request id (the hub runs it once)."""
    lan = FakeLan(failures=2)
    core = RemoteCore(lan)
    try:
        view = core.command(c.IssueTicket("social-security"))
    finally:
        core.close()
    assert view == {"number": "A001"}
    ids = {request_id for _cmd, _timeout, request_id in lan.calls}
    assert len(lan.calls) == 3 and len(ids) == 1 and None not in ids
    assert sum(timeout for _cmd, timeout, _id in lan.calls) <= RemoteCore.COMMAND_BUDGET_S


def test_a_command_the_hub_never_answers_raises_after_the_last_try(qapp):
    """GIVEN a hub that never answers WHEN a window calls THEN three tries, then
    HubUnreachable (unknown outcome) reaches the presenter."""
    lan = FakeLan(failures=99)
    core = RemoteCore(lan)
    try:
        with pytest.raises(HubUnreachable):
            core.command(c.CallNext(1))
    finally:
        core.close()
    assert len(lan.calls) == RemoteCore.COMMAND_TRIES
    assert len({request_id for _cmd, _timeout, request_id in lan.calls}) == 1


def _event(seq: int, node: str = "hub") -> dict[str, Any]:
    return {
        "schema_version": 1,
        "node_id": node,
        "seq": seq,
        "type": "TicketIssued",
        "business_date": "2024-05-06",
        "at": "2024-05-06T09:00:00+08:00",
        "wall_time": "2024-05-06T09:00:00+08:00",
        "payload": {"number": f"A{seq:03d}"},
    }


def test_a_gap_in_the_event_feed_asks_the_screens_to_read_again(qapp):
    """GIVEN a terminal that has seen events 1 and 2 WHEN event 4 arrives (3 was lost)
    THEN ``resync`` fires; a repeated event is not passed on twice."""
    lan = FakeLan()
    core = RemoteCore(lan)
    resyncs: list[None] = []
    seen: list[int] = []
    core.resync.connect(lambda: resyncs.append(None))
    core.committed.connect(lambda event: seen.append(event.seq))
    try:
        feed = lan.callbacks[0]
        feed(_event(1))  # the first event seen: what came before is unknown
        feed(_event(2))
        assert len(resyncs) == 1
        feed(_event(2))  # QoS 1 delivers twice
        feed(_event(4))
        assert len(resyncs) == 2
        assert seen == [1, 2, 4]
        incomplete = _event(5)
        del incomplete["payload"]
        feed(incomplete)  # malformed: ignored, and it does not count as seen
        feed(_event(5))
        assert seen == [1, 2, 4, 5]
        assert len(resyncs) == 2
    finally:
        core.close()


def test_the_hub_coming_back_asks_the_screens_to_read_again(qtbot, monkeypatch):
    """GIVEN a terminal WHEN the hub goes away and comes back THEN ``resync`` fires each
    time (events published meanwhile were missed)."""
    monkeypatch.setattr(RemoteCore, "PRESENCE_POLL_MS", 20)
    lan = FakeLan()
    core = RemoteCore(lan)
    try:
        with qtbot.waitSignal(core.resync, timeout=2000):
            lan.online = False
        assert not core.online
        with qtbot.waitSignal(core.resync, timeout=2000):
            lan.online = True
        assert core.online
    finally:
        core.close()


def test_a_hub_seen_away_between_two_polls_is_heard_coming_back(qtbot, monkeypatch):
    """GIVEN a screen that found the hub away (``online`` False) in an outage shorter than
    the presence poll WHEN the hub is back THEN ``resync`` fires (the screen reads again and
    leaves its away page; the poll alone never saw the outage)."""
    monkeypatch.setattr(RemoteCore, "PRESENCE_POLL_MS", 20)
    lan = FakeLan()
    core = RemoteCore(lan)
    try:
        lan.online = False
        assert not core.online  # a screen's refresh: it now shows the hub away
        with qtbot.waitSignal(core.resync, timeout=2000):
            lan.online = True  # back before the next poll
        assert core.online
    finally:
        core.close()
