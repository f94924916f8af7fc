"""A hall's figures over a period, computed from the event log alone.

Only events, never the state tables: the same code reads a hub's store and the central
store, which keeps every node's events (``sync/central.py``, ``sync/fleet/pgstore.py``). The
log is folded into ticket *legs* (a transfer ends one leg and opens the next, in another
service; so does finishing a leg of a "one thing" bundle); each figure of a leg belongs to
the moment, window and staff of the event it comes from, so every grouping adds up to the
same totals:

- tickets: legs a citizen took (leg 1), at issue; transferred_in: legs opened by a transfer,
  bundle_in: legs a bundle visit moved on to, both when they joined the line;
- wait: from joining the line (issue, or the transfer or bundle step that opened the leg)
  to the leg's first call, at the joining moment and the first call's window;
- service time: start to the leg's end at the window (finish or transfer);
- served / no_shows / transfers / cancelled: legs that ended so (a reactivated no-show is
  not a no-show), at that end; unserved: legs still in the hall when the data ends;
- assisted / proxy: legs marked 帮办 / 代办 (the latest mark wins), at the mark, by the
  assisting staff member (``assist_staff``);
- bundles_done and the bundle visit time: a bundle visit whose last leg was served, from
  its issue to that finish, at the finish;
- ratings per level 1..5, at the rating; 好评率 = levels 3–5 over all ratings, 差评 =
  levels 1–2 (with their reason codes when rating events carry ``reasons``).

A ``BusinessDayCorrected`` event (agent/daycorrection.py) moves the legs of a wrongly
dated day to the real day, under their new ids and with their times moved back: they count
on the real day (:func:`period_events` gathers what a period needs for that).

The staff id is read from window events' ``staff_id``; events without one (every event
until staff sign-in exists) count as staff ``unknown``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, get_args

from agent.errors import DomainError
from agent.model import Event, iso, parse_time

Grouping = Literal["service", "window", "staff", "hour", "day", "bundle"]
GROUPINGS: tuple[Grouping, ...] = get_args(Grouping)
UNKNOWN_STAFF = "unknown"
NONE_KEY = "-"  # a leg never called has no window or staff; a leg of no bundle
CORRECTED = "BusinessDayCorrected"
LEVELS = (1, 2, 3, 4, 5)
GOOD_LEVELS = (3, 4, 5)

#: Columns of one row of figures, in the order of the CSV files (docs/operator.md).
FIGURE_COLUMNS = (
    "tickets",
    "transferred_in",
    "bundle_in",
    "served",
    "no_shows",
    "transfers",
    "cancelled",
    "unserved",
    "wait_avg_min",
    "wait_p90_min",
    "service_avg_min",
    "service_p90_min",
    "assisted",
    "proxy",
    "bundles_done",
    "bundle_visit_avg_min",
    "bundle_visit_p90_min",
    *(f"rating_{level}" for level in LEVELS),
    "ratings",
    "good_rate_pct",
    "bad",
    "bad_reasons",
)


class ReportError(DomainError):
    """A report asked for something that cannot be (dates out of order, a bad month)."""


class Mark(NamedTuple):
    """Where and when a window event happened, and who did it."""

    at: str
    window: int | None
    staff: str


@dataclass
class Leg:
    node_id: str
    ticket_id: str
    service: str
    opened: str  # issue | transfer | bundle: how the leg joined the line
    business_date: str
    joined_at: str
    bundle: str | None = None  # the "one thing" bundle the visit is on
    visit_start: str = ""  # when the visit's ticket was issued
    first_call: Mark | None = None
    start: Mark | None = None
    end: Mark | None = None
    outcome: str | None = None  # served | no_show | transferred | cancelled
    followed: bool = False  # a bundle leg served and moved on to the bundle's next service
    assist: Mark | None = None  # the latest 帮办/代办 mark, by the assisting staff member
    assist_mode: str | None = None  # assisted | proxy
    score: int | None = None
    rated: Mark | None = None
    reasons: tuple[str, ...] = ()

    def next_leg(self, event: Event, opened: str) -> Leg:
        """The leg a transfer or a bundle step opens, in ``to_service``."""
        p = event.payload
        return Leg(
            event.node_id,
            p["new_ticket_id"],
            p["to_service"],
            opened,
            event.business_date,
            event.at,
            self.bundle,
            self.visit_start,
        )

    def moved(self, ticket_id: str, day: str, shift: dt.timedelta) -> None:
        """A day correction: the leg is ``ticket_id`` of ``day``, every moment ``shift``ed."""
        self.ticket_id, self.business_date = ticket_id, day
        self.joined_at = _shifted(self.joined_at, shift)
        self.visit_start = _shifted(self.visit_start, shift)
        for name in ("first_call", "start", "end", "assist", "rated"):
            mark = getattr(self, name)
            if mark is not None:
                setattr(self, name, mark._replace(at=_shifted(mark.at, shift)))


def _shifted(moment: str, shift: dt.timedelta) -> str:
    return iso(parse_time(moment) + shift)


def fold_legs(events: Iterable[Event]) -> list[Leg]:
    """Every ticket leg of the events, keyed per node (ticket ids are a node's own); each
    node's events in seq order."""
    legs: dict[tuple[str, str], Leg] = {}
    for event in events:
        p = event.payload
        if event.type == "TicketIssued":
            row = p["ticket"]
            legs[(event.node_id, row["id"])] = Leg(
                event.node_id,
                row["id"],
                row["service"],
                "issue",
                event.business_date,
                event.at,
                row.get("bundle"),
                event.at,
            )
            continue
        if event.type == CORRECTED:
            _correct_day(legs, event)
            continue
        leg = legs.get((event.node_id, p.get("ticket_id", "")))
        if leg is None:
            continue  # not a ticket event, or a ticket issued before the events given
        mark = Mark(event.at, p.get("window"), p.get("staff_id") or UNKNOWN_STAFF)
        if event.type == "TicketCalled":
            leg.first_call = leg.first_call or mark
        elif event.type == "ServiceStarted":
            leg.start = mark
        elif event.type == "TicketReactivated":
            leg.end, leg.outcome = None, None
        elif event.type in _ENDINGS:
            leg.end, leg.outcome = mark, _ENDINGS[event.type]
            if event.type == "TicketTransferred":
                legs[(event.node_id, p["new_ticket_id"])] = leg.next_leg(event, "transfer")
        elif event.type == "BundleLegQueued":  # (after the leg's ServiceFinished)
            leg.followed = True
            legs[(event.node_id, p["new_ticket_id"])] = leg.next_leg(event, "bundle")
        elif event.type == "TicketAssisted":
            leg.assist = mark._replace(staff=p.get("assist_staff") or UNKNOWN_STAFF)
            leg.assist_mode = p["mode"]
        elif event.type == "EvaluationRecorded":
            leg.score, leg.rated = p["score"], mark
            leg.reasons = tuple(p.get("reasons") or ())
    return list(legs.values())


def _correct_day(legs: dict[tuple[str, str], Leg], event: Event) -> None:
    """The wrongly dated legs become the real day's (new ids, times moved back); a leg the
    correction left open waits again, so its next start is its start."""
    p = event.payload
    shift = dt.timedelta(seconds=p["shift_s"])
    moved = [(legs.pop((event.node_id, old), None), new) for old, new in p["ids"].items()]
    for leg, new_id in moved:
        if leg is not None:
            leg.moved(new_id, p["to_date"], shift)
            legs[(event.node_id, new_id)] = leg
    for row in p["tickets"]:
        leg = legs.get((event.node_id, row["id"]))
        if leg is not None and row["state"] == "waiting":
            leg.start = None


_ENDINGS = {
    "ServiceFinished": "served",
    "TicketNoShow": "no_show",
    "TicketTransferred": "transferred",
    "TicketCancelled": "cancelled",
}


@dataclass
class Figures:
    """The figures of one group; durations kept in seconds until shown."""

    tickets: int = 0
    transferred_in: int = 0
    bundle_in: int = 0
    served: int = 0
    no_shows: int = 0
    transfers: int = 0
    cancelled: int = 0
    unserved: int = 0
    waits: list[float] = field(default_factory=list)
    service_times: list[float] = field(default_factory=list)
    assisted: int = 0
    proxy: int = 0
    visit_times: list[float] = field(default_factory=list)  # of the bundle visits done
    ratings: Counter[int] = field(default_factory=Counter)
    bad_reasons: Counter[str] = field(default_factory=Counter)

    def row(self) -> dict[str, Any]:
        """The figures as FIGURE_COLUMNS (minutes to two decimals; None where nothing
        was measured)."""
        total = sum(self.ratings.values())
        good = sum(self.ratings[level] for level in GOOD_LEVELS)
        return {
            "tickets": self.tickets,
            "transferred_in": self.transferred_in,
            "bundle_in": self.bundle_in,
            "served": self.served,
            "no_shows": self.no_shows,
            "transfers": self.transfers,
            "cancelled": self.cancelled,
            "unserved": self.unserved,
            "wait_avg_min": _minutes(_mean(self.waits)),
            "wait_p90_min": _minutes(p90(self.waits)),
            "service_avg_min": _minutes(_mean(self.service_times)),
            "service_p90_min": _minutes(p90(self.service_times)),
            "assisted": self.assisted,
            "proxy": self.proxy,
            "bundles_done": len(self.visit_times),
            "bundle_visit_avg_min": _minutes(_mean(self.visit_times)),
            "bundle_visit_p90_min": _minutes(p90(self.visit_times)),
            **{f"rating_{level}": self.ratings[level] for level in LEVELS},
            "ratings": total,
            "good_rate_pct": round(100 * good / total, 2) if total else None,
            "bad": self.ratings[1] + self.ratings[2],
            "bad_reasons": dict(sorted(self.bad_reasons.items())),
        }


def p90(values: list[float]) -> float | None:
    """The 90th percentile, interpolating between the closest ranks (``statistics.quantiles``,
    inclusive method: the value below which 90 % of the measured values lie)."""
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 2)


