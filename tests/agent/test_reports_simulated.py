"""The report over the store of a simulated hall day equals what the simulation counted.

The simulation (agent/simulation.py) keeps its own tally of every ticket it took, call,
start, finish, transfer, bundle leg, 帮办/代办 mark, no-show and rating on its own clock;
the report reads only the events the store committed.
"""

from __future__ import annotations

import pytest

from agent import reports
from agent.datadir import DataDir
from agent.node_runtime import Node
from agent.simulation import SIM_DATE, HallDay


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[HallDay, Node]:
    root = tmp_path_factory.mktemp("sim")
    DataDir(root).init()
    node = Node.open(root)
    # a seed under which every kind of figure happens, bundle visits finished included (few
    # are on a busy day: their last service, civil-affairs, comes last at both its windows)
    day = HallDay(node, seed=10, arrivals=150)
    day.run()
    return day, node


def _minutes(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return round(sum(values) / len(values) / 60, 2), round(reports.p90(values) / 60, 2)


def test_report_by_service_equals_the_simulation_tally(simulated) -> None:
    day, node = simulated
    store = node.store()
    try:
        codes = [s.code for s in store.config.services]
        date = SIM_DATE.isoformat()
        data = reports.build_report(
            store.events_of_days(date, date), "x", date, date, "service", codes
        ).as_dict()
    finally:
        store.close()
    tally = day.tally
    unserved = tally.unserved()
    rows = {row["key"]: row for row in data["rows"]}
    assert list(rows) == codes
    for code in codes:
        row = rows[code]
        levels = tally.ratings.get(code, {})
        expected = {
            "tickets": tally.tickets[code],
            "transferred_in": tally.transferred_in[code],
            "bundle_in": tally.bundle_in[code],
            "served": tally.served[code],
            "no_shows": tally.no_shows[code],
            "transfers": tally.transfers[code],
            "cancelled": 0,
            "unserved": unserved[code],
            "wait": _minutes(tally.waits.get(code, [])),
            "service": _minutes(tally.service_times.get(code, [])),
            "levels": [levels.get(level, 0) for level in reports.LEVELS],
            "assisted": tally.assisted[code],
            "proxy": tally.proxy[code],
            "bundles_done": len(tally.visit_times.get(code, [])),
            "bundle_visit": _minutes(tally.visit_times.get(code, [])),
        }
        got = {
            **{k: row[k] for k in expected if k in row},
            "wait": (row["wait_avg_min"], row["wait_p90_min"]),
            "service": (row["service_avg_min"], row["service_p90_min"]),
            "bundle_visit": (row["bundle_visit_avg_min"], row["bundle_visit_p90_min"]),
            "levels": [row[f"rating_{level}"] for level in reports.LEVELS],
        }
        assert got == expected, code
    # the day is not trivial: every kind of figure happened
    total = data["total"]
    assert total["tickets"] > 100 and total["served"] > 50
    assert total["no_shows"] > 0 and total["transfers"] > 0 and total["unserved"] >= 0
    assert total["rating_5"] > 0 and total["bad"] > 0
    assert total["bundle_in"] > 0 and total["bundles_done"] > 0
    assert total["assisted"] > 0 and total["proxy"] > 0
