"""Staff at the windows: sign-in by 工号 + PIN or staff card, checked at the hub against
credentials only it holds, with lockouts kept across restarts; the staff id on every window
event; pause reasons; sign-out at the end of the business day."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent import commands as c
from agent import errors
from agent.config import HallConfig, always_open, sample_config
from agent.staffauth import ATTEMPTS_DIR, CREDENTIALS_FILE, StaffGate
from agent.store import Store, dump_projection, replay
from tests.agent.conftest import FakeClock
from tests.support import STAFF_CARD, STAFF_PINS, give_staff_credentials, sign_in, staffed


class WallClock:
    """The gate's wall clock (epoch seconds), moved by the test."""

    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wall() -> WallClock:
    return WallClock()


def open_store(path: Path, hall: HallConfig, clock: FakeClock, wall: WallClock) -> Store:
    store = Store(path / "hall.db", "node-1", hall, clock)
    store.staff_gate = StaffGate(path, wall)
    return store


@pytest.fixture
def staffed_store(
    tmp_path: Path, hall: HallConfig, clock: FakeClock, wall: WallClock
) -> Iterator[Store]:
    give_staff_credentials(tmp_path)
    store = open_store(tmp_path, staffed(hall), clock, wall)
    yield store
    store.close()


def test_a_staffed_window_calls_only_with_someone_signed_in(staffed_store: Store) -> None:
    staffed_store.execute(c.IssueTicket("social-security"))
    with pytest.raises(errors.NotSignedIn) as refused:
        staffed_store.execute(c.CallNext(1))
    assert refused.value.code == "not_signed_in"
    assert staffed_store.state.counters == {"social-security": 1}  # (nothing else changed)
    staffed_store.execute(sign_in("S-0001", 1))
    called = staffed_store.execute(c.CallNext(1)).events
    assert [e.type for e in called] == ["TicketCalled"]
    with pytest.raises(errors.WindowBusy):
        staffed_store.execute(c.SignOut(1))


def test_a_hall_without_a_staff_list_calls_without_sign_in(store: Store) -> None:
    store.execute(c.IssueTicket("social-security"))
    event = store.execute(c.CallNext(1)).events[0]
    assert "staff_id" not in event.payload


def test_the_staff_id_is_on_every_window_event(staffed_store: Store) -> None:
    store = staffed_store
    for _ in range(3):
        store.execute(c.IssueTicket("social-security"))
    first = store.last_seq
    store.execute(sign_in("S-0001", 1))
    store.execute(c.CallNext(1))
    store.execute(c.Recall(1))
    store.execute(c.StartService(1))
    store.execute(c.MarkAssisted(1, "assisted", "S-0042"))
    store.execute(c.Transfer(1, "civil-affairs"))
    store.execute(c.CallNext(1))
    store.execute(c.MarkNoShow(1))
    store.execute(c.CallNext(1))
    store.execute(c.CallNext(1))  # the called one never came: skipped
    store.execute(c.StartService(1))
    store.execute(c.FinishService(1))
    store.execute(c.PauseWindow(1, "meeting"))
    store.execute(c.ResumeWindow(1))
    store.execute(c.SignOut(1))
    events = list(store.events_since(first))
    types = {e.type for e in events}
    assert types >= {
        "StaffSignedIn",
        "TicketCalled",
        "TicketRecalled",
        "ServiceStarted",
        "TicketAssisted",
        "TicketTransferred",
        "TicketNoShow",
        "ServiceFinished",
        "WindowPaused",
        "WindowResumed",
        "StaffSignedOut",
    }
    window_events = [e for e in events if "window" in e.payload]
    assert len(window_events) == len(events) == 16
    assert {e.payload["staff_id"] for e in window_events} == {"S-0001"}
    assert [e.payload["reason"] for e in events if e.type == "TicketNoShow"] == [
        "staff",
        "skipped",
    ]


def test_a_timed_out_call_names_the_staff_of_its_window(
    staffed_store: Store, clock: FakeClock
) -> None:
    staffed_store.execute(c.IssueTicket("social-security"))
    staffed_store.execute(sign_in("S-0001", 1))
    staffed_store.execute(c.CallNext(1))
    clock.advance(minutes=11)
    (no_show,) = [e for e in staffed_store.execute(c.Tick()).events if e.type == "TicketNoShow"]
    assert no_show.payload["reason"] == "timeout"
    assert no_show.payload["staff_id"] == "S-0001"