def _seconds(later: str, earlier: str) -> float:
    return (parse_time(later) - parse_time(earlier)).total_seconds()


def _key(by: Grouping | None, leg: Leg, mark: Mark | None, at: str) -> str:
    """The group of one figure: ``mark`` is the event it comes from (None: not called),
    ``at`` its moment."""
    if by is None:
        return "total"
    if by == "service":
        return leg.service
    if by == "day":
        return leg.business_date
    if by == "hour":
        return f"{at[11:13]}:00"
    if by == "bundle":
        return leg.bundle or NONE_KEY
    if mark is None or mark.window is None:  # never called, or not a window's doing
        return NONE_KEY
    return mark.staff if by == "staff" else str(mark.window)


def group_figures(legs: Iterable[Leg], by: Grouping | None) -> dict[str, Figures]:
    """Figures per group (``by=None``: one group, ``total``)."""
    groups: dict[str, Figures] = {}

    def of(mark: Mark | None, at: str) -> Figures:
        return groups.setdefault(_key(by, leg, mark, at), Figures())

    for leg in legs:
        joined = of(leg.first_call, leg.joined_at)
        if leg.opened == "issue":
            joined.tickets += 1
        elif leg.opened == "bundle":
            joined.bundle_in += 1
        else:
            joined.transferred_in += 1
        if leg.first_call is not None:
            joined.waits.append(max(0.0, _seconds(leg.first_call.at, leg.joined_at)))
        if leg.end is None:
            joined.unserved += 1
        else:
            ended = of(leg.end, leg.end.at)
            if leg.outcome == "served":
                ended.served += 1
            elif leg.outcome == "no_show":
                ended.no_shows += 1
            elif leg.outcome == "transferred":
                ended.transfers += 1
            else:
                ended.cancelled += 1
            if leg.start is not None and leg.outcome in ("served", "transferred"):
                ended.service_times.append(max(0.0, _seconds(leg.end.at, leg.start.at)))
            if leg.outcome == "served" and leg.bundle and not leg.followed:  # the visit's end
                ended.visit_times.append(max(0.0, _seconds(leg.end.at, leg.visit_start)))
        if leg.assist is not None:
            helped = of(leg.assist, leg.assist.at)
            if leg.assist_mode == "proxy":
                helped.proxy += 1
            else:
                helped.assisted += 1
        if leg.score is not None and leg.rated is not None:
            rated = of(leg.rated, leg.rated.at)
            rated.ratings[leg.score] += 1
            if leg.score < GOOD_LEVELS[0]:
                rated.bad_reasons.update(leg.reasons)
    return groups


