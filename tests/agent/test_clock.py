"""The hall clock against a machine clock that jumps, is wrong at boot, or was off a week."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from agent import commands as c
from agent.cli import main
from agent.config import HallConfig, always_open, sample_config
from agent.errors import ClockSuspect
from agent.hallclock import HallClock
from agent.node_runtime import Node
from agent.store import Store
from tests.agent.conftest import START, FakeClock, write_hall


class FakeMonotonic:
    """The seconds a process has run: moves with real time, never with a clock jump."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


class Machine:
    """A wall clock and a monotonic clock; ``wait`` moves both, ``set_wall`` only one."""

    def __init__(self) -> None:
        self.wall = FakeClock()
        self.mono = FakeMonotonic()

    def wait(self, **delta: float) -> None:
        self.wall.advance(**delta)
        self.mono.seconds += dt.timedelta(**delta).total_seconds()

    def set_wall(self, moment: dt.datetime) -> None:
        self.wall.now = moment

    def boot(self) -> None:
        """A new process: a new monotonic origin."""
        self.mono = FakeMonotonic()

    def store(self, path: Path, hall: HallConfig) -> Store:
        return Store(path, "node-1", hall, self.wall, hall_clock=HallClock(self.mono))


def issue(store: Store) -> tuple[str, str, str]:
    ticket = store.execute(c.IssueTicket("social-security")).ticket
    assert ticket is not None
    return ticket.number, ticket.business_date, ticket.issued_at[:16]


def event_types(store: Store) -> list[str]:
    return [e.type for e in store.events_since(0)]


def test_a_forward_jump_and_back_while_running_keeps_the_day_and_the_numbers(
    tmp_path: Path, hall: HallConfig
) -> None:
    """GIVEN a hub issuing tickets WHEN the wall clock jumps to 2027-06-01 and later comes
    back THEN the tickets meanwhile keep the real day and time (by the monotonic clock), one
    alarm is logged, and numbering goes on (before: every later ticket was dated 2027-06-01
    and today's waiting tickets vanished)."""
    machine = Machine()
    store = machine.store(tmp_path / "hall.db", hall)
    try:
        assert issue(store) == ("A001", "2026-06-01", "2026-06-01T09:00")
        machine.wait(minutes=10)
        machine.set_wall(dt.datetime(2027, 6, 1, 2, 0, tzinfo=dt.UTC))
        machine.mono.seconds += 60
        assert issue(store) == ("A002", "2026-06-01", "2026-06-01T09:11")
        machine.mono.seconds += 60
        assert issue(store) == ("A003", "2026-06-01", "2026-06-01T09:12")
        assert event_types(store).count("ClockSuspected") == 1
        suspected = next(e for e in store.events_since(0) if e.type == "ClockSuspected")
        assert suspected.payload["kind"] == "jump"
        assert suspected.payload["wall"].startswith("2027-06-01")
        machine.set_wall(START + dt.timedelta(minutes=13))
        machine.mono.seconds += 60
        assert issue(store) == ("A004", "2026-06-01", "2026-06-01T09:13")
        assert len(store.state.waiting_in("social-security")) == 4
        assert store.clock_suspicion is None
    finally:
        store.close()


def test_a_backward_step_while_running_is_also_held_by_the_monotonic_clock(
    tmp_path: Path, hall: HallConfig
) -> None:
    machine = Machine()
    store = machine.store(tmp_path / "hall.db", hall)
    try:
        issue(store)
        machine.set_wall(START - dt.timedelta(days=3))
        machine.mono.seconds += 120
        assert issue(store) == ("A002", "2026-06-01", "2026-06-01T09:02")
        assert event_types(store).count("ClockSuspected") == 1
    finally:
        store.close()


