"""``hall-agent central push ...`` and ``hall-agent central report``: IT's tools on the
central side (registered by :mod:`sync.cli`)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any

from sync import contract as ct
from sync.fleet.config import load_central_config
from sync.fleet.push import (
    PushRefused,
    check_calendar,
    check_config,
    check_notice,
    check_profile,
    check_roster,
    publish,
    read_data,
    resolve_halls,
    sign_for_halls,
)
from sync.mqtt import BrokerUrlError, parse_broker_url

EXIT_USAGE = 2
DEFAULT_CENTRAL_DB = "central.db"


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=DEFAULT_CENTRAL_DB,
        help="central store: a SQLite file, or postgresql://user@host:port/dbname",
    )


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="central.yaml: groups of halls, alarm thresholds"
    )


# ---- push ----------------------------------------------------------------------------------
def register_push(csub: Any) -> None:
    push = csub.add_parser(
        "push",
        help="check, sign and publish a hall config / device profile / calendar / roster / "
        "notice (commands: 'central command send')",
        description="Check what you send as a node would, then sign it and publish it to a "
        "hall, a group of halls or all. Nothing invalid is signed.",
    )
    kinds = push.add_subparsers(dest="push_kind", required=True, metavar="KIND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--broker", required=True, metavar="URL", help="the central broker")
    common.add_argument("--key", required=True, help="central private key (PEM)")
    common.add_argument("--version", type=int, required=True, help="must grow per topic")
    common.add_argument("--expires-hours", type=float, help="refused by nodes after this")
    common.add_argument(
        "--check", action="store_true", help="check and list the targets; sign and send nothing"
    )
    add_config_argument(common)
    targets = argparse.ArgumentParser(add_help=False)
    targets.add_argument(
        "--hall", "--hall-id", dest="halls", action="append", default=[], help="a hall id"
    )
    targets.add_argument("--group", help="a group of halls from central.yaml")
    targets.add_argument(
        "--all",
        dest="everyone",
        action="store_true",
        help="every hall of every group and every hall in central's store (--db)",
    )
    add_db_argument(targets)

    config = kinds.add_parser("config", parents=[common, targets], help="a hall's whole config")
    config.add_argument("file", type=Path, help="hall.yaml")
    profile = kinds.add_parser(
        "profile", parents=[common, targets], help="a device profile (firmware_profiles/*.yaml)"
    )
    profile.add_argument("name", help="the profile's name (the file name without .yaml)")
    profile.add_argument("file", type=Path, help="the profile YAML")
    calendar = kinds.add_parser(
        "calendar", parents=[common, targets], help="holidays, working days and closures"
    )
    calendar.add_argument("file", type=Path, help="YAML: holidays, working_days, closures")
    roster = kinds.add_parser("roster", parents=[common, targets], help="an appointment roster")
    roster.add_argument("file", type=Path)
    notice = kinds.add_parser("notice", parents=[common, targets], help="a notice for the halls")
    notice.add_argument("file", type=Path)
    for parser in (config, profile, calendar, roster, notice):
        parser.set_defaults(func=cmd_central_push)


def cmd_central_push(args: argparse.Namespace) -> int:
    from sync.signing import load_private_key

    what = f"hall-agent central push {args.push_kind}"
    key = load_private_key(Path(args.key))  # a bad key file: one line, exit 2 (ConfigError)
    try:
        kind, data, topic_of, halls = _prepare(args)
    except PushRefused as exc:
        print(f"{what}: {exc}\nnothing was signed or sent", file=sys.stderr)
        return EXIT_USAGE
    if args.check:
        print(f"{what}: valid; would publish version {args.version} to {', '.join(halls)}")
        return 0
    try:
        address = parse_broker_url(args.broker)
    except BrokerUrlError as exc:
        print(f"{what}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    expires = dt.timedelta(hours=args.expires_hours) if args.expires_hours else None
    messages = sign_for_halls(key, kind, data, halls, args.version, topic_of, expires_in=expires)
    try:
        failed = publish(address, f"central-push-{os.getpid()}", messages)
    except OSError as exc:
        print(f"{what}: cannot connect to {address}: {exc}", file=sys.stderr)
        return 1
    for message in messages:
        state = "NOT acknowledged by the broker" if message.hall_id in failed else "published"
        print(f"{state}: {kind} version {args.version} to {message.topic}")
    return 1 if failed else 0


def _prepare(args: argparse.Namespace) -> tuple[str, dict[str, Any], Any, list[str]]:
    """Check the data and resolve the halls: ``(kind, data, topic_of, halls)``."""
    config = load_central_config(args.config)
    halls = resolve_halls(config, args.halls, args.group, args.everyone, _known_halls(args.db))
    raw = read_data(args.file)
    source = str(args.file)
    if args.push_kind == "config":
        return "hall_config", check_config(raw, source, halls), ct.config_topic, halls
    if args.push_kind == "profile":
        data = check_profile(args.name, raw, source)
        return "device_profile", data, partial(_profile_topic, name=args.name), halls
    if args.push_kind == "calendar":
        return "calendar", check_calendar(raw, source), ct.calendar_topic, halls
    if args.push_kind == "roster":
        return "roster", check_roster(raw, source), ct.roster_topic, halls
    data = check_notice(raw, source)
    return "notice", data, partial(_notice_topic, notice_id=data["notice_id"]), halls


def _profile_topic(hall_id: str, name: str) -> str:
    return ct.profile_topic(hall_id, name)


def _notice_topic(hall_id: str, notice_id: str) -> str:
    return ct.notice_topic(hall_id, notice_id)


def _known_halls(db: str) -> set[str]:
    """The halls central's store has heard from (for ``--all``); none without a store."""
    from sync.central import is_postgres_url, open_central_store

    if not is_postgres_url(db) and not Path(db).exists():
        return set()
    store = open_central_store(db)
    try:
        return {node["hall_id"] for node in store.fleet_nodes()}
    finally:
        store.close()


