"""``hall-agent simulate | device | profiles``: simulators and technician commands.

Registered into the ``hall-agent`` program through the ``hall_agent.commands`` entry
point (``devices = "devices.cli:register"``); ``python -m devices.cli`` runs it alone.
Exit codes: 0 ok, 1 the device failed or did not answer, 2 bad usage or bad profile.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import secrets
import sys
import threading
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from devices.errors import DeviceFault
from devices.simulators import DEFAULT_PROFILES

KINDS = list(DEFAULT_PROFILES)


def _profiles_dir(args: argparse.Namespace) -> Path | None:
    return Path(args.profiles_dir) if getattr(args, "profiles_dir", None) else None


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, default=str))
    else:
        print(text)


# ----------------------------------------------------------------------------- simulate
def cmd_simulate(args: argparse.Namespace) -> int:
    from devices.simulators import sample_card, start_simulator

    opts: dict[str, Any] = {}
    if args.kind == "idreader":
        card = args.card
        if card and not Path(card).exists():
            card = str(sample_card(card))
        opts["card"] = card
    if args.kind == "evaluator" and args.score is not None:
        opts["auto_score"] = args.score
    try:
        sim = start_simulator(
            args.kind, args.profile, profiles_dir=_profiles_dir(args), link=args.link, **opts
        )
    except (ConfigError, ValueError, OSError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    print(sim.port, flush=True)
    stop = threading.Event()
    shown = 0
    try:
        while not stop.wait(args.interval if args.kind == "scanner" and args.code else 0.5):
            if args.kind == "scanner" and args.code:
                sim.emit(args.code)
            if args.kind == "printer":  # show each cut ticket as the paper would read
                for ticket in sim.tickets[shown:]:
                    print(f"---- ticket {shown + 1} ----\n{ticket}\n", flush=True)
                    shown += 1
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


# ----------------------------------------------------------------------------- device
def _open(args: argparse.Namespace, kind: str) -> tuple[Any, Any]:
    from devices.profiles import load_profile
    from devices.transport import open_transport

    profile = load_profile(args.profile or DEFAULT_PROFILES[kind], _profiles_dir(args))
    if profile.kind != kind:
        raise ConfigError(f"profile {profile.name!r} is for a {profile.kind}, not a {kind}")
    if kind == "scanner" and getattr(profile, "mode", "serial") != "serial":
        return profile, None
    return profile, open_transport(args.port, profile.transport.link(args.baud))


def cmd_probe(args: argparse.Namespace) -> int:
    from devices.idcard import IdCardReader
    from devices.led import Evaluator, LedDisplay
    from devices.printer import TicketPrinter
    from devices.scanner import CameraScanner, HidScanner, SerialScanner

    kind = args.kind
    driver: Any = None
    try:
        profile, transport = _open(args, kind)
        if kind == "printer":
            driver = TicketPrinter(transport, profile, args.port)
            st = driver.status()
            data = {"kind": kind, "port": args.port, **dataclasses.asdict(st)}
            _emit(args, data, f"printer {args.port}: online={st.online} reason={st.reason}")
            return 0
        if kind == "idreader":
            driver = IdCardReader(transport, profile, secrets.token_bytes(32), args.port)
            sam = driver.sam_ok()
            card = driver.read_card(args.timeout)
            card_data = dataclasses.asdict(card) if card else None
            if card_data:
                card_data.pop("citizen_key")  # random hall key here: meaningless to show
            data = {"kind": kind, "port": args.port, "sam_ok": sam, "card": card_data}
            if card is None:
                text = f"idreader {args.port}: SAM ok={sam}, no card within {args.timeout}s"
            else:
                text = (
                    f"idreader {args.port}: {card.card_type} {card.number_masked} "
                    f"{card.name_masked} born {card.birth_date} "
                    f"checksum {'ok' if card.number_checksum_ok else 'WRONG'}"
                )
            _emit(args, data, text)
            return 0
        if kind == "scanner":
            if transport is None:
                if profile.mode == "hid":
                    driver = HidScanner(args.port, profile, args.port)
                else:
                    src = int(args.port) if args.port.isdigit() else args.port
                    driver = CameraScanner(src, profile, args.port)
            else:
                driver = SerialScanner(transport, profile, args.port)
            code = driver.read_code(args.timeout)
            _emit(
                args,
                {"kind": kind, "port": args.port, "code": code},
                f"scanner {args.port}: {code!r}",
            )
            return 0 if code is not None else 1
        if kind == "led":
            driver = LedDisplay(transport, profile, args.port)
            driver.show(args.address, args.text)
            acked = profile.ack_command is not None or bool(profile.ack_bytes)
            note = " (acknowledged)" if acked else " (this model does not acknowledge)"
            text = f"led {args.port}: sent {args.text!r} to address {args.address}{note}"
            _emit(args, {"kind": kind, "port": args.port, "acknowledged": acked}, text)
            return 0
        driver = Evaluator(transport, profile, args.port)
        rating = driver.request(args.ticket, args.timeout, args.address, args.reason or ())
        score = rating.score if rating else None
        chosen = list(rating.reasons) if rating and rating.reasons is not None else None
        _emit(
            args,
            {"kind": kind, "port": args.port, "score": score, "reasons": chosen},
            f"evaluator {args.port}: score {score}"
            + (f", reasons {chosen}" if chosen is not None else ""),
        )
        return 0 if score is not None else 1
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except DeviceFault as exc:
        _emit(
            args,
            {"kind": kind, "port": args.port, "error": exc.reason, "message": str(exc)},
            f"{kind} {args.port}: {exc.reason}: {exc}",
        )
        return 1
    finally:
        if driver is not None:
            driver.close()


def cmd_print_test(args: argparse.Namespace) -> int:
    from devices.printer import TicketPrinter, sample_ticket

    try:
        profile, transport = _open(args, "printer")
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except DeviceFault as exc:
        print(f"printer {args.port}: {exc.reason}: {exc}", file=sys.stderr)
        return 1
    printer = TicketPrinter(transport, profile, args.port)
    try:
        result = printer.print_ticket(sample_ticket())
    finally:
        printer.close()
    if result.ok:
        print(
            f"printed a sample ticket ({result.bytes_sent} bytes)"
            + (f"; warning: {result.reason}" if result.reason else "")
        )
        return 0
    print(f"print failed: {result.reason}", file=sys.stderr)
    return 1


def cmd_udev_rules(args: argparse.Namespace) -> int:
    from agent.datadir import DataDir, resolve_data_dir
    from devices.udev import udev_id_path, udev_rules

    data = DataDir(resolve_data_dir(getattr(args, "data_dir", None)))
    _hall, node = data.load()
    rules = udev_rules(list(node.devices), data.profiles, udev_id_path if args.probe else None)
    if args.out:
        Path(args.out).write_text(rules, encoding="utf-8")
        print(f"wrote {args.out}; then: udevadm control --reload && udevadm trigger")
    else:
        print(rules, end="")
    return 0


# ----------------------------------------------------------------------------- profiles
def cmd_profiles_validate(args: argparse.Namespace) -> int:
    from devices.profiles import default_profiles_dir, validate_files

    paths = [Path(p) for p in args.paths]
    if not paths:
        paths = sorted(default_profiles_dir().glob("*.yaml"))
        if not paths:  # an install without its profiles must not pass as "0 ok"
            print(f"{default_profiles_dir()}: no profiles found", file=sys.stderr)
            return 2
    expanded: list[Path] = []
    for p in paths:
        expanded.extend(sorted(p.glob("*.yaml")) if p.is_dir() else [p])
    problems = validate_files(expanded)
    for line in problems:
        print(line)
    if problems:
        return 2
    print(f"{len(expanded)} profile(s) ok")
    return 0


# ----------------------------------------------------------------------------- wiring
def register(subparsers: argparse._SubParsersAction) -> None:
    sim = subparsers.add_parser("simulate", help="run a device simulator on a pseudo-terminal")
    sim.add_argument("kind", choices=KINDS)
    sim.add_argument("--profile", help="profile name (default: the generic one for the kind)")
    sim.add_argument("--profiles-dir", help="folder of profiles (default: the packaged ones)")
    sim.add_argument("--link", help="also make this symlink to the pty (a stable path)")
    sim.add_argument("--card", help="idreader: card JSON file or sample name (resident-elderly)")
    sim.add_argument("--score", type=int, choices=range(1, 6), help="evaluator: answer with it")
    sim.add_argument("--code", help="scanner: emit this code every --interval seconds")
    sim.add_argument("--interval", type=float, default=5.0)
    sim.set_defaults(func=cmd_simulate)

    dev = subparsers.add_parser("device", help="talk to one device (technicians)")
    dev_sub = dev.add_subparsers(dest="device_command", required=True)
    probe = dev_sub.add_parser("probe", help="talk to one device once and print what it says")
    probe.add_argument("--kind", required=True, choices=KINDS)
    probe.add_argument("--port", required=True, help="/dev/ttyUSB0, COM3, socket://h:p, …")
    probe.add_argument("--profile")
    probe.add_argument("--profiles-dir")
    probe.add_argument("--baud", type=int)
    probe.add_argument("--timeout", type=float, default=5.0)
    probe.add_argument("--address", type=int, default=1, help="led/evaluator bus address")
    probe.add_argument("--text", default="测试 TEST", help="led: text to show")
    probe.add_argument("--ticket", default="A001", help="evaluator: ticket number to rate")
    probe.add_argument(
        "--reason",
        action="append",
        metavar="LABEL",
        help="evaluator with a screen: a reason to offer after a bad level (repeat)",
    )
    probe.add_argument("--json", action="store_true")
    probe.set_defaults(func=cmd_probe)
    pt = dev_sub.add_parser("print-test", help="print a sample ticket")
    pt.add_argument("--port", required=True)
    pt.add_argument("--profile")
    pt.add_argument("--profiles-dir")
    pt.add_argument("--baud", type=int)
    pt.set_defaults(func=cmd_print_test)

    udev = dev_sub.add_parser(
        "udev-rules", help="udev rules giving this PC's devices stable names (/dev/hall/<id>)"
    )
    udev.add_argument(
        "--probe", action="store_true", help="match plugged-in devices by their USB port path"
    )
    udev.add_argument("--out", help="write the rules here (default: print them)")
    udev.set_defaults(func=cmd_udev_rules)

    prof = subparsers.add_parser("profiles", help="device profiles")
    prof_sub = prof.add_subparsers(dest="profiles_command", required=True)
    val = prof_sub.add_parser("validate", help="check profile files (default: all shipped)")
    val.add_argument("paths", nargs="*", help="files or folders")
    val.set_defaults(func=cmd_profiles_validate)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hall-agent")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