def test_pause_takes_a_reason_from_the_hall_config(staffed_store: Store) -> None:
    staffed_store.execute(sign_in("S-0001", 1))
    before = staffed_store.last_seq
    with pytest.raises(errors.UnknownPauseReason) as refused:
        staffed_store.execute(c.PauseWindow(1, "lunch-nap"))
    assert "break" in str(refused.value)
    assert staffed_store.last_seq == before
    (paused,) = staffed_store.execute(c.PauseWindow(1, "back-office")).events
    assert paused.payload["reason"] == "back-office"
    row = staffed_store.conn.execute(
        "SELECT status, staff, pause_reason FROM windows WHERE number = 1"
    ).fetchone()
    assert row == ("paused", "S-0001", "back-office")
    with pytest.raises(errors.WindowPaused):
        staffed_store.execute(c.CallNext(1))
    staffed_store.execute(c.ResumeWindow(1))
    assert staffed_store.state.windows[1].pause_reason is None


def test_sign_in_checks_who_may_sign_in_where(staffed_store: Store, wall: WallClock) -> None:
    store = staffed_store
    with pytest.raises(errors.StaffNotAllowed):
        store.execute(sign_in("S-0002", 1))  # window 2 only
    with pytest.raises(errors.SignInRefused):
        store.execute(c.SignIn(1, "S-0001", pin="000000"))
    wall.now += 1
    forged = c.SignIn(1, "S-0001", method="pin")  # "already checked", without a PIN
    with pytest.raises(errors.SignInRefused):
        store.execute(forged)
    assert store.engine.staffed(store.state) and store.state.windows[1].staff is None
    store.execute(sign_in("S-0001", 1))
    moved = store.execute(sign_in("S-0001", 3)).events  # to another window: out at the first
    assert [(e.type, e.payload["window"]) for e in moved] == [
        ("StaffSignedOut", 1),
        ("StaffSignedIn", 3),
    ]
    assert moved[0].payload["reason"] == "moved"
    replaced = store.execute(sign_in("S-0003", 3)).events
    assert [(e.type, e.payload["staff_id"]) for e in replaced] == [
        ("StaffSignedOut", "S-0001"),
        ("StaffSignedIn", "S-0003"),
    ]


def test_a_wrong_pin_does_not_tell_whether_the_staff_number_exists(
    staffed_store: Store, wall: WallClock
) -> None:
    """GIVEN a window PC guessing staff numbers WHEN a known and an unknown number get a
    wrong PIN THEN the two refusals carry the same details (which a terminal is sent)."""
    refusals = []
    for staff_id, window in (("S-0001", 1), ("S-9999", 3)):
        with pytest.raises(errors.SignInRefused) as wrong:
            staffed_store.execute(c.SignIn(window, staff_id, pin="000000"))
        refusals.append((str(wrong.value), wrong.value.as_dict()))
    assert refusals[0] == refusals[1]
    assert "S-0001" not in repr(refusals[0])


def test_a_staff_card_names_its_holder(staffed_store: Store) -> None:
    (signed,) = staffed_store.execute(c.SignIn(2, card=STAFF_CARD)).events
    assert signed.payload == {
        "window": 2,
        "staff_id": "S-0003",
        "method": "card",
        "at": signed.payload["at"],
    }
    with pytest.raises(errors.SignInRefused):
        staffed_store.execute(c.SignIn(1, card="HS1:somebody-elses-badge-0000"))


