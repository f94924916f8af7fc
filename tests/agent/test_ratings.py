"""Ratings as 好差评 counts them: levels, reasons from the versioned list, the case number the
business system gives, and what a rating event carries."""

from __future__ import annotations

import json

import pytest

from agent import commands as c
from agent import errors
from agent.config import HallConfig
from agent.ratings import NO_REASON, RatingIndicators, Reason, recorded_reasons
from agent.store import Store, dump_projection, replay
from agent.views import rating_of_case


def _served(store: Store, window: int = 1, service: str = "social-security") -> str:
    ticket = store.execute(c.IssueTicket(service)).ticket
    assert ticket is not None
    store.execute(c.CallNext(window))
    store.execute(c.StartService(window))
    store.execute(c.FinishService(window))
    return ticket.number


def _rating(store: Store) -> dict:
    return next(e for e in store.events_since(0) if e.type == "EvaluationRecorded").payload


def test_bad_rating_records_the_chosen_reasons_with_the_list_version(store: Store) -> None:
    number = _served(store)
    store.execute(c.RecordEvaluation(1, 2, reasons=("attitude", "efficiency")))
    p = _rating(store)
    assert p["number"] == number and p["score"] == 2
    assert p["reasons"] == ["efficiency", "attitude"]  # in the list's order
    assert p["indicators_version"] == "offline-2019.1"
    assert p["channel"] == "evaluator"
    assert p["item_code"] == "11330100MB0000001X-SS-001"
    assert "staff_id" in p and p["staff_id"] is None  # no staff sign-in on windows yet


def test_bad_rating_without_reasons_records_no_reason_given(store: Store) -> None:
    _served(store)
    store.execute(c.RecordEvaluation(1, 1))
    assert _rating(store)["reasons"] == [NO_REASON]


def test_good_rating_carries_no_reasons_and_no_list_version(store: Store) -> None:
    _served(store, service="civil-affairs")  # a service without an item code
    store.execute(c.RecordEvaluation(1, 4, channel="window"))
    p = _rating(store)
    assert p["reasons"] == [] and p["indicators_version"] is None
    assert p["item_code"] is None and p["channel"] == "window"


@pytest.mark.parametrize(
    "command",
    [
        c.RecordEvaluation(1, 5, reasons=("attitude",)),  # a good level takes no reasons
        c.RecordEvaluation(1, 2, reasons=("rudeness",)),  # not in the hall's list
        c.RecordEvaluation(1, 2, channel="carrier-pigeon"),
        c.RecordEvaluation(1, 2, case="case with spaces"),
        c.RecordEvaluation(1, 2, case="CASE-1\n"),  # a line break after a good case number
        c.RecordEvaluation(2, 1, number="A001"),  # window 2 rating window 1's citizen
        c.RecordEvaluation(1, 0),
    ],
)
def test_bad_rating_input_is_refused_and_changes_nothing(store: Store, command) -> None:
    _served(store)
    before = store.last_seq
    with pytest.raises(errors.DomainError):
        store.execute(command)
    assert store.last_seq == before
    store.execute(c.RecordEvaluation(1, 3))  # the ticket can still be rated


def test_business_system_case_number_goes_with_the_rating(store: Store) -> None:
    """GIVEN a ticket being served WHEN the business system asks for a rating of its case
    THEN the rating given after the finish carries that 办件编号 and is read by it."""
    store.execute(c.IssueTicket("household"))
    store.execute(c.CallNext(2))
    store.execute(c.StartService(2))
    asked = store.execute(c.RequestRating(2, "330102-2026-000123")).events[0]
    assert asked.type == "RatingRequested" and asked.payload["ask"] is False
    assert rating_of_case(store, "330102-2026-000123") == {
        "case": "330102-2026-000123",
        "state": "requested",
        "number": "B001",
    }
    store.execute(c.FinishService(2))
    store.execute(c.RecordEvaluation(2, 1, reasons=("competence",)))
    result = rating_of_case(store, "330102-2026-000123")
    assert result is not None
    assert result["state"] == "rated" and result["level"] == 1
    assert result["reasons"] == ["competence"] and result["number"] == "B001"
    assert result["item_code"] == "11330100MB0000002X-HJ-001"
    assert rating_of_case(store, "330102-2026-999999") is None


def test_request_after_finish_asks_again_and_a_rated_ticket_is_refused(store: Store) -> None:
    _served(store)
    asked = store.execute(c.RequestRating(1, "CASE-1")).events[0]
    assert asked.payload["ask"] is True  # the window's evaluator is asked now
    store.execute(c.RecordEvaluation(1, 5))
    with pytest.raises(errors.AlreadyRated):
        store.execute(c.RequestRating(1, "CASE-2"))
    with pytest.raises(errors.NoCurrentTicket):
        store.execute(c.RequestRating(3, "CASE-3"))