@dataclass
class Report:
    hall_id: str
    first_day: str
    last_day: str
    by: Grouping | None
    rows: dict[str, Figures]
    total: Figures

    def as_dict(self) -> dict[str, Any]:
        return {
            "hall_id": self.hall_id,
            "from": self.first_day,
            "to": self.last_day,
            "by": self.by,
            "rows": [{"key": key, **f.row()} for key, f in self.rows.items()],
            "total": self.total.row(),
        }


def sort_keys(
    keys: Iterable[str], by: Grouping | None, order: list[str] | None = None
) -> list[str]:
    """Services in the hall config's order (others after), windows by number, the rest as
    text; the not-called group last."""

    def rank(key: str) -> tuple[int, int, str]:
        if key == NONE_KEY:
            return (2, 0, key)
        if by == "service" and order and key in order:
            return (0, order.index(key), key)
        if by == "window" and key.isdigit():
            return (0, int(key), key)
        return (1, 0, key)

    return sorted(keys, key=rank)


def build_report(
    events: Iterable[Event],
    hall_id: str,
    first_day: str,
    last_day: str,
    by: Grouping | None,
    service_order: list[str] | None = None,
) -> Report:
    """The report of business days ``first_day``..``last_day``: of the legs folded from
    ``events`` (each node's in seq order; :func:`period_events`, or a whole log), those of
    these days (as a day correction left them)."""
    check_period(first_day, last_day)
    legs = legs_of_days(events, first_day, last_day)
    rows = _rows(legs, by, service_order) if by else {}
    total = group_figures(legs, None).get("total", Figures())
    return Report(hall_id, first_day, last_day, by, rows, total)


