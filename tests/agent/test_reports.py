"""Report figures against a small day computed by hand, built with the engine's commands.

The day (2026-06-01, Shanghai; minutes after 09:00):
  0 A001 issued   2 A002 issued   3 B001 issued (household)
  5 w1 calls A001 (wait 5)   6 w1 starts   8 w2 calls B001 (wait 5)   9 w2 starts
 16 w1 finishes A001 (service 10), rated 5
 17 w1 calls A002 (wait 15)
 19 w2 transfers B001 to civil-affairs (service 10; leg 2 joins the line at 19)
 20 w1 marks A002 no-show
 21 w3 calls B001 leg 2 (wait 2)   22 w3 starts   26 w3 finishes (service 4), rated 2
 65 C001 issued (civil-affairs), never called   70 A003 issued   71 A003 cancelled
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from agent import commands as c
from agent import reports
from agent.cli import main
from agent.model import Event
from agent.store import Store
from tests.agent.conftest import START, FakeClock

DAY = "2026-06-01"


def at(clock: FakeClock, minute: float) -> None:
    clock.now = START + dt.timedelta(minutes=minute)


def small_day(store: Store, clock: FakeClock) -> None:
    steps: list[tuple[float, c.Command]] = [
        (0, c.IssueTicket("social-security")),
        (2, c.IssueTicket("social-security")),
        (3, c.IssueTicket("household")),
        (5, c.CallNext(1)),
        (6, c.StartService(1)),
        (8, c.CallNext(2)),
        (9, c.StartService(2)),
        (16, c.FinishService(1)),
        (16, c.RecordEvaluation(1, 5)),
        (17, c.CallNext(1)),
        (19, c.Transfer(2, "civil-affairs")),
        (20, c.MarkNoShow(1)),
        (21, c.CallNext(3)),
        (22, c.StartService(3)),
        (26, c.FinishService(3)),
        (26, c.RecordEvaluation(3, 2)),
        (65, c.IssueTicket("civil-affairs")),
        (70, c.IssueTicket("social-security")),
        (71, c.CancelTicket("A003")),
    ]
    for minute, command in steps:
        at(clock, minute)
        store.execute(command)


@pytest.fixture
def day_store(store: Store, clock: FakeClock) -> Store:
    small_day(store, clock)
    return store


def report(store: Store, by: reports.Grouping | None, first: str = DAY, last: str = DAY):
    order = [s.code for s in store.config.services]
    return reports.build_report(
        store.events_of_days(first, last), "demo-town", first, last, by, order
    ).as_dict()


def pick(row: dict, *names: str) -> tuple:
    return tuple(row[n] for n in names)


COUNTS = ("tickets", "transferred_in", "served", "no_shows", "transfers", "cancelled", "unserved")
LATER_COUNTS = ("bundle_in", "assisted", "proxy", "bundles_done")
TIMES = ("wait_avg_min", "wait_p90_min", "service_avg_min", "service_p90_min")
RATINGS = ("rating_1", "rating_2", "rating_3", "rating_4", "rating_5", "ratings", "good_rate_pct")


def test_totals_of_the_small_day(day_store: Store) -> None:
    total = report(day_store, None)["total"]
    assert pick(total, *COUNTS) == (5, 1, 2, 1, 1, 1, 1)
    # waits 5, 5, 15, 2: mean 6.75; p90 at rank 2.7 of the sorted four = 5 + 0.7 * 10
    # service times 10, 10, 4 (the transferred leg counts up to its transfer): p90 = 10
    assert pick(total, *TIMES) == (6.75, 12.0, 8.0, 10.0)
    assert pick(total, *RATINGS) == (0, 1, 0, 0, 1, 2, 50.0)
    # the bad rating was given without a reason: it counts as "no reason given"
    assert total["bad"] == 1 and total["bad_reasons"] == {"no_reason_given": 1}


def test_by_service(day_store: Store) -> None:
    rows = {r["key"]: r for r in report(day_store, "service")["rows"]}
    assert list(rows) == ["social-security", "household", "civil-affairs", "enterprise"]
    assert pick(rows["social-security"], *COUNTS) == (3, 0, 1, 1, 0, 1, 0)
    assert pick(rows["social-security"], *TIMES) == (10.0, 14.0, 10.0, 10.0)
    assert rows["social-security"]["good_rate_pct"] == 100.0
    assert pick(rows["household"], *COUNTS) == (1, 0, 0, 0, 1, 0, 0)
    assert pick(rows["household"], *TIMES) == (5.0, 5.0, 10.0, 10.0)
    assert pick(rows["civil-affairs"], *COUNTS) == (1, 1, 1, 0, 0, 0, 1)
    assert pick(rows["civil-affairs"], *TIMES) == (2.0, 2.0, 4.0, 4.0)
    assert pick(rows["civil-affairs"], "rating_2", "good_rate_pct", "bad") == (1, 0.0, 1)
    assert pick(rows["enterprise"], *COUNTS, *TIMES) == (0,) * 7 + (None,) * 4


def test_by_window_puts_each_figure_where_it_happened(day_store: Store) -> None:
    rows = {r["key"]: r for r in report(day_store, "window")["rows"]}
    assert list(rows) == ["1", "2", "3", "-"]
    assert pick(rows["1"], *COUNTS) == (2, 0, 1, 1, 0, 0, 0)
    assert pick(rows["1"], "wait_avg_min", "service_avg_min", "rating_5") == (10.0, 10.0, 1)
    assert pick(rows["2"], *COUNTS) == (1, 0, 0, 0, 1, 0, 0)
    assert pick(rows["3"], *COUNTS) == (0, 1, 1, 0, 0, 0, 0)
    assert pick(rows["3"], "wait_avg_min", "service_avg_min", "rating_2") == (2.0, 4.0, 1)
    # never called: C001 still waiting, A003 cancelled at the kiosk
    assert pick(rows["-"], *COUNTS) == (2, 0, 0, 0, 0, 1, 1)


def test_by_hour_and_by_staff(day_store: Store) -> None:
    hours = {r["key"]: r for r in report(day_store, "hour")["rows"]}
    assert list(hours) == ["09:00", "10:00"]
    assert pick(hours["09:00"], *COUNTS) == (3, 1, 2, 1, 1, 0, 0)
    assert pick(hours["10:00"], *COUNTS) == (2, 0, 0, 0, 0, 1, 1)
    staff = {r["key"]: r for r in report(day_store, "staff")["rows"]}
    # no staff sign-in yet: every window event is "unknown"
    assert list(staff) == ["unknown", "-"]
    assert pick(staff["unknown"], *COUNTS) == (3, 1, 2, 1, 1, 0, 0)


def assert_groupings_add_up(store: Store) -> None:
    """Every grouping's rows add up to the total, count by count."""
    total = report(store, None)["total"]
    for by in reports.GROUPINGS:
        rows = report(store, by)["rows"]
        for name in (*COUNTS, *LATER_COUNTS, "ratings", "bad"):
            assert sum(r[name] for r in rows) == total[name], (by, name)


