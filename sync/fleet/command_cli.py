"""``hall-agent central command send|status`` and ``hall-agent central repo build|serve``
(registered by :mod:`sync.cli`)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.validation import describe_validation_error
from sync import contract as ct
from sync.fleet.cli import EXIT_USAGE, add_config_argument, add_db_argument, existing_store
from sync.fleet.commands import CommandLedger, Target, sign_command
from sync.fleet.config import load_central_config
from sync.fleet.push import PushRefused, publish, resolve_halls
from sync.mqtt import BrokerUrlError, parse_broker_url

DEFAULT_TTL_S = 3600


def register_command(csub: Any) -> None:
    command = csub.add_parser(
        "command",
        help="remote commands to nodes: send one, see their answers",
        description="Send a signed, expiring command to nodes, or list the commands sent "
        "with what the nodes answered.",
    )
    actions = command.add_subparsers(dest="command_action", required=True, metavar="ACTION")
    send = actions.add_parser(
        "send",
        help="sign and send a command to every node of a hall, a group or all",
        description="Each node gets its own signed copy with a version of its own (the "
        "command's id there) and an expiry; nodes refuse it once expired or seen before.",
    )
    send.add_argument("kind", choices=list(ct.CommandName.__args__), metavar="KIND")  # type: ignore[attr-defined]
    send.add_argument("--broker", required=True, metavar="URL", help="the central broker")
    send.add_argument("--key", required=True, help="central private key (PEM)")
    send.add_argument("--hall", dest="halls", action="append", default=[], help="a hall id")
    send.add_argument("--group", help="a group of halls from central.yaml")
    send.add_argument("--all", dest="everyone", action="store_true", help="every hall")
    send.add_argument("--node", help="only this node (default: every node central knows there)")
    send.add_argument("--ttl", type=int, default=DEFAULT_TTL_S, help="seconds until it expires")
    send.add_argument(
        "--device",
        help="reopen_devices (default: all) / probe: the device id; a terminal PC's as "
        "TERMINAL/DEVICE, sent to its hub",
    )
    send.add_argument("--timeout", type=float, dest="timeout_s", help="probe: seconds")
    send.add_argument("--lines", type=int, help=f"upload_logs: lines (≤ {ct.MAX_LOG_LINES})")
    send.add_argument("--from-seq", type=int, help="resync: resend the log from this seq")
    send.add_argument("--version", help="update_agent: the package version (e.g. 0.2.0-1)")
    add_db_argument(send)
    add_config_argument(send)
    send.set_defaults(func=cmd_command_send)

    status = actions.add_parser(
        "status",
        help="the commands sent and their state: sent, running, done, failed, rolled_back, "
        "refused (with the node's reason), expired",
    )
    status.add_argument("--node", help="only this node's commands")
    status.add_argument("--version", type=int, help="one command (with --node): in full")
    status.add_argument("--limit", type=int, default=50, help="newest first, this many")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    add_db_argument(status)
    status.set_defaults(func=cmd_command_status)


def _command_data(args: argparse.Namespace) -> dict[str, Any]:
    data = {
        "name": args.kind,
        "from_seq": args.from_seq,
        "device": args.device,
        "timeout_s": args.timeout_s,
        "lines": args.lines,
        "version": args.version,
    }
    data = {k: v for k, v in data.items() if v is not None}
    try:
        ct.CommandData.model_validate(data)
    except ValidationError as exc:
        raise PushRefused(describe_validation_error("command", exc)) from exc
    return data


def _targets(args: argparse.Namespace, ledger: CommandLedger) -> list[Target]:
    config = load_central_config(args.config)
    nodes = ledger.store.fleet_nodes()
    halls = resolve_halls(
        config, args.halls, args.group, args.everyone, {n["hall_id"] for n in nodes}
    )
    if args.node is not None:
        if len(halls) != 1 or not ct.is_name(args.node):
            raise PushRefused("--node: name one node id with its one --hall")
        return [Target(halls[0], args.node)]
    targets = [Target(n["hall_id"], n["node_id"]) for n in nodes if n["hall_id"] in halls]
    known = {t.hall_id for t in targets}
    unknown = [h for h in halls if h not in known]
    if unknown:
        raise PushRefused(
            f"central knows no node of {', '.join(unknown)} (none has synced yet): name the "
            "node with --hall H --node N"
        )
    return targets


def cmd_command_send(args: argparse.Namespace) -> int:
    from sync.central import open_central_store
    from sync.signing import load_private_key

    what = f"hall-agent central command send {args.kind}"
    key = load_private_key(Path(args.key))
    try:
        address = parse_broker_url(args.broker)
    except BrokerUrlError as exc:
        print(f"{what}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not 1 <= args.ttl <= 30 * 24 * 3600:
        print(f"{what}: --ttl: from 1 s to 30 days", file=sys.stderr)
        return EXIT_USAGE
    store = open_central_store(args.db)
    try:
        ledger = CommandLedger(store)
        try:
            data = _command_data(args)
            targets = _targets(args, ledger)
        except PushRefused as exc:
            print(f"{what}: {exc}\nnothing was signed or sent", file=sys.stderr)
            return EXIT_USAGE
        now = dt.datetime.now(dt.UTC)
        ttl = dt.timedelta(seconds=args.ttl)
        messages = []
        for target in targets:
            version = ledger.reserve(target, data, now, now + ttl)
            messages.append((target, version, sign_command(key, target, version, data, now, ttl)))
    finally:
        store.close()
    try:
        failed = publish(address, f"central-command-{os.getpid()}", [m for _, _, m in messages])
    except OSError as exc:
        print(f"{what}: cannot connect to {address}: {exc}", file=sys.stderr)
        return 1
    for target, version, message in messages:
        state = "NOT acknowledged by the broker" if message.hall_id in failed else "sent"
        print(
            f"{state}: {args.kind} to {target.hall_id}/{target.node_id} as "
            f"{target.node_id}/{version}, expires {(now + ttl).isoformat(timespec='seconds')}"
        )
    return 1 if failed else 0


def cmd_command_status(args: argparse.Namespace) -> int:
    store = existing_store(args.db, "command status")
    if store is None:
        return EXIT_USAGE
    try:
        commands = CommandLedger(store).status(
            dt.datetime.now(dt.UTC), args.node, args.version, args.limit
        )
    finally:
        store.close()
    if args.json:
        print(json.dumps({"commands": commands}, ensure_ascii=False))
        return 0
    print(f"{'command':<36} {'name':<15} {'state':<12} detail")
    for c in commands:
        detail = _printable(c["detail"] or "-")
        print(f"{c['id']:<36} {c['name']:<15} {c['state']:<12} {detail}")
        if args.version is not None:
            for name, value in sorted((c["data"] or {}).items()):
                print(f"    {name}: {json.dumps(value, ensure_ascii=False)}")
            if "text" in c:
                print(f"    --- text ({c['parts']} parts) ---")
                sys.stdout.write(_printable(c["text"], keep="\n\t"))
    return 0


def _printable(text: str, keep: str = "") -> str:
    """A node's text with control characters shown as ``?``: an escape sequence from a
    node must not rewrite what the operator's terminal shows."""
    return "".join(ch if ch.isprintable() or ch in keep else "?" for ch in text)


