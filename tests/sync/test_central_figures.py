"""A hall's report from the central store equals the hub's own, after the events synced
through a real Mosquitto; the hall's alarms reach central with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.alarms import AlarmRules
from agent.cli import main
from agent.store import Store
from sync.central import CentralIngest
from sync.service import SyncSettings, start_sync
from tests.agent.conftest import FakeClock
from tests.agent.test_reports import DAY, small_day
from tests.sync.conftest import Broker, central_rows, make_node

pytestmark = pytest.mark.mqtt

FAST = SyncSettings(batch_max_events=50, ack_timeout_s=2.0, backoff_min_s=0.1, backoff_max_s=0.5)


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_central_figures_equal_the_hubs_report(
    broker: Broker, ingest: CentralIngest, tmp_path: Path, capsys
) -> None:
    node = make_node(tmp_path / "node", broker.url)
    clock = FakeClock()
    alarmed = node.hall.model_copy(update={"alarms": AlarmRules(bad_rating_minutes=10)})
    store = Store(node.data.database, node.node.node_id, alarmed, clock)
    small_day(store, clock)
    store.close()
    runtime = node.runtime().start()
    try:
        handle = start_sync(node, runtime, settings=FAST)
        assert handle is not None
        assert handle.wait_synced(30)
        handle.stop()
    finally:
        runtime.stop()
    db, hall = str(tmp_path / "central.db"), node.hall.hall_id
    types = [row[1] for row in central_rows(Path(db), node.node.node_id)]
    assert types.count("AlarmRaised") == 1  # B001 rated 2 at window 3
    hub_args = ["--data-dir", str(node.data.root), "report"]
    central_args = ["central", "figures", "--db", db, "--hall", hall]
    for by in ("window", "hour"):
        period = ["--from", DAY, "--by", by, "--json"]
        hub = _json(capsys, *hub_args, *period)
        central = _json(capsys, *central_args, *period)
        assert central == hub
        assert hub["total"]["tickets"] == 5
    month = ["month", DAY[:7], "--json"]
    hub_month = _json(capsys, *hub_args, *month)
    central_month = _json(capsys, *central_args, *month)
    # central knows no hall config: services in name order, none without figures
    assert central_month["total"] == hub_month["total"]
    assert central_month["by_window"] == hub_month["by_window"]
    assert {r["key"] for r in central_month["by_service"]} < {
        r["key"] for r in hub_month["by_service"]
    }
    other_hall = ["central", "figures", "--db", db, "--hall", "no-such-hall"]
    assert main([*other_hall, "--from", DAY, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["tickets"] == 0
    assert (
        main(
            ["central", "figures", "--db", str(tmp_path / "none.db"), "--hall", hall, "--from", DAY]
        )
        == 2
    )
