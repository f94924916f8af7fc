"""End to end: no full ID number and no birth date reaches the disk.

The demo's simulated devices (ID reader, printer on pseudo-terminals) read every shipped
sample card; the kiosk takes a ticket in each citizen's name, with file logging on; then the
store (``hall.db`` and its WAL) and the log are searched for each card's full ID number and
its YYYYMMDD birth date, and for the hall key's HMAC of the number (the store holds only the
day's hash, which cannot be matched without the date).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.logs import setup_logging
from agent.privacy import citizen_hash, citizen_key
from ui.app import open_demo_node, open_hall
from ui.demo import DemoControls

CARDS = sorted((Path(__file__).resolve().parents[2] / "devices" / "cards").glob("*.json"))


@pytest.fixture
def file_logging() -> Iterator[None]:
    """``setup_logging`` replaces the root handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_no_id_number_or_birth_date_on_disk(tmp_path: Path, qtbot, file_logging):
    """GIVEN the demo hall on simulated devices, logging to its data dir at DEBUG
    WHEN each sample card is swiped and a ticket taken with it
    THEN neither the full ID number nor the YYYYMMDD birth date of any card is in hall.db,
    hall.db-wal or logs/agent.log."""
    pytest.importorskip("devices.simulators.idreader")
    assert CARDS, "no sample cards"
    node = open_demo_node(str(tmp_path / "hall"))
    root = node.data.root
    setup_logging(root / "logs", level="DEBUG", stderr=False)
    secrets = []
    for path in CARDS:
        fields = json.loads(path.read_text(encoding="utf-8"))["fields"]
        secrets.append((path.stem, fields["number"], fields["birth"]))
    taken: list[str] = []
    with open_hall(node, None, simulated=True, language="zh_CN", voice="silent") as hall:
        kiosk = hall.kiosk
        assert kiosk is not None and hall.kiosk_view is not None
        controls = DemoControls(hall.devices, node.secret or b"")
        services = [s.code for s in node.hall.services]
        for i, (name, _number, _birth) in enumerate(secrets):
            controls.swipe(name)
            qtbot.waitUntil(lambda: kiosk._citizen is not None, timeout=15000)
            assert kiosk.take(services[i % len(services)])
            assert kiosk._last is not None
            taken.append(kiosk._last[0]["number"])
            qtbot.waitUntil(
                lambda: kiosk._print is not None and kiosk._print.state != "printing",
                timeout=15000,
            )
            kiosk.idle()
        status = hall.core.hall_status()
        assert sum(s["issued"] for s in status["services"]) == len(secrets)
        hall_key = node.secret or b""
        day = dt.date.fromisoformat(status["business_date"])
        day_hashes = {citizen_hash(citizen_key(hall_key, n), day) for _, n, _ in secrets}
        # the hall key's HMAC of a number (what a key thief searches for) is never written
        secrets += [(name, citizen_key(hall_key, n).hex(), "no-birth") for name, n, _ in secrets]
        live = _leaks(root, secrets)  # while open: the WAL holds the recent commits
        assert _on_disk(root, taken[-1]), "the search would not see what the store wrote"
    logging.shutdown()
    assert (root / "logs" / "agent.log").stat().st_size > 0
    assert live == []
    assert _leaks(root, secrets) == []
    with contextlib.closing(sqlite3.connect(f"file:{root / 'hall.db'}?mode=ro", uri=True)) as db:
        stored = {h for (h,) in db.execute("SELECT citizen_hash FROM tickets")}
    assert stored == day_hashes  # the queue rules run on the day's hashes


FILES = ("hall.db", "hall.db-wal", "logs/agent.log")


def _read(root: Path) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in FILES if (root / name).exists()}


def _on_disk(root: Path, text: str) -> bool:
    return any(text.encode("utf-8") in data for data in _read(root).values())


def _leaks(root: Path, secrets: list[tuple[str, str, str]]) -> list[str]:
    found = []
    for label, data in _read(root).items():
        for name, number, birth in secrets:
            for what, value in (("ID number", number), ("birth date", birth)):
                if value.encode("utf-8") in data:
                    found.append(f"{label}: {name}'s {what}")
    return found
