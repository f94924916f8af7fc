"""Alarms on the screens: a window station shows its own and its services' alarms, the hall
display the kinds the hall config puts there; a cleared alarm leaves the screens."""

from __future__ import annotations

import pytest

from agent import commands as c
from agent.alarms import ALL_SERVICES, AlarmRules

pytestmark = pytest.mark.qt

RULES = AlarmRules(
    waiting_count={"household": 2}, bad_rating_minutes=10, on_display=["waiting_count"]
)


def test_waiting_count_alarm_on_window_and_display_then_cleared(make_hall, qtbot) -> None:
    hall = make_hall(hall_changes={"alarms": RULES})
    for _ in range(2):
        hall.core.runtime.execute(c.IssueTicket("household"))
    serving, other, display = hall.window_views[2], hall.window_views[1], hall.display_view
    line = "告警：户籍办理等候 2 人（阈值 2）"
    qtbot.waitUntil(lambda: serving.alarms.text() == line, timeout=5000)
    assert serving.alarms.isVisibleTo(serving)
    qtbot.waitUntil(lambda: display.alarms.text() == line, timeout=5000)
    hall.windows[1].refresh()  # (a local core answers at once: the view is up to date now)
    assert other.alarms.text() == "" and not other.alarms.isVisibleTo(other)  # not its service
    hall.windows[2].call_next()
    qtbot.waitUntil(lambda: not serving.alarms.isVisibleTo(serving), timeout=5000)
    qtbot.waitUntil(lambda: display.alarms.text() == "", timeout=5000)


def test_bad_rating_alarm_at_its_window_only_and_off_the_display(make_hall, qtbot) -> None:
    hall = make_hall("en", hall_changes={"alarms": RULES})
    runtime = hall.core.runtime
    runtime.execute(c.IssueTicket("enterprise"))
    for command in (c.CallNext(3), c.StartService(3), c.FinishService(3)):
        runtime.execute(command)
    runtime.execute(c.RecordEvaluation(3, 1, "D001"))
    view = hall.window_views[3]
    line = "Alarm: D001 rated “Very dissatisfied” at window 3"
    qtbot.waitUntil(lambda: view.alarms.text() == line, timeout=5000)
    hall.windows[2].refresh()
    hall.display.refresh()
    assert hall.window_views[2].alarms.text() == ""
    assert hall.display_view.alarms.text() == ""  # bad ratings are not in on_display


def test_many_alarms_are_counted_not_listed(make_hall, qtbot) -> None:
    """GIVEN an alarm for every service with someone waiting WHEN all four services have
    someone waiting THEN the display lists the first alarm and counts the other three."""
    rules = AlarmRules(waiting_count={ALL_SERVICES: 1}, on_display=["waiting_count"])
    hall = make_hall(hall_changes={"alarms": rules})
    for service in hall.node.hall.services:
        hall.core.runtime.execute(c.IssueTicket(service.code))
    display = hall.display_view
    qtbot.waitUntil(lambda: display.alarms.text().endswith("…另有 3 条告警"), timeout=5000)
    assert display.alarms.text().startswith("告警：") and display.alarms.text().count("\n") == 1
    station = hall.window_views[3]  # serves three of them: room for all three lines
    qtbot.waitUntil(lambda: station.alarms.text().count("告警：") == 3, timeout=5000)
    assert "另有" not in station.alarms.text()
