"""A simulated hall day through the real runtime, engine and store (``demo --headless``).

Citizens arrive over the opening hours (some with appointments, some elderly, some on a
"one thing" bundle visit, some leave before their number is called), staff sign in at each
window by 工号 and PIN, call, serve (some with 帮办/代办 help), transfer and ask for a
rating, pause for lunch and sign out at closing. The clock is
simulated, so the same seed gives the same summary.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import heapq
import itertools
import json
import random
import sqlite3
import statistics
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import commands as c
from agent.config import HallConfig
from agent.datadir import DataDir
from agent.demostaff import demo_staff
from agent.errors import ConfigError, DomainError
from agent.model import Event, Ticket, TicketState, parse_time
from agent.node_runtime import Node
from agent.store import Store

SIM_DATE = dt.date(2026, 6, 1)  # a Monday: every sample service is open
APPOINTMENT_SHARE = 0.10
ELDERLY_SHARE = 0.12
ID_CARD_SHARE = 0.40
LEAVE_SHARE = 0.07
TRANSFER_SHARE = 0.05
BUNDLE_SHARE = 0.08  # of arrivals, when the hall has bundles
ASSIST_SHARE = 0.06  # of legs started
RATE_SHARE = 0.85
SCORES = [5, 4, 3, 2, 1]
SCORE_WEIGHTS = [60, 25, 10, 4, 1]


@dataclass(order=True)
class _Job:
    at: dt.datetime
    order: int
    action: Callable[[], None] = field(compare=False)


@dataclass
class Tally:
    """What the simulation itself did, per service, on its own clock: the oracle the
    report over the store is checked against (tests/agent/test_reports_simulated.py)."""

    tickets: Counter[str] = field(default_factory=Counter)
    transferred_in: Counter[str] = field(default_factory=Counter)
    bundle_in: Counter[str] = field(default_factory=Counter)
    served: Counter[str] = field(default_factory=Counter)
    no_shows: Counter[str] = field(default_factory=Counter)
    transfers: Counter[str] = field(default_factory=Counter)
    waits: dict[str, list[float]] = field(default_factory=dict)  # seconds
    service_times: dict[str, list[float]] = field(default_factory=dict)
    ratings: dict[str, Counter[int]] = field(default_factory=dict)
    assisted: Counter[str] = field(default_factory=Counter)  # mode "assisted"
    proxy: Counter[str] = field(default_factory=Counter)
    visit_times: dict[str, list[float]] = field(default_factory=dict)  # by the last service
    visit_start: dict[str, dt.datetime] = field(default_factory=dict)  # bundle number -> issue
    # leg id -> (service, when it joined the line), until its first call
    joined: dict[str, tuple[str, dt.datetime]] = field(default_factory=dict)
    started: dict[str, dt.datetime] = field(default_factory=dict)

    def called(self, ticket: Ticket, now: dt.datetime) -> None:
        if ticket.id in self.joined:  # its first call
            wait = (now - self.joined.pop(ticket.id)[1]).total_seconds()
            self.waits.setdefault(ticket.service, []).append(wait)

    def unserved(self) -> Counter[str]:
        return Counter(service for service, _ in self.joined.values())

    def ended(self, ticket: Ticket, now: dt.datetime) -> None:
        seconds = (now - self.started.pop(ticket.id)).total_seconds()
        self.service_times.setdefault(ticket.service, []).append(seconds)


class HallDay:
    def __init__(self, node: Node, seed: int, arrivals: int) -> None:
        self.rng = random.Random(seed)
        node, self.staff = demo_staff(node)
        self.hall: HallConfig = node.hall
        self.arrivals = arrivals
        self.now = dt.datetime.combine(SIM_DATE, dt.time(8, 0), self.hall.zone)
        self.runtime = node.runtime(clock=lambda: self.now, tick_seconds=3600)
        self._jobs: list[_Job] = []
        self._order = itertools.count()
        self.absent: set[str] = set()  # numbers of citizens who left
        self.refused: dict[str, int] = {}
        self.tally = Tally()

    def at(self, moment: dt.datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self._jobs, _Job(moment, next(self._order), action))

    def run(self) -> dict[str, Any]:
        with self.runtime:
            self._plan_citizens()
            for window in self.staff:
                self.at(self._open(), self._sign_in_loop(window))
            while self._jobs:
                job = heapq.heappop(self._jobs)
                self.now = max(self.now, job.at)
                job.action()
            return self.runtime._query(summarise)  # (agent/ may run its own reads)

    # ---- citizens ------------------------------------------------------------------------
    def _periods(self) -> list[tuple[dt.datetime, dt.datetime]]:
        spans = []
        for period in self.hall.services[0].hours.periods:
            start, _, end = period.partition("-")
            spans.append(
                (
                    dt.datetime.combine(SIM_DATE, dt.time.fromisoformat(start), self.hall.zone),
                    dt.datetime.combine(SIM_DATE, dt.time.fromisoformat(end), self.hall.zone),
                )
            )
        return spans

    def _open(self) -> dt.datetime:
        return self._periods()[0][0]

    def _plan_citizens(self) -> None:
        spans = self._periods()
        weights = [(end - start).total_seconds() for start, end in spans]
        codes = [s.code for s in self.hall.services]
        roster = []
        command: c.Command
        for i in range(self.arrivals):
            start, end = self.rng.choices(spans, weights)[0]
            arrival = start + (end - start - dt.timedelta(minutes=20)) * self.rng.random()
            service = self.rng.choices(codes, [35, 25, 20, 20])[0]
            kind = self.rng.random()
            if self.hall.bundles and self.rng.random() < BUNDLE_SHARE:
                # several services in turn: such citizens come in the day's first hour
                arrival = spans[0][0] + dt.timedelta(hours=1) * self.rng.random()
                command = c.IssueTicket("", bundle=self.rng.choice(self.hall.bundles).code)
            elif kind < APPOINTMENT_SHARE:
                slot = arrival.replace(minute=(arrival.minute // 30) * 30, second=0, microsecond=0)
                code = f"APT-{SIM_DATE:%Y%m%d}-{i:05d}"
                roster.append(c.RosterEntry(code, service, slot, slot + dt.timedelta(minutes=30)))
                command = c.CheckIn(code)
            elif kind < APPOINTMENT_SHARE + ELDERLY_SHARE:
                born = dt.date(1940 + self.rng.randrange(12), 5, 17)
                command = c.IssueTicket(service, citizen=self._citizen(i, born), channel="idcard")
            elif kind < APPOINTMENT_SHARE + ELDERLY_SHARE + ID_CARD_SHARE:
                born = dt.date(1960 + self.rng.randrange(45), 3, 9)
                command = c.IssueTicket(service, citizen=self._citizen(i, born), channel="idcard")
            else:
                command = c.IssueTicket(service)
            leaves = self.rng.random() < LEAVE_SHARE
            self.at(arrival, self._arrival(command, leaves))
        self.runtime.execute(c.LoadAppointments(f"roster-{SIM_DATE}", tuple(roster)))

    def _arrival(self, command: c.Command, leaves: bool) -> Callable[[], None]:
        return lambda: self._arrive(command, leaves)

    def _citizen(self, i: int, born: dt.date) -> c.Citizen:
        elderly = self.hall.priority.is_elderly(born, SIM_DATE)
        return c.Citizen(citizen_hash=f"sim-{i:06d}", masked_name="张*", elderly=elderly)

    def _arrive(self, command: c.Command, leaves: bool) -> None:
        try:
            result = self.runtime.execute(command)
        except DomainError as exc:
            self.refused[exc.code] = self.refused.get(exc.code, 0) + 1
            return
        assert result.ticket is not None
        self.tally.tickets[result.ticket.service] += 1
        self.tally.joined[result.ticket.id] = (result.ticket.service, self.now)
        if result.ticket.bundle:
            self.tally.visit_start[result.ticket.number] = self.now
        if leaves:
            self.absent.add(result.ticket.number)

    # ---- staff ---------------------------------------------------------------------------
    def _sign_in_loop(self, window: int) -> Callable[[], None]:
        def sign_in() -> None:
            staff_id, pin = self.staff[window]
            self.runtime.execute(c.SignIn(window, staff_id, pin=pin))
            self._staff(window)

        return sign_in

    def _staff(self, window: int) -> None:
        """An idle window: call the next citizen, or look again in a minute; paused over
        lunch, signed out at closing."""
        morning_end, afternoon = self._periods()[0][1], self._periods()[-1][0]
        closing = self._periods()[-1][1]
        if self.now >= closing:
            # the hall closes; whoever still waits is counted as unserved
            self.runtime.execute(c.SignOut(window))
            return
        if morning_end <= self.now < afternoon:
            lunch = self.hall.staff.pause_reasons[0].code  # ("break" in the default list)
            self.runtime.execute(c.PauseWindow(window, lunch))
            self.at(afternoon, lambda: self._resume(window))
            return
        try:
            ticket = self.runtime.execute(c.CallNext(window)).ticket
        except DomainError:
            self.at(self.now + dt.timedelta(minutes=1), lambda: self._staff(window))
            return
        assert ticket is not None
        self.tally.called(ticket, self.now)
        if ticket.number in self.absent:
            self.at(self.now + dt.timedelta(minutes=1), lambda: self._recall(window))
        else:
            self.at(self.now + dt.timedelta(seconds=40), lambda: self._serve(window, ticket))

    def _resume(self, window: int) -> None:
        self.runtime.execute(c.ResumeWindow(window))
        self._staff(window)

    def _recall(self, window: int) -> None:
        result = self.runtime.execute(c.Recall(window))
        if result.events[-1].type == "TicketNoShow":
            assert result.ticket is not None
            self.tally.no_shows[result.ticket.service] += 1
            self.at(self.now + dt.timedelta(seconds=20), lambda: self._staff(window))
        else:
            self.at(self.now + dt.timedelta(minutes=1), lambda: self._recall(window))

    def _serve(self, window: int, ticket: Ticket) -> None:
        self.runtime.execute(c.StartService(window))
        self.tally.started[ticket.id] = self.now
        if self.rng.random() < ASSIST_SHARE:
            mode = self.rng.choice(["assisted", "proxy"])
            self.runtime.execute(c.MarkAssisted(window, mode, f"H-{window:02d}"))
            (self.tally.assisted if mode == "assisted" else self.tally.proxy)[ticket.service] += 1
        service = self.hall.service(ticket.service)
        assert service is not None
        minutes = self.rng.lognormvariate(0, 0.45) * service.default_service_minutes
        self.at(self.now + dt.timedelta(minutes=minutes), lambda: self._finish(window, ticket))

    def _finish(self, window: int, ticket: Ticket) -> None:
        others = [s.code for s in self.hall.services if s.code != ticket.service]
        tally = self.tally
        tally.ended(ticket, self.now)
        if ticket.leg == 1 and self.rng.random() < TRANSFER_SHARE:
            new = self.runtime.execute(c.Transfer(window, self.rng.choice(others))).ticket
            assert new is not None
            tally.transfers[ticket.service] += 1
            tally.transferred_in[new.service] += 1
            tally.joined[new.id] = (new.service, self.now)
        else:
            result = self.runtime.execute(c.FinishService(window))
            tally.served[ticket.service] += 1
            self._next_bundle_leg(ticket, result.events)
            if self.rng.random() < RATE_SHARE:
                score = self.rng.choices(SCORES, SCORE_WEIGHTS)[0]
                self.runtime.execute(c.RecordEvaluation(window, score))
                tally.ratings.setdefault(ticket.service, Counter())[score] += 1
        self.at(self.now + dt.timedelta(seconds=30), lambda: self._staff(window))

    def _next_bundle_leg(self, ticket: Ticket, events: list[Event]) -> None:
        """A bundle leg finished: on to the bundle's next service, or the visit is done."""
        bundle = self.hall.bundle(ticket.bundle) if ticket.bundle else None
        if bundle is None or ticket.bundle_leg is None:
            return
        following = bundle.after(ticket.bundle_leg)
        if following is None:
            started = self.tally.visit_start.pop(ticket.number)
            times = self.tally.visit_times.setdefault(ticket.service, [])
            times.append((self.now - started).total_seconds())
            return
        (queued,) = (e for e in events if e.type == "BundleLegQueued")
        self.tally.bundle_in[following] += 1
        self.tally.joined[queued.payload["new_ticket_id"]] = (following, self.now)


