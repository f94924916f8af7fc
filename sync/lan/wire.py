"""The hall LAN contract: topics, limits, request and reply payloads, errors.

Shared by the hub (:mod:`sync.lan.server`) and the terminals (:mod:`sync.lan.client`), and
written down in docs/topics.md ("Hall LAN"). Every payload is UTF-8 JSON; every payload a
side receives is size-bounded before it is parsed, and a request's nesting depth is
bounded before the JSON parser sees it; every text in it is checked (valid Unicode, no
control characters, bounded length) before anything runs.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from agent import commands as c
from agent.codec import MAX_COMMAND_BYTES, BadCommand, decode_command
from agent.errors import HallError
from agent.privacy import is_masked_name
from agent.validation import describe_validation_error
from agent.views import QUERIES
from sync.contract import ROOT, is_name

SCHEMA_VERSION = 1

#: The hall broker's ``message_size_limit`` (packaging/mosquitto/hall-broker.conf; a test
#: checks that they agree). Mosquitto 2 refuses a bigger publish and may drop the sender's
#: connection, so the hub never sends one: its replies are bounded by construction, and one
#: that would still not fit (with room for the topic and properties) is answered
#: ``reply_too_large`` instead.
MESSAGE_SIZE_LIMIT = 1024 * 1024
PACKET_HEADROOM = 4096
#: Upper bounds on what a side parses at all (bytes of the MQTT payload).
MAX_REQUEST_BYTES = MAX_COMMAND_BYTES
MAX_CORRELATION_BYTES = 64
MAX_REPLY_BYTES = MESSAGE_SIZE_LIMIT - PACKET_HEADROOM
MAX_EVENT_BYTES = 256 * 1024
MAX_PRESENCE_BYTES = 4 * 1024
#: A relayed device profile (the profile document itself is a few hundred bytes to a few KiB).
MAX_PROFILE_BYTES = 64 * 1024
#: Bounds on the shape of a request, checked before anything runs: objects and lists nested
#: deeper, holding more entries, or texts longer than these are refused (``bad_request``).
MAX_DEPTH = 6
MAX_ENTRIES = 32
MAX_TEXT_CHARS = 256
#: Bounds on one query argument.
MAX_ARG_INT = 10**9
MAX_ARG_CHARS = 128
#: ``waiting_list`` rows one reply may hold.
MAX_WAITING_ROWS = 200
#: A device name or reason a terminal reports (a stable short code, as the drivers use).
MAX_DEVICE_CHARS = 64
#: Device rows the hub keeps per terminal, and shows per hall in one ``hall_status``.
MAX_DEVICES_PER_TERMINAL = 16
MAX_DEVICE_ROWS = 256


# ---- topics ------------------------------------------------------------------------------
def lan_root(hall_id: str) -> str:
    return f"{ROOT}/{hall_id}/lan"


def request_topic(hall_id: str, terminal_id: str) -> str:
    """Terminal → hub, QoS 1: a command or a named query (MQTT 5 request/response)."""
    return f"{lan_root(hall_id)}/request/{terminal_id}"


def request_subscription(hall_id: str) -> str:
    return f"{lan_root(hall_id)}/request/+"


def reply_topic(hall_id: str, terminal_id: str) -> str:
    """Hub → terminal, QoS 1: the reply; the only response topic the hub answers on."""
    return f"{lan_root(hall_id)}/reply/{terminal_id}"


def events_topic(hall_id: str, role: str) -> str:
    """Hub → the terminals of one role, QoS 1, not retained: each committed event, in seq
    order, its payload stripped to what that role shows (the ACL lets a login read only its
    own role's feed)."""
    return f"{lan_root(hall_id)}/events/{role}"


def hub_topic(hall_id: str) -> str:
    """Hub → everyone, QoS 1, retained, also the hub's last will: its presence."""
    return f"{lan_root(hall_id)}/hub"


def profile_topic(hall_id: str, name: str) -> str:
    """Hub → every terminal, QoS 1, retained: the latest device profile ``name`` pushed from
    central and applied at the hub (only the hub's login may write it: the ACL)."""
    return f"{lan_root(hall_id)}/profile/{name}"


def profile_subscription(hall_id: str) -> str:
    return f"{lan_root(hall_id)}/profile/+"


def profile_name_of(hall_id: str, topic: str) -> str | None:
    """The profile name of a relayed profile's topic of this hall, else None."""
    prefix = f"{lan_root(hall_id)}/profile/"
    name = topic[len(prefix) :] if topic.startswith(prefix) else ""
    return name if is_name(name) else None


def device_request_topic(hall_id: str, terminal_id: str) -> str:
    """Hub → one terminal, QoS 1, not retained: a remote ``probe`` or ``reopen`` of one of
    its devices (central's command, relayed; only the hub's login may write it: the ACL)."""
    return f"{lan_root(hall_id)}/device/{terminal_id}"


def device_answer_topic(hall_id: str, terminal_id: str) -> str:
    """Terminal → hub, QoS 1: the answer to a device request (each login writes only its own)."""
    return f"{lan_root(hall_id)}/device-answer/{terminal_id}"


def terminal_of(hall_id: str, topic: str, kind: str = "request") -> str | None:
    """The terminal id of a ``kind`` topic of this hall (``request``, ``device-answer``),
    else None."""
    prefix = f"{lan_root(hall_id)}/{kind}/"
    if not topic.startswith(prefix):
        return None
    terminal = topic[len(prefix) :]
    return terminal if is_name(terminal) else None


def check_name(what: str, value: str) -> str:
    if not is_name(value):
        raise ValueError(f"{what} {value!r}: only letters, digits, '_', '.', '-' (1-64)")
    return value


# ---- errors ------------------------------------------------------------------------------
class HubUnreachable(HallError):
    """No reply from the hub in time: not connected, hub offline, or the reply was lost.

    The command may or may not have been done: send it again with the same ``request_id``
    (in ``details``) and the hub answers from its memory instead of doing it twice.
    """

    code = "hub_unreachable"


class BadRequest(HallError):
    """A request the hub refused before running anything; ``reason`` says which check."""

    code = "bad_request"


class Forbidden(HallError):
    """The terminal's role (hall.yaml ``terminals``) does not allow this request."""

    code = "forbidden"


class UnknownTerminal(HallError):
    """The request came from a login that hall.yaml ``terminals`` does not name."""

    code = "unknown_terminal"


class RateLimited(HallError):
    """This terminal issued tickets faster than its limit; ``retry_after_s`` says when."""

    code = "rate_limited"


class TooManyDevices(HallError):
    """A terminal reported more distinct devices than the hub keeps for one terminal/hall."""

    code = "too_many_devices"


class RemoteError(HallError):
    """An error the hub replied with; ``code`` is the hub's code (for the UI to translate).

    When the code belongs to a known error class (``nobody_waiting`` → ``NobodyWaiting``),
    the raised exception is also an instance of that class.
    """

    code = "remote_error"

    def __init__(self, message: str, code: str = "remote_error", **details: Any) -> None:
        super().__init__(message, **details)
        self.code = code


def _error_classes(code: str) -> list[type[HallError]]:
    found: list[type[HallError]] = []
    todo: list[type[HallError]] = [HallError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if (
            cls.__dict__.get("code") == code
            and cls.__init__ is HallError.__init__
            and not issubclass(cls, RemoteError)
        ):
            found.append(cls)
    return found


@functools.cache
def _remote_class(code: str) -> type[RemoteError]:
    classes = _error_classes(code)
    if len(classes) != 1:
        return RemoteError
    local = classes[0]
    remote = type(f"Remote{local.__name__}", (RemoteError, local), {"code": code})
    return remote


def remote_error(error: Any) -> RemoteError:
    """Re-create the hub's error from a reply's ``error`` object."""
    if not isinstance(error, dict):
        return RemoteError("the hub replied with a malformed error", "bad_reply")
    code = error.get("code")
    code = code if isinstance(code, str) and is_name(code) else "remote_error"
    message = str(error.get("error") or code)[:500]
    details = {
        k: v
        for k, v in error.items()
        if k not in ("code", "error", "message") and isinstance(k, str)
    }
    return _remote_class(code)(message, code, **details)


# ---- requests ----------------------------------------------------------------------------
@dataclass(frozen=True)
class QueryRequest:
    name: str
    args: dict[str, Any]


_INT = Annotated[int, Field(strict=True, ge=-MAX_ARG_INT, le=MAX_ARG_INT)]
_STR = Annotated[str, Field(strict=True, max_length=MAX_ARG_CHARS)]


@functools.cache
def _args_model(name: str) -> type[BaseModel]:
    """A strict model of a query's arguments, read from its signature (the store is first)."""
    fn: Callable[..., Any] = QUERIES[name]
    hints = get_type_hints(fn)
    fields: dict[str, Any] = {}
    for param in list(inspect.signature(fn).parameters.values())[1:]:
        hint = hints.get(param.name, Any)
        hint = {int: _INT, str: _STR}.get(hint, hint)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hint, default)
    config = ConfigDict(extra="forbid", strict=True)
    model: type[BaseModel] = create_model(f"{name}_args", __config__=config, **fields)
    return model


def encode_query(name: str, args: dict[str, Any]) -> bytes:
    return json.dumps({"query": name, "args": args}, ensure_ascii=False).encode("utf-8")


def parse_request(payload: bytes) -> c.Command | QueryRequest:
    """A command a terminal may send, or a known query with valid arguments; else BadRequest."""
    if len(payload) > MAX_REQUEST_BYTES:
        raise BadRequest(
            f"request is {len(payload)} bytes (limit {MAX_REQUEST_BYTES})", reason="too_large"
        )
    if payload.count(b"{") + payload.count(b"[") > MAX_DEPTH and _nesting(payload) > MAX_DEPTH:
        raise BadRequest(f"request is nested deeper than {MAX_DEPTH} levels", reason="too_deep")
    try:
        message: Any = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"request is not JSON: {exc}", reason="not_json") from exc
    check_value(message)
    if isinstance(message, dict) and "query" in message:
        return _parse_query(message)
    try:
        command = decode_command(payload)
    except BadCommand as exc:
        raise BadRequest(str(exc), reason="bad_command") from exc
    _check_command(command)
    return command


