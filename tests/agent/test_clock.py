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
from agent.store import Store, dump_projection, replay
from tests.agent.conftest import START, FakeClock, write_hall
from tests.agent.test_properties import memory_state


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
    'admin clock confirm' it runs, on today's date, with the next number."""
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
    # the log's day (30 days ahead) was opened by a wrong clock: the hall goes back to today
    confirmed = ["BusinessDayCorrected", "ClockConfirmed"]
    out = json.loads(capsys.readouterr().out)
    assert out["events"] == confirmed
    assert out["day_corrected"]["to_date"] < out["day_corrected"]["from_date"]
    assert main(["queue", "issue", "--service", "social-security", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["number"] == "A002"


def numbers_of(store: Store, day: str) -> list[str]:
    rows = store.conn.execute(
        "SELECT number FROM tickets WHERE business_date = ? AND leg = 1 ORDER BY number", (day,)
    )
    return [number for (number,) in rows]


def test_a_wrongly_opened_day_is_taken_back_and_no_number_repeats(
    tmp_path: Path, hall: HallConfig
) -> None:
    """GIVEN a hub that issued A001-A002 on 2026-06-01 and restarted with its clock 3 days
    ahead (within max_gap_days: 2026-06-04 opened, A001-A003 issued there, A001 called)
    WHEN the operator corrects the clock to the real time
    THEN one BusinessDayCorrected event takes the hall back to 2026-06-01: every open ticket
    waits again in issue order, the wrongly dated A001/A002 (given out already today) become
    A004/A005, A003 keeps its number, the next is A006; a restart folds the same state; the
    replayed log equals the stored tables; the real 2026-06-04 later starts at A001 again
    (before: the wrong day ran until the real date passed it)."""
    machine = Machine()
    store = machine.store(tmp_path / "hall.db", hall)
    assert [issue(store)[0] for _ in range(2)] == ["A001", "A002"]
    machine.wait(minutes=5)
    store.close()
    machine.boot()
    machine.set_wall(START + dt.timedelta(days=3, minutes=10))  # a CMOS clock 3 days ahead
    store = machine.store(tmp_path / "hall.db", hall)
    try:
        assert [issue(store)[:2] for _ in range(3)] == [
            ("A001", "2026-06-04"),
            ("A002", "2026-06-04"),
            ("A003", "2026-06-04"),
        ]
        store.execute(c.CallNext(1))
        machine.wait(minutes=5)
        real = START + dt.timedelta(minutes=20)
        corrected = store.execute(c.ConfirmClock("operator", correct_to=real)).events
        assert [e.type for e in corrected] == ["BusinessDayCorrected", "ClockConfirmed"]
        assert corrected[0].business_date == "2026-06-01"
        assert corrected[0].payload["renumbered"] == {"A001": "A004", "A002": "A005"}
        assert store.state.business_date == "2026-06-01"
        waiting = [store.state.tickets[t].number for t in store.state.waiting_in("social-security")]
        assert waiting == ["A001", "A002", "A003", "A004", "A005"]  # (06-04 ones: one instant)
        assert issue(store) == ("A006", "2026-06-01", "2026-06-01T09:20")
        assert numbers_of(store, "2026-06-01") == [f"A00{n}" for n in range(1, 7)]
        assert numbers_of(store, "2026-06-04") == []  # the wrong day's rows moved back
        assert [e.business_date for e in store.events_of_days("2026-06-01", "2026-06-01")][-3:] == [
            "2026-06-01"
        ] * 3
        assert all(
            e.business_date == "2026-06-04"
            for e in store.events_of_days("2026-06-04", "2026-06-04")
        )
        held = memory_state(store.state)
        rebuilt = replay(store.events_since(0), hall)
        assert dump_projection(rebuilt) == dump_projection(store.conn)
    finally:
        store.close()
    machine.boot()  # the PC clock still reads 3 days ahead: the confirmed offset holds
    store = machine.store(tmp_path / "hall.db", hall)
    try:
        assert memory_state(store.state) == held
        assert issue(store)[:2] == ("A007", "2026-06-01")
        machine.wait(days=1)
        assert issue(store)[:2] == ("A001", "2026-06-02")
        machine.wait(days=2)
        assert issue(store)[:2] == ("A001", "2026-06-04")  # the real 06-04, numbered afresh
        assert numbers_of(store, "2026-06-04") == ["A001"]
        assert dump_projection(replay(store.events_since(0), hall)) == dump_projection(store.conn)
    finally:
        store.close()


def test_central_time_corrects_the_clock_but_leaves_the_day_to_the_operator(
    tmp_path: Path, hall: HallConfig
) -> None:
    machine = Machine()
    machine.set_wall(START + dt.timedelta(days=3))
    store = machine.store(tmp_path / "hall.db", hall)
    try:
        issue(store)
        offset = -dt.timedelta(days=3).total_seconds()
        events = store.execute(c.ConfirmClock("central", offset_s=offset)).events
        assert [e.type for e in events] == ["ClockConfirmed"]
        assert issue(store)[:2] == ("A002", "2026-06-04")
        real = START + dt.timedelta(minutes=1)
        events = store.execute(c.ConfirmClock("operator", correct_to=real)).events
        assert [e.type for e in events] == ["BusinessDayCorrected", "ClockConfirmed"]
        assert issue(store)[:2] == ("A003", "2026-06-01")
    finally:
        store.close()