def _minutes(later: str, earlier: str) -> float:
    return (parse_time(later) - parse_time(earlier)).total_seconds() / 60


def _p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def summarise(store: Store) -> dict[str, Any]:
    """Per service: issued, served, no-show, transferred, waits and service times."""
    legs = [
        Ticket.from_row(dict(zip(_columns(store), row, strict=True)))
        for row in store.conn.execute(
            "SELECT * FROM tickets WHERE business_date = ?", (store.state.business_date,)
        )
    ]
    by_id = {t.id: t for t in legs}
    services: dict[str, Any] = {}
    for service in store.config.services:
        mine = [t for t in legs if t.service == service.code]
        waits = []
        for t in mine:
            if t.called_at is None:
                continue
            previous = by_id.get(t.previous_id) if t.previous_id else None
            since = previous.finished_at if previous and previous.finished_at else t.issued_at
            waits.append(_minutes(t.called_at, since))
        service_times = [
            _minutes(t.finished_at, t.started_at)
            for t in mine
            if t.state is TicketState.DONE and t.started_at and t.finished_at
        ]
        ratings = [t.score for t in mine if t.score is not None]
        services[service.code] = {
            "issued": sum(1 for t in mine if t.leg == 1),
            "transferred_in": sum(1 for t in mine if t.channel == "transfer"),
            "bundle_in": sum(1 for t in mine if t.channel == "bundle"),
            "served": sum(1 for t in mine if t.state is TicketState.DONE),
            "no_show": sum(1 for t in mine if t.state is TicketState.NO_SHOW),
            "transferred": sum(1 for t in mine if t.state is TicketState.TRANSFERRED),
            "unserved": sum(1 for t in mine if t.state is TicketState.WAITING),
            "avg_wait_min": round(statistics.fmean(waits), 1) if waits else 0.0,
            "p95_wait_min": round(_p95(waits), 1),
            "avg_service_min": round(statistics.fmean(service_times), 1) if service_times else 0.0,
            "avg_rating": round(statistics.fmean(ratings), 2) if ratings else None,
        }
    return {
        "hall": store.config.hall_id,
        "business_date": store.state.business_date,
        "events": store.last_seq,
        "services": services,
    }


