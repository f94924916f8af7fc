"""The ``hall-agent`` program.

The core's own commands live here; device, sync and UI commands are added by their packages
through the ``hall_agent.commands`` entry-point group (``register(subparsers)``), so the core
never imports them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from agent import commands as c
from agent import staff_cli
from agent.adminpin import hash_pin
from agent.datadir import DataDir, resolve_data_dir
from agent.errors import ConfigError, HallError, InternalError, StoreError
from agent.logs import REPORTED, setup_logging
from agent.node import dump_node_config
from agent.node_runtime import Node
from agent.storage import os_error, store_error
from agent.store import Store
from agent.version import agent_version

log = logging.getLogger("agent.cli")

#: Exit codes (docs/operator.md, "Exit codes").
EXIT_OK = 0
EXIT_DOMAIN = 1  # refused by the hall's rules (nobody waiting, service closed, ...)
EXIT_CONFIG = 2  # bad usage or a bad config file
EXIT_STORAGE = 3  # the data dir or the store cannot be used: disk full, damaged, read-only
EXIT_INTERNAL = 4  # a bug: the traceback is in the log
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_PIPE_CLOSED = 141  # the reader of the output went away (like SIGPIPE)

WINDOW_ACTIONS: dict[str, Callable[[int], c.Command]] = {
    "call": c.CallNext,
    "recall": c.Recall,
    "no-show": c.MarkNoShow,
    "start": c.StartService,
    "finish": c.FinishService,
    "resume": c.ResumeWindow,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hall-agent", description="Edge agent for government service hall devices."
    )
    parser.add_argument("--data-dir", help="node data dir (env HALL_AGENT_DATA_DIR)")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--version", action="version", version=f"hall-agent {agent_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = sub.add_parser("init", help="create the data dir (sample town hall by default)")
    init.add_argument("--config", type=str, help="hall config YAML")
    init.add_argument("--bundle", metavar="FILE", help="a bundle from 'central provision'")
    init.set_defaults(func=cmd_init)

    queue = sub.add_parser("queue", help="queue actions at the hub")
    qsub = queue.add_subparsers(dest="action", required=True, metavar="ACTION")
    issue = qsub.add_parser("issue", help="take a ticket (for a service or a bundle)")
    target = issue.add_mutually_exclusive_group(required=True)
    target.add_argument("--service")
    target.add_argument("--bundle", help="a one-thing bundle: one number through its services")
    issue.add_argument("--priority", action="store_true", help="staff-marked green channel")
    _json(issue)
    issue.set_defaults(func=cmd_queue_issue)
    for action in WINDOW_ACTIONS:
        p = qsub.add_parser(action, help=f"{action} at a window")
        p.add_argument("--window", type=int, required=True)
        _json(p)
        p.set_defaults(func=cmd_queue_window, action_name=action)
    rate = qsub.add_parser("rate", help="record a 1..5 evaluation")
    rate.add_argument("--window", type=int, required=True)
    rate.add_argument("--score", type=int, required=True, choices=range(1, 6))
    rate.add_argument("--number", help="ticket number (default: last finished at the window)")
    rate.add_argument(
        "--reason", action="append", default=[], help="level 1-2: a reason code (repeat)"
    )
    rate.add_argument("--case", help="the business system's case number (办件编号)")
    _json(rate)
    rate.set_defaults(func=cmd_queue_rate)
    for action, help_text in (
        ("reactivate", "late citizen back into the queue"),
        ("cancel", "cancel a waiting ticket"),
    ):
        p = qsub.add_parser(action, help=help_text)
        p.add_argument("--number", required=True)
        _json(p)
        p.set_defaults(func=cmd_queue_number, action_name=action)
    transfer = qsub.add_parser("transfer", help="send the window's ticket to another service")
    transfer.add_argument("--window", type=int, required=True)
    transfer.add_argument("--to-service", required=True)
    _json(transfer)
    transfer.set_defaults(func=cmd_queue_transfer)
    assist = qsub.add_parser("assist", help="mark the window's ticket as assisted or proxy")
    assist.add_argument("--window", type=int, required=True)
    assist.add_argument("--mode", required=True, choices=["assisted", "proxy"])
    assist.add_argument("--staff", required=True, help="the assisting staff member's id")
    _json(assist)
    assist.set_defaults(func=cmd_queue_assist)
    staff_cli.register_queue(qsub, _run_on_store, _json)
    status = qsub.add_parser("status", help="waiting counts and windows")
    _json(status)
    status.set_defaults(func=cmd_queue_status)

    events = sub.add_parser("events", help="list the event log")
    events.add_argument("--since", type=int, default=0)
    events.add_argument("--limit", type=int)
    _json(events)
    events.set_defaults(func=cmd_events)

    verify = sub.add_parser("verify", help="check the whole event log against its hash chain")
    _json(verify)
    verify.set_defaults(func=cmd_verify)

    demo = sub.add_parser("demo", help="the demo hall: all roles, simulated devices")
    demo.add_argument("--headless", action="store_true", help="simulate a hall day, no UI")
    demo.add_argument("--arrivals", type=int, default=110)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--screenshots", metavar="DIR", help="save a PNG of every screen, zh and en")
    demo.add_argument("--quit-after", type=float, metavar="S", help="quit after S seconds")
    demo.add_argument("--lang", choices=["zh_CN", "en"], default="zh_CN")
    demo.add_argument("--broker", metavar="URL", help="central MQTT broker (default: offline)")
    demo.add_argument(
        "--screen", type=_screen_size, metavar="WxH", help="with --screenshots: every screen at WxH"
    )
    demo.add_argument("--hall", metavar="FILE", help="hall config YAML (default: the sample hall)")
    _json(demo)
    demo.set_defaults(func=cmd_demo)

    admin = sub.add_parser("admin", help="node administration")
    asub = admin.add_subparsers(dest="action", required=True, metavar="ACTION")
    pin = asub.add_parser("set-pin", help="set the PIN that unlocks a full-screen kiosk")
    pin.set_defaults(func=cmd_admin_set_pin)
    clock = asub.add_parser("clock", help="trust the machine's clock again after an alarm")
    csub = clock.add_subparsers(dest="clock_action", required=True, metavar="ACTION")
    confirm = csub.add_parser("confirm", help="the machine's clock is right now")
    _json(confirm)
    confirm.set_defaults(func=cmd_admin_clock)
    correct = csub.add_parser("correct", help="the right time is TIME (the machine's is wrong)")
    correct.add_argument(
        "--to", required=True, type=_aware_time, help="ISO time with offset, 2026-11-28T09:30+08:00"
    )
    _json(correct)
    correct.set_defaults(func=cmd_admin_clock)
    backup = asub.add_parser("backup", help="a consistent backup while the agent runs")
    backup.add_argument("file", metavar="FILE", help="backup file, or a folder for a dated one")
    backup.add_argument("--keep", type=int, help="in a folder: keep the newest N backups")
    backup.set_defaults(func=cmd_admin_backup)
    restore = asub.add_parser("restore", help="restore a backup (the hub must be stopped)")
    restore.add_argument("file", metavar="FILE")
    restore.set_defaults(func=cmd_admin_restore)

    staff_cli.register(sub)

    for plugin in entry_points(group="hall_agent.commands"):
        try:
            register = plugin.load()
        except ImportError as exc:  # a part not installed must not take the core CLI down
            print(f"hall-agent: {plugin.name} commands unavailable: {exc}", file=sys.stderr)
            continue
        register(sub)
    return parser


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, ensure_ascii=False) if getattr(args, "json", False) else text)


def _open_store(args: argparse.Namespace) -> Store:
    return Node.open(args.data_dir).store()


def _run_on_store(args: argparse.Namespace, command: c.Command) -> int:
    store = _open_store(args)
    try:
        result = store.execute(command)
        if result.ticket is None:
            _emit(args, {"ok": True, "events": [e.type for e in result.events]}, "ok")
            return 0
        view = store.ticket_view(result.ticket)
        text = f"{view['number']}  {view['service']}  {view['state']}"
        if view["window"]:
            text += f"  window {view['window']}"
        _emit(args, view, text)
        return 0
    finally:
        store.close()


def cmd_init(args: argparse.Namespace) -> int:
    data = DataDir(resolve_data_dir(args.data_dir))
    if args.bundle:
        from agent.bundle import apply_bundle

        hall, node = apply_bundle(data, Path(args.bundle))
        print(f"applied {args.bundle} to {data.root}: hall {hall.hall_id}, node {node.node_id}")
        print(f"role {node.role}; next: hall-agent doctor")
        return 0
    hall, node = data.init(Path(args.config) if args.config else None)
    print(f"initialised {data.root}: hall {hall.hall_id} ({hall.name_zh}), node {node.node_id}")
    return 0


def cmd_queue_issue(args: argparse.Namespace) -> int:
    command = c.IssueTicket(
        args.service or "", staff_priority=args.priority, channel="cli", bundle=args.bundle
    )
    return _run_on_store(args, command)


def cmd_queue_assist(args: argparse.Namespace) -> int:
    return _run_on_store(args, c.MarkAssisted(args.window, args.mode, args.staff))


def cmd_queue_window(args: argparse.Namespace) -> int:
    return _run_on_store(args, WINDOW_ACTIONS[args.action_name](args.window))


def cmd_queue_rate(args: argparse.Namespace) -> int:
    command = c.RecordEvaluation(
        args.window, args.score, args.number, tuple(args.reason), "window", args.case
    )
    return _run_on_store(args, command)


def cmd_queue_number(args: argparse.Namespace) -> int:
    kind = c.Reactivate if args.action_name == "reactivate" else c.CancelTicket
    return _run_on_store(args, kind(args.number))


def cmd_queue_transfer(args: argparse.Namespace) -> int:
    return _run_on_store(args, c.Transfer(args.window, args.to_service))


def cmd_queue_status(args: argparse.Namespace) -> int:
    from agent.views import hall_status

    store = _open_store(args)
    try:
        status = hall_status(store)
    finally:
        store.close()
    lines = [f"{status['hall']}  {status['business_date']}"]
    for s in status["services"]:
        line = f"  {s['code']:<16} waiting {s['waiting']:>3}  issued {s['issued']:>3}"
        lines.append(line + _opening_text(s))
    for w in status["windows"]:
        line = f"  window {w['number']:<3} {w['status']:<7} {w['current'] or '-'}"
        if w["staff_id"]:
            line += f"  staff {w['staff_id']}"
        if w["pause_reason"]:
            line += f"  ({w['pause_reason']})"
        lines.append(line + _ticket_notes(w["current_view"]))
    _emit(args, status, "\n".join(lines))
    return 0


def _opening_text(service: dict[str, Any]) -> str:
    """``  closed (国庆节), opens 2026-10-08 08:30`` for a service that is closed now."""
    if service["open_now"]:
        return ""
    why = service["closed_by"] or {}
    name = why.get("name_en") or why.get("name_zh")
    reason = f" ({name})" if name else ""
    opens = service["opens_at"]
    when = f", opens {opens[:10]} {opens[11:16]}" if opens else ", no opening within a year"
    return f"  closed{reason}{when}"


def _ticket_notes(view: dict[str, Any] | None) -> str:
    """A window's current ticket: its bundle leg and assisted/proxy service, if any."""
    if view is None:
        return ""
    notes = ""
    if view.get("bundle"):
        notes += f"  {view['bundle']} leg {view['bundle_leg']}/{view['bundle_legs']}"
    if view.get("assist"):
        notes += f"  {view['assist']} by {view['assist_staff']}"
    return notes