# ---- report --------------------------------------------------------------------------------
def register_report(csub: Any) -> None:
    report = csub.add_parser(
        "report",
        help="the fleet: nodes, devices, versions, backlog, clock, alarms, refusals",
        description="Every node central knows with its agent and profile versions, device "
        "states, last seen, backlog and clock offset; the fleet's alarms; what nodes refused "
        "and why.",
    )
    add_db_argument(report)
    add_config_argument(report)
    report.add_argument("--json", action="store_true", help="print one JSON object")
    report.set_defaults(func=cmd_central_report)


def cmd_central_report(args: argparse.Namespace) -> int:
    from sync.central import is_postgres_url, open_central_store
    from sync.fleet.health import fleet_report

    if not is_postgres_url(args.db) and not Path(args.db).exists():
        print(f"hall-agent central report: {args.db}: no such file", file=sys.stderr)
        return EXIT_USAGE
    config = load_central_config(args.config)
    store = open_central_store(args.db)
    try:
        report = store.report()
        report.update(fleet_report(store, config, dt.datetime.now(dt.UTC), report["nodes"]))
    finally:
        store.close()
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    print_report(report)
    return 0


def print_report(report: dict[str, Any]) -> None:
    print(
        f"{'node':<28} {'hall':<16} {'state':<8} {'agent':<8} {'acked':>8} {'events':>8} "
        f"{'backlog':>8} {'offset s':>9}  last seen"
    )
    for n in report["nodes"]:
        backlog = "-" if n["backlog"] is None else str(n["backlog"])
        offset = "-" if n["clock_offset_s"] is None else f"{n['clock_offset_s']:.3f}"
        alarm = " ALARM" if n["backlog_alarm"] else ""
        print(
            f"{n['node_id']:<28} {n['hall_id']:<16} {n['state'] or '-':<8} "
            f"{n['agent_version'] or '-':<8} {n['acked_seq']:>8} {n['events']:>8} "
            f"{backlog:>8} {offset:>9}  {n['last_seen'] or '-'}{alarm}"
        )
        for name, d in sorted(n["devices"].items()):
            reason = f" ({d['reason']})" if d.get("reason") else ""
            print(f"    device  {name:<24} {d['status']}{reason} since {d.get('since') or '?'}")
        for name, version in sorted(n["profiles"].items()):
            print(f"    profile {name:<24} version {version}")
        if n["disk_free_mb"] is not None:
            low = " BELOW RESERVE" if n["disk_alarm"] else ""
            print(f"    disk    {n['disk_free_mb']} MB free{low}")
        if n["chain"] != "verified":
            print(f"  CHAIN BREAK at seq {n['chain']['break_seq']}: {n['chain']['reason']}")
    print(f"alarms ({len(report['alarms'])}):")
    for a in report["alarms"]:
        print(f"  {a['kind']:<12} {a['hall_id']}/{a['node_id']} {a['subject']}: {a['detail']}")
    print(f"nodes whose chain is broken: {report['chain_breaks']}")
    print(f"inbound messages refused by nodes: {report['inbound_refused']}")
    for r in report["refused"]:
        print(f"  {r['at']} {r['node_id']} {r['topic']}: {r['code']}: {r['reason']}")
    if report["rollbacks"]:
        print("device profiles rolled back:")
        for r in report["rollbacks"]:
            print(f"  {r['at']} {r['node_id']} {r['topic']} v{r['version']}: {r['reason']}")
    if report["groups"]:
        print("groups:")
        for group, halls in report["groups"].items():
            print(f"  {group:<24} {' '.join(halls)}")
    print("events by type:")
    for type_, count in report["event_types"].items():
        print(f"  {type_:<28} {count:>8}")
