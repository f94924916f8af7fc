"""``hall-agent report``: a period's or a month's figures from the hub's event log.

The arguments and the printing are shared with ``hall-agent central figures`` (sync/cli.py),
which reads the same events from the central store; only where the events come from differs.
Charts are drawn by the UI package (Qt paints PNG and PDF), found through the
``hall_agent.gui`` entry point ``chart`` so the core imports no Qt.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from agent import reports
from agent.model import Event
from agent.node_runtime import Node
from agent.rating_export import rating_records, records_csv
from agent.store import Store

EXIT_USAGE = 2


@dataclass
class EventSource:
    """Where a report reads its events: a hall, its services' order, the events of some days
    and one event by node and seq (for day corrections: :func:`agent.reports.period_events`)."""

    hall_id: str
    service_order: list[str] | None
    events: Callable[[str, str], Iterable[Event]]
    event_at: Callable[[str, int], Event | None]
    close: Callable[[], None]
    #: central only: ratings given through a hall's signed link, of days first..last
    link_ratings: Callable[[str, str], list[dict[str, Any]]] | None = None

    def period(self, first_day: str, last_day: str) -> Iterator[Event]:
        return reports.period_events(self.events, self.event_at, first_day, last_day)


OpenSource = Callable[[argparse.Namespace], EventSource]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = subparsers.add_parser(
        "report",
        help="figures of a period or a month from the event log (tickets, waits, ratings)",
        description="Figures of a period (--from/--to) or of a month ('report month YYYY-MM').",
    )
    add_report_arguments(report, open_hub_source)


def add_report_arguments(parser: argparse.ArgumentParser, open_source: OpenSource) -> None:
    parser.add_argument("--from", dest="first_day", metavar="DATE", help="first business day")
    parser.add_argument("--to", dest="last_day", metavar="DATE", help="last day (default: --from)")
    parser.add_argument("--by", choices=reports.GROUPINGS, help="one row per group (else totals)")
    parser.add_argument(
        "--chart", metavar="FILE", help="draw tickets, waits and ratings to FILE.png or FILE.pdf"
    )
    parser.add_argument("--lang", choices=["zh_CN", "en"], default="zh_CN", help="chart language")
    _format_arguments(parser)
    parser.set_defaults(func=partial(cmd_report, open_source=open_source))
    sub = parser.add_subparsers(dest="report_action", metavar="ACTION")
    month = sub.add_parser("month", help="a month's figures as one file to send up (每月报送)")
    month.add_argument("month", metavar="YYYY-MM")
    _format_arguments(month)
    month.set_defaults(func=partial(cmd_month, open_source=open_source))
    ratings = sub.add_parser(
        "ratings", help="every rating of a period, for the province's 好差评 system"
    )
    ratings.add_argument("--from", dest="first_day", metavar="DATE", required=True)
    ratings.add_argument("--to", dest="last_day", metavar="DATE", help="(default: --from)")
    ratings.add_argument("--format", choices=["csv", "json"], default="csv")
    ratings.add_argument("--out", metavar="FILE", help="write to FILE instead of the terminal")
    ratings.set_defaults(func=partial(cmd_ratings, open_source=open_source))


def _format_arguments(parser: argparse.ArgumentParser) -> None:
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="CSV (columns in docs/operator.md)")
    fmt.add_argument("--json", action="store_true", help="one JSON object")
    parser.add_argument("--out", metavar="FILE", help="write to FILE instead of the terminal")


def open_hub_source(args: argparse.Namespace) -> EventSource:
    return hub_source(Node.open(args.data_dir).store())


def hub_source(store: Store) -> EventSource:
    """A hub's own log (closing the source closes the store)."""
    return EventSource(
        store.config.hall_id,
        [s.code for s in store.config.services],
        store.events_of_days,
        partial(_hub_event_at, store),
        store.close,
    )


def _hub_event_at(store: Store, node_id: str, seq: int) -> Event | None:
    if node_id != store.node_id:
        return None
    event = next(store.events_since(seq - 1, limit=1), None)
    return event if event is not None and event.seq == seq else None


def cmd_report(args: argparse.Namespace, open_source: OpenSource) -> int:
    if not args.first_day:
        print(
            "hall-agent report: give --from DATE [--to DATE], or 'month YYYY-MM'", file=sys.stderr
        )
        return EXIT_USAGE
    first, last = args.first_day, args.last_day or args.first_day
    reports.check_period(first, last)
    if args.chart and Path(args.chart).suffix.lower() not in (".png", ".pdf"):
        print(f"hall-agent report: --chart {args.chart}: .png or .pdf", file=sys.stderr)
        return EXIT_USAGE
    source = open_source(args)
    try:
        report = reports.build_report(
            source.period(first, last), source.hall_id, first, last, args.by, source.service_order
        )
        series = None
        if args.chart:
            by: reports.Grouping = "hour" if first == last else "day"
            series = reports.build_report(
                source.period(first, last), source.hall_id, first, last, by
            )
    finally:
        source.close()
    if args.json:
        text = json.dumps(report.as_dict(), ensure_ascii=False)
    else:
        text = reports.report_csv(report) if args.csv else reports.report_text(report)
    _write(args, text)
    if series is not None:
        return _draw_chart(series, Path(args.chart), args.lang)
    return 0


def cmd_month(args: argparse.Namespace, open_source: OpenSource) -> int:
    first, last = reports.month_days(args.month)
    source = open_source(args)
    try:
        document = reports.month_report(
            source.period(first, last), source.hall_id, args.month, source.service_order
        )
    finally:
        source.close()
    if args.json:
        text = json.dumps(document, ensure_ascii=False)
    elif args.csv:
        text = reports.to_csv(reports.month_rows(document), reports.MONTH_COLUMNS)
    else:
        text = _month_text(document)
    _write(args, text)
    return 0


def cmd_ratings(args: argparse.Namespace, open_source: OpenSource) -> int:
    """The period's ratings, one record each (columns in agent/rating_export.py)."""
    first, last = args.first_day, args.last_day or args.first_day
    reports.check_period(first, last)
    source = open_source(args)
    try:
        linked = source.link_ratings(first, last) if source.link_ratings else []
        records = rating_records(source.events(first, last), source.hall_id, linked)
    finally:
        source.close()
    if args.format == "json":
        document = {"hall_id": source.hall_id, "from": first, "to": last, "ratings": records}
        text = json.dumps(document, ensure_ascii=False)
    else:
        text = records_csv(records)
    _write(args, text)
    return 0


def _month_text(document: dict[str, Any]) -> str:
    """The month's totals for a terminal; the file to send up is --csv or --json."""
    lines = [f"{document['hall_id']} {document['month']} ({document['from']}..{document['to']})"]
    for name, value in document["total"].items():
        lines.append(f"  {name:<16} {'-' if value is None else value}")
    lines.append("(--csv or --json for every grouping)")
    return "\n".join(lines)


def _write(args: argparse.Namespace, text: str) -> None:
    if args.out:
        Path(args.out).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text, end="" if text.endswith("\n") else "\n")


def _draw_chart(series: reports.Report, path: Path, language: str) -> int:
    gui = {ep.name: ep for ep in entry_points(group="hall_agent.gui")}
    if "chart" not in gui:
        print("hall-agent report: charts need the UI package (PySide6)", file=sys.stderr)
        return EXIT_USAGE
    gui["chart"].load()(series.as_dict(), path, language)
    print(f"wrote {path}")
    return 0