def cmd_admin_set_pin(args: argparse.Namespace) -> int:
    """Read the PIN twice (hidden on a terminal, one line each from a pipe) and store its hash."""
    data = DataDir(resolve_data_dir(args.data_dir))
    _hall, node = data.load()
    pin = staff_cli.read_new_pin("admin PIN")
    updated = node.model_copy(update={"admin_pin_hash": hash_pin(pin)})
    dump_node_config(updated, data.node_config)
    print(f"admin PIN set in {data.node_config}")
    return 0


def _aware_time(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give the UTC offset too, e.g. 2026-11-28T09:30+08:00")
    return moment


def cmd_admin_clock(args: argparse.Namespace) -> int:
    """Append a ``ClockConfirmed`` event: history is not rewritten; the hall clock follows
    the machine's clock again (confirm), or the given time from now on (correct). A business
    day the wrong clock opened is taken back first (``BusinessDayCorrected``)."""
    command = c.ConfirmClock("operator", correct_to=getattr(args, "to", None))
    store = _open_store(args)
    try:
        result = store.execute(command)
        hall_time = store.hall_now().isoformat()
    finally:
        store.close()
    data: dict[str, Any] = {"events": [e.type for e in result.events], "hall_time": hall_time}
    text = f"ok: the hall clock reads {hall_time}"
    back = next((e.payload for e in result.events if e.type == "BusinessDayCorrected"), None)
    if back is not None:
        renumbered = back["renumbered"]
        data["day_corrected"] = {k: back[k] for k in ("from_date", "to_date", "renumbered")}
        text += f"\nbusiness day {back['from_date']} taken back to {back['to_date']}"
        if renumbered:
            text += "; call these tickets by their new numbers: " + ", ".join(
                f"{old} -> {new}" for old, new in renumbered.items()
            )
    _emit(args, {"ok": True, **data}, text)
    return 0


def cmd_admin_backup(args: argparse.Namespace) -> int:
    from agent.backup import backup

    info = backup(DataDir(resolve_data_dir(args.data_dir)), Path(args.file), args.keep)
    print(
        f"backed up node {info.node_id} (hall {info.hall_id}, {info.events} events) to {info.path}"
    )
    return 0


def cmd_admin_restore(args: argparse.Namespace) -> int:
    from agent.backup import restore

    data = DataDir(resolve_data_dir(args.data_dir))
    info = restore(data, Path(args.file))
    print(
        f"restored node {info.node_id} (hall {info.hall_id}, {info.events} events) into {data.root}"
    )
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    store = _open_store(args)
    try:
        for event in store.events_since(args.since, args.limit):
            if args.json:
                print(json.dumps(event.as_dict(), ensure_ascii=False))
            else:
                payload = json.dumps(event.payload, ensure_ascii=False)
                print(f"{event.seq:>6} {event.at} {event.type} {payload}")
    finally:
        store.close()
    return 0


def _screen_size(text: str) -> tuple[int, int]:
    """``--screen 1080x1920`` → (1080, 1920)."""
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT, e.g. 1080x1920")
    size = int(width), int(height)
    if min(size) < 320 or max(size) > 8192:
        raise argparse.ArgumentTypeError(f"{text!r}: each side between 320 and 8192 pixels")
    return size


def cmd_verify(args: argparse.Namespace) -> int:
    """Opening the store checks the identity, the witness and today's events; this checks
    every event kept (a damaged one ends with ``store_damaged`` naming its seq)."""
    store = _open_store(args)
    try:
        seq, head = store.verify_log()
    finally:
        store.close()
    _emit(args, {"ok": True, "last_seq": seq, "head": head}, f"ok: events up to seq {seq}, {head}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    if args.headless:
        from agent.simulation import run_headless_demo

        return run_headless_demo(args)
    gui = {ep.name: ep for ep in entry_points(group="hall_agent.gui")}
    if "demo" not in gui:
        print("the demo UI is not installed; try 'hall-agent demo --headless'", file=sys.stderr)
        return EXIT_CONFIG
    result: int = gui["demo"].load()(args)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every ending is an exit code and at most one line on stderr (or one
    JSON object with ``--json``). Tracebacks go to the log file only."""
    parser = build_parser()
    args = parser.parse_args(argv)
    data = DataDir(resolve_data_dir(args.data_dir))
    try:
        setup_logging(data.logs if data.root.is_dir() else None, args.log_level)
        code: int = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's shutdown
        return code
    except ConfigError as exc:
        return _report_error(args, exc, EXIT_CONFIG)
    except StoreError as exc:
        log.info("refused: %s", exc, extra={"code": exc.code})  # (to stderr if the log can't)
        return _report_error(args, exc, EXIT_STORAGE)
    except HallError as exc:
        return _report_error(args, exc, EXIT_DOMAIN)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_PIPE_CLOSED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except sqlite3.Error as exc:  # a read outside the store's own mapping (or central's db)
        path = getattr(args, "db", None) or data.database
        return _report_error(args, store_error(exc, path), EXIT_STORAGE)
    except OSError as exc:
        if exc.filename is not None:
            return _report_error(args, os_error(exc), EXIT_STORAGE)
        return _internal_error(args, data, exc)
    except Exception as exc:  # noqa: BLE001 - a bug: logged with its traceback, one line here
        return _internal_error(args, data, exc)


def _report_error(args: argparse.Namespace, exc: HallError, code: int) -> int:
    try:
        if getattr(args, "json", False):
            print(json.dumps(exc.as_dict(), ensure_ascii=False), flush=True)
        else:
            first, *more = str(exc).splitlines() or [exc.code]
            print(f"hall-agent: {first}", file=sys.stderr)
            for line in more:  # (a config file with several problems: one per line)
                print(f"hall-agent: {line}", file=sys.stderr)
    except BrokenPipeError:
        _silence_stdout()
    return code


def _internal_error(args: argparse.Namespace, data: DataDir, exc: BaseException) -> int:
    command = getattr(args, "command", "?")
    log.error("internal error in %r", command, exc_info=exc, extra={REPORTED: True})
    where = data.logs / "agent.log" if data.logs.is_dir() else "the log (stderr)"
    error = InternalError(
        f"internal error ({type(exc).__name__}: {str(exc)[:200]}); details in {where}"
    )
    return _report_error(args, error, EXIT_INTERNAL)


def _silence_stdout() -> None:
    """The reader of our output went away (``| head``): say nothing more, not even at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # (no real stdout, e.g. captured in a test)
        pass


if __name__ == "__main__":
    sys.exit(main())
