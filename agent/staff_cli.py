"""``hall-agent queue sign-in|sign-out`` and ``hall-agent staff set-pin|set-card``: staff at
a window, run on the hub's data dir (the PIN and card hashes live there alone)."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable

from agent import commands as c
from agent.datadir import DataDir, resolve_data_dir
from agent.errors import ConfigError
from agent.staffauth import Credentials

RunOnStore = Callable[[argparse.Namespace, c.Command], int]


def register_queue(
    qsub: argparse._SubParsersAction[argparse.ArgumentParser],
    run: RunOnStore,
    add_json: Callable[[argparse.ArgumentParser], None],
) -> None:
    sign_in = qsub.add_parser(
        "sign-in", help="a member of staff signs in at a window (PIN from stdin or a prompt)"
    )
    sign_in.add_argument("--window", type=int, required=True)
    who = sign_in.add_mutually_exclusive_group(required=True)
    who.add_argument("--staff", help="the staff id (工号); the PIN is read from stdin")
    who.add_argument("--card", action="store_true", help="read a staff card's code from stdin")
    add_json(sign_in)
    sign_in.set_defaults(func=lambda args: run(args, _sign_in(args)))
    sign_out = qsub.add_parser("sign-out", help="the member of staff at a window signs out")
    sign_out.add_argument("--window", type=int, required=True)
    add_json(sign_out)
    sign_out.set_defaults(func=lambda args: run(args, c.SignOut(args.window)))
    pause = qsub.add_parser("pause", help="pause a window (暂停服务) for a reason")
    pause.add_argument("--window", type=int, required=True)
    pause.add_argument("--reason", required=True, help="a code of hall.yaml staff.pause_reasons")
    add_json(pause)
    pause.set_defaults(func=lambda args: run(args, c.PauseWindow(args.window, args.reason)))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = sub.add_parser("staff", help="staff PINs and cards, kept at the hub only")
    ssub = staff.add_subparsers(dest="action", required=True, metavar="ACTION")
    pin = ssub.add_parser("set-pin", help="set a staff PIN (twice: stdin or prompt)")
    pin.add_argument("--staff", required=True)
    pin.set_defaults(func=cmd_set_pin)
    card = ssub.add_parser("set-card", help="register a staff badge's code (HS1:..., from stdin)")
    card.add_argument("--staff", required=True)
    card.set_defaults(func=cmd_set_card)


def read_secret(prompt: str) -> str:
    """One line: hidden on a terminal, as is from a pipe."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().strip()


def read_new_pin(what: str) -> str:
    first, second = read_secret(f"new {what}: "), read_secret("again: ")
    if first != second:
        raise ConfigError("the two PINs differ; nothing changed")
    return first


def _sign_in(args: argparse.Namespace) -> c.SignIn:
    if args.card:
        return c.SignIn(args.window, card=read_secret("staff card: "))
    return c.SignIn(args.window, args.staff, pin=read_secret(f"PIN of {args.staff}: "))


def _credentials(args: argparse.Namespace) -> Credentials:
    data = DataDir(resolve_data_dir(args.data_dir))
    data.load()  # (refuses a data dir that is not a node's)
    return Credentials(data.root)


def cmd_set_pin(args: argparse.Namespace) -> int:
    credentials = _credentials(args)
    credentials.set_pin(args.staff, read_new_pin(f"PIN of {args.staff}"))
    print(f"PIN of {args.staff} set in {credentials.path}")
    return 0


def cmd_set_card(args: argparse.Namespace) -> int:
    credentials = _credentials(args)
    credentials.set_card(args.staff, read_secret("staff card: "))
    print(f"card of {args.staff} registered in {credentials.path}")
    return 0
