"""Reports follow a day correction (agent/daycorrection.py): the tickets of a wrongly opened
day count on the real day, at their corrected times, and the wrong date keeps none of them.

The days (Shanghai; real minutes after 09:00 of 2026-06-01):
  0 A001 issued   1 w1 calls A001 (wait 1)   2 starts   5 finishes (service 3)   6 A002 issued
  — the PC restarts with its clock 3 days 2 hours ahead: 2026-06-04 11:10 opens that day —
 10 A001' issued   11 B001' issued (household)   12 w1 calls A001' (wait 2)   13 starts
 15 finishes (service 2), rated 5   16 w2 calls B001' (wait 5) and starts
 17 the operator corrects the clock: A001' becomes A003 and B001' B001 of 2026-06-01, their
    times moved back by 3 days 2 hours (09:10 … 09:16); B001 waits again
 20 w1 calls A002 (wait 14)   21 starts   24 finishes (service 3)
 25 w2 calls B001 again (its wait stays 5, to its first call)
 26 w2 transfers B001 to social-security without starting it again (no service time: its
    start on the wrong day was undone)   27 w1 calls leg 2 (wait 1) and starts
 30 finishes (service 3), rated 4
  — three days later, the real 2026-06-04: 09:00 A001 issued there —
"""

from __future__ import annotations

import datetime as dt

import pytest

from agent import commands as c
from agent import reports
from agent.report_cli import hub_source
from agent.store import Store
from tests.agent.conftest import START, FakeClock
from tests.agent.test_reports import pick

AHEAD = dt.timedelta(days=3, hours=2)
REAL, WRONG = "2026-06-01", "2026-06-04"
COUNTS = ("tickets", "transferred_in", "served", "transfers", "unserved")
TIMES = ("wait_avg_min", "wait_p90_min", "service_avg_min", "service_p90_min")


def corrected_days(store: Store, clock: FakeClock, start: dt.datetime = START) -> None:
    """The days above (``start``: the real day's 09:00; the wrong day is 3 days later)."""

    def step(minute: float, command: c.Command, ahead: dt.timedelta = AHEAD) -> None:
        clock.now = start + ahead + dt.timedelta(minutes=minute)
        store.execute(command)

    for minute, command in [
        (0, c.IssueTicket("social-security")),
        (1, c.CallNext(1)),
        (2, c.StartService(1)),
        (5, c.FinishService(1)),
        (6, c.IssueTicket("social-security")),
    ]:
        step(minute, command, dt.timedelta(0))
    for minute, command in [
        (10, c.IssueTicket("social-security")),
        (11, c.IssueTicket("household")),
        (12, c.CallNext(1)),
        (13, c.StartService(1)),
        (15, c.FinishService(1)),
        (15, c.RecordEvaluation(1, 5)),
        (16, c.CallNext(2)),
        (16, c.StartService(2)),
    ]:
        step(minute, command)
    clock.now = start + AHEAD + dt.timedelta(minutes=17)
    corrected = store.execute(c.ConfirmClock("operator", correct_to=clock.now - AHEAD)).events
    assert corrected[0].type == "BusinessDayCorrected"
    assert corrected[0].payload["ids"] == {
        f"{start + AHEAD:%Y-%m-%d}/A001/1": f"{start:%Y-%m-%d}/A003/1",
        f"{start + AHEAD:%Y-%m-%d}/B001/1": f"{start:%Y-%m-%d}/B001/1",
    }
    for minute, command in [  # (the PC's clock still runs ahead: the hall's is corrected)
        (20, c.CallNext(1)),
        (21, c.StartService(1)),
        (24, c.FinishService(1)),
        (25, c.CallNext(2)),
        (26, c.Transfer(2, "social-security")),
        (27, c.CallNext(1)),
        (27, c.StartService(1)),
        (30, c.FinishService(1)),
        (30, c.RecordEvaluation(1, 4)),
        (3 * 24 * 60, c.IssueTicket("social-security")),  # the real wrong date
    ]:
        step(minute, command)


@pytest.fixture
def corrected(store: Store, clock: FakeClock) -> Store:
    corrected_days(store, clock)
    return store


def report(store: Store, by: reports.Grouping | None, first: str, last: str) -> dict:
    events = hub_source(store).period(first, last)
    return reports.build_report(events, "h", first, last, by).as_dict()


def test_the_wrong_days_tickets_count_on_the_real_day(corrected: Store) -> None:
    total = report(corrected, None, REAL, REAL)["total"]
    assert pick(total, *COUNTS) == (4, 1, 4, 1, 0)
    # waits 1, 14, 2, 5, 1: p90 at rank 3.6 = 5 + 0.6 * 9; services 3, 3, 2, 3
    assert pick(total, *TIMES) == (4.6, 10.4, 2.75, 3.0)
    assert pick(total, "rating_4", "rating_5") == (1, 1)
    # at their corrected times: 11:xx on the wrong clock is 09:xx
    hours = report(corrected, "hour", REAL, REAL)["rows"]
    assert [row["key"] for row in hours] == ["09:00"]


def test_the_wrong_date_keeps_only_its_real_tickets(corrected: Store) -> None:
    total = report(corrected, None, WRONG, WRONG)["total"]
    assert pick(total, *COUNTS) == (1, 0, 0, 0, 1)  # the real 2026-06-04's A001
    days = report(corrected, "day", REAL, WRONG)["rows"]
    assert [(row["key"], row["tickets"], row["served"]) for row in days] == [
        (REAL, 4, 4),
        (WRONG, 1, 0),
    ]
    assert report(corrected, None, "2026-06-02", "2026-06-03")["total"]["tickets"] == 0


def test_a_period_ending_before_the_wrong_date_still_counts_them(corrected: Store) -> None:
    """GIVEN a period that holds the real day but not the wrong date THEN the wrongly dated
    events are read in from their date (the run just before the correction)."""
    events = list(hub_source(corrected).period(REAL, "2026-06-02"))
    assert {e.business_date for e in events} == {REAL, WRONG}
    assert len([e for e in events if e.business_date == WRONG]) == 8  # not the real 06-04's


def test_the_month_file_holds_each_ticket_once(corrected: Store) -> None:
    events = hub_source(corrected).period("2026-06-01", "2026-06-30")
    month = reports.month_report(events, "h", "2026-06")
    assert pick(month["total"], *COUNTS) == (5, 1, 4, 1, 1)
    assert [(r["key"], r["tickets"]) for r in month["by_day"]] == [(REAL, 4), (WRONG, 1)]
