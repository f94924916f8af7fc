"""Ratings at central, against a real Mosquitto: a rating taken while the hall is offline
arrives exactly once; a rating through the hall's signed link is verified with the key
central pinned for that node and kept once (a tampered link refused)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from agent import commands as c
from agent import ticketlink
from agent.cli import main
from agent.node_runtime import Node
from agent.ratings import NO_REASON
from sync.central import CentralIngest, CentralStore
from sync.fleet.link_ratings import LinkRatingRefused, link_ratings, submit_link_rating
from sync.mqtt import parse_broker_url
from sync.service import SyncSettings, start_sync
from tests.sync.conftest import Broker, assert_exactly_once, make_node, node_key, wait_until

pytestmark = pytest.mark.mqtt

FAST = SyncSettings(batch_max_events=50, ack_timeout_s=2.0, backoff_min_s=0.1, backoff_max_s=0.5)
BASE = "https://zwfw.example.gov.cn/hall/r"


def _serve_and_finish(runtime, window: int) -> str:
    ticket = runtime.execute(c.IssueTicket("social-security")).ticket
    assert ticket is not None
    for command in (c.CallNext(window), c.StartService(window), c.FinishService(window)):
        runtime.execute(command)
    return str(ticket.number)


def _link(node: Node, day: str, number: str, purpose: str = "r") -> str:
    """The link the hub prints or shows for ``number`` (signed with its node key)."""
    hall, node_id = node.hall.hall_id, node.node.node_id
    return ticketlink.make(BASE, node_key(node), hall, node_id, day, number, purpose)


@pytest.mark.slow
def test_offline_ratings_reach_central_once_and_link_ratings_are_verified(
    tmp_path: Path,
) -> None:
    """GIVEN a hall whose central broker is down WHEN citizens rate (one bad with reasons
    and a 办件编号, one bad on a keys-only evaluator) and the broker comes up THEN central
    holds each rating event once with its details; then ratings through the hall's links
    are kept once each, and a tampered link, a progress link and a second try change
    nothing."""
    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker")  # not started: central is unreachable
    node = make_node(tmp_path / "node", broker.url)
    runtime = node.runtime().start()
    ingest: CentralIngest | None = None
    try:
        handle = start_sync(node, runtime, settings=FAST)
        assert handle is not None
        first = _serve_and_finish(runtime, 1)
        runtime.execute(c.RequestRating(1, "BJ-0001"))
        runtime.execute(c.RecordEvaluation(1, 2, reasons=("attitude",)))
        second = _serve_and_finish(runtime, 1)
        runtime.execute(c.RecordEvaluation(1, 1))  # keys only: no reason given
        third = _serve_and_finish(runtime, 1)  # not rated at the hall
        day = runtime.read("hall_status")["business_date"]
        last = runtime.last_seq()
        assert wait_until(lambda: handle.status()["backlog"] == last, 20)
        assert handle.status()["acked_seq"] == 0  # nothing reached central yet

        broker.start()
        ingest = CentralIngest(parse_broker_url(broker.url), tmp_path / "central.db", workers=1)
        ingest.start()
        assert ingest.wait_ready(10)
        assert handle.wait_synced(30)  # the running sync reconnected by itself
        handle.stop()
        handle = start_sync(node, runtime, settings=FAST)  # and a restart resends nothing new
        assert handle is not None and handle.wait_synced(30)
        handle.stop()
    finally:
        runtime.stop()
        if ingest is not None:
            ingest.stop()
        broker.stop()
    assert_exactly_once(tmp_path / "central.db", node)

    central = CentralStore(tmp_path / "central.db")
    try:
        rows = central.conn.execute(
            "SELECT payload FROM events WHERE type = 'EvaluationRecorded' ORDER BY seq"
        ).fetchall()
        rated = [json.loads(r[0]) for r in rows]
        assert [(p["number"], p["score"], p["reasons"], p["case"]) for p in rated] == [
            (first, 2, ["attitude"], "BJ-0001"),
            (second, 1, [NO_REASON], None),
        ]
        now = dt.datetime.fromisoformat(day + "T12:00:00+08:00")

        def submit(text: str, level: int, *reasons: str) -> dict:
            return submit_link_rating(central, text, level, reasons, now=now)

        kept = submit(_link(node, day, third), 5)
        assert (kept["number"], kept["level"], kept["reasons"]) == (third, 5, [])
        # the keys-only bad rating gets its reasons through the QR the window offered
        why = submit(_link(node, day, second), 1, "efficiency")
        assert why["completes_seq"] is not None and why["reasons"] == ["efficiency"]

        refusals = {
            "tampered": _link(node, day, third).replace(f"t={third}", "t=A099"),
            "progress": _link(node, day, first, purpose="t"),
            "again": _link(node, day, third),
            "rated at the hall": _link(node, day, first),
            "no reason still": _link(node, day, second),
        }
        codes = {}
        for name, text in refusals.items():
            with pytest.raises(LinkRatingRefused) as refused:
                submit(text, 1)
            codes[name] = refused.value.code
        assert codes == {
            "tampered": "bad_signature",
            "progress": "bad_link",
            "again": "already_rated",
            "rated at the hall": "already_rated",
            "no reason still": "already_rated",
        }
        stored = link_ratings(central, node.hall.hall_id, day, day)
        assert sorted((r["number"], r["level"]) for r in stored) == [(second, 1), (third, 5)]
    finally:
        central.close()
    # the province's export from central: the halls' ratings and the links', one each
    db, hall = str(tmp_path / "central.db"), node.hall.hall_id
    out = tmp_path / "ratings.json"
    argv = ["central", "figures", "--db", db, "--hall", hall, "ratings", "--from", day]
    assert main([*argv, "--format", "json", "--out", str(out)]) == 0
    records = json.loads(out.read_text(encoding="utf-8"))["ratings"]
    assert sorted(
        (r["ticket"], r["channel"], r["level"], tuple(r["reasons"])) for r in records
    ) == [
        (first, "evaluator", 2, ("attitude",)),
        (second, "evaluator", 1, ()),
        (second, "qr", 1, ("efficiency",)),
        (third, "qr", 5, ()),
    ]