def test_every_grouping_adds_up_to_the_total(day_store: Store) -> None:
    assert_groupings_add_up(day_store)


def test_the_period_leaves_out_other_days(day_store: Store, clock: FakeClock) -> None:
    clock.advance(days=1)
    day_store.execute(c.IssueTicket("household"))
    assert report(day_store, None)["total"]["tickets"] == 5
    assert report(day_store, None, DAY, "2026-06-02")["total"]["tickets"] == 6
    assert report(day_store, "day", DAY, "2026-06-02")["rows"][1]["key"] == "2026-06-02"


def test_a_reactivated_no_show_is_not_a_no_show(store: Store, clock: FakeClock) -> None:
    at(clock, 0)
    store.execute(c.IssueTicket("social-security"))
    store.execute(c.CallNext(1))
    store.execute(c.MarkNoShow(1))
    store.execute(c.Reactivate("A001"))
    at(clock, 4)
    store.execute(c.CallNext(1))
    total = report(store, None)["total"]
    assert pick(total, "no_shows", "unserved", "wait_avg_min") == (0, 1, 0.0)  # first call


def test_bad_rating_reasons_are_counted_when_events_carry_them() -> None:
    """GIVEN rating events with ``reasons`` (the staff-and-ratings work adds them) WHEN
    reported THEN bad ratings count their reasons and good ones do not."""

    def event(seq: int, type_: str, payload: dict) -> Event:
        return Event("n", seq, type_, DAY, f"{DAY}T09:0{seq}:00+08:00", "", payload)

    events = []
    for i, score in enumerate((1, 2, 5)):
        tid = f"{DAY}/A00{i}/1"
        row = {"id": tid, "number": f"A00{i}", "service": "s"}
        events.append(event(3 * i + 1, "TicketIssued", {"ticket": row}))
        events.append(event(3 * i + 2, "ServiceFinished", {"ticket_id": tid, "window": 1}))
        rating = {"ticket_id": tid, "window": 1, "score": score, "reasons": ["attitude"]}
        events.append(event(3 * i + 3, "EvaluationRecorded", rating))
    total = reports.build_report(events, "h", DAY, DAY, None).as_dict()["total"]
    assert total["bad_reasons"] == {"attitude": 2}


