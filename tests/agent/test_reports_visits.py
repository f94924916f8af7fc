"""Report figures of "one thing" bundle visits and assisted (帮办/代办) legs against a small
day computed by hand, built with the engine's commands.

The day (2026-06-01, Shanghai; minutes after 09:00); bundle ``newborn`` is household →
social-security → civil-affairs; window 1 serves social-security and civil-affairs, window 2
household and social-security, window 3 enterprise, civil-affairs and household:
  0 B001 issued for the bundle (leg 1, household)   1 A001 issued (social-security)
  2 w2 calls B001 (wait 2)   3 w2 starts   4 w2 marks it assisted by S-7
 10 w2 finishes leg 1 (service 7), rated 5; B001 joins social-security (leg 2) at 10
 11 w1 calls B001 leg 2 before A001 (it keeps its issue time; wait 1)   12 w1 starts
 13 w1 marks it proxy by S-9   20 w1 finishes leg 2 (service 8); B001 joins civil-affairs
 21 w2 calls A001 (wait 20)   22 w2 starts   22 w3 calls B001 leg 3 (wait 2)   23 w3 starts
 25 w2 marks A001 assisted by S-7   29 w3 finishes leg 3 (service 6), rated 4: the bundle
    visit is done, 29 minutes from its issue   30 w2 finishes A001 (service 8)
 40 B002 issued for the bundle, never called
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from agent import commands as c
from agent.cli import main
from agent.node_runtime import Node
from agent.store import Store
from tests.agent.conftest import START, FakeClock
from tests.agent.test_reports import DAY, assert_groupings_add_up, at, pick, report

ASSISTED = ("assisted", "proxy")
BUNDLE = ("bundles_done", "bundle_visit_avg_min", "bundle_visit_p90_min")
COUNTS = ("tickets", "transferred_in", "bundle_in", "served", "unserved")
TIMES = ("wait_avg_min", "wait_p90_min", "service_avg_min", "service_p90_min")


def bundle_day(store: Store, clock: FakeClock, start: dt.datetime = START) -> None:
    """The day above (``start``: its 09:00)."""
    steps: list[tuple[float, c.Command, str | None]] = [
        (0, c.IssueTicket("", bundle="newborn"), "B001"),
        (1, c.IssueTicket("social-security"), "A001"),
        (2, c.CallNext(2), "B001"),
        (3, c.StartService(2), None),
        (4, c.MarkAssisted(2, "assisted", "S-7"), None),
        (10, c.FinishService(2), None),
        (10, c.RecordEvaluation(2, 5), None),
        (11, c.CallNext(1), "B001"),
        (12, c.StartService(1), None),
        (13, c.MarkAssisted(1, "proxy", "S-9"), None),
        (20, c.FinishService(1), None),
        (21, c.CallNext(2), "A001"),
        (22, c.StartService(2), None),
        (22, c.CallNext(3), "B001"),
        (23, c.StartService(3), None),
        (25, c.MarkAssisted(2, "assisted", "S-7"), None),
        (29, c.FinishService(3), None),
        (29, c.RecordEvaluation(3, 4), None),
        (30, c.FinishService(2), None),
        (40, c.IssueTicket("", bundle="newborn"), "B002"),
    ]
    for minute, command, number in steps:
        clock.now = start + dt.timedelta(minutes=minute)
        result = store.execute(command)
        if number is not None:
            assert result.ticket is not None and result.ticket.number == number, (minute, command)


@pytest.fixture
def visits(store: Store, clock: FakeClock) -> Store:
    bundle_day(store, clock)
    return store


def test_totals_count_every_leg_of_the_bundle(visits: Store) -> None:
    total = report(visits, None)["total"]
    assert pick(total, *COUNTS) == (3, 0, 2, 4, 1)
    # waits 2, 1, 2, 20: mean 6.25, p90 at rank 2.7 = 2 + 0.7 * 18; services 7, 8, 6, 8
    assert pick(total, *TIMES) == (6.25, 14.6, 7.25, 8.0)
    assert pick(total, *ASSISTED, *BUNDLE) == (2, 1, 1, 29.0, 29.0)
    assert pick(total, "rating_4", "rating_5", "good_rate_pct") == (1, 1, 100.0)


def test_by_service_each_leg_is_a_served_ticket_of_its_service(visits: Store) -> None:
    rows = {r["key"]: r for r in report(visits, "service")["rows"]}
    assert pick(rows["household"], *COUNTS, *ASSISTED) == (2, 0, 0, 1, 1, 1, 0)
    assert pick(rows["household"], *TIMES, "rating_5") == (2.0, 2.0, 7.0, 7.0, 1)
    assert pick(rows["social-security"], *COUNTS, *ASSISTED) == (1, 0, 1, 2, 0, 1, 1)
    # waits 1 (B001 leg 2) and 20 (A001): p90 at rank 0.9 = 1 + 0.9 * 19
    assert pick(rows["social-security"], *TIMES) == (10.5, 18.1, 8.0, 8.0)
    assert pick(rows["civil-affairs"], *COUNTS, *BUNDLE) == (0, 0, 1, 1, 0, 1, 29.0, 29.0)
    assert pick(rows["civil-affairs"], *TIMES, "rating_4") == (2.0, 2.0, 6.0, 6.0, 1)
    assert pick(rows["enterprise"], *COUNTS, *ASSISTED, "bundles_done") == (0,) * 8


def test_by_bundle_gives_the_bundles_totals(visits: Store) -> None:
    rows = {r["key"]: r for r in report(visits, "bundle")["rows"]}
    assert list(rows) == ["newborn", "-"]
    newborn = rows["newborn"]
    assert pick(newborn, *COUNTS, *ASSISTED, *BUNDLE) == (2, 0, 2, 3, 1, 1, 1, 1, 29.0, 29.0)
    # waits 2, 1, 2: p90 at rank 1.8 = 2; services 7, 8, 6: p90 at rank 1.8 = 7 + 0.8
    assert pick(newborn, *TIMES) == (1.67, 2.0, 7.0, 7.8)
    assert pick(rows["-"], *COUNTS, *ASSISTED, "bundles_done") == (1, 0, 0, 1, 0, 1, 0, 0)


def test_by_window_and_staff_assists_go_to_the_assisting_staff(visits: Store) -> None:
    windows = {r["key"]: r for r in report(visits, "window")["rows"]}
    assert list(windows) == ["1", "2", "3", "-"]
    assert pick(windows["1"], *COUNTS, *ASSISTED, "bundles_done") == (0, 0, 1, 1, 0, 0, 1, 0)
    assert pick(windows["2"], *COUNTS, *ASSISTED, "bundles_done") == (2, 0, 0, 2, 0, 2, 0, 0)
    assert pick(windows["3"], *COUNTS, *BUNDLE) == (0, 0, 1, 1, 0, 1, 29.0, 29.0)
    staff = {r["key"]: r for r in report(visits, "staff")["rows"]}
    assert list(staff) == ["S-7", "S-9", "unknown", "-"]
    assert pick(staff["S-7"], *COUNTS, *ASSISTED) == (0, 0, 0, 0, 0, 2, 0)
    assert pick(staff["S-9"], *COUNTS, *ASSISTED) == (0, 0, 0, 0, 0, 0, 1)
    assert pick(staff["unknown"], *COUNTS, *ASSISTED, "bundles_done") == (2, 0, 2, 4, 0, 0, 0, 1)


def test_marking_again_corrects_the_mode(store: Store, clock: FakeClock) -> None:
    at(clock, 0)
    store.execute(c.IssueTicket("social-security"))
    store.execute(c.CallNext(1))
    store.execute(c.MarkAssisted(1, "assisted", "S-7"))
    store.execute(c.MarkAssisted(1, "proxy", "S-8"))
    staff = {r["key"]: r for r in report(store, "staff")["rows"]}
    assert pick(staff["S-8"], *ASSISTED) == (0, 1)
    assert "S-7" not in staff


def test_every_grouping_adds_up_to_the_total(visits: Store) -> None:
    assert_groupings_add_up(visits)


def test_bundle_rows_in_the_csv_and_the_month_file(
    node: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock()
    store = Node.open(node).store(clock)
    bundle_day(store, clock)
    store.close()
    assert main(["report", "--from", DAY, "--by", "bundle", "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = lines[0].split(",")
    newborn = dict(zip(head, lines[1].split(","), strict=True))
    assert newborn["key"] == "newborn"
    assert pick(newborn, "tickets", "bundle_in", "served", "assisted", "proxy") == tuple("22311")
    assert pick(newborn, *BUNDLE) == ("1", "29.0", "29.0")
    assert main(["report", "month", DAY[:7], "--json"]) == 0
    month = json.loads(capsys.readouterr().out)
    assert [r["key"] for r in month["by_bundle"]] == ["newborn", "-"]
    assert pick(month["total"], "bundle_in", "assisted", "proxy", "bundles_done") == (2, 2, 1, 1)
