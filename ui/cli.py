"""``hall-agent run``: the screens of one terminal (registered through ``hall_agent.commands``)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser("run", help="run this terminal's screens (kiosk, window, display)")
    run.add_argument(
        "--role",
        choices=["hub", "kiosk", "window", "display", "all"],
        default=None,
        help="hub (no screens: core + sync) or the screens to open (default: node config)",
    )
    run.add_argument("--config", metavar="FILE", help="hall config YAML (initialises the data dir)")
    run.add_argument(
        "--window",
        type=int,
        action="append",
        metavar="N",
        help="window number(s) for the window role (default: every window)",
    )
    run.add_argument("--lang", choices=["zh_CN", "en"], help="default: the node config's language")
    run.add_argument("--broker", metavar="URL", help="central MQTT broker (default: node config)")
    run.add_argument("--fullscreen", action="store_true", help="full screen (kiosk mode)")
    run.add_argument("--voice", choices=["auto", "qt", "clips", "silent"], default="auto")
    run.add_argument("--quit-after", type=float, metavar="S", help=argparse.SUPPRESS)
    run.add_argument(
        "--voice-pack", metavar="DIR", help="clips folder (zh/, en/); default: the shipped set"
    )
    run.add_argument(
        "--call-highlight", type=int, default=30, metavar="S",
        help="seconds a call stays highlighted on the hall display (default 30)",
    )  # fmt: skip
    run.add_argument(
        "--voice-guide", action="store_true",
        help="the kiosk speaks each step (适老化: for citizens who do not read the screen easily)",
    )  # fmt: skip
    run.set_defaults(func=cmd_run)
    voice = subparsers.add_parser("voice", help="voice announcements (testing the speakers)")
    voice_sub = voice.add_subparsers(dest="voice_command", required=True)
    say = voice_sub.add_parser("say", help="render or play one announcement")
    say.add_argument("--number", required=True, help="ticket number, e.g. A012")
    say.add_argument("--window", type=int, required=True, help="window number, e.g. 10")
    say.add_argument("--lang", choices=["zh_CN", "en"], default="zh_CN")
    say.add_argument("--out", metavar="FILE.wav", help="write the WAV here instead of playing")
    say.add_argument("--pack", metavar="DIR", help="voice pack folder (default: the shipped set)")
    say.set_defaults(func=cmd_voice_say)


def cmd_voice_say(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ui.app import VOICE_CLIPS
    from ui.voice import say

    pack = Path(args.pack) if args.pack else VOICE_CLIPS
    out = Path(args.out) if args.out else None
    return say(args.number, args.window, args.lang, pack, out)


def cmd_run(args: argparse.Namespace) -> int:
    if _role(args) == "hub":
        from sync.cli import run_hub  # headless: no Qt is imported

        return run_hub(args)
    from ui.app import run_role

    return run_role(args)


def _role(args: argparse.Namespace) -> str | None:
    if args.role is not None:
        return str(args.role)
    from agent.datadir import DataDir, resolve_data_dir
    from agent.node import load_node_config

    data = DataDir(resolve_data_dir(args.data_dir))
    return load_node_config(data.node_config).role if data.node_config.exists() else None