_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _nesting(payload: bytes) -> int:
    """How deep objects and lists nest in a JSON text (strings skipped), without parsing."""
    brackets = _STRINGS.sub(b"", payload).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


#: Characters no field a terminal sends may hold: C0/C1 controls, line and paragraph
#: separators, the byte-order mark, and the bidirectional overrides that reorder text.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def check_text(value: str, where: str, limit: int = MAX_TEXT_CHARS) -> str:
    """``value`` if it is valid Unicode, holds no control character and is at most ``limit``
    characters; else BadRequest. The message never repeats the text (it may not encode)."""
    if len(value) > limit:
        raise BadRequest(f"{where}: longer than {limit} characters", reason="text_too_long")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRequest(f"{where}: not valid Unicode", reason="bad_text") from exc
    if _CONTROL.search(value):
        raise BadRequest(f"{where}: holds a control character", reason="bad_text")
    return value


def check_value(value: Any, where: str = "request", depth: int = 0) -> None:
    """Every text in a parsed request valid, every object and list small and shallow."""
    if isinstance(value, str):
        check_text(value, where)
        return
    if not isinstance(value, (dict, list)):
        return
    if depth >= MAX_DEPTH:
        raise BadRequest(f"{where}: nested deeper than {MAX_DEPTH} levels", reason="too_deep")
    if len(value) > MAX_ENTRIES:
        raise BadRequest(f"{where}: more than {MAX_ENTRIES} entries", reason="too_many_entries")
    if isinstance(value, dict):
        for key, item in value.items():
            check_text(key, f"{where}: a key")
            check_value(item, f"{where}.{key}", depth + 1)
    else:
        for index, item in enumerate(value, 1):
            check_value(item, f"{where}[{index}]", depth + 1)


