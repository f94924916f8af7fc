"""What the central platform sends down: checked, then applied through the core, or refused.

Every message goes through the same gate, in this order: size, JSON, envelope schema,
signature, body schema and version, kind and target, issue time and expiry, data schema,
version newer than the last applied one (and not too far ahead); only then is a command
posted to the core (which may still refuse it, e.g. a config for another hall). A refusal
changes nothing and carries a stable code.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ValidationError

from agent import commands as c
from agent.calendar import HallCalendar
from agent.config import HallConfig
from agent.errors import ConfigError, HallError
from agent.files import write_atomically
from agent.runtime import CoreRuntime
from agent.staffauth import Credentials
from agent.store import PROFILE_SLOT_PREFIX, inbound_version_meta
from agent.validation import describe_validation_error
from devices.profiles import load_profile, parse_profile
from sync import contract as ct
from sync.signing import verify

log = logging.getLogger(__name__)

#: How far one message may move a topic's version: room for versions made of timestamps
#: (epoch milliseconds), none for a jump that would leave a topic nowhere to grow.
MAX_VERSION_STEP = 10**13
#: How far ahead of this node's clock a message may say it was issued.
MAX_CLOCK_AHEAD = dt.timedelta(days=1)
M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")


@dataclass(frozen=True)
class Outcome:
    topic: str
    accepted: bool
    code: str  # applied | duplicate | a refusal code
    reason: str
    kind: str | None = None
    version: int | None = None
    command: ct.CommandData | None = None  # a remote command for the sync service to run

    @property
    def duplicate(self) -> bool:
        return self.code == "duplicate"

    def as_result(self, node_id: str, now: dt.datetime) -> ct.InboundResult:
        return ct.InboundResult(
            schema_version=1,
            node_id=node_id,
            topic=self.topic,
            kind=self.kind,
            version=self.version,
            accepted=self.accepted,
            code=self.code,
            reason=self.reason,
            at=now.isoformat(),
        )


class Refused(HallError):
    """A downlink message this node does not apply; ``code`` is the stable refusal code.

    A :class:`HallError`, so a refusal raised inside a core job comes back as an answer
    (not logged as a failed job).
    """

    code = "refused"

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class InboundHandler:
    """Checks and applies one downlink message at a time (on the sync's inbound thread)."""

    def __init__(
        self,
        runtime: CoreRuntime,
        hall_id: str,
        node_id: str,
        public_key: Ed25519PublicKey | None,
        hall_config_path: Path | None,
        max_bytes: int = ct.MAX_DOWN_BYTES,
        clock: Callable[[], dt.datetime] = _utc_now,
        profiles_path: Path | None = None,
        staff_credentials: Credentials | None = None,
    ) -> None:
        self.runtime = runtime
        self.hall_id = hall_id
        self.node_id = node_id
        self.public_key = public_key
        self.hall_config_path = hall_config_path
        self.max_bytes = max_bytes
        self.clock = clock
        self.profiles_path = profiles_path
        self.staff_credentials = staff_credentials

    # ---- the gate ------------------------------------------------------------------------
    def handle(self, topic: str, payload: bytes) -> Outcome:
        kind: str | None = None
        version: int | None = None
        try:
            expected_kind, notice_id = self._kind_of(topic)
            kind = expected_kind
            body = self._open(payload)
            version = body.version
            self._check_target(body, expected_kind)
            outcome = self._apply(topic, body, notice_id)
        except Refused as exc:
            outcome = Outcome(topic, False, exc.code, exc.reason, kind, version)
        if outcome.accepted and not outcome.duplicate:
            log.info(
                "inbound applied",
                extra={"topic": topic, "kind": outcome.kind, "version": outcome.version},
            )
        elif not outcome.accepted:
            log.warning(
                "inbound refused: %s: %s",
                outcome.code,
                outcome.reason,
                extra={"topic": topic, "code": outcome.code, "kind": outcome.kind},
            )
        return outcome

    def _kind_of(self, topic: str) -> tuple[str, str | None]:
        if topic == ct.config_topic(self.hall_id):
            return "hall_config", None
        if topic == ct.roster_topic(self.hall_id):
            return "roster", None
        if topic == ct.calendar_topic(self.hall_id):
            return "calendar", None
        if topic == ct.staff_topic(self.hall_id):
            return "staff", None
        if topic == ct.command_topic(self.hall_id, self.node_id):
            return "command", None
        for kind, leaf in (("notice", "notice"), ("device_profile", "profile")):
            prefix = f"{ct.ROOT}/{self.hall_id}/hall/{leaf}/"
            if topic.startswith(prefix) and ct.is_name(topic[len(prefix) :]):
                return kind, topic[len(prefix) :]
        raise Refused("unknown_topic", f"no inbound message is defined for topic {topic!r}")

    def _open(self, payload: bytes) -> ct.SignedBody:
        if len(payload) > self.max_bytes:
            raise Refused("too_large", f"{len(payload)} bytes, at most {self.max_bytes} accepted")
        raw = _json_object(payload, "the payload")
        if raw.get("schema_version") != ct.SCHEMA_VERSION:
            raise Refused(
                "wrong_schema_version",
                f"schema_version {raw.get('schema_version')!r}, this node reads "
                f"{ct.SCHEMA_VERSION}",
            )
        if "signature" not in raw:
            raise Refused("unsigned", "the message carries no signature")
        envelope = _validate(ct.SignedEnvelope, raw, "envelope")
        if self.public_key is None:
            raise Refused("no_central_key", "this node holds no central public key")
        if not verify(self.public_key, envelope.body, envelope.signature):
            raise Refused("bad_signature", "the signature does not match the central key")
        body_raw = _json_object(envelope.body, "the signed body")
        if body_raw.get("schema_version") != ct.SCHEMA_VERSION:
            got = body_raw.get("schema_version")
            raise Refused("wrong_schema_version", f"body schema_version {got!r}")
        return _validate(ct.SignedBody, body_raw, "body")

    def _check_target(self, body: ct.SignedBody, expected_kind: str) -> None:
        if body.kind != expected_kind:
            raise Refused("wrong_kind", f"a {body.kind!r} message on a {expected_kind!r} topic")
        if body.hall_id != self.hall_id:
            raise Refused("wrong_target", f"for hall {body.hall_id!r}, this is {self.hall_id!r}")
        if body.node_id is not None and body.node_id != self.node_id:
            raise Refused("wrong_target", f"for node {body.node_id!r}, this is {self.node_id!r}")
        issued = body.issued_at
        if issued.tzinfo is None:
            raise Refused("invalid_data", "issued_at has no time zone")
        if issued > self.clock() + MAX_CLOCK_AHEAD:
            raise Refused(
                "from_the_future",
                f"issued at {issued.isoformat()}: more than a day ahead of this node's clock",
            )
        if body.expires_at is not None:
            expires = body.expires_at
            if expires.tzinfo is None:
                raise Refused("invalid_data", "expires_at has no time zone")
            if expires <= self.clock():
                raise Refused("expired", f"expired at {expires.isoformat()}")

    # ---- applying ------------------------------------------------------------------------
    def _apply(self, topic: str, body: ct.SignedBody, notice_id: str | None) -> Outcome:
        if body.kind == "hall_config":
            return self._apply_config(topic, body)
        if body.kind == "device_profile":
            return self._apply_profile(topic, body, notice_id)
        if body.kind == "roster":
            roster = _validate(ct.RosterData, body.data, "data")
            cmd: c.Command = c.LoadAppointments(
                roster.roster_id,
                tuple(
                    c.RosterEntry(
                        e.code, e.service, e.slot_start, e.slot_end, e.citizen_name, e.citizen_hash
                    )
                    for e in roster.entries
                ),
            )
            return self._versioned(topic, body, "roster", cmd)
        if body.kind == "staff":
            return self._apply_staff(topic, body)
        if body.kind == "calendar":
            calendar = _validate(HallCalendar, body.data, "data")
            return self._versioned(topic, body, "calendar", c.ApplyCalendar(calendar, body.version))
        if body.kind == "notice":
            notice = _validate(ct.NoticeData, body.data, "data")
            if notice.notice_id != notice_id:
                raise Refused("wrong_target", f"notice {notice.notice_id!r} on topic {topic!r}")
            cmd = c.PublishNotice(
                notice.notice_id, notice.text_zh, notice.text_en, notice.expires_at
            )
            return self._versioned(topic, body, f"notice.{notice_id}", cmd)
        return self._accept_command(topic, body)

    def _accept_command(self, topic: str, body: ct.SignedBody) -> Outcome:
        """A remote command runs at most once: its version (its id on this node) must be
        newer than every command's before it, and is stored before it runs, so the same
        command again (a replay, a redelivery after a restart) is refused, never re-run.
        Commands are not retained: one that expires before it arrives is refused."""
        command = _validate(ct.CommandData, body.data, "data")
        if body.expires_at is None:
            raise Refused("invalid_data", "expires_at: required for a command")
        if not self._is_new("command", body.version):
            raise Refused("replayed", f"command version {body.version} was received already")
        self._on_core(lambda: self.runtime.record_inbound_version("command", body.version))
        return Outcome(topic, True, "applied", "command accepted", body.kind, body.version, command)

    def _apply_config(self, topic: str, body: ct.SignedBody) -> Outcome:
        config = _validate(HallConfig, body.data, "data")
        version = body.version
        # (This thread is the only one applying central's configs: the check stays true.)
        current = self._on_core(self.runtime.config_version)
        code = "duplicate"
        if _is_newer(version, current):
            self._on_core(lambda: self.runtime.execute(c.ApplyHallConfig(config, version)))
            code = "applied"
        if code == "applied" and self.hall_config_path is not None:
            _write_yaml_atomically(self.hall_config_path, config.model_dump(mode="json"))
        return Outcome(topic, True, code, f"hall config version {version}", body.kind, version)

    def _apply_staff(self, topic: str, body: ct.SignedBody) -> Outcome:
        """The staff roster: its PIN hashes and card digests go to the hub's credentials file
        (agent/staffauth.py) first, then ``LoadStaffRoster`` records who may sign in where,
        without them (a crash between the two writes them again, never skips)."""
        roster = _validate(ct.StaffRosterData, body.data, "data")
        if self.staff_credentials is None:
            raise Refused("not_accepted", "this node keeps no staff credentials")
        if not self._is_new("staff", body.version):
            return self._versioned(topic, body, "staff", None)
        try:
            self.staff_credentials.merge_roster(
                [m.model_dump(exclude_none=True) for m in roster.members]
            )
        except (ConfigError, OSError) as exc:
            raise Refused("write_failed", f"{self.staff_credentials.path}: {exc}") from exc
        members = tuple(c.StaffRosterMember(m.id, m.name, tuple(m.windows)) for m in roster.members)
        return self._versioned(topic, body, "staff", c.LoadStaffRoster(body.version, members))

    def _apply_profile(self, topic: str, body: ct.SignedBody, name: str | None) -> Outcome:
        """Store a device profile in the data dir (it wins over the packaged one of that
        name when devices next open: at the agent's next start)."""
        data = _validate(ct.ProfileData, body.data, "data")
        if data.name != name:
            raise Refused("wrong_target", f"profile {data.name!r} on topic {topic!r}")
        if self.profiles_path is None:
            raise Refused("not_accepted", "this node keeps no device profiles from central")
        try:
            pushed = parse_profile(data.profile, f"profile {name}")
        except ConfigError as exc:
            raise Refused("invalid_data", str(exc)) from exc
        try:  # the profile in effect now, if any: devices named in node.yaml expect its kind
            current = load_profile(name, pushed_dir=self.profiles_path)
        except ConfigError:
            current = None
        if current is not None and current.kind != pushed.kind:
            raise Refused(
                "invalid_data", f"profile {name} is for a {current.kind}, not a {pushed.kind}"
            )
        slot = PROFILE_SLOT_PREFIX + name
        version = body.version
        code = "duplicate"
        # The file is written here, not on the core thread (tickets do not wait for a disk),
        # and before its version is recorded: a crash in between writes it again, never skips.
        if self._is_new(slot, version):
            path = self.profiles_path / f"{name}.yaml"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                _write_yaml_atomically(path, data.profile, "device profile")
            except OSError as exc:
                raise Refused("write_failed", f"{path}: {exc}") from exc
            self._on_core(lambda: self.runtime.record_inbound_version(slot, version))
            code = "applied"
        return Outcome(
            topic, True, code, f"device profile {name} version {version}", body.kind, version
        )

    def _versioned(
        self, topic: str, body: ct.SignedBody, slot: str, cmd: c.Command | None
    ) -> Outcome:
        """Apply ``cmd`` if ``body.version`` is newer than the last one applied in ``slot``.

        This thread is the only one applying central's messages, so a version found new
        stays new until it is applied here."""
        version = body.version
        code = "duplicate"
        if self._is_new(slot, version):
            if cmd is not None:
                # The version commits with the command's events: a crash leaves both or
                # neither, so the retained message arriving again after a restart is a
                # duplicate, never applied twice.
                meta = inbound_version_meta(slot, version)
                self._on_core(lambda: self.runtime.execute(cmd, meta=meta))
            else:
                self._on_core(lambda: self.runtime.record_inbound_version(slot, version))
            code = "applied"
        return Outcome(topic, True, code, f"{body.kind} version {version}", body.kind, version)

    def _is_new(self, slot: str, version: int) -> bool:
        """Is ``version`` newer than the last one applied in ``slot``? False for that same
        version (a retained copy seen again); an older one is refused."""
        return _is_newer(version, self._on_core(lambda: self.runtime.inbound_version(slot)))

    def _on_core(self, request: Callable[[], R]) -> R:
        """A request to the core; its refusal becomes this message's."""
        try:
            return request()
        except HallError as exc:
            raise Refused(f"refused_by_core.{exc.code}", str(exc)) from exc


def _json_object(text: bytes | str, what: str) -> dict[str, Any]:
    """A JSON object, or ``malformed_json``: also for nesting deeper than the parser's
    recursion and for integers longer than Python converts (4300 digits)."""
    try:
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Refused("malformed_json", f"{what} is not JSON: {str(exc)[:200]}") from exc
    if not isinstance(data, dict):
        raise Refused("malformed_json", f"{what} is not a JSON object")
    return data


def _is_newer(version: int, current: int) -> bool:
    """True for a version to apply, False for the one applied already; an older one, or one
    so far ahead that it would leave no room after it (2^63-1 would lock the topic for
    good), is refused."""
    if version < current:
        raise Refused("stale_version", f"version {version} is older than {current}")
    if version > current + MAX_VERSION_STEP:
        raise Refused(
            "version_too_far",
            f"version {version} is more than {MAX_VERSION_STEP} ahead of {current}",
        )
    return version > current


def _validate(model: type[M], data: Any, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Refused("invalid_data", describe_validation_error(where, exc)) from exc


def _write_yaml_atomically(path: Path, data: dict[str, Any], what: str = "config") -> None:
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    header = f"# written by the sync from a signed central {what}; do not edit here\n"
    write_atomically(path, header + text)
