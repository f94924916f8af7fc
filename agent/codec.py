"""Commands as JSON, for terminals that reach the hub over the hall LAN.

Only the commands a terminal may send are accepted (a kiosk may issue a ticket; it may not
apply a hall config). Decoding validates every field strictly and refuses unknown ones.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from agent import commands as c
from agent.errors import HallError
from agent.validation import describe_validation_error

#: What a kiosk, window station or display may ask the hub to do.
TERMINAL_COMMANDS: tuple[type, ...] = (
    c.IssueTicket,
    c.CheckIn,
    c.CheckInByCard,
    c.CallNext,
    c.Recall,
    c.MarkNoShow,
    c.StartService,
    c.FinishService,
    c.Transfer,
    c.MarkAssisted,
    c.PauseWindow,
    c.ResumeWindow,
    c.SignIn,
    c.SignOut,
    c.Reactivate,
    c.CancelTicket,
    c.RecordEvaluation,
    c.RequestRating,
    c.DeviceStatusChanged,
    c.DeviceProfileApplied,
    c.ReportAdminPinLockout,
)
_BY_NAME = {cls.__name__: cls for cls in TERMINAL_COMMANDS}
_STRICT = ConfigDict(extra="forbid")
for _cls in (*TERMINAL_COMMANDS, c.Citizen, c.Appointment):
    _cls.__pydantic_config__ = _STRICT  # type: ignore[attr-defined]
_ADAPTERS: dict[str, TypeAdapter[Any]] = {name: TypeAdapter(cls) for name, cls in _BY_NAME.items()}
MAX_COMMAND_BYTES = 4096


class BadCommand(HallError):
    """A command from the network that is not one a terminal may send, or is malformed."""

    code = "bad_command"


def encode_command(command: c.Command) -> bytes:
    name = type(command).__name__
    if name not in _ADAPTERS:
        raise BadCommand(f"{name} is not a terminal command")
    args = _ADAPTERS[name].dump_python(command, mode="json")
    return json.dumps({"type": name, "args": args}, ensure_ascii=False).encode("utf-8")


def decode_command(data: bytes) -> c.Command:
    if len(data) > MAX_COMMAND_BYTES:
        raise BadCommand(f"command is {len(data)} bytes (limit {MAX_COMMAND_BYTES})")
    try:
        message: Any = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadCommand(f"command is not JSON: {exc}") from exc
    if not isinstance(message, dict) or set(message) != {"type", "args"}:
        raise BadCommand('command must be {"type": ..., "args": {...}}')
    adapter = _ADAPTERS.get(str(message["type"]))
    if adapter is None:
        raise BadCommand(f"{str(message['type'])[:40]!r} is not a terminal command")
    try:
        command: c.Command = adapter.validate_python(message["args"])
    except ValidationError as exc:
        raise BadCommand(describe_validation_error(message["type"], exc)) from exc
    if isinstance(command, c.IssueTicket) and command.appointment is not None:
        raise BadCommand("appointments check in with CheckIn, by their code")
    return command