_HASH = re.compile(r"[0-9a-f]{64}")


def _check_command(command: c.Command) -> None:
    """What a field of a terminal's command must look like beyond its type."""
    citizen = getattr(command, "citizen", None)
    if citizen is not None:
        if not _HASH.fullmatch(citizen.citizen_hash):
            raise BadRequest("citizen_hash: not a keyed hash", reason="bad_citizen")
        if not is_masked_name(citizen.masked_name):
            raise BadRequest(
                "masked_name: not a masked name (张**, J. S.); never a full name or ID number",
                reason="bad_citizen",
            )
    if isinstance(command, c.DeviceProfileApplied) and not (
        is_name(command.device) and is_name(command.profile)
    ):
        raise BadRequest("device, profile: short codes", reason="bad_device")
    if isinstance(command, c.DeviceStatusChanged):
        for what, value in (("device", command.device), ("reason", command.reason)):
            if value is not None and (len(value) > MAX_DEVICE_CHARS or not is_name(value)):
                raise BadRequest(
                    f"{what}: a short code of letters, digits, '_', '.', '-' "
                    f"(1-{MAX_DEVICE_CHARS})",
                    reason="bad_device",
                )


def _parse_query(message: dict[str, Any]) -> QueryRequest:
    if not set(message) <= {"query", "args"}:
        raise BadRequest('a query is {"query": name, "args": {...}}', reason="bad_query")
    name = message["query"]
    if not isinstance(name, str) or name not in QUERIES:
        raise BadRequest(
            f"{str(name)[:40]!r} is not a query (known: {', '.join(sorted(QUERIES))})",
            reason="unknown_query",
        )
    args = message.get("args", {})
    if not isinstance(args, dict):
        raise BadRequest(f"{name}: args must be an object", reason="bad_args")
    try:
        valid = _args_model(name).model_validate(args)
    except ValidationError as exc:
        raise BadRequest(describe_validation_error(name, exc), reason="bad_args") from exc
    values = valid.model_dump()
    if not 0 < values.get("limit", 1) <= MAX_WAITING_ROWS:
        raise BadRequest(f"{name}: limit is 1-{MAX_WAITING_ROWS}", reason="bad_args")
    return QueryRequest(name, values)


