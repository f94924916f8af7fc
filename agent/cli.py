"""The ``hall-agent`` program.

The core's own commands live here; device, sync and UI commands are added by their packages
through the ``hall_agent.commands`` entry-point group (``register(subparsers)``), so the core
never imports them.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from agent import commands as c
from agent.adminpin import hash_pin
from agent.datadir import DataDir, resolve_data_dir
from agent.errors import ConfigError, HallError
from agent.logs import setup_logging
from agent.node import dump_node_config
from agent.node_runtime import Node
from agent.store import Store

log = logging.getLogger("agent.cli")

EXIT_DOMAIN = 1
EXIT_CONFIG = 2

WINDOW_ACTIONS: dict[str, Callable[[int], c.Command]] = {
    "call": c.CallNext,
    "recall": c.Recall,
    "no-show": c.MarkNoShow,
    "start": c.StartService,
    "finish": c.FinishService,
    "pause": c.PauseWindow,
    "resume": c.ResumeWindow,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hall-agent", description="Edge agent for government service hall devices."
    )
    parser.add_argument("--data-dir", help="node data dir (env HALL_AGENT_DATA_DIR)")
    parser.add_argument("--log-level", default="INFO")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = sub.add_parser("init", help="create the data dir (sample town hall by default)")
    init.add_argument("--config", type=str, help="hall config YAML")
    init.set_defaults(func=cmd_init)

    queue = sub.add_parser("queue", help="queue actions at the hub")
    qsub = queue.add_subparsers(dest="action", required=True, metavar="ACTION")
    issue = qsub.add_parser("issue", help="take a ticket")
    issue.add_argument("--service", required=True)
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
    status = qsub.add_parser("status", help="waiting counts and windows")
    _json(status)
    status.set_defaults(func=cmd_queue_status)

    events = sub.add_parser("events", help="list the event log")
    events.add_argument("--since", type=int, default=0)
    events.add_argument("--limit", type=int)
    _json(events)
    events.set_defaults(func=cmd_events)

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
    hall, node = data.init(Path(args.config) if args.config else None)
    print(f"initialised {data.root}: hall {hall.hall_id} ({hall.name_zh}), node {node.node_id}")
    return 0


def cmd_queue_issue(args: argparse.Namespace) -> int:
    command = c.IssueTicket(args.service, staff_priority=args.priority, channel="cli")
    return _run_on_store(args, command)


def cmd_queue_window(args: argparse.Namespace) -> int:
    return _run_on_store(args, WINDOW_ACTIONS[args.action_name](args.window))


def cmd_queue_rate(args: argparse.Namespace) -> int:
    return _run_on_store(args, c.RecordEvaluation(args.window, args.score, args.number))


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
        lines.append(f"  {s['code']:<16} waiting {s['waiting']:>3}  issued {s['issued']:>3}")
    for w in status["windows"]:
        lines.append(f"  window {w['number']:<3} {w['status']:<7} {w['current'] or '-'}")
    _emit(args, status, "\n".join(lines))
    return 0


def cmd_admin_set_pin(args: argparse.Namespace) -> int:
    """Read the PIN twice (hidden on a terminal, one line each from a pipe) and store its hash."""
    data = DataDir(resolve_data_dir(args.data_dir))
    _hall, node = data.load()
    if sys.stdin.isatty():
        first, second = getpass.getpass("new admin PIN: "), getpass.getpass("again: ")
    else:
        first, second = sys.stdin.readline().strip(), sys.stdin.readline().strip()
    if first != second:
        raise ConfigError("the two PINs differ; nothing changed")
    updated = node.model_copy(update={"admin_pin_hash": hash_pin(first)})
    dump_node_config(updated, data.node_config)
    print(f"admin PIN set in {data.node_config}")
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
    parser = build_parser()
    args = parser.parse_args(argv)
    data = DataDir(resolve_data_dir(args.data_dir))
    setup_logging(data.logs if data.root.exists() else None, args.log_level)
    try:
        code: int = args.func(args)
        return code
    except ConfigError as exc:
        _report_error(args, exc)
        return EXIT_CONFIG
    except HallError as exc:
        _report_error(args, exc)
        return EXIT_DOMAIN


def _report_error(args: argparse.Namespace, exc: HallError) -> None:
    if getattr(args, "json", False):
        print(json.dumps(exc.as_dict(), ensure_ascii=False))
    else:
        print(f"hall-agent: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
