"""The queue rules, one behaviour per test, through the real store."""

from __future__ import annotations

import datetime as dt

import pytest

from agent import commands as c
from agent import errors
from agent.config import HallConfig
from agent.model import Priority, TicketState
from agent.store import Store
from tests.agent.conftest import FakeClock


def issue(store: Store, service: str = "social-security", **kw: object) -> str:
    result = store.execute(c.IssueTicket(service, **kw))  # type: ignore[arg-type]
    assert result.ticket is not None
    return result.ticket.number


def citizen(n: int, elderly: bool = False) -> c.Citizen:
    return c.Citizen(citizen_hash=f"hash-{n}", masked_name="李*", elderly=elderly)


def test_numbers_count_up_per_service_with_the_prefix(store: Store) -> None:
    assert [issue(store) for _ in range(3)] == ["A001", "A002", "A003"]
    assert issue(store, "household") == "B001"


def test_numbers_restart_on_the_next_business_day(store: Store, clock: FakeClock) -> None:
    issue(store)
    clock.advance(days=1)
    assert issue(store) == "A001"


def test_clock_jumping_back_a_day_never_reuses_a_number(store: Store, clock: FakeClock) -> None:
    issue(store)
    clock.advance(days=1)
    assert issue(store) == "A001"
    clock.advance(days=-1, hours=-2)
    assert issue(store) == "A002"  # still the later business day
    ticket = store.state.ticket_by_number("A002")
    assert ticket is not None and ticket.business_date == "2026-06-02"


def test_daily_cap_refuses_with_a_clear_error(tmp_path, hall: HallConfig, clock) -> None:
    services = [hall.services[0].model_copy(update={"daily_cap": 2}), *hall.services[1:]]
    store = Store(tmp_path / "h.db", "n", hall.model_copy(update={"services": services}), clock)
    issue(store)
    issue(store)
    with pytest.raises(errors.DailyCapReached, match="all taken"):
        issue(store)
    assert store.last_seq == 2  # the refusal wrote nothing


def test_closed_service_refuses(tmp_path, clock) -> None:
    from agent.config import sample_config

    store = Store(tmp_path / "h.db", "n", sample_config(), clock)
    clock.now = dt.datetime(2026, 6, 1, 4, 30, tzinfo=dt.UTC)  # 12:30 lunch break
    with pytest.raises(errors.ServiceClosed):
        issue(store)


def test_one_waiting_ticket_per_citizen_per_service(store: Store) -> None:
    issue(store, citizen=citizen(1))
    with pytest.raises(errors.AlreadyWaiting, match="A001"):
        issue(store, citizen=citizen(1))
    assert issue(store, "household", citizen=citizen(1)) == "B001"


def test_a_citizen_may_wait_again_once_the_ticket_no_longer_waits(store: Store) -> None:
    """Called, cancelled or reactivated: "one waiting ticket" follows the ticket's state."""
    issue(store, citizen=citizen(1))  # A001
    store.execute(c.CallNext(1))  # A001 called: no longer waiting
    assert issue(store, citizen=citizen(1)) == "A002"
    with pytest.raises(errors.AlreadyWaiting, match="A002"):
        issue(store, citizen=citizen(1))
    store.execute(c.CancelTicket("A002"))
    store.execute(c.MarkNoShow(1))  # A001 did not come
    store.execute(c.Reactivate("A001"))  # ... then came late: A001 waits again
    with pytest.raises(errors.AlreadyWaiting, match="A001"):
        issue(store, citizen=citizen(1))


def test_per_citizen_daily_limit(store: Store) -> None:
    limit = store.config.service("social-security").per_citizen_daily_limit  # type: ignore[union-attr]
    for _ in range(limit):
        issue(store, citizen=citizen(7))
        store.execute(c.CallNext(1))
        store.execute(c.StartService(1))
        store.execute(c.FinishService(1))
    with pytest.raises(errors.CitizenLimitReached):
        issue(store, citizen=citizen(7))


def test_call_order_priority_then_window_service_order_then_issue_time(store: Store) -> None:
    issue(store, "civil-affairs")  # C001, window 1's second service
    issue(store, "social-security")  # A001, window 1's first service
    issue(store, "civil-affairs", staff_priority=True)  # C002, green channel
    elderly = issue(store, "civil-affairs", citizen=citizen(2, elderly=True))
    calls = []
    for _ in range(4):
        ticket = store.execute(c.CallNext(1)).ticket
        assert ticket is not None
        calls.append(ticket.number)
        store.execute(c.StartService(1))
        store.execute(c.FinishService(1))
    assert calls == ["C002", elderly, "A001", "C001"]
    assert store.state.ticket_by_number(elderly).priority is Priority.ELDERLY  # type: ignore[union-attr]