def legs_of_days(events: Iterable[Event], first_day: str, last_day: str) -> list[Leg]:
    return [leg for leg in fold_legs(events) if first_day <= leg.business_date <= last_day]


def period_events(
    events_of_days: Callable[[str, str], Iterable[Event]],
    event_at: Callable[[str, int], Event | None],
    first_day: str,
    last_day: str,
) -> Iterator[Event]:
    """The events a report of days ``first_day``..``last_day`` folds, each node's in seq
    order: the days' own, and what a day correction moved into or out of them.

    The store appends a ``BusinessDayCorrected`` right after the last event of the wrong
    day it takes back, so the wrongly dated events are the run of the wrong day's events
    just before it (seq ``c - 1``, ``c - 2``, ...):

    - a correction dated in the period brings that run in (read from its day);
    - a run of the period's events that a correction dated before the period takes back is
      followed by that correction: the event after each run of consecutive seqs is looked
      up (one read per node and run), and a correction found there joins, so the fold
      moves the run out.

    ``events_of_days(first, last)`` reads the events of some days (every node's of the hall),
    each node's in seq order; ``event_at(node_id, seq)`` one event, or None.
    """
    previous: Event | None = None
    for event in events_of_days(first_day, last_day):
        brought = _wrong_run(events_of_days, event, first_day, last_day)
        for e in [*brought, event]:
            if previous is not None and (e.node_id, e.seq) != (previous.node_id, previous.seq + 1):
                yield from _taking_back(event_at, previous, first_day, last_day)
            yield e
            previous = e
    if previous is not None:
        yield from _taking_back(event_at, previous, first_day, last_day)


def _wrong_run(
    events_of_days: Callable[[str, str], Iterable[Event]],
    event: Event,
    first_day: str,
    last_day: str,
) -> list[Event]:
    """The wrongly dated events a correction of the period brings in from another day."""
    if event.type != CORRECTED or _within(event, first_day, last_day):
        return []
    day = event.payload["from_date"]
    wrong = {e.seq: e for e in events_of_days(day, day) if e.node_id == event.node_id}
    run = []
    seq = event.seq - 1
    while seq in wrong:
        run.append(wrong[seq])
        seq -= 1
    return run[::-1]


def _taking_back(
    event_at: Callable[[str, int], Event | None], last: Event, first_day: str, last_day: str
) -> list[Event]:
    """The correction right after a run ending at ``last`` that takes back a period's day."""
    after = event_at(last.node_id, last.seq + 1)
    if after is not None and after.type == CORRECTED and _within(after, first_day, last_day):
        return [after]
    return []


def _within(correction: Event, first_day: str, last_day: str) -> bool:
    """The day a correction takes back is one of the period's."""
    return bool(first_day <= correction.payload["from_date"] <= last_day)


def _rows(legs: list[Leg], by: Grouping, service_order: list[str] | None) -> dict[str, Figures]:
    """Groups in order; by service, every configured service has a row (zeros included)."""
    groups = group_figures(legs, by)
    if by == "service":
        for code in service_order or ():
            groups.setdefault(code, Figures())
    return {key: groups[key] for key in sort_keys(groups, by, service_order)}