# ---- the Debian repository -----------------------------------------------------------------
def register_repo(csub: Any) -> None:
    repo = csub.add_parser(
        "repo",
        help="the Debian repository of hall-agent packages that nodes update from",
    )
    actions = repo.add_subparsers(dest="repo_action", required=True, metavar="ACTION")
    build = actions.add_parser("build", help="add .deb files and write the signed index")
    build.add_argument("--repo", required=True, type=Path, help="the repository folder")
    build.add_argument("--gpg-key", help="GnuPG key id that signs Release (InRelease)")
    build.add_argument("debs", nargs="*", type=Path, help="hall-agent_*.deb to add")
    build.set_defaults(func=cmd_repo_build)
    serve = actions.add_parser("serve", help="serve the repository folder over HTTP")
    serve.add_argument("--repo", required=True, type=Path, help="the repository folder")
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.set_defaults(func=cmd_repo_serve)


def cmd_repo_build(args: argparse.Namespace) -> int:
    from sync.fleet.repo import build_repo

    versions = build_repo(args.repo, args.debs, args.gpg_key)
    signed = f", signed by {args.gpg_key}" if args.gpg_key else ", NOT signed"
    print(f"repository {args.repo}: hall-agent {', '.join(versions) or '(none)'}{signed}")
    return 0


def cmd_repo_serve(args: argparse.Namespace) -> int:
    from sync.fleet.repo import RepoServer

    if not (args.repo / "Packages").exists():
        print(
            f"hall-agent central repo serve: {args.repo}: no Packages (run build)", file=sys.stderr
        )
        return EXIT_USAGE
    server = RepoServer(args.repo, args.host, args.port)
    print(f"serving {args.repo} at {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0