def test_appointment_has_priority_only_within_its_slot(store: Store, clock: FakeClock) -> None:
    start = clock.now.astimezone(store.config.zone) + dt.timedelta(hours=2)
    entries = (c.RosterEntry("APT-1", "social-security", start, start + dt.timedelta(minutes=30)),)
    store.execute(c.LoadAppointments("r1", entries))
    issue(store)  # A001, normal
    booked = store.execute(c.CheckIn("APT-1")).ticket
    assert booked is not None and booked.number == "A002"
    assert store.execute(c.CallNext(1)).ticket.number == "A001"  # type: ignore[union-attr]
    store.execute(c.StartService(1))
    store.execute(c.FinishService(1))
    issue(store)  # A003
    clock.advance(hours=2)  # now inside the slot
    assert store.execute(c.CallNext(1)).ticket.number == "A002"  # type: ignore[union-attr]


def test_appointment_code_checks_in_once_and_unknown_codes_are_refused(store: Store, clock) -> None:
    start = clock.now.astimezone(store.config.zone)
    entries = (c.RosterEntry("APT-9", "household", start, start + dt.timedelta(minutes=30)),)
    store.execute(c.LoadAppointments("r1", entries))
    store.execute(c.CheckIn("APT-9"))
    with pytest.raises(errors.AppointmentUsed, match="B001"):
        store.execute(c.CheckIn("APT-9"))
    with pytest.raises(errors.UnknownAppointment):
        store.execute(c.CheckIn("not-a-code"))


def test_transfer_keeps_number_and_issue_time_and_counts_each_leg(store: Store) -> None:
    issue(store, "household")  # B001 at window 2
    first = issue(store, "social-security")
    store.execute(c.CallNext(1))
    store.execute(c.StartService(1))
    moved = store.execute(c.Transfer(1, "household")).ticket
    assert moved is not None
    assert (moved.number, moved.service, moved.state, moved.leg) == (
        first,
        "household",
        TicketState.WAITING,
        2,
    )
    old = store.state.tickets[moved.previous_id]  # type: ignore[index]
    assert old.state is TicketState.TRANSFERRED and moved.issued_at == old.issued_at
    # window 2 serves household first: B001 came later than A001's original issue time
    assert store.execute(c.CallNext(2)).ticket.number == first  # type: ignore[union-attr]


def test_recalls_then_automatic_no_show(store: Store) -> None:
    issue(store)
    store.execute(c.CallNext(1))
    for n in range(store.config.no_show.max_recalls):
        assert store.execute(c.Recall(1)).events[0].payload["recalls"] == n + 1
    result = store.execute(c.Recall(1))
    assert result.events[0].type == "TicketNoShow"
    assert store.state.windows[1].current is None


def test_called_ticket_times_out_into_no_show(store: Store, clock: FakeClock) -> None:
    issue(store)
    store.execute(c.CallNext(1))
    clock.advance(minutes=store.config.no_show.auto_minutes - 1)
    assert store.execute(c.Tick()).events == []
    clock.advance(minutes=1)
    assert [e.payload["reason"] for e in store.execute(c.Tick()).events] == ["timeout"]


def test_reactivation_only_within_the_configured_number_of_calls(store: Store) -> None:
    limit = store.config.no_show.reactivate_within_calls
    for _ in range(limit + 3):
        issue(store)
    store.execute(c.CallNext(1))
    store.execute(c.MarkNoShow(1))
    store.execute(c.Reactivate("A001"))
    assert store.state.ticket_by_number("A001").state is TicketState.WAITING  # type: ignore[union-attr]
    assert store.execute(c.CallNext(1)).ticket.number == "A001"  # type: ignore[union-attr]
    store.execute(c.MarkNoShow(1))
    for _ in range(limit + 1):
        store.execute(c.CallNext(1))
        store.execute(c.MarkNoShow(1))
    with pytest.raises(errors.ReactivationExpired):
        store.execute(c.Reactivate("A001"))


def test_illegal_actions_are_domain_errors(store: Store) -> None:
    with pytest.raises(errors.NobodyWaiting):
        store.execute(c.CallNext(1))
    with pytest.raises(errors.NoCurrentTicket):
        store.execute(c.FinishService(1))
    issue(store)
    store.execute(c.CallNext(1))
    with pytest.raises(errors.InvalidTransition, match="not serving"):
        store.execute(c.FinishService(1))
    with pytest.raises(errors.WindowBusy):
        store.execute(c.PauseWindow(1, "break"))
    with pytest.raises(errors.UnknownWindow):
        store.execute(c.CallNext(99))
    with pytest.raises(errors.UnknownService):
        store.execute(c.IssueTicket("nope"))


def test_paused_window_does_not_call(store: Store) -> None:
    issue(store)
    store.execute(c.PauseWindow(1, "break"))
    with pytest.raises(errors.WindowPaused):
        store.execute(c.CallNext(1))
    store.execute(c.ResumeWindow(1))
    assert store.execute(c.CallNext(1)).ticket.number == "A001"  # type: ignore[union-attr]