def test_wrong_pins_lock_out_the_member_and_the_window_across_a_restart(
    tmp_path: Path, hall: HallConfig, clock: FakeClock, wall: WallClock
) -> None:
    """GIVEN five wrong PINs for S-0001 at window 1 (each waits out its delay) WHEN the hub
    restarts THEN S-0001 is locked out for 15 minutes at every window, window 1 for every
    member, even with the right PIN; afterwards the right PIN signs in. The lockout is an
    event (for central), like the kiosk's admin PIN lockout."""
    give_staff_credentials(tmp_path)
    config = staffed(hall)
    store = open_store(tmp_path, config, clock, wall)
    for attempt in range(5):
        with pytest.raises(errors.SignInRefused) as wrong:
            store.execute(c.SignIn(1, "S-0001", pin="000000"))
        assert wrong.value.details["locked_out"] == (attempt == 4)
        if attempt < 4:
            wall.now += wrong.value.details["retry_after_s"]
    with pytest.raises(errors.SignInLocked):
        store.execute(sign_in("S-0001", 1))  # too soon after the first lockout
    (locked,) = [e for e in store.events_since(0) if e.type == "StaffSignInLockedOut"]
    assert locked.payload == {
        "window": 1,
        "staff_id": "S-0001",
        "locked_for_s": 900,
        "at": locked.payload["at"],
    }
    store.close()
    wall.now += 60  # a minute into the lockout

    again = open_store(tmp_path, config, clock, wall)  # a restart: the lockout holds
    for attempt in (sign_in("S-0001", 3), sign_in("S-0003", 1)):
        with pytest.raises(errors.SignInLocked) as locked:
            again.execute(attempt)
        assert locked.value.details["locked_out"] is True
        assert 0 < locked.value.details["retry_after_s"] <= 15 * 60
    (other,) = again.execute(sign_in("S-0003", 3)).events  # another member, another window
    assert other.payload["staff_id"] == "S-0003"
    wall.now += 15 * 60
    assert again.execute(sign_in("S-0001", 1)).events[-1].payload["staff_id"] == "S-0001"
    with pytest.raises(errors.SignInRefused):  # an id the hub does not know: the window counts
        again.execute(c.SignIn(2, "S-9999", pin="000000"))
    again.close()
    assert sorted(p.name for p in (tmp_path / ATTEMPTS_DIR).iterdir()) == [
        "staff-S-0001.json",
        "window-1.json",
        "window-2.json",
    ]


def test_no_pin_and_no_hash_reach_the_store_or_the_log(staffed_store: Store, tmp_path: Path):
    staffed_store.execute(sign_in("S-0001", 1))
    staffed_store.execute(c.SignIn(2, card=STAFF_CARD))
    staffed_store.close()
    credentials = (tmp_path / CREDENTIALS_FILE).read_text()
    hashes = [part for part in credentials.split('"') if part.startswith("scrypt$")]
    assert len(hashes) == 3
    assert (tmp_path / CREDENTIALS_FILE).stat().st_mode & 0o077 == 0
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("hall.db*"))
    for secret in [*STAFF_PINS.values(), STAFF_CARD, *hashes]:
        assert secret.encode() not in stored
    assert b"StaffSignedIn" in stored or b"S-0001" in stored  # (the file is the right one)


def test_everyone_is_signed_out_at_the_end_of_the_business_day(
    tmp_path: Path, clock: FakeClock, wall: WallClock
) -> None:
    """GIVEN sign-out at 17:30 and two windows staffed, one serving WHEN 17:30 passes THEN
    the idle window's staff is signed out (``day_end``), the serving one after finishing,
    and nobody signs in again that day."""
    give_staff_credentials(tmp_path)
    hall = staffed(sample_config(), sign_out_at="17:30")
    store = open_store(tmp_path, hall, clock, wall)
    store.execute(c.IssueTicket("household"))
    store.execute(sign_in("S-0001", 1))
    store.execute(sign_in("S-0002", 2))
    store.execute(c.CallNext(2))
    store.execute(c.StartService(2))
    assert store.execute(c.Tick()).events == []
    clock.now = dt.datetime(2026, 6, 1, 9, 30, tzinfo=dt.UTC)  # 17:30 in Shanghai
    out = [e for e in store.execute(c.Tick()).events if e.type == "StaffSignedOut"]
    assert [(e.payload["window"], e.payload["reason"]) for e in out] == [(1, "day_end")]
    store.execute(c.FinishService(2))
    out = [e for e in store.execute(c.Tick()).events if e.type == "StaffSignedOut"]
    assert [(e.payload["window"], e.payload["staff_id"]) for e in out] == [(2, "S-0002")]
    with pytest.raises(errors.DayEnded):
        store.execute(sign_in("S-0001", 1))
    store.close()


def test_the_next_business_day_starts_with_nobody_signed_in(
    staffed_store: Store, clock: FakeClock
) -> None:
    staffed_store.execute(sign_in("S-0001", 1))
    clock.advance(days=1)
    staffed_store.execute(c.IssueTicket("social-security"))
    assert staffed_store.state.windows[1].staff is None
    with pytest.raises(errors.NotSignedIn):
        staffed_store.execute(c.CallNext(1))


