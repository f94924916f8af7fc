"""``hall-agent central ...`` (the reference central side) and ``hall-agent sync ...``.

Registered through the ``hall_agent.commands`` entry point; each handler returns an exit code.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import threading
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.errors import ConfigError
from agent.node_runtime import Node
from agent.report_cli import EventSource, add_report_arguments
from sync import contract as ct
from sync.fleet.cli import (
    add_config_argument,
    add_db_argument,
    register_push,
    register_report,
    register_rollout,
)
from sync.fleet.command_cli import register_command, register_repo
from sync.mqtt import BrokerUrlError, parse_broker_url

EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    central = subparsers.add_parser(
        "central",
        help="the reference central ingest (shared subscription, SQLite or PostgreSQL)",
        description="Run the reference central ingest, or report on / push to its data.",
    )
    central.add_argument("--broker", metavar="URL", help="mqtt://host:port of the central broker")
    add_db_argument(central)
    add_config_argument(central)
    central.add_argument(
        "--metrics-port", type=int, metavar="PORT", help="serve Prometheus /metrics on this port"
    )
    central.add_argument(
        "--metrics-host", default="127.0.0.1", help="address for /metrics (default 127.0.0.1)"
    )
    central.add_argument(
        "--progress-port",
        type=int,
        metavar="PORT",
        help="serve the slip link's progress page (and /v1/progress, /v1/near-turn) on this port",
    )
    central.add_argument(
        "--progress-host", default="127.0.0.1", help="address for the progress pages"
    )
    central.add_argument("--workers", type=int, default=1, help="ingest workers in this process")
    central.add_argument("--group", default=ct.DEFAULT_SHARE_GROUP, help="shared group name")
    central.add_argument("--client-prefix", default=None, help="MQTT client id prefix")
    central.add_argument(
        "--rollout-interval",
        type=float,
        default=5.0,
        metavar="S",
        help="how often staged rollouts are looked at and moved on (default 5 s)",
    )
    central.set_defaults(func=cmd_central_run)
    csub = central.add_subparsers(dest="central_action", metavar="ACTION")

    register_report(csub)

    figures = csub.add_parser(
        "figures",
        help="a hall's figures from the central store (as 'hall-agent report')",
        description="A hall's figures of a period or a month from every event central holds.",
    )
    add_db_argument(figures)
    figures.add_argument("--hall", required=True, help="hall id")
    add_report_arguments(figures, open_central_source)

    keygen = csub.add_parser("keygen", help="create the central Ed25519 signing key pair")
    keygen.add_argument("--out", required=True, help="folder for central_key.pem, central_pub.pem")
    keygen.set_defaults(func=cmd_central_keygen)

    prov = csub.add_parser(
        "provision",
        help="register a node and write its bundle (for 'hall-agent init --bundle')",
        description="Give a node its central broker login (a new password each time), "
        "update central-passwd and central-acl.conf in the central dir, and write the "
        "node's bundle. No password is printed.",
    )
    prov.add_argument("--central-dir", default="central", help="central's provisioning folder")
    prov.add_argument("--hall", required=True, help="hall id (its hall.yaml in halls/<id>/)")
    prov.add_argument("--node", required=True, help="node id (a terminal: its id in terminals)")
    prov.add_argument("--role", required=True, choices=["hub", "kiosk", "window", "display", "all"])
    prov.add_argument("--window", type=int, help="a window PC's window")
    prov.add_argument("--central-url", required=True, metavar="URL", help="as the node sees it")
    prov.add_argument("--ca-file", help="the CA file's path on the node (mqtts)")
    prov.add_argument("--hall-broker", metavar="URL", help="the hall broker, as the node sees it")
    prov.add_argument("--out", help="bundle file (default: <node>.bundle)")
    prov.set_defaults(func=cmd_central_provision)

    register_push(csub)
    register_rollout(csub)
    register_command(csub)
    register_repo(csub)

    recover = subparsers.add_parser(
        "recover",
        help="rebuild this node's lost or damaged store from what central holds of its log",
    )
    recover.add_argument("--broker", metavar="URL", help="overrides the node config's broker URL")
    recover.add_argument("--json", action="store_true", help="print one JSON object")
    recover.set_defaults(func=cmd_recover)

    sync = subparsers.add_parser("sync", help="this node's link to the central platform")
    ssub = sync.add_subparsers(dest="sync_action", required=True, metavar="ACTION")
    status = ssub.add_parser("status", help="watermark, backlog and connection state")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(func=cmd_sync_status)
    run = ssub.add_parser("run", help="run the core and the sync only (no roles, no UI)")
    run.add_argument("--broker", metavar="URL", help="overrides the node config's broker URL")
    run.add_argument("--batch-events", type=int, default=500, help="events per batch at most")
    run.add_argument(
        "--window",
        dest="window_batches",
        type=int,
        default=8,
        help="unacknowledged batches at most",
    )
    run.set_defaults(func=cmd_sync_run)

    hall = subparsers.add_parser("hall", help="files for the hall's own broker (the hall LAN)")
    hsub = hall.add_subparsers(dest="hall_action", required=True, metavar="ACTION")
    files = hsub.add_parser(
        "broker-files",
        help="the hall broker's ACL and passwords from hall.yaml terminals",
        description="Write hall-acl.conf, passwd (Mosquitto's format) and hall-logins.yaml "
        "(the plain passwords, mode 0600) for the hub and every terminal in hall.yaml. Known "
        "logins keep their passwords when run again.",
    )
    files.add_argument("--config", metavar="FILE", help="hall config (default: the data dir's)")
    files.add_argument("--out", required=True, metavar="DIR", help="folder for the three files")
    files.set_defaults(func=cmd_hall_broker_files)


# ---- hall ----------------------------------------------------------------------------------
def cmd_hall_broker_files(args: argparse.Namespace) -> int:
    from agent.config import load_hall_config
    from agent.datadir import DataDir, resolve_data_dir
    from sync.lan.broker_files import write_broker_files

    source = (
        Path(args.config) if args.config else DataDir(resolve_data_dir(args.data_dir)).hall_config
    )
    config = load_hall_config(source)
    files = write_broker_files(config, Path(args.out))
    logins = 1 + len(config.terminals)
    print(
        f"wrote {files.acl}, {files.passwords} and {files.logins} "
        f"({logins} logins: the hub and each terminal)"
    )
    return 0


# ---- central -------------------------------------------------------------------------------
def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def cmd_central_run(args: argparse.Namespace) -> int:
    from sync.central import CentralIngest
    from sync.fleet.config import load_central_config

    if not args.broker:
        print("hall-agent central: --broker URL is required to run the ingest", file=sys.stderr)
        return EXIT_USAGE
    try:
        address = parse_broker_url(args.broker)
    except BrokerUrlError as exc:
        print(f"hall-agent central: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.workers < 1:
        print("hall-agent central: --workers must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    config = load_central_config(args.config)
    prefix = args.client_prefix or f"central-ingest-{os.getpid()}"
    stop = _stop_on_signals()
    ingest = CentralIngest(address, args.db, args.workers, args.group, prefix).start()
    metrics = progress = rollouts = None
    try:
        if not ingest.wait_ready(30):
            print(f"hall-agent central: cannot subscribe at {address}", file=sys.stderr)
            return 1
        if args.metrics_port is not None:
            metrics = _serve_metrics(args, config, ingest)
            print(f"fleet metrics: http://{metrics.host}:{metrics.port}/metrics", flush=True)
        if args.progress_port is not None:
            from sync.central import open_central_store
            from sync.fleet.progress_page import ProgressServer

            progress = ProgressServer(
                partial(open_central_store, args.db), args.progress_host, args.progress_port
            )
            print(f"progress pages: http://{progress.host}:{progress.port}/", flush=True)
        rollouts = _drive_rollouts(args, address)
        db = _without_password(args.db)
        print(f"central ingest ready: {address} db {db} workers {args.workers}", flush=True)
        stop.wait()
    finally:
        if rollouts is not None:
            rollouts.stop()
        if metrics is not None:
            metrics.stop()
        if progress is not None:
            progress.stop()
        ingest.stop()
    stats = ingest.stats()
    print(
        f"central ingest stopped: {stats.batches} batches, {stats.inserted} events stored, "
        f"{stats.duplicates} duplicates ignored, {stats.refused} refused",
        flush=True,
    )
    return 0


def _drive_rollouts(args: argparse.Namespace, address: Any) -> Any:
    """The thread moving staged rollouts on (``central rollout``)."""
    from sync.central import open_central_store
    from sync.fleet.push import publish
    from sync.fleet.rollout import RolloutDriver

    sender = partial(publish, address, f"central-rollout-{os.getpid()}")
    return RolloutDriver(
        partial(open_central_store, args.db), sender, args.rollout_interval
    ).start()


def _without_password(db: str) -> str:
    parts = urlsplit(db)
    if not parts.password:
        return db
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def _serve_metrics(args: argparse.Namespace, config: Any, ingest: Any) -> Any:
    from sync.central import central_store
    from sync.fleet.metrics import FleetCollector, MetricsServer

    collector = FleetCollector(
        partial(central_store, args.db), config, stats=lambda: dataclasses.asdict(ingest.stats())
    )
    return MetricsServer(collector, args.metrics_host, args.metrics_port)


def open_central_source(args: argparse.Namespace) -> EventSource:
    from sync.central import is_postgres_url, open_central_store
    from sync.fleet.link_ratings import link_ratings

    if not is_postgres_url(args.db) and not Path(args.db).exists():
        raise ConfigError(f"{args.db}: no such file", file=args.db)
    store = open_central_store(args.db)
    return EventSource(
        args.hall,
        None,
        partial(store.hall_events, args.hall),
        store.event_at,
        store.close,
        partial(link_ratings, store, args.hall),
    )


def cmd_central_keygen(args: argparse.Namespace) -> int:
    from sync.signing import generate_key, private_pem, public_pem

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    private = out / "central_key.pem"
    private.write_bytes(private_pem(key))
    private.chmod(0o600)
    (out / "central_pub.pem").write_bytes(public_pem(key))
    print(f"wrote {private} (keep it secret) and {out / 'central_pub.pem'} (copy to data dirs)")
    return 0


def cmd_central_provision(args: argparse.Namespace) -> int:
    from sync.provision import CentralDir, ProvisionRequest, provision

    request = ProvisionRequest(
        hall_id=args.hall,
        node_id=args.node,
        role=args.role,
        central_url=args.central_url,
        window=args.window,
        hall_broker_url=args.hall_broker,
        ca_file=args.ca_file,
    )
    central = CentralDir(Path(args.central_dir))
    bundle = provision(central, request, Path(args.out or f"{args.node}.bundle"))
    print(f"wrote {bundle} (secret: copy it to the node, then 'hall-agent init --bundle')")
    print(f"updated {central.root / 'central-passwd'} and {central.root / 'central-acl.conf'}")
    return 0


# ---- this node -----------------------------------------------------------------------------
def cmd_sync_status(args: argparse.Namespace) -> int:
    from sync.status import read_status

    status = read_status(Node.open(args.data_dir))
    if getattr(args, "json", False):
        print(json.dumps(status, ensure_ascii=False))
        return 0
    alarm = "  ALARM" if status["backlog_alarm"] else ""
    lines = [
        f"node        {status['node_id']} (hall {status['hall_id']})",
        f"broker      {status['broker'] or '-'}",
        f"connection  {status['connection']}",
        f"last seq    {status['last_seq']}",
        f"acked seq   {status['acked_seq']}",
        f"backlog     {status['backlog']} (alarm above {status['backlog_alarm_events']}){alarm}",
    ]
    if status.get("clock_offset_s") is not None:
        lines.append(f"clock       central minus node: {status['clock_offset_s']:+.3f} s")
    if status.get("tail_lost"):
        lines.append(
            f"ALARM       central holds events up to seq {status['central_acked_beyond_log']}, "
            "beyond this store: its tail is lost (hall-agent recover)"
        )
    if status.get("last_error"):
        lines.append(f"last error  {status['last_error']}")
    if status.get("lan"):
        lines.append(f"hall LAN    {_lan_line(status['lan'])}")
    print("\n".join(lines))
    return 0


def _lan_line(lan: dict[str, Any]) -> str:
    """The hub's LAN stats in one line: state, requests and what was refused."""
    state = "online" if lan.get("online") else "offline"
    line = (
        f"{state}, {lan.get('requests', 0)} requests, {lan.get('refused', 0)} refused "
        f"({lan.get('forbidden', 0)} forbidden, {lan.get('rate_limited', 0)} rate-limited)"
    )
    by_terminal = lan.get("rate_limited_by_terminal") or {}
    if by_terminal:
        line += "; rate-limited: " + ", ".join(f"{k} {v}" for k, v in sorted(by_terminal.items()))
    return line


