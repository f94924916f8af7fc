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
    check_staff,
    publish,
    read_data,
    resolve_halls,
    sign_for_halls,
)
from sync.mqtt import BrokerUrlError, parse_broker_url

EXIT_USAGE = 2


def existing_store(db: str, command: str) -> Any:
    """Central's store for a read-only command, or None (said on stderr) when ``db`` names a
    SQLite file that does not exist: a read never creates an empty store by a typo."""
    from sync.central import is_postgres_url, open_central_store

    if not is_postgres_url(db) and not Path(db).exists():
        print(f"hall-agent central {command}: {db}: no such file", file=sys.stderr)
        return None
    return open_central_store(db)


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
    roster.add_argument(
        "--hall-key",
        type=Path,
        metavar="FILE",
        help="the hall's secret.key (central's halls/<hall>/secret.key): needed when entries "
        "name citizens by id_number, which are replaced by their day hash before signing",
    )
    roster.add_argument(
        "--timezone", default="Asia/Shanghai", help="the hall's time zone (the slot's day)"
    )
    staff = kinds.add_parser(
        "staff", parents=[common, targets], help="a staff roster (who signs in where)"
    )
    staff.add_argument("file", type=Path, help="YAML: members: [{id, name, windows, pin_hash}]")
    notice = kinds.add_parser("notice", parents=[common, targets], help="a notice for the halls")
    notice.add_argument("file", type=Path)
    for parser in (config, profile, calendar, roster, staff, notice):
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
        return (
            "roster",
            check_roster(_hashed_roster(args, raw, halls), source),
            ct.roster_topic,
            halls,
        )
    if args.push_kind == "staff":
        return "staff", check_staff(raw, source), ct.staff_topic, halls
    data = check_notice(raw, source)
    return "notice", data, partial(_notice_topic, notice_id=data["notice_id"]), halls


