"""``hall-agent central figures`` gives the same figures on the SQLite and the PostgreSQL
central store, and the hub's own report, for the same events: a hub's log of three days (the
small day, a day of bundle visits with assisted legs, and a day a wrong clock opened and the
operator took back) is sent in batches to both stores, the way the ingest stores them. The
PostgreSQL server is a real one of the test session's own (tests/sync/conftest.py)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import reports
from agent.cli import main
from agent.config import always_open, sample_config
from agent.report_cli import hub_source
from agent.store import Store
from sync import contract as ct
from sync.central import open_central_store
from sync.outbox import OutboxReader
from tests.agent.conftest import START, FakeClock
from tests.agent.test_reports import small_day
from tests.agent.test_reports_corrected import corrected_days
from tests.agent.test_reports_visits import bundle_day

HALL, NODE = "demo-town", "hub-1"
FIRST, LAST = "2026-06-01", "2026-06-06"  # the wrong date 06-06 also comes for real
NOW = dt.datetime(2026, 6, 7, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def hub_log(tmp_path: Path) -> Path:
    clock = FakeClock()
    store = Store(tmp_path / "hall.db", NODE, always_open(sample_config()), clock)
    try:
        small_day(store, clock)
        bundle_day(store, clock, START + dt.timedelta(days=1))
        corrected_days(store, clock, START + dt.timedelta(days=2))
    finally:
        store.close()
    return tmp_path / "hall.db"


def send(database: Path, central_db: Path | str) -> int:
    """Every event of the hub's log into a central store, in batches of 40; the last ack."""
    reader = OutboxReader(database, HALL, NODE, max_events=40, key=Ed25519PrivateKey.generate())
    central = open_central_store(central_db)
    acked = 0
    try:
        while (batch := reader.batch_after(acked, NOW.isoformat())) is not None:
            acked = central.ingest(ct.EventBatch.model_validate_json(batch.payload), NOW)[0]
    finally:
        central.close()
        reader.close()
    return acked


def hub_report(database: Path, by: reports.Grouping | None, first: str, last: str) -> Any:
    store = Store(database, NODE, always_open(sample_config()), FakeClock(NOW))
    try:
        events = hub_source(store).period(first, last)
        return reports.build_report(events, HALL, first, last, by).as_dict()
    finally:
        store.close()


def figures(capsys: pytest.CaptureFixture[str], db: str, *argv: str) -> Any:
    assert main(["central", "figures", "--db", db, "--hall", HALL, *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_central_figures_are_the_same_on_sqlite_and_postgresql(
    hub_log: Path, tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sqlite_db = str(tmp_path / "central.db")
    assert send(hub_log, sqlite_db) == send(hub_log, pg_url) > 60
    for first, last in [(FIRST, LAST), ("2026-06-03", "2026-06-03"), ("2026-06-06", LAST)]:
        for by in (None, *reports.GROUPINGS):
            period = ["--from", first, "--to", last, *(["--by", by] if by else [])]
            on_sqlite = figures(capsys, sqlite_db, *period)
            on_postgresql = figures(capsys, pg_url, *period)
            assert on_postgresql == on_sqlite, (first, last, by)
            assert on_sqlite == hub_report(hub_log, by, first, last), (first, last, by)
    month_sqlite = figures(capsys, sqlite_db, "month", "2026-06")
    assert figures(capsys, pg_url, "month", "2026-06") == month_sqlite
    # the three days' figures, as the hand-computed tests have them day by day
    total = month_sqlite["total"]
    assert total["tickets"] == 5 + 3 + 5 and total["bundle_in"] == 2
    assert (total["assisted"], total["proxy"], total["bundles_done"]) == (2, 1, 1)
    days = {row["key"]: row["tickets"] for row in month_sqlite["by_day"]}
    assert days == {"2026-06-01": 5, "2026-06-02": 3, "2026-06-03": 4, "2026-06-06": 1}