def cmd_recover(args: argparse.Namespace) -> int:
    """Rebuild the store (docs/operator.md, 'Recovering a node'); a refusal (a store that
    still holds events, central unreachable or holding nothing) changes nothing."""
    from sync.recovery import recover
    from sync.service import effective_broker

    node = Node.open(args.data_dir)
    broker = effective_broker(node, args.broker)
    if broker is None:
        print("hall-agent recover: no broker configured (node.yaml or --broker)", file=sys.stderr)
        return EXIT_USAGE
    result = recover(node, broker)
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False))
        return 0
    print(f"rebuilt from central: events 1..{result.restored_seq}")
    if result.tail_complete:
        print("the witness shows the log ended there: numbering goes on as it was")
    else:
        offsets = ", ".join(f"{k} +{v}" for k, v in result.offsets.items())
        print(f"ALARM: events after seq {result.restored_seq} may be lost; today's numbers "
              f"resume past a safe offset ({offsets})")  # fmt: skip
    if result.set_aside:
        print(f"set aside in the data dir: {', '.join(result.set_aside)}")
    return 0


def cmd_sync_run(args: argparse.Namespace) -> int:
    return run_hub(args, require_broker=True)


def run_hub(args: argparse.Namespace, require_broker: bool = False) -> int:
    """The hub without screens: the core (queue, store, timers) and the central sync.

    With no broker configured the hub runs fully offline and keeps its outbox for later.
    """
    from sync.node import start_node
    from sync.service import SyncSettings

    node = Node.open(args.data_dir, init=not require_broker)
    if require_broker and not args.broker and node.node.broker is None:
        print("hall-agent sync run: no broker configured (node.yaml or --broker)")
        return EXIT_USAGE
    stop = _stop_on_signals()
    settings = SyncSettings(
        batch_max_events=getattr(args, "batch_events", 500),
        window_batches=getattr(args, "window_batches", 8),
    )
    role = getattr(args, "role", None) or "hub"  # names this process in the hub lock
    with start_node(node, role, broker=args.broker, settings=settings) as services:
        handle, lan = services.sync, services.lan_server
        link = f"broker {handle.address}" if handle else "offline (no broker configured)"
        hall = f", hall LAN {lan.address}" if lan else ""
        print(f"hub running: node {node.node.node_id}, {link}{hall}", flush=True)
        stop.wait(getattr(args, "quit_after", None))
    return 0
