"""Assisted (帮办) and proxy (代办) service: recorded on the ticket leg and in the events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent import commands as c
from agent import errors
from agent.bundles import Bundle
from agent.cli import main
from agent.config import always_open, sample_config
from agent.store import Store
from tests.agent.conftest import write_hall


def test_a_window_marks_its_ticket_as_assisted_and_the_event_says_by_whom(store: Store) -> None:
    store.execute(c.IssueTicket("household"))
    store.execute(c.CallNext(2))
    result = store.execute(c.MarkAssisted(2, "assisted", "S-0042"))
    (event,) = result.events
    assert event.type == "TicketAssisted"
    assert (event.payload["number"], event.payload["mode"], event.payload["assist_staff"]) == (
        "B001",
        "assisted",
        "S-0042",
    )
    assert result.ticket is not None
    view = store.ticket_view(result.ticket)
    assert (view["assist"], view["assist_staff"]) == ("assisted", "S-0042")
    store.execute(c.StartService(2))
    store.execute(c.MarkAssisted(2, "proxy", "S-0007"))  # corrected while serving: latest wins
    row = store.conn.execute("SELECT assist, assist_staff FROM tickets").fetchone()
    assert row == ("proxy", "S-0007")


def test_assisting_needs_a_current_ticket_a_known_mode_and_a_staff_id(store: Store) -> None:
    with pytest.raises(errors.NoCurrentTicket):
        store.execute(c.MarkAssisted(2, "assisted", "S-0042"))
    store.execute(c.IssueTicket("household"))
    store.execute(c.CallNext(2))
    before = store.last_seq
    with pytest.raises(errors.DomainError, match="assisted or proxy"):
        store.execute(c.MarkAssisted(2, "helped", "S-0042"))
    with pytest.raises(errors.DomainError, match="staff id"):
        store.execute(c.MarkAssisted(2, "proxy", "  "))
    assert store.last_seq == before


def test_assisted_service_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    newborn = Bundle(
        code="newborn",
        name_zh="新生儿出生一件事",
        name_en="Newborn",
        services=["household", "social-security"],
    )
    hall = always_open(sample_config()).model_copy(update={"bundles": [newborn]})
    monkeypatch.setenv("HALL_AGENT_DATA_DIR", str(tmp_path / "node"))
    assert main(["init", "--config", str(write_hall(tmp_path / "hall.yaml", hall))]) == 0
    assert main(["queue", "issue", "--bundle", "newborn"]) == 0
    assert main(["queue", "call", "--window", "2"]) == 0
    capsys.readouterr()
    argv = ["queue", "assist", "--window", "2", "--mode", "proxy", "--staff", "S-7", "--json"]
    assert main(argv) == 0
    view = json.loads(capsys.readouterr().out)
    assert (view["number"], view["assist"], view["assist_staff"]) == ("B001", "proxy", "S-7")
    assert main(["queue", "status"]) == 0
    window_2 = next(x for x in capsys.readouterr().out.splitlines() if "window 2" in x)
    assert window_2.split()[3:] == ["B001", "newborn", "leg", "1/2", "proxy", "by", "S-7"]