def test_calling_next_while_a_citizen_never_came_marks_the_no_show(store: Store) -> None:
    issue(store)
    issue(store)
    store.execute(c.CallNext(1))
    result = store.execute(c.CallNext(1))
    assert [e.type for e in result.events] == ["TicketNoShow", "TicketCalled"]


def test_estimated_wait_uses_people_ahead_and_rolling_service_time(store: Store, clock) -> None:
    issue(store)
    issue(store)
    store.execute(c.CallNext(1))
    store.execute(c.StartService(1))
    clock.advance(minutes=20)
    store.execute(c.FinishService(1))
    third = store.execute(c.IssueTicket("social-security")).ticket
    view = store.ticket_view(third)  # type: ignore[arg-type]
    assert view["people_ahead"] == 1
    # 1 ahead × 20 min average, shared by the 2 open windows serving it
    assert view["estimated_wait_min"] == 10


def test_evaluation_is_linked_to_ticket_and_window_once(store: Store) -> None:
    issue(store)
    store.execute(c.CallNext(1))
    store.execute(c.StartService(1))
    store.execute(c.FinishService(1))
    result = store.execute(c.RecordEvaluation(1, 5))
    assert result.events[0].payload | {"at": None} == {
        "ticket_id": "2026-06-01/A001/1",
        "number": "A001",
        "service": "social-security",
        "citizen_name": None,
        "window": 1,
        "score": 5,
        "reasons": [],
        "indicators_version": None,
        "channel": "evaluator",
        "case": None,
        "item_code": "11330100MB0000001X-SS-001",
        "staff_id": None,
        "at": None,
    }
    with pytest.raises(errors.AlreadyRated):
        store.execute(c.RecordEvaluation(1, 4))
    with pytest.raises(errors.DomainError):
        store.execute(c.RecordEvaluation(1, 6))
    assert store.conn.execute("SELECT window, score FROM evaluations").fetchall() == [(1, 5)]


def test_cancel_only_waiting_tickets(store: Store) -> None:
    issue(store)
    issue(store)
    store.execute(c.CancelTicket("A002"))
    store.execute(c.CallNext(1))
    with pytest.raises(errors.InvalidTransition):
        store.execute(c.CancelTicket("A001"))
    with pytest.raises(errors.NobodyWaiting):
        store.execute(c.CallNext(2))


def test_hall_config_through_the_log_must_be_newer_and_for_this_hall(store: Store) -> None:
    renamed = store.config.model_copy(update={"name_en": "Renamed"})
    store.execute(c.ApplyHallConfig(renamed, version=3))
    assert store.config.name_en == "Renamed"
    with pytest.raises(errors.StaleConfig):
        store.execute(c.ApplyHallConfig(renamed, version=3))
    with pytest.raises(errors.StaleConfig):
        store.execute(c.ApplyHallConfig(renamed.model_copy(update={"hall_id": "x"}), version=9))


def test_elderly_by_the_configured_age_on_the_birthday() -> None:
    from agent.config import PriorityRules

    rules = PriorityRules(elderly_age=70)
    assert rules.is_elderly(dt.date(1956, 6, 1), dt.date(2026, 6, 1))
    assert not rules.is_elderly(dt.date(1956, 6, 2), dt.date(2026, 6, 1))


def test_meta_rows_commit_with_the_command_or_not_at_all(store: Store) -> None:
    store.execute(c.PublishNotice("n1", "通知"), meta={"inbound.notice": "7"})
    assert store.conn.execute("SELECT value FROM meta WHERE key = 'inbound.notice'").fetchall() == [
        ("7",)
    ]
    with pytest.raises(errors.NobodyWaiting):
        store.execute(c.CallNext(1), meta={"inbound.notice": "8"})
    assert store.conn.execute("SELECT value FROM meta WHERE key = 'inbound.notice'").fetchall() == [
        ("7",)
    ]


def test_a_config_cannot_drop_a_service_citizens_still_wait_for(store: Store) -> None:
    issue(store, "enterprise")
    without = store.config.model_copy(
        update={
            "services": [s for s in store.config.services if s.code != "enterprise"],
            "windows": [
                w.model_copy(update={"services": [x for x in w.services if x != "enterprise"]})
                for w in store.config.windows
            ],
        }
    )
    with pytest.raises(errors.ServiceInUse, match="D001"):
        store.execute(c.ApplyHallConfig(without, version=2))
    assert store.config.service("enterprise") is not None
    store.execute(c.CancelTicket("D001"))
    store.execute(c.ApplyHallConfig(without, version=2))
    assert store.config.service("enterprise") is None


def test_notice_expiry_is_compared_as_time_not_text(store: Store, clock: FakeClock) -> None:
    from agent.views import active_notices

    # 09:00 in Shanghai; the notice ends at 10:00 Shanghai, sent as 02:00 UTC
    expires = clock.now + dt.timedelta(hours=1)
    store.execute(c.PublishNotice("n1", "下午停电检修", expires_at=expires))
    assert [n["notice_id"] for n in active_notices(store)] == ["n1"]
    clock.advance(minutes=61)
    assert active_notices(store) == []