def test_at_start_a_date_far_past_the_log_opens_no_day_until_confirmed(
    tmp_path: Path, hall: HallConfig
) -> None:
    """GIVEN a node whose last event is 2026-06-01 WHEN it starts with the clock at
    2027-06-01 THEN commands are refused as clock_unconfirmed (the alarm committed once),
    ticks do nothing, and after 'admin clock correct' the real day goes on."""
    machine = Machine()
    store = machine.store(tmp_path / "hall.db", hall)
    issue(store)
    store.close()
    machine.boot()
    machine.set_wall(dt.datetime(2027, 6, 1, 2, 0, tzinfo=dt.UTC))
    store = machine.store(tmp_path / "hall.db", hall)
    try:
        for _ in range(2):
            with pytest.raises(ClockSuspect, match="2027-06-01"):
                issue(store)
        assert store.execute(c.Tick()).events == []
        assert event_types(store) == ["TicketIssued", "ClockSuspected"]
        assert store.state.business_date == "2026-06-01"
        right = START + dt.timedelta(minutes=30)
        store.execute(c.ConfirmClock("operator", correct_to=right))
        assert issue(store) == ("A002", "2026-06-01", "2026-06-01T09:30")
        machine.wait(minutes=5)
        assert issue(store) == ("A003", "2026-06-01", "2026-06-01T09:35")
    finally:
        store.close()
    confirmed = [e for e in event_types(machine.store(tmp_path / "hall.db", hall)) if "Clock" in e]
    assert confirmed == ["ClockSuspected", "ClockConfirmed"]


def test_a_confirmed_clock_opens_the_new_day(tmp_path: Path, hall: HallConfig) -> None:
    machine = Machine()
    store = machine.store(tmp_path / "hall.db", hall)
    issue(store)
    store.close()
    machine.boot()
    machine.wait(days=60)
    store = machine.store(tmp_path / "hall.db", hall)
    try:
        with pytest.raises(ClockSuspect):
            issue(store)
        store.execute(c.ConfirmClock("operator"))
        assert issue(store) == ("A001", "2026-07-31", "2026-07-31T09:00")
    finally:
        store.close()


def test_a_village_pc_off_for_a_weeks_holiday_starts_on_the_right_day(
    tmp_path: Path, hall: HallConfig
) -> None:
    machine = Machine()
    store = machine.store(tmp_path / "hall.db", hall)
    issue(store)
    store.close()
    machine.boot()
    machine.wait(days=9)  # Spring Festival week and the weekends around it
    store = machine.store(tmp_path / "hall.db", hall)
    try:
        assert issue(store) == ("A001", "2026-06-10", "2026-06-10T09:00")
        assert "ClockSuspected" not in event_types(store)
    finally:
        store.close()


def test_central_time_decides_when_the_machine_clock_is_off(
    tmp_path: Path, hall: HallConfig
) -> None:
    """GIVEN a node started with its clock a year ahead WHEN central's clock offset arrives
    (-1 year) THEN the hall keeps central's time; an offset within tolerance adds no event."""
    machine = Machine()
    store = machine.store(tmp_path / "hall.db", hall)
    issue(store)
    store.close()
    machine.boot()
    machine.wait(minutes=20)
    real = machine.wall.now
    machine.set_wall(real + dt.timedelta(days=365))
    store = machine.store(tmp_path / "hall.db", hall)
    try:
        offset = (real - machine.wall.now).total_seconds()
        result = store.execute(c.ConfirmClock("central", offset_s=offset))
        assert [e.type for e in result.events] == ["ClockConfirmed"]
        assert issue(store) == ("A002", "2026-06-01", "2026-06-01T09:20")
        assert store.execute(c.ConfirmClock("central", offset_s=offset + 1)).events == []
    finally:
        store.close()
    machine.boot()  # the offset is kept in the store: a restart keeps central's time
    store = machine.store(tmp_path / "hall.db", hall)
    try:
        assert issue(store)[1] == "2026-06-01"
    finally:
        store.close()


def test_admin_clock_commands_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a data dir whose log is 30 days ahead of this machine's clock (a CMOS reset)
    THEN 'queue issue' is refused with clock_unconfirmed (exit 1), and after
    'admin clock confirm' it runs."""
    root = tmp_path / "node"
    monkeypatch.setenv("HALL_AGENT_DATA_DIR", str(root))
    assert (
        main(
            ["init", "--config", str(write_hall(tmp_path / "h.yaml", always_open(sample_config())))]
        )
        == 0
    )
    ahead = FakeClock(dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    store = Node.open(root).store(ahead)
    issue(store)
    store.close()
    capsys.readouterr()
    assert main(["queue", "issue", "--service", "social-security", "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["code"] == "clock_unconfirmed"
    assert main(["admin", "clock", "confirm", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == ["ClockConfirmed"]
    assert main(["queue", "issue", "--service", "social-security", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["number"] == "A002"
