"""Who may do what on the hall LAN: the hub's checks by terminal role (hall.yaml ``terminals``).

A request's terminal is the last level of its topic, which the broker's ACL binds to the
login (docs/operator.md, "A hall on several PCs"). :func:`authorise` refuses what that
terminal's role may not do; :func:`own_command` names a terminal's devices after it;
:func:`shape_result` and :func:`feed_payload` cut replies and events down to what the role's
screens show, so a display or window login never holds a check-in code or a citizen hash.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from agent import commands as c
from agent.codec import TERMINAL_COMMANDS
from agent.config import HallConfig, Terminal
from sync.lan import wire

ROLES = ("kiosk", "window", "display")

#: The commands each role may send. Window commands are also checked against its windows.
ROLE_COMMANDS: dict[str, tuple[type, ...]] = {
    "kiosk": (
        c.IssueTicket,
        c.CheckIn,
        c.CheckInByCard,
        c.DeviceStatusChanged,
        c.DeviceProfileApplied,
    ),
    # Staff at a window: every terminal command but an appointment's check-in.
    "window": tuple(cls for cls in TERMINAL_COMMANDS if cls not in (c.CheckIn, c.CheckInByCard)),
    # A display only reads the queue; like every terminal it reports its own devices' health.
    "display": (c.DeviceStatusChanged, c.DeviceProfileApplied),
}
#: The named reads each role's screens make (``agent.views.QUERIES``).
ROLE_QUERIES: dict[str, frozenset[str]] = {
    "kiosk": frozenset(
        {"hall_status", "config", "notices", "now", "ticket", "ticket_by_link", "booking_for_card"}
    ),
    "window": frozenset(
        {
            "hall_status",
            "config",
            "notices",
            "now",
            "ticket",
            "waiting_list",
            "ticket_link",
            "rating_of_case",
        }
    ),
    "display": frozenset({"hall_status", "config", "notices", "now"}),
}
#: How a kiosk may say a ticket was taken (``staff`` and ``cli`` are not a kiosk's).
KIOSK_CHANNELS = frozenset({"button", "idcard"})
#: How a window PC may say a rating was given: by its evaluator or on its own screen (a QR
#: rating goes through central, a kiosk's is a kiosk's).
WINDOW_RATING_CHANNELS = frozenset({"evaluator", "window"})
#: Commands that issue a ticket: rate-limited per terminal.
ISSUING = (c.IssueTicket, c.CheckIn, c.CheckInByCard)
#: Sign-ins (a PIN or a card to check): rate-limited per terminal, besides the lockouts.
SIGNING_IN = (c.SignIn,)
#: Event payload fields each role's screens read from the live feed; everything else (the
#: ticket row with its citizen hash, check-in codes, rosters, the config) stays at the hub.
FEED_FIELDS: dict[str, frozenset[str]] = {
    "kiosk": frozenset(),
    "window": frozenset(
        {
            "number",
            "window",
            "service",
            "to_service",
            "score",
            "staff_id",
            "reason",
            "reasons",
            "case",
            "ask",
        }
    ),
    "display": frozenset({"number", "window"}),
}


def authorise(terminal: Terminal | None, terminal_id: str, request: Any) -> None:
    """Raise unless ``terminal`` (None: not in hall.yaml) may make ``request``."""
    if terminal is None:
        raise wire.UnknownTerminal(
            f"terminal {terminal_id!r} is not in hall.yaml terminals", terminal=terminal_id
        )
    role = terminal.role
    if isinstance(request, wire.QueryRequest):
        if request.name not in ROLE_QUERIES[role]:
            raise _forbidden(terminal, f"the query {request.name}")
        window = request.args.get("window")
        if window is not None and window not in terminal.windows:
            raise _forbidden(terminal, f"window {window}'s waiting list")
        return
    if not isinstance(request, ROLE_COMMANDS[role]):
        raise _forbidden(terminal, type(request).__name__)
    window = getattr(request, "window", None)
    if role == "window" and hasattr(request, "window") and window not in terminal.windows:
        raise _forbidden(terminal, f"{type(request).__name__} at window {window}")
    if isinstance(request, c.IssueTicket):
        if request.staff_priority and role != "window":
            raise _forbidden(terminal, "staff priority (a window's, not a kiosk's)")
        if role == "kiosk" and request.channel not in KIOSK_CHANNELS:
            raise _forbidden(terminal, f"issuing on the {request.channel!r} channel")
    if isinstance(request, c.RecordEvaluation) and request.channel not in WINDOW_RATING_CHANNELS:
        raise _forbidden(terminal, f"a rating on the {request.channel!r} channel")


def _forbidden(terminal: Terminal, what: str) -> wire.Forbidden:
    return wire.Forbidden(
        f"a {terminal.role} terminal ({terminal.id}) may not ask for {what}",
        terminal=terminal.id,
        role=terminal.role,
    )


def device_name(terminal_id: str, device: str) -> str:
    """The name the hub records a terminal's device under: ``<terminal>/<device>``."""
    return f"{terminal_id}/{device}"