def test_rating_details_replay_into_the_same_evaluations_rows(store: Store, hall) -> None:
    _served(store)
    store.execute(c.RequestRating(1, "CASE-9"))
    store.execute(c.RecordEvaluation(1, 2, reasons=("attitude",), channel="qr"))
    rows = dump_projection(store.conn)["evaluations"]
    assert rows == dump_projection(replay(store.events_since(0), hall))["evaluations"]
    (row,) = rows
    assert row[6:] == (
        '["attitude"]',
        "qr",
        "CASE-9",
        "11330100MB0000001X-SS-001",
        None,
        "offline-2019.1",
    )


def test_indicator_list_is_versioned_and_closed(hall: HallConfig) -> None:
    listed = hall.rating_indicators
    assert listed.codes() == ["efficiency", "competence", "attitude"]
    assert recorded_reasons(3, (), listed) == []
    with pytest.raises(ValueError, match="reserved"):
        RatingIndicators(reasons=[Reason(code=NO_REASON, zh="无", en="None")])
    with pytest.raises(ValueError, match="repeat"):
        RatingIndicators(reasons=[Reason(code="a", zh="甲", en="A")] * 2)


def test_rating_by_case_through_the_cli_on_the_store(node, capsys) -> None:
    from agent.cli import main

    def run(*argv: str) -> tuple[int, dict]:
        code = main([*argv, "--json"])
        out = capsys.readouterr().out.strip().splitlines()
        return code, json.loads(out[-1]) if out else {}

    run("queue", "issue", "--service", "household")
    for action in ("call", "start"):
        run("queue", action, "--window", "2")
    code, asked = run("rating", "request", "--window", "2", "--case", "HZ-0001")
    assert code == 0 and asked == {"case": "HZ-0001", "state": "requested", "number": "B001"}
    run("queue", "finish", "--window", "2")
    code, _ = run("queue", "rate", "--window", "2", "--score", "2", "--reason", "efficiency")
    assert code == 0
    code, shown = run("rating", "show", "HZ-0001")
    assert code == 0 and shown["level"] == 2 and shown["reasons"] == ["efficiency"]
    assert shown["channel"] == "window"
    code, missing = run("rating", "show", "HZ-0002")
    assert code == 1 and missing["code"] == "unknown_case"  # refused, as by the rules


def test_ratings_export_for_the_province_as_json_and_csv(node, capsys, tmp_path) -> None:
    """GIVEN a day with a bad rating with reasons and a case number, a bad one without a
    reason and a good one WHEN exported THEN each is one record with the documented fields."""
    from agent.cli import main
    from agent.rating_export import COLUMNS

    def run(*argv: str) -> str:
        assert main(list(argv)) == 0
        return capsys.readouterr().out

    for score, extra in ((2, ["--reason", "attitude", "--case", "HZ-7"]), (1, []), (5, [])):
        run("queue", "issue", "--service", "social-security")
        for action in ("call", "start", "finish"):
            run("queue", action, "--window", "1")
        run("queue", "rate", "--window", "1", "--score", str(score), *extra)
    day = json.loads(run("queue", "status", "--json"))["business_date"]
    document = json.loads(run("report", "ratings", "--from", day, "--format", "json"))
    records = document["ratings"]
    assert [tuple(r) for r in records] == [COLUMNS] * 3
    first, second, third = records
    assert (first["ticket"], first["level"], first["level_name"]) == ("A001", 2, "不满意")
    assert first["reasons"] == ["attitude"] and first["case_no"] == "HZ-7"
    assert first["item_code"] == "11330100MB0000001X-SS-001" and first["window"] == 1
    assert first["indicators_version"] == "offline-2019.1" and first["channel"] == "window"
    assert (second["reasons"], second["no_reason_given"]) == ([], True)
    assert (third["level_name"], third["indicators_version"]) == ("非常满意", None)
    out = tmp_path / "ratings.csv"
    run("report", "ratings", "--from", day, "--format", "csv", "--out", str(out))
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 4
    assert ",HZ-7,1,,2,不满意,attitude,0,offline-2019.1,window," in lines[1]


def test_the_report_counts_levels_good_rate_and_bad_reasons(store: Store) -> None:
    from agent import reports

    for score, reasons in ((5, ()), (3, ()), (2, ("attitude", "efficiency")), (1, ())):
        _served(store)
        store.execute(c.RecordEvaluation(1, score, reasons=reasons))
    day = store.state.business_date
    report = reports.build_report(store.events_of_days(day, day), "demo-town", day, day, None)
    total = report.as_dict()["total"]
    assert [total[f"rating_{level}"] for level in (1, 2, 3, 4, 5)] == [1, 1, 1, 0, 1]
    assert total["good_rate_pct"] == 50.0 and total["bad"] == 2
    assert total["bad_reasons"] == {"attitude": 1, "efficiency": 1, NO_REASON: 1}
    assert reports.report_text(report).splitlines()[-2:] == [
        "ratings  5: 1  4: 0  3: 1  2: 1  1: 1  (好评率 50.0 %, 差评 2)",
        "差评 reasons  attitude 1, efficiency 1, no_reason_given 1",
    ]
