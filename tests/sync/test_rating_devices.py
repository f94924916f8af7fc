"""Ratings through a node's evaluators (pty simulators, the real drivers and the node's
start-up): a screen-equipped evaluator records the reasons chosen for a bad level; a
keys-only one records "no reason given"; the business system's request asks again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent import commands as c
from agent.node import DeviceSpec
from agent.ratings import NO_REASON
from devices.simulators import start_simulator
from sync.node import start_node
from tests.support import wait_until
from tests.sync.conftest import make_node


def _serve(runtime: Any, window: int) -> str:
    ticket = runtime.execute(c.IssueTicket("social-security")).ticket
    assert ticket is not None
    runtime.execute(c.CallNext(window))
    runtime.execute(c.StartService(window))
    runtime.execute(c.FinishService(window))
    return str(ticket.number)


@pytest.mark.slow
def test_bad_ratings_on_a_screen_evaluator_and_a_keys_only_one(tmp_path: Path) -> None:
    """GIVEN window 1 with an evaluator whose profile declares a screen and window 2 with a
    keys-only one WHEN each citizen presses 不满意/非常不满意 THEN window 1's rating carries
    the reasons tapped on its screen (sent the hall's list, in Chinese) and window 2's
    carries "no reason given"."""
    node = make_node(tmp_path / "hub")
    screen = start_simulator("evaluator", "evaluator-screen")
    keys = start_simulator("evaluator", "evaluator-generic")
    specs = [
        DeviceSpec(
            id="ev-1", kind="evaluator", profile="evaluator-screen", port=screen.port, window=1
        ),
        DeviceSpec(
            id="ev-2", kind="evaluator", profile="evaluator-generic", port=keys.port, window=2
        ),
    ]
    try:
        with start_node(node, "hub", devices=specs) as services:
            runtime = services.runtime
            assert runtime is not None
            rated: list[dict[str, Any]] = []
            runtime.subscribe(
                lambda e: rated.append(e.payload) if e.type == "EvaluationRecorded" else None
            )
            first = _serve(runtime, 1)
            assert screen.wait_request(10)
            assert screen.press(2)
            assert screen.wait_screen(10) == ["服务效率", "服务水平", "服务态度"]
            assert screen.choose([3])
            assert wait_until(lambda: len(rated) == 1)
            second = _serve(runtime, 2)
            assert keys.wait_request(10)
            assert keys.press(1)
            assert wait_until(lambda: len(rated) == 2)
    finally:
        screen.stop()
        keys.stop()
    by_number = {p["number"]: p for p in rated}
    assert by_number[first]["score"] == 2 and by_number[first]["reasons"] == ["attitude"]
    assert by_number[first]["channel"] == "evaluator"
    assert by_number[second]["score"] == 1 and by_number[second]["reasons"] == [NO_REASON]
    assert keys.screens == {}  # a keys-only evaluator is never sent reasons


@pytest.mark.slow
def test_business_system_request_after_a_missed_rating_asks_the_evaluator_again(
    tmp_path: Path,
) -> None:
    """GIVEN a finished service whose evaluator request timed out WHEN the business system
    asks for a rating with its 办件编号 THEN the evaluator is asked again and the rating
    recorded carries the case number."""
    node = make_node(tmp_path / "hub")
    keys = start_simulator("evaluator", "evaluator-generic")
    specs = [
        DeviceSpec(
            id="ev-1", kind="evaluator", profile="evaluator-generic", port=keys.port, window=1
        )
    ]
    try:
        with start_node(node, "hub", devices=specs) as services:
            runtime, follower = services.runtime, services.window_devices
            assert runtime is not None and follower is not None
            follower.rating_timeout = 0.2
            _serve(runtime, 1)
            assert keys.wait_request(10)
            assert wait_until(lambda: keys.cancels == 1), "the first request did not time out"
            follower.rating_timeout = 30
            keys.requests.clear()
            runtime.execute(c.RequestRating(1, "BJ-2026-0042"))
            assert wait_until(lambda: len(keys.requests) == 1)
            assert keys.press(5)
            assert wait_until(
                lambda: (
                    (runtime.read("rating_of_case", case="BJ-2026-0042") or {}).get("state")
                    == "rated"
                )
            )
            result = runtime.read("rating_of_case", case="BJ-2026-0042")
    finally:
        keys.stop()
    assert result["level"] == 5 and result["window"] == 1 and result["reasons"] == []


class _Hardware:
    """An evaluator at window 1 whose citizen presses 不满意 and taps the first reason."""

    def __init__(self) -> None:
        self.offered: list[list[str]] = []

    def has_led(self, window: int) -> bool:
        return False

    def has_evaluator(self, window: int) -> bool:
        return window == 1

    def show(self, window: int, text: str) -> None:
        raise AssertionError("no LED here")

    def request_rating(self, window, number, timeout, reasons=()):
        from devices.led import EvaluatorRating

        self.offered.append(list(reasons))
        return EvaluatorRating(2, (1,) if reasons else None)


def _rate_once(indicators) -> tuple[list[c.Command], list[list[str]]]:
    from sync.node_devices import WindowDevices

    hardware, done = _Hardware(), []
    follower = WindowDevices(hardware, done.append, indicators=indicators)
    ended: list[int | None] = []
    follower.on_rating(lambda w, n, score: ended.append(score))
    follower.follow("ServiceFinished", {"window": 1, "number": "A001"}, "2026-06-01")
    assert wait_until(lambda: ended == [2])
    follower.close()
    return done, hardware.offered


def test_reasons_are_named_by_the_hall_config_in_effect() -> None:
    """GIVEN central pushed a hall config with another indicator list WHEN the screen's
    first reason is tapped THEN the rating names that list's first code; and when the list
    cannot be read (hub away) the rating is still recorded, without reasons offered."""
    from agent.errors import HallError
    from agent.ratings import RatingIndicators, Reason

    pushed = RatingIndicators(version="p-2", reasons=[Reason(code="wait", zh="等候", en="Wait")])
    done, offered = _rate_once(lambda: pushed)
    assert offered == [["等候"]]
    assert done == [c.RecordEvaluation(1, 2, "A001", reasons=("wait",))]

    def unreadable() -> RatingIndicators:
        raise HallError("hub unreachable")

    done, offered = _rate_once(unreadable)
    assert offered == [[]] and done == [c.RecordEvaluation(1, 2, "A001")]