def own_command(terminal: Terminal, command: Any) -> Any:
    """The command as the hub runs it: a device status or profile outcome is recorded under
    the terminal's own name, so a terminal can only ever change its own devices' rows."""
    if isinstance(command, c.DeviceStatusChanged | c.DeviceProfileApplied):
        return dataclasses.replace(command, device=device_name(terminal.id, command.device))
    return command


def shape_result(terminal: Terminal, config: HallConfig, name: str, result: Any) -> Any:
    """A query's result as this terminal's role may see it."""
    if name == "config":
        return {k: v for k, v in result.items() if k != "terminals"}
    if name == "hall_status":
        return _hall_status(terminal, config, result)
    return result


def _hall_status(terminal: Terminal, config: HallConfig, status: dict[str, Any]) -> Any:
    """Masked names only where the role shows them (a window: its own windows; the display:
    when the hall shows names); device rows only for a window, bounded, its own unprefixed."""
    if terminal.role == "window":
        names = set(terminal.windows)
    elif terminal.role == "display" and config.display.show_masked_names:
        names = {w.number for w in config.windows}
    else:
        names = set()
    windows = [_named(w, w["number"] in names) for w in status["windows"]]
    recent = [_named(r, r["window"] in names) for r in status["recent_calls"]]
    devices: dict[str, Any] = {}
    omitted = 0
    if terminal.role == "window":
        devices, omitted = bounded_devices(terminal.id, status["devices"])
    return {
        **status,
        "windows": windows,
        "recent_calls": recent,
        "devices": devices,
        "devices_omitted": omitted,
    }


def _named(row: dict[str, Any], keep: bool) -> dict[str, Any]:
    return row if keep else {**row, "citizen_name": None}


def bounded_devices(
    terminal_id: str, recorded: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], int]:
    """At most :data:`~sync.lan.wire.MAX_DEVICE_ROWS` well-formed rows (the terminal's own
    without its prefix) and how many were left out: rows a store may hold from before the
    limits (over-long names or reasons) never make a reply too large to deliver."""
    prefix = device_name(terminal_id, "")
    rows: dict[str, Any] = {}
    omitted = 0
    for name in sorted(recorded):
        info = recorded[name]
        if len(rows) >= wire.MAX_DEVICE_ROWS or not well_formed_device(name, info.get("reason")):
            omitted += 1
            continue
        rows[name.removeprefix(prefix)] = info
    return rows, omitted


def well_formed_device(name: str, reason: object = None) -> bool:
    """A device row within today's limits (``terminal/device``, a short reason)."""
    return len(name) <= 2 * wire.MAX_DEVICE_CHARS + 1 and (
        reason is None or len(str(reason)) <= wire.MAX_DEVICE_CHARS
    )


def feed_payload(role: str, payload: dict[str, Any]) -> dict[str, Any]:
    """An event's payload as the feed of ``role`` carries it."""
    fields = FEED_FIELDS[role]
    return {k: v for k, v in payload.items() if k in fields}
