"""The hall calendar: holidays, 调休 working days and closures decide whether a service is
open, and when a closed one opens next."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from agent import commands as c
from agent import errors
from agent.calendar import HallCalendar
from agent.cli import main
from agent.config import HallConfig, sample_config
from agent.node_runtime import Node
from agent.store import Store, dump_projection, replay
from agent.views import hall_status
from tests.agent.conftest import FakeClock, write_hall

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
# National Day 2026: 1-7 October off, Saturday 10 October worked (调休).
NATIONAL_DAY: dict[str, Any] = {
    "holidays": [
        {"start": "2026-10-01", "end": "2026-10-07", "name_zh": "国庆节", "name_en": "National Day"}
    ],
    "working_days": ["2026-10-10"],
}


def at(day: str, time: str = "09:00") -> FakeClock:
    local = dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=SHANGHAI)
    return FakeClock(local.astimezone(dt.UTC))


def hall_with(calendar: dict[str, Any]) -> HallConfig:
    """The sample hall (real opening hours) with this calendar."""
    return sample_config().model_copy(update={"calendar": HallCalendar.model_validate(calendar)})


def issue(store: Store, service: str) -> str:
    result = store.execute(c.IssueTicket(service))
    assert result.ticket is not None
    return result.ticket.number


def test_a_tiaoxiu_saturday_is_open_with_weekday_hours(tmp_path: Path) -> None:
    """GIVEN household open Monday-Friday WHEN a Saturday is a 调休 working day THEN it
    takes tickets during the weekday periods, and not outside them."""
    plain = Store(tmp_path / "plain.db", "n", sample_config(), at("2026-10-10"))
    with pytest.raises(errors.ServiceClosed):
        issue(plain, "household")  # an ordinary Saturday
    clock = at("2026-10-10")
    store = Store(tmp_path / "h.db", "n", hall_with(NATIONAL_DAY), clock)
    assert issue(store, "household") == "B001"
    clock.advance(hours=3, minutes=30)  # 12:30: the lunch break of weekdays
    with pytest.raises(errors.ServiceClosed, match="opens next at 2026-10-10T13:30"):
        issue(store, "household")


def test_a_holiday_is_closed_and_says_when_it_opens_next(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.db", "n", hall_with(NATIONAL_DAY), at("2026-10-03", "10:00"))
    with pytest.raises(errors.ServiceClosed) as refused:
        issue(store, "social-security")
    assert refused.value.details["opens_at"] == "2026-10-08T08:30:00.000000+08:00"
    assert store.last_seq == 0  # the refusal wrote nothing
    status = {s["code"]: s for s in hall_status(store)["services"]}
    assert status["social-security"]["open_now"] is False
    assert status["social-security"]["opens_at"] == "2026-10-08T08:30:00+08:00"
    assert status["social-security"]["closed_by"] == {
        "name_zh": "国庆节",
        "name_en": "National Day",
    }


def test_a_closure_of_one_service_leaves_the_others_open(tmp_path: Path) -> None:
    closure = {
        "closures": [{"start": "2026-06-01", "services": ["household"], "name_en": "Upgrade"}]
    }
    store = Store(tmp_path / "h.db", "n", hall_with(closure), at("2026-06-01"))  # a Monday
    with pytest.raises(errors.ServiceClosed, match="opens next at 2026-06-02T08:30"):
        issue(store, "household")
    assert issue(store, "social-security") == "A001"


def test_next_opening_gives_up_after_a_year(tmp_path: Path) -> None:
    a_year = {
        "closures": [
            {"start": "2026-06-01", "end": "2027-05-31", "services": ["household"]},
            {"start": "2027-06-01", "end": "2027-06-10", "services": ["household"]},
        ]
    }
    store = Store(tmp_path / "h.db", "n", hall_with(a_year), at("2026-06-01"))
    with pytest.raises(errors.ServiceClosed) as refused:
        issue(store, "household")
    assert refused.value.details["opens_at"] is None
    assert str(refused.value) == "Household registration is not open now"


def test_bad_calendars_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="both a working day and a holiday"):
        HallCalendar.model_validate(
            {"holidays": [{"start": "2026-10-01"}], "working_days": ["2026-10-01"]}
        )
    with pytest.raises(ValueError, match="ends before it starts"):
        HallCalendar.model_validate({"holidays": [{"start": "2026-10-02", "end": "2026-10-01"}]})
    data = sample_config().model_dump(mode="json")
    data["calendar"] = {"closures": [{"start": "2026-06-01", "services": ["nope"]}]}
    with pytest.raises(ValueError, match=r"unknown service\(s\) \['nope'\]"):
        HallConfig.model_validate(data)


def test_a_pushed_calendar_applies_newer_versions_only_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    clock = at("2026-10-03")
    store = Store(tmp_path / "h.db", "n", sample_config(), clock)
    assert issue(store, "social-security") == "A001"  # a Saturday: social security is open
    store.execute(c.ApplyCalendar(HallCalendar.model_validate(NATIONAL_DAY), 2))
    with pytest.raises(errors.ServiceClosed):
        issue(store, "social-security")
    with pytest.raises(errors.StaleConfig):
        store.execute(c.ApplyCalendar(HallCalendar(), 2))
    clock.advance(days=7)  # Saturday 10 October, a working day; the calendar carries over
    assert issue(store, "household") == "B001"
    store.close()
    reopened = Store(tmp_path / "h.db", "n", sample_config(), clock)
    assert reopened.state.calendar_version == 2
    assert issue(reopened, "household") == "B002"
    rebuilt = replay(reopened.events_since(0), sample_config())
    assert dump_projection(rebuilt) == dump_projection(reopened.conn)


def test_queue_status_says_when_a_closed_service_opens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    config = write_hall(tmp_path / "hall.yaml", hall_with(NATIONAL_DAY))
    assert main(["--data-dir", str(data), "init", "--config", str(config)]) == 0
    clock = at("2026-10-03", "10:00")
    monkeypatch.setattr("agent.cli._open_store", lambda args: Node.open(args.data_dir).store(clock))
    capsys.readouterr()
    assert main(["--data-dir", str(data), "queue", "status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    social = next(line for line in lines if "social-security" in line)
    assert social.endswith("closed (National Day), opens 2026-10-08 08:30")
