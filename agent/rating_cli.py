"""``hall-agent rating``: the window's business system (受理系统) asks for a rating with its
case number (办件编号) and reads the result, from a script or a shell.

On the hub or a village point's PC it acts on the store; with ``--api URL`` (a window PC)
it goes through the node's loopback interface (node.yaml ``rating_api_port``,
sync/rating_api.py), which reaches the hub over the hall LAN.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from agent import commands as c
from agent.errors import DomainError, UnknownCase
from agent.node_runtime import Node
from agent.views import rating_of_case

#: How long the CLI waits for the loopback interface.
API_TIMEOUT_S = 20.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rating = subparsers.add_parser(
        "rating", help="ask for a rating by case number (办件编号) and read it (business system)"
    )
    sub = rating.add_subparsers(dest="rating_action", required=True, metavar="ACTION")
    request = sub.add_parser("request", help="ask the window's citizen to rate this case")
    request.add_argument("--window", type=int, required=True)
    request.add_argument("--case", required=True, help="the business system's 办件编号")
    _common(request)
    request.set_defaults(func=cmd_rating_request)
    show = sub.add_parser("show", help="what became of the rating of a case")
    show.add_argument("case", metavar="CASE")
    _common(show)
    show.set_defaults(func=cmd_rating_show)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api", metavar="URL", help="the node's loopback interface, http://127.0.0.1:PORT"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_rating_request(args: argparse.Namespace) -> int:
    if args.api:
        found = _call(args.api, "/ratings", {"window": args.window, "case": args.case})
    else:
        store = Node.open(args.data_dir).store()
        try:
            store.execute(c.RequestRating(args.window, args.case))
            found = rating_of_case(store, args.case) or {}
        finally:
            store.close()
    _print(args, found)
    return 0


def cmd_rating_show(args: argparse.Namespace) -> int:
    found: dict[str, Any] | None
    if args.api:
        found = _call(args.api, "/ratings/" + quote(args.case, safe=""))
    else:
        store = Node.open(args.data_dir).store()
        try:
            found = rating_of_case(store, args.case)
        finally:
            store.close()
        if found is None:
            raise UnknownCase(f"no rating asked for or given with case {args.case}")
    _print(args, found)
    return 0


def _print(args: argparse.Namespace, found: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(found, ensure_ascii=False))
        return
    text = f"{found.get('case')}  {found.get('number')}  {found.get('state')}"
    if found.get("state") == "rated":
        text += f"  level {found['level']}"
        if found.get("reasons"):
            text += "  reasons " + ",".join(found["reasons"])
    print(text)


def _call(api: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One request to the loopback interface; its JSON error becomes a DomainError with the
    interface's code (exit code 1, like a refusal on the store)."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        api.rstrip("/") + path, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=API_TIMEOUT_S) as reply:
            found: dict[str, Any] = json.loads(reply.read())
            return found
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read())
        except ValueError:
            detail = {"error": "http_error", "message": str(exc)}
        error = DomainError(detail.get("message") or str(exc))
        error.code = str(detail.get("error") or "http_error")
        raise error from None
    except (urllib.error.URLError, TimeoutError) as exc:
        error = DomainError(f"{api}: the rating interface does not answer ({exc})")
        error.code = "rating_api_unreachable"
        raise error from None