# ---- replies, events, presence -----------------------------------------------------------
def _dumps(data: Any) -> bytes:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from somewhere: escaped, still valid JSON
        return json.dumps(data, separators=(",", ":")).encode("ascii")


def ok_reply(result: Any) -> bytes:
    return _dumps({"ok": True, "result": result})


def error_reply(error: HallError | dict[str, Any]) -> bytes:
    return _dumps(
        {"ok": False, "error": error.as_dict() if isinstance(error, HallError) else error}
    )


def event_payload(event: Any, payload: dict[str, Any]) -> bytes:
    """An event on a role's feed, with ``payload`` (what that role may see) as its payload."""
    return _dumps({"schema_version": SCHEMA_VERSION, **event.as_dict(), "payload": payload})


def presence_payload(state: str, node_id: str) -> bytes:
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return _dumps({"schema_version": SCHEMA_VERSION, "state": state, "node_id": node_id, "at": at})


class RelayedProfile(BaseModel):
    """A device profile the hub relays: its name, the push's version, the document."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_version: Literal[1]
    name: str = Field(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")
    version: int = Field(ge=1, le=2**63 - 1)
    profile: dict[str, Any]


def profile_payload(name: str, version: int, document: dict[str, Any]) -> bytes:
    relayed = RelayedProfile(schema_version=1, name=name, version=version, profile=document)
    payload = _dumps(relayed.model_dump(mode="json"))
    if len(payload) > MAX_PROFILE_BYTES:
        raise ValueError(f"profile {name}: {len(payload)} bytes, over {MAX_PROFILE_BYTES}")
    return payload


def parse_profile_payload(payload: bytes, name: str) -> RelayedProfile:
    """The relayed profile on ``name``'s topic; :class:`BadRequest` when it is not one."""
    data = parse_json_object(payload, MAX_PROFILE_BYTES)
    if data is None:
        raise BadRequest("not a JSON object (or too large)", reason="bad_profile")
    try:
        relayed = RelayedProfile.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(describe_validation_error("profile", exc), reason="bad_profile") from exc
    if relayed.name != name:
        raise BadRequest(f"profile {relayed.name!r} on {name!r}'s topic", reason="bad_profile")
    return relayed


#: A device request or its answer (a few hundred bytes).
MAX_DEVICE_MESSAGE_BYTES = 4 * 1024
MAX_DEVICE_REASON_CHARS = 256
DeviceAction = Literal["probe", "reopen"]
_M = TypeVar("_M", bound=BaseModel)
_DEVICE_NAME = r"^[A-Za-z0-9_.-]{1,64}$"


class DeviceRequest(BaseModel):
    """The hub asks a terminal to probe or re-open one of its devices within ``timeout_s``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_version: Literal[1]
    action: DeviceAction
    device: str = Field(pattern=_DEVICE_NAME)
    timeout_s: float = Field(gt=0, le=60)


class DeviceAnswer(BaseModel):
    """A terminal's answer: the device's state (``ok`` when it answered and is online);
    ``reason`` ``unknown_device`` when the terminal has no such device."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_version: Literal[1]
    ok: bool
    status: str = Field(pattern=_DEVICE_NAME)
    reason: str | None = Field(default=None, max_length=MAX_DEVICE_REASON_CHARS)


def parse_device_message(payload: bytes, model: type[_M]) -> _M:
    """A device request or answer; :class:`BadRequest` when the payload is not one."""
    data = parse_json_object(payload, MAX_DEVICE_MESSAGE_BYTES)
    if data is None:
        raise BadRequest("not a JSON object (or too large)", reason="bad_device_message")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(
            describe_validation_error(model.__name__, exc), reason="bad_device_message"
        ) from exc


def device_payload(message: DeviceRequest | DeviceAnswer) -> bytes:
    return _dumps(message.model_dump(mode="json"))


def parse_json_object(payload: bytes, limit: int) -> dict[str, Any] | None:
    """The payload as a JSON object, or None when too large or not one."""
    if len(payload) > limit:
        return None
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