def check_period(first_day: str, last_day: str) -> None:
    for day in (first_day, last_day):
        try:
            dt.date.fromisoformat(day)
        except ValueError as exc:
            raise ReportError(f"{day!r} is not a date (YYYY-MM-DD)") from exc
    if last_day < first_day:
        raise ReportError(f"the period ends ({last_day}) before it starts ({first_day})")


def month_days(month: str) -> tuple[str, str]:
    """First and last day of ``YYYY-MM``."""
    try:
        first = dt.date.fromisoformat(f"{month}-01")
    except ValueError as exc:
        raise ReportError(f"{month!r} is not a month (YYYY-MM)") from exc
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first.isoformat(), (following - dt.timedelta(days=1)).isoformat()


#: The month file (每月报送): the total, then every grouping, one row per group.
MONTH_COLUMNS = ("hall_id", "month", "dimension", "key", *FIGURE_COLUMNS)


def month_report(
    events: Iterable[Event], hall_id: str, month: str, service_order: list[str] | None = None
) -> dict[str, Any]:
    """A month's figures as one document: ``total`` and ``by_<grouping>`` rows."""
    first, last = month_days(month)
    legs = legs_of_days(events, first, last)
    document: dict[str, Any] = {"hall_id": hall_id, "month": month, "from": first, "to": last}
    document["total"] = group_figures(legs, None).get("total", Figures()).row()
    for by in GROUPINGS:
        rows = _rows(legs, by, service_order)
        document[f"by_{by}"] = [{"key": key, **f.row()} for key, f in rows.items()]
    return document


def month_rows(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The month document as MONTH_COLUMNS rows."""
    head = {"hall_id": document["hall_id"], "month": document["month"]}
    yield {**head, "dimension": "total", "key": "total", **document["total"]}
    for by in GROUPINGS:
        for row in document[f"by_{by}"]:
            yield {**head, "dimension": by, **row}


def to_csv(rows: Iterable[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """CSV (UTF-8, comma, header first); empty cells for unmeasured figures, reasons as
    ``code:count;code:count``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        cells = dict(row)
        cells["bad_reasons"] = ";".join(f"{k}:{v}" for k, v in row["bad_reasons"].items())
        writer.writerow({k: "" if cells[k] is None else cells[k] for k in columns})
    return out.getvalue()


def report_csv(report: Report) -> str:
    data = report.as_dict()
    rows = data["rows"] if report.by else []
    return to_csv([*rows, {"key": "total", **data["total"]}], ("key", *FIGURE_COLUMNS))


def report_text(report: Report) -> str:
    """A table for a terminal: the main figures, minutes to one decimal."""
    columns = (
        ("tickets", "tickets"),
        ("served", "served"),
        ("no_shows", "no-show"),
        ("transfers", "transf"),
        ("unserved", "unserv"),
        ("wait_avg_min", "wait avg"),
        ("wait_p90_min", "wait p90"),
        ("service_avg_min", "svc avg"),
        ("service_p90_min", "svc p90"),
        ("ratings", "rated"),
        ("good_rate_pct", "good %"),
        ("bad", "bad"),
    )
    head = f"{report.hall_id} {report.first_day}..{report.last_day}"
    lines = [head + (f" by {report.by}" if report.by else "")]
    lines.append(f"{report.by or '':<16}" + "".join(f"{title:>9}" for _, title in columns))
    data = report.as_dict()
    for row in [*(data["rows"] if report.by else []), {"key": "total", **data["total"]}]:
        cells = (_cell(row[name]) for name, _ in columns)
        lines.append(f"{row['key']:<16}" + "".join(f"{cell:>9}" for cell in cells))
    return "\n".join([*lines, *_ratings_lines(data["total"])])


def _ratings_lines(total: dict[str, Any]) -> list[str]:
    """The period's ratings: per level (5 非常满意 … 1 非常不满意), 好评率, 差评 and reasons."""
    if not total["ratings"]:
        return []
    levels = "  ".join(f"{level}: {total[f'rating_{level}']}" for level in reversed(LEVELS))
    good = total["good_rate_pct"]
    lines = [f"ratings  {levels}  (好评率 {good:.1f} %, 差评 {total['bad']})"]
    if total["bad_reasons"]:
        reasons = ", ".join(f"{code} {count}" for code, count in total["bad_reasons"].items())
        lines.append(f"差评 reasons  {reasons}")
    return lines


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if isinstance(value, float) else str(value)