def test_a_node_without_staff_credentials_refuses_every_sign_in(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    store = Store(tmp_path / "hall.db", "node-1", staffed(hall), clock)
    with pytest.raises(errors.SignInRefused):
        store.execute(sign_in("S-0001", 1))
    store.close()


def test_the_simulated_day_signs_staff_in_pauses_for_lunch_and_signs_out(tmp_path: Path):
    """GIVEN the sample hall (no staff list) WHEN the headless demo's day runs THEN each
    window's demo staff signs in by PIN, every window event names them, each window pauses
    for lunch with a reason and everyone signs out at closing."""
    from agent.datadir import DataDir
    from agent.node_runtime import Node
    from agent.simulation import HallDay

    DataDir(tmp_path).init()
    day = HallDay(Node.open(tmp_path), seed=3, arrivals=40)
    day.run()
    store = Node.open(tmp_path).store()
    events = list(store.events_since(0))
    store.close()
    signed_in = {e.payload["window"]: e.payload for e in events if e.type == "StaffSignedIn"}
    assert {w: p["staff_id"] for w, p in signed_in.items()} == {1: "D-01", 2: "D-02", 3: "D-03"}
    assert {p["method"] for p in signed_in.values()} == {"pin"}
    acting = [e for e in events if "window" in e.payload and e.type != "EvaluationRecorded"]
    assert len(acting) > 100
    assert all(e.payload["staff_id"] == f"D-{e.payload['window']:02d}" for e in acting)
    paused = [e.payload for e in events if e.type == "WindowPaused"]
    assert sorted(p["window"] for p in paused) == [1, 2, 3]
    assert {p["reason"] for p in paused} == {"break"}
    out = [e.payload for e in events if e.type == "StaffSignedOut"]
    assert sorted((p["window"], p["reason"]) for p in out) == [
        (1, "staff"),
        (2, "staff"),
        (3, "staff"),
    ]


@pytest.mark.parametrize(
    ("staff", "message"),
    [
        (
            {"members": [{"id": "S-1", "windows": [7]}]},
            "staff.members.1.windows.1: unknown window 7",
        ),
        ({"members": [{"id": "S-1"}, {"id": "S-1"}]}, "staff.members.2.id: 'S-1' repeats item 1"),
        (
            {"members": [{"id": "S-1", "name": "王小明"}]},
            "staff.members.1.name: a staff name is kept masked",
        ),
        ({"members": [{"id": "S 1"}]}, "staff.members.1.id: String should match pattern"),
        ({"members": [{"id": "S-1", "pin_hash": "x"}]}, "staff.members.1.pin_hash: Extra inputs"),
        ({"pause_reasons": []}, "staff.pause_reasons: List should have at least 1 item"),
        ({"sign_out_at": "25:00"}, "staff.sign_out_at: String should match pattern"),
    ],
)
def test_a_bad_staff_section_names_file_field_and_reason(
    tmp_path: Path, staff: dict, message: str
) -> None:
    """A staff list travels with the hall config: a full name or a PIN hash in it is refused."""
    import yaml

    from agent.config import load_hall_config

    data = sample_config().model_dump(mode="json") | {"staff": staff}
    path = tmp_path / "hall.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(errors.ConfigError) as bad:
        load_hall_config(path)
    assert str(bad.value).startswith(f"{path}: ")
    assert message in str(bad.value)


def test_the_estimated_wait_counts_only_windows_with_someone_signed_in(
    staffed_store: Store,
) -> None:
    store = staffed_store
    for _ in range(3):
        store.execute(c.IssueTicket("social-security"))  # served at windows 1 and 2
    third = store.state.ticket_by_number("A003")
    assert third is not None
    store.execute(sign_in("S-0001", 1))
    alone = store.engine.estimated_wait_minutes(store.state, third)
    store.execute(sign_in("S-0002", 2))
    shared = store.engine.estimated_wait_minutes(store.state, third)
    assert alone > 0 and shared == round(alone / 2)


def test_a_window_nobody_is_signed_in_at_is_not_idle_until_someone_signs_in(
    tmp_path: Path, hall: HallConfig, clock: FakeClock, wall: WallClock
) -> None:
    """GIVEN an idle-window alarm at 5 minutes and A001 waiting WHEN nobody is signed in at
    windows 1 and 2 for an hour THEN no alarm; once S-0001 signs in at window 1, its idle
    time counts from the sign-in."""
    from agent.alarms import AlarmRules

    give_staff_credentials(tmp_path)
    config = staffed(hall).model_copy(update={"alarms": AlarmRules(idle_window_minutes=5)})
    store = open_store(tmp_path, config, clock, wall)
    store.execute(c.IssueTicket("social-security"))
    clock.advance(hours=1)
    assert [e.type for e in store.execute(c.Tick()).events] == []
    store.execute(sign_in("S-0001", 1))
    clock.advance(minutes=4)
    assert [e.type for e in store.execute(c.Tick()).events] == []
    clock.advance(minutes=1)
    raised = store.execute(c.Tick()).events
    assert [(e.type, e.payload["alarm"]) for e in raised] == [("AlarmRaised", "window_idle:1")]
    store.close()


# ---- random days in a staffed hall -------------------------------------------------------
STAFF_HALL = staffed(always_open(sample_config()))
_WINDOWS = [w.number for w in STAFF_HALL.windows]
_staff_commands = st.one_of(
    st.builds(c.IssueTicket, st.sampled_from(["social-security", "household", "enterprise"])),
    st.builds(
        lambda k, w: k(w),
        st.sampled_from([c.CallNext, c.Recall, c.MarkNoShow, c.StartService, c.FinishService]),
        st.sampled_from(_WINDOWS),
    ),
    st.builds(c.Transfer, st.sampled_from(_WINDOWS), st.just("civil-affairs")),
    st.builds(c.PauseWindow, st.sampled_from(_WINDOWS), st.sampled_from(["break", "nap"])),
    st.builds(c.ResumeWindow, st.sampled_from(_WINDOWS)),
    st.builds(sign_in, st.sampled_from(sorted(STAFF_PINS)), st.sampled_from(_WINDOWS)),
    st.builds(c.SignOut, st.sampled_from(_WINDOWS)),
    st.builds(c.Tick),
)
#: A citizen comes, a member signs in and calls (one at a time, they rarely line up).
_shift = st.builds(
    lambda staff_id, window: (
        c.IssueTicket(STAFF_HALL.window(window).services[0]),  # type: ignore[union-attr]
        sign_in(staff_id, window),
        c.CallNext(window),
    ),
    st.sampled_from(sorted(STAFF_PINS)),
    st.sampled_from(_WINDOWS),
)
_pauses = st.sampled_from([0, 30, 300, 1800, 20 * 3600])  # sometimes into the next day
#: Events that belong to a window's staff (a rating or a device is not theirs).
STAFF_EVENTS = {
    "TicketCalled",
    "TicketRecalled",
    "TicketNoShow",
    "ServiceStarted",
    "ServiceFinished",
    "BundleLegQueued",
    "TicketTransferred",
    "TicketAssisted",
    "WindowPaused",
    "WindowResumed",
    "StaffSignedIn",
    "StaffSignedOut",
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.one_of(_staff_commands, _shift), _pauses), max_size=40))
def test_random_staffed_days_name_the_staff_and_replay_to_the_stored_state(
    sequence: list[tuple[c.Command | tuple[c.Command, ...], int]],
) -> None:
    """Whatever the order of sign-ins, sign-outs, pauses and calls over several days: every
    window event but a timed-out call's names who is signed in there, nobody acts at a window
    nobody is signed in at, and replaying the log rebuilds the stored windows exactly."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copy(_credentials_file(), root / CREDENTIALS_FILE)
        clock = FakeClock()
        store = open_store(root, STAFF_HALL, clock, WallClock())
        for step, seconds in sequence:
            clock.advance(seconds=seconds)
            for command in step if isinstance(step, tuple) else (step,):
                with contextlib.suppress(errors.DomainError):
                    store.execute(command)
        events = list(store.events_since(0))
        for event in events:
            if event.type in STAFF_EVENTS and event.payload.get("reason") != "timeout":
                assert event.payload.get("staff_id") in STAFF_PINS, event
        assert dump_projection(replay(events, STAFF_HALL)) == dump_projection(store.conn)
        store.close()


@functools.cache
def _credentials_file() -> Path:
    """The staff's credentials, hashed once for every example (scrypt is slow on purpose)."""
    root = Path(tempfile.mkdtemp(prefix="staff-credentials-"))
    give_staff_credentials(root)
    return root / CREDENTIALS_FILE


def test_a_sign_in_command_never_shows_its_pin_or_card() -> None:
    """A command may be logged whole (a refusal, an ignored duplicate): its secret is not."""
    text = repr(c.SignIn(1, "S-0001", pin="482915", card="HS1:BADGE-SECRET-0001"))
    assert "S-0001" in text
    assert "482915" not in text and "BADGE-SECRET" not in text