def test_bad_periods_are_refused(store: Store) -> None:
    with pytest.raises(reports.ReportError, match="before it starts"):
        report(store, None, "2026-06-02", DAY)
    with pytest.raises(reports.ReportError, match="not a date"):
        report(store, None, "2026-13-01", DAY)
    with pytest.raises(reports.ReportError, match="not a month"):
        reports.month_days("2026-1")
    assert reports.month_days("2026-02") == ("2026-02-01", "2026-02-28")


# ---- through the program ---------------------------------------------------------------------
@pytest.fixture
def node_with_day(node: Path) -> Path:
    from agent.node_runtime import Node

    clock = FakeClock()
    store = Node.open(node).store(clock)
    small_day(store, clock)
    store.close()
    return node


def test_report_cli_json_and_csv(node_with_day: Path, capsys) -> None:
    assert main(["report", "--from", DAY, "--by", "window", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["key"] for r in data["rows"]] == ["1", "2", "3", "-"]
    assert data["total"]["tickets"] == 5
    assert main(["report", "--from", DAY, "--to", DAY, "--by", "service", "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "key," + ",".join(reports.FIGURE_COLUMNS)
    # (bundle_in, assisted, proxy and bundles_done 0; no bundle visit time measured)
    figures = "3,0,0,1,1,0,1,0,10.0,14.0,10.0,10.0,0,0,0,,,0,0,0,0,1,1,100.0,0,"
    assert lines[1] == f"social-security,{figures}"
    assert (
        lines[-1]
        == "total,5,1,0,2,1,1,1,1,6.75,12.0,8.0,10.0,0,0,0,,,0,1,0,0,1,2,50.0,1,no_reason_given:1"
    )


def test_month_file_holds_every_grouping(node_with_day: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "2026-06.csv"
    assert main(["report", "month", "2026-06", "--csv", "--out", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(reports.MONTH_COLUMNS)
    dimensions = [line.split(",")[2] for line in lines[1:]]
    assert dimensions[0] == "total"
    assert set(dimensions) == {"total", *reports.GROUPINGS}
    assert lines[1].startswith("demo-town,2026-06,total,total,5,1,0,2,")
    assert main(["report", "month", "2026-06", "--json"]) == 0
    document = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert document["total"]["served"] == 2
    assert [r["key"] for r in document["by_day"]] == [DAY]
    assert main(["report", "month", "2026-07", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["tickets"] == 0


def test_report_cli_usage_errors(node_with_day: Path, capsys) -> None:
    assert main(["report"]) == 2
    assert "--from DATE" in capsys.readouterr().err
    assert main(["report", "--from", "2026-06-02", "--to", DAY]) == 1
    assert "before it starts" in capsys.readouterr().err
    assert main(["report", "--from", DAY, "--chart", "x.svg"]) == 2
