"""Alarms for the hall: each threshold raises once when it starts to hold and clears once
when it stops; ticks in between write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from agent import commands as c
from agent.alarms import AlarmRules
from agent.config import HallConfig
from agent.store import Store
from agent.views import hall_status
from tests.agent.conftest import FakeClock


def alarmed(hall: HallConfig, **rules: object) -> HallConfig:
    return hall.model_copy(update={"alarms": AlarmRules.model_validate(rules)})


@pytest.fixture
def make_store(tmp_path: Path, hall: HallConfig, clock: FakeClock):
    stores: list[Store] = []

    def make(**rules: object) -> Store:
        store = Store(tmp_path / "hall.db", "node-1", alarmed(hall, **rules), clock)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


def tick(store: Store) -> list[tuple[str, str]]:
    """The alarm events one tick wrote, as (type, alarm key)."""
    return [(e.type, e.payload["alarm"]) for e in store.execute(c.Tick()).events]


def test_waiting_count_raises_once_and_clears_once(make_store) -> None:
    store = make_store(waiting_count={"household": 3})
    for _ in range(2):
        store.execute(c.IssueTicket("household"))
    assert tick(store) == []
    store.execute(c.IssueTicket("household"))
    assert tick(store) == [("AlarmRaised", "waiting_count:household")]
    assert tick(store) == []  # still holds: not raised again
    raised = store.state.alarms["waiting_count:household"]
    assert (raised["service"], raised["value"], raised["threshold"]) == ("household", 3, 3)
    store.execute(c.CallNext(2))  # window 2 serves household first
    assert tick(store) == [("AlarmCleared", "waiting_count:household")]
    assert tick(store) == [] and store.state.alarms == {}


def test_a_star_sets_every_service(make_store) -> None:
    store = make_store(waiting_count={"*": 1, "household": 2})
    store.execute(c.IssueTicket("household"))
    store.execute(c.IssueTicket("enterprise"))
    assert tick(store) == [("AlarmRaised", "waiting_count:enterprise")]


def test_longest_wait(make_store, clock: FakeClock) -> None:
    store = make_store(longest_wait_minutes=10)
    store.execute(c.IssueTicket("enterprise"))
    clock.advance(minutes=2)
    store.execute(c.IssueTicket("enterprise"))
    clock.advance(minutes=7, seconds=59)
    assert tick(store) == []
    clock.advance(seconds=1)
    assert tick(store) == [("AlarmRaised", "longest_wait:enterprise")]
    assert store.state.alarms["longest_wait:enterprise"]["number"] == "D001"
    store.execute(c.CallNext(3))  # D001 called; D002 has waited 8 minutes
    assert tick(store) == [("AlarmCleared", "longest_wait:enterprise")]
    clock.advance(minutes=2)
    assert tick(store) == [("AlarmRaised", "longest_wait:enterprise")]
    assert store.state.alarms["longest_wait:enterprise"]["number"] == "D002"


def test_a_window_idle_while_people_wait(make_store, clock: FakeClock) -> None:
    """GIVEN A001 waiting, window 2 paused WHEN window 1 (social security) calls nobody for
    5 minutes THEN window 1 alarms; a paused window does not; calling clears it."""
    store = make_store(idle_window_minutes=5)
    store.execute(c.PauseWindow(2, "break"))
    store.execute(c.IssueTicket("social-security"))
    clock.advance(minutes=4)
    assert tick(store) == []
    clock.advance(minutes=1)
    assert tick(store) == [("AlarmRaised", "window_idle:1")]
    store.execute(c.CallNext(1))
    assert tick(store) == [("AlarmCleared", "window_idle:1")]


def test_idle_counts_from_when_the_window_became_free(make_store, clock: FakeClock) -> None:
    store = make_store(idle_window_minutes=5)
    store.execute(c.PauseWindow(2, "break"))
    store.execute(c.IssueTicket("social-security"))
    store.execute(c.IssueTicket("social-security"))
    store.execute(c.CallNext(1))
    store.execute(c.StartService(1))
    clock.advance(minutes=8)
    store.execute(c.FinishService(1))  # A002 has waited 8 minutes; the window is free now
    clock.advance(minutes=4)
    assert tick(store) == []
    clock.advance(minutes=1)
    assert tick(store) == [("AlarmRaised", "window_idle:1")]
    assert store.state.alarms["window_idle:1"]["value"] == 5.0


def test_a_bad_rating_raises_with_the_rating_and_clears_later(make_store, clock: FakeClock) -> None:
    store = make_store(bad_rating_minutes=10)
    for number in ("A001", "A002"):
        store.execute(c.IssueTicket("social-security"))
        store.execute(c.CallNext(1))
        store.execute(c.StartService(1))
        store.execute(c.FinishService(1))
        score = 2 if number == "A001" else 4
        events = store.execute(c.RecordEvaluation(1, score)).events
        types = [e.type for e in events]
        if number == "A001":
            assert types == ["EvaluationRecorded", "AlarmRaised"]
            alarm = events[1].payload
            assert (alarm["alarm"], alarm["window"], alarm["value"]) == ("bad_rating:A001", 1, 2)
        else:
            assert types == ["EvaluationRecorded"]
    clock.advance(minutes=9)
    assert tick(store) == []
    clock.advance(minutes=1)
    assert tick(store) == [("AlarmCleared", "bad_rating:A001")]


def test_no_thresholds_no_alarm_events(make_store, clock: FakeClock) -> None:
    store = make_store()
    for _ in range(30):
        store.execute(c.IssueTicket("household"))
    clock.advance(hours=3)
    store.execute(c.CallNext(2))
    store.execute(c.StartService(2))
    store.execute(c.FinishService(2))
    assert len(store.execute(c.RecordEvaluation(2, 1)).events) == 1
    assert tick(store) == []


def test_raised_alarms_survive_a_restart_and_end_with_the_day(make_store, clock: FakeClock) -> None:
    store = make_store(waiting_count={"household": 1})
    store.execute(c.IssueTicket("household"))
    assert tick(store) == [("AlarmRaised", "waiting_count:household")]
    store.close()
    again = make_store(waiting_count={"household": 1})
    assert list(again.state.alarms) == ["waiting_count:household"]  # folded from the log
    assert tick(again) == []
    assert [a["alarm"] for a in hall_status(again)["alarms"]] == ["waiting_count:household"]
    clock.advance(days=1)
    assert tick(again) == [] and hall_status(again)["alarms"] == []


def test_a_threshold_for_an_unknown_service_is_refused(hall: HallConfig) -> None:
    data = hall.model_dump(mode="json")
    data["alarms"] = {"waiting_count": {"passports": 5}}
    with pytest.raises(ValidationError, match="unknown service"):
        HallConfig.model_validate(data)
    data["alarms"] = {"longest_wait_minutes": 0}
    with pytest.raises(ValidationError, match="greater than 0"):
        HallConfig.model_validate(data)