def _hashed_roster(args: argparse.Namespace, raw: Any, halls: list[str]) -> Any:
    """A roster naming citizens by ID number, with each number replaced by its day hash (one
    hall's key: such a roster targets one hall)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from sync.fleet.roster import has_id_numbers, hash_id_numbers

    if not has_id_numbers(raw):
        return raw
    if len(halls) != 1:
        raise PushRefused(
            "a roster with id_number entries is hashed with one hall's key: name one --hall"
        )
    if args.hall_key is None:
        raise PushRefused(
            "a roster with id_number entries needs --hall-key (the hall's secret.key)"
        )
    try:
        key = args.hall_key.read_bytes()
        zone = ZoneInfo(args.timezone)
    except OSError as exc:
        raise PushRefused(f"{args.hall_key}: {exc.strerror}") from exc
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PushRefused(f"--timezone: unknown time zone {args.timezone!r}") from exc
    if len(key) < 32:
        raise PushRefused(f"{args.hall_key}: not a hall key (shorter than 32 bytes)")
    return hash_id_numbers(raw, key, zone, str(args.file))


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


# ---- rollout -------------------------------------------------------------------------------
def register_rollout(csub: Any) -> None:
    rollout = csub.add_parser(
        "rollout",
        help="a device profile to a canary hall, then a group in waves; stops by itself",
        description="Staged rollout of a device profile (docs/central.md). The running "
        "'hall-agent central' process moves it on.",
    )
    actions = rollout.add_subparsers(dest="rollout_action", required=True, metavar="ACTION")
    start = actions.add_parser("start", help="check, sign, publish to the canary, record")
    start.add_argument("name", help="the profile's name (the file name without .yaml)")
    start.add_argument("file", type=Path, help="the profile YAML")
    start.add_argument("--canary", required=True, metavar="HALL", help="the hall to try first")
    start.add_argument("--group", required=True, help="the group of halls (central.yaml)")
    start.add_argument(
        "--max-rollbacks",
        type=int,
        required=True,
        metavar="K",
        help="stop when more than K nodes roll the profile back",
    )
    start.add_argument("--wave-size", type=int, default=10, help="halls per wave (10)")
    start.add_argument(
        "--wave-minutes",
        type=float,
        default=30.0,
        help="the next wave goes out when the current one reported, or after this (30)",
    )
    start.add_argument("--broker", required=True, metavar="URL", help="the central broker")
    start.add_argument("--key", required=True, help="central private key (PEM)")
    start.add_argument("--version", type=int, required=True, help="must grow per profile")
    add_config_argument(start)
    add_db_argument(start)
    start.set_defaults(func=cmd_central_rollout_start)
    status = actions.add_parser("status", help="every rollout: state, waves, outcomes")
    add_db_argument(status)
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(func=cmd_central_rollout_status)


def cmd_central_rollout_start(args: argparse.Namespace) -> int:
    from sync.central import open_central_store
    from sync.fleet.rollout import Plan, RolloutRefused, Rollouts
    from sync.signing import load_private_key

    what = "hall-agent central rollout start"
    key = load_private_key(Path(args.key))
    try:
        config = load_central_config(args.config)
        data = check_profile(args.name, read_data(args.file), str(args.file))
        group = [h for h in resolve_halls(config, group=args.group) if h != args.canary]
        if not ct.is_name(args.canary):
            raise PushRefused(f"--canary {args.canary!r}: not a hall id")
        address = parse_broker_url(args.broker)
    except (PushRefused, BrokerUrlError) as exc:
        print(f"{what}: {exc}\nnothing was signed or sent", file=sys.stderr)
        return EXIT_USAGE
    topic_of = partial(_profile_topic, name=args.name)
    canary, *others = sign_for_halls(
        key, "device_profile", data, [args.canary, *group], args.version, topic_of
    )
    plan = Plan(
        args.name,
        args.version,
        args.canary,
        args.group,
        args.max_rollbacks,
        args.wave_size,
        args.wave_minutes,
    )
    store = open_central_store(args.db)
    try:
        rollout_id = Rollouts(store).start(plan, canary, others)
    except RolloutRefused as exc:
        print(f"{what}: {exc}\nnothing was sent", file=sys.stderr)
        return EXIT_USAGE
    finally:
        store.close()
    try:
        failed = publish(address, f"central-rollout-{os.getpid()}", [canary])
    except OSError as exc:
        failed = [f"{exc}"]
    if failed:
        print(
            f"{what}: rollout {rollout_id} recorded, but the canary's message was not "
            f"acknowledged by {address}; the central process sends it again",
            file=sys.stderr,
        )
        return 1
    print(
        f"rollout {rollout_id}: profile {args.name} version {args.version} published to the "
        f"canary {args.canary}; then {len(others)} halls of {args.group} in waves of "
        f"{args.wave_size}; stops when more than {args.max_rollbacks} nodes roll back"
    )
    return 0


def cmd_central_rollout_status(args: argparse.Namespace) -> int:
    from sync.fleet.rollout import Rollouts

    store = existing_store(args.db, "rollout status")
    if store is None:
        return EXIT_USAGE
    try:
        rollouts = Rollouts(store).status()
    finally:
        store.close()
    if args.json:
        print(json.dumps({"rollouts": rollouts}, ensure_ascii=False))
        return 0
    if not rollouts:
        print("no rollouts")
    for r in rollouts:
        reason = f": {r['reason']}" if r["reason"] else ""
        print(
            f"{r['id']}  profile {r['name']} v{r['version']}  canary {r['canary']}  group "
            f"{r['group']}  max rollbacks {r['max_rollbacks']}  {r['state'].upper()}{reason}"
        )
        for h in r["halls"]:
            sent = h["sent_at"] or "not sent"
            rolled = (
                f", rolled back on {', '.join(h['rolled_back_nodes'])}"
                if h["rolled_back_nodes"]
                else ""
            )
            print(
                f"  wave {h['wave']}  {h['hall_id']:<24} sent {sent}  "
                f"devices re-opened {h['reopened']}{rolled}"
            )
    return 0


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
    from sync.fleet.health import fleet_report

    store = existing_store(args.db, "report")
    if store is None:
        return EXIT_USAGE
    try:
        config = load_central_config(args.config)
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
            if d.get("profile"):
                how = d.get("profile_outcome")
                why = f": {d['profile_reason']}" if how == "rolled_back" else ""
                print(f"      with profile {d['profile']} v{d.get('profile_version')}: {how}{why}")
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
