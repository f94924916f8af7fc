"""``hall-agent central push``: check what IT sends, then sign it and publish it to every
hall it targets.

Nothing is signed before it passes the same checks a node makes (a hall config as
``hall.yaml``, a device profile as a ``firmware_profiles/`` file, a calendar, a roster, a
notice): a bad
file is refused here, with the field and the reason, and never reaches 300 village points.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ValidationError

from agent.calendar import HallCalendar
from agent.config import HallConfig
from agent.errors import ConfigError
from agent.validation import describe_validation_error, read_yaml_document
from devices.profiles import parse_profile
from sync import contract as ct
from sync.fleet.config import CentralConfig
from sync.mqtt import BrokerAddress, new_client
from sync.signing import make_body, sign_body


class PushRefused(ConfigError):
    """What IT asked to push is not valid (or targets nothing): nothing was signed."""

    code = "push_refused"


@dataclass(frozen=True)
class Message:
    """One signed message for one hall (or one node of it)."""

    hall_id: str
    topic: str
    payload: bytes
    retain: bool


def read_data(path: Path) -> Any:
    """The YAML or JSON document of ``path`` (JSON is YAML), through the bounded loader
    (size, depth, aliases); a file it cannot read raises :class:`ConfigError`."""
    return read_yaml_document(path).data


def _check(model: type[BaseModel], data: Any, source: str) -> None:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        raise PushRefused(describe_validation_error(source, exc), file=source) from exc


def check_config(data: Any, source: str, halls: list[str]) -> dict[str, Any]:
    """A whole hall config, valid as ``hall.yaml`` and for exactly the hall it targets."""
    _check(HallConfig, data, source)
    if halls != [data["hall_id"]]:
        raise PushRefused(
            f"{source}: hall_id: the config is for hall {data['hall_id']!r}; push it with "
            f"--hall {data['hall_id']} (a hall config targets exactly its own hall)",
            file=source,
        )
    return dict(data)


def check_profile(name: str, data: Any, source: str) -> dict[str, Any]:
    """``{"name", "profile"}`` for a device profile valid as a ``firmware_profiles/`` file."""
    wrapped = {"name": name, "profile": data}
    _check(ct.ProfileData, wrapped, source)
    try:
        parse_profile(data, source)
    except ConfigError as exc:
        raise PushRefused(str(exc), file=source) from exc
    return wrapped


def check_calendar(data: Any, source: str) -> dict[str, Any]:
    """Holidays, working days and closures, valid as a node's core reads them."""
    _check(HallCalendar, data, source)
    return dict(data)


def check_roster(data: Any, source: str) -> dict[str, Any]:
    _check(ct.RosterData, data, source)
    return dict(data)


def check_staff(data: Any, source: str) -> dict[str, Any]:
    """A staff roster: ids, masked names, windows; PIN hashes (scrypt) and card digests."""
    _check(ct.StaffRosterData, data, source)
    return dict(data)


def check_notice(data: Any, source: str) -> dict[str, Any]:
    _check(ct.NoticeData, data, source)
    return dict(data)


def resolve_halls(
    config: CentralConfig,
    halls: Iterable[str] = (),
    group: str | None = None,
    everyone: bool = False,
    known: Iterable[str] = (),
) -> list[str]:
    """The hall ids a push targets: ``--hall`` (repeatable), ``--group`` or ``--all`` (every
    hall of every group plus every hall central has heard from)."""
    chosen = [h for h in halls]
    if sum((bool(chosen), group is not None, everyone)) != 1:
        raise PushRefused("name the target: --hall H (repeatable), --group G or --all")
    if group is not None:
        try:
            chosen = config.halls_of(group)
        except ConfigError as exc:
            raise PushRefused(str(exc)) from exc
    elif everyone:
        chosen = sorted(config.all_halls() | set(known))
    bad = [h for h in chosen if not ct.is_name(h)]
    if bad:
        raise PushRefused(f"not a hall id: {', '.join(map(repr, bad))}")
    if not chosen:
        raise PushRefused("the target holds no hall")
    return sorted(set(chosen))


def sign_for_halls(
    key: Ed25519PrivateKey,
    kind: str,
    data: dict[str, Any],
    halls: list[str],
    version: int,
    topic_of: Callable[[str], str],
    expires_in: dt.timedelta | None = None,
) -> list[Message]:
    """One signed message per hall: each body names its hall, so none can be replayed to
    another hall."""
    messages = []
    for hall in halls:
        body = make_body(kind, hall, version, data, expires_in=expires_in)
        messages.append(Message(hall, topic_of(hall), sign_body(key, body), retain=True))
    return messages


def publish(address: BrokerAddress, client_id: str, messages: list[Message]) -> list[str]:
    """Publish at QoS 1 and wait for the broker's acknowledgement of each; returns the hall
    ids whose message the broker did not acknowledge in time."""
    client = new_client(client_id, address)
    client.connect(address.host, address.port)
    client.loop_start()
    try:
        pending = [
            (m.hall_id, client.publish(m.topic, m.payload, qos=1, retain=m.retain))
            for m in messages
        ]
        failed = []
        for hall, info in pending:
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                info.wait_for_publish(timeout=10)
            if not info.is_published():
                failed.append(hall)
        return failed
    finally:
        client.disconnect()
        client.loop_stop()