def _columns(store: Store) -> list[str]:
    return [row[1] for row in store.conn.execute("PRAGMA table_info(tickets)")]


def _refuse_a_used_store(data: DataDir) -> None:
    """A simulated day written into a real node's store would reach its outbox and pin its
    hall clock to the simulated date: only a fresh data dir will do."""
    if not data.database.exists():
        return
    with contextlib.closing(sqlite3.connect(data.database)) as conn:
        has_events = (
            conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone()
            and conn.execute("SELECT 1 FROM events LIMIT 1").fetchone()
        )
    if has_events:
        raise ConfigError(
            f"{data.root}: already holds events; the simulated day needs a fresh data dir"
        )


def run_headless_demo(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="hall-demo-") as tmp:
        root = Path(args.data_dir) if args.data_dir else Path(tmp)
        data = DataDir(root)
        if not data.exists():
            data.init()
        _refuse_a_used_store(data)
        day = HallDay(Node.open(root), args.seed, args.arrivals)
        summary = day.run()
        summary["refused"] = dict(sorted(day.refused.items()))
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(
        f"{summary['hall']} {summary['business_date']}: {args.arrivals} arrivals, "
        f"{summary['events']} events, seed {args.seed}"
    )
    header = (
        "service",
        "issued",
        "served",
        "no-show",
        "transf",
        "unserved",
        "wait avg",
        "wait p95",
        "svc avg",
    )
    print("{:<16}{:>7}{:>7}{:>8}{:>7}{:>9}{:>9}{:>9}{:>8}".format(*header))
    for code, s in summary["services"].items():
        print(
            f"{code:<16}{s['issued']:>7}{s['served']:>7}{s['no_show']:>8}"
            f"{s['transferred']:>7}{s['unserved']:>9}{s['avg_wait_min']:>9}"
            f"{s['p95_wait_min']:>9}{s['avg_service_min']:>8}"
        )
    if summary["refused"]:
        print("refused at the kiosk:", summary["refused"])
    return 0
