""" "One thing" bundles: one number carries a visit through several services in turn."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import commands as c
from agent import errors
from agent.bundles import Bundle
from agent.calendar import Closure, HallCalendar
from agent.config import HallConfig
from agent.model import TicketState
from agent.store import Store, dump_projection, replay
from agent.views import hall_status
from tests.agent.conftest import FakeClock

NEWBORN = Bundle(
    code="newborn",
    name_zh="新生儿出生一件事",
    name_en="Newborn",
    services=["household", "social-security", "civil-affairs"],
)


@pytest.fixture
def hall(hall: HallConfig) -> HallConfig:
    return hall.model_copy(update={"bundles": [NEWBORN]})


def serve(store: Store, window: int) -> str:
    """Call, start and finish at a window; the number served."""
    called = store.execute(c.CallNext(window)).ticket
    assert called is not None
    store.execute(c.StartService(window))
    store.execute(c.FinishService(window))
    return called.number


def test_a_bundle_visit_goes_through_three_services_with_one_number(
    store: Store, clock: FakeClock
) -> None:
    first = store.execute(c.IssueTicket("", bundle="newborn")).ticket
    assert first is not None and first.number == "B001"  # the first service's series
    clock.advance(minutes=1)
    later = store.execute(c.IssueTicket("social-security")).ticket  # A001, taken after it
    assert later is not None
    view = store.ticket_view(first)
    assert (view["bundle"], view["bundle_leg"], view["bundle_legs"]) == ("newborn", 1, 3)
    assert view["bundle_name_zh"] == "新生儿出生一件事"

    assert serve(store, 2) == "B001"  # household done: on to social security by itself
    leg2 = store.state.ticket_by_number("B001")
    assert leg2 is not None
    assert (leg2.service, leg2.state, leg2.bundle_leg, leg2.leg) == (
        "social-security",
        TicketState.WAITING,
        2,
        2,
    )
    assert leg2.issued_at == first.issued_at  # its place: the original issue time
    assert store.engine.people_ahead(store.state, leg2) == 0  # ahead of A001, issued later
    assert serve(store, 2) == "B001"
    leg3 = store.state.ticket_by_number("B001")
    assert leg3 is not None and (leg3.service, leg3.bundle_leg) == ("civil-affairs", 3)
    assert serve(store, 3) == "B001"  # the last leg: the visit ends
    done = store.state.ticket_by_number("B001")
    assert done is not None and done.state is TicketState.DONE
    assert serve(store, 1) == "A001"
    assert store.state.counters == {"household": 1, "social-security": 1}  # one number each
    legs = [t for t in store.state.tickets.values() if t.number == "B001"]
    assert [(t.service, t.state) for t in sorted(legs, key=lambda t: t.leg)] == [
        ("household", TicketState.DONE),
        ("social-security", TicketState.DONE),
        ("civil-affairs", TicketState.DONE),
    ]
    types = [e.type for e in store.events_since(0)]
    assert types.count("BundleLegQueued") == 2
    rebuilt = replay(store.events_since(0), store.config)
    assert dump_projection(rebuilt) == dump_projection(store.conn)


def test_the_window_sees_the_leg_of_its_current_ticket(store: Store) -> None:
    store.execute(c.IssueTicket("", bundle="newborn"))
    serve(store, 2)
    store.execute(c.CallNext(2))
    current = {w["number"]: w for w in hall_status(store)["windows"]}[2]["current_view"]
    assert (current["number"], current["bundle_leg"], current["bundle_legs"]) == ("B001", 2, 3)


def test_each_leg_is_rated_at_its_own_window(store: Store) -> None:
    store.execute(c.IssueTicket("", bundle="newborn"))
    serve(store, 2)
    store.execute(c.RecordEvaluation(2, 5))
    rows = store.conn.execute("SELECT ticket_id, service, score FROM evaluations").fetchall()
    assert rows == [(f"{store.state.business_date}/B001/1", "household", 5)]


def test_a_bundle_is_refused_when_one_of_its_services_is_closed(
    tmp_path: Path, hall: HallConfig, clock: FakeClock
) -> None:
    today = clock.now.astimezone(hall.zone).date()
    closed = HallCalendar(closures=[Closure(start=today, services=["civil-affairs"])])
    store = Store(tmp_path / "h.db", "n", hall.model_copy(update={"calendar": closed}), clock)
    with pytest.raises(errors.ServiceClosed, match="Civil affairs"):
        store.execute(c.IssueTicket("", bundle="newborn"))
    assert store.last_seq == 0


def test_unknown_or_mismatched_bundles_are_refused(store: Store) -> None:
    with pytest.raises(errors.UnknownService, match="no bundle 'nope'"):
        store.execute(c.IssueTicket("", bundle="nope"))
    with pytest.raises(errors.DomainError, match="starts with 'household'"):
        store.execute(c.IssueTicket("enterprise", bundle="newborn"))
    assert store.last_seq == 0


def test_a_transfer_in_a_bundle_is_a_detour_and_the_visit_goes_on(store: Store) -> None:
    store.execute(c.IssueTicket("", bundle="newborn"))
    store.execute(c.CallNext(2))
    store.execute(c.Transfer(2, "enterprise"))  # household sends the citizen elsewhere first
    detour = store.state.ticket_by_number("B001")
    assert detour is not None and (detour.service, detour.bundle_leg) == ("enterprise", 1)
    serve(store, 3)
    after = store.state.ticket_by_number("B001")
    assert after is not None and (after.service, after.bundle_leg) == ("social-security", 2)


def test_bundle_config_errors_name_the_problem(hall: HallConfig) -> None:
    data = hall.model_dump(mode="json")
    data["bundles"] = [{**NEWBORN.model_dump(), "services": ["household", "nope"]}]
    with pytest.raises(ValueError, match="unknown service 'nope'"):
        HallConfig.model_validate(data)
    data["bundles"] = [{**NEWBORN.model_dump(), "code": "household"}]
    with pytest.raises(ValueError, match="already the code of a service"):
        HallConfig.model_validate(data)
    with pytest.raises(ValueError, match="appears twice"):
        Bundle(code="x", name_zh="x", name_en="x", services=["household", "household"])
