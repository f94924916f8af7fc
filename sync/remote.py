"""Remote commands on the node: what runs once central's signed command passed the gate
(:mod:`sync.inbound`: signature, expiry, a version newer than every command's before).

Commands that take time (re-open or probe devices, upload the log, update the agent) run
here, on a thread of their own, one at a time in arrival order, so the sync thread never
waits on a device or on apt. Each answers with :class:`~sync.contract.CommandReply`
messages, handed to ``send`` (the sync thread publishes them).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sync import contract as ct
from sync.agent_update import AgentUpdater, UpdateNotStarted, UpdateOutcome
from sync.log_tail import chunks, tail_lines
from sync.remote_devices import DeviceControl, UnknownDevice

log = logging.getLogger(__name__)

DEFAULT_LOG_LINES = 200
DEFAULT_PROBE_TIMEOUT_S = 5.0
DEFAULT_REOPEN_TIMEOUT_S = 10.0
Send = Callable[[ct.CommandReply], None]


def make_reply(
    node_id: str,
    version: int,
    name: ct.CommandName,
    status: ct.CommandStatus,
    detail: str,
    data: dict[str, Any] | None = None,
    **part: Any,
) -> ct.CommandReply:
    return ct.CommandReply(
        schema_version=1,
        node_id=node_id,
        version=version,
        name=name,
        status=status,
        detail=detail[:1000],
        data=data,
        at=dt.datetime.now(dt.UTC).isoformat(),
        **part,
    )


class RemoteCommands:
    """Start with :meth:`start`, hand commands to :meth:`submit`, end with :meth:`stop`."""

    def __init__(
        self,
        node_id: str,
        log_file: Path,
        send: Send,
        updater: AgentUpdater | None = None,
        reply_chars: int = ct.MAX_REPLY_TEXT,
    ) -> None:
        self.node_id = node_id
        self.log_file = log_file
        self.send = send
        self.updater = updater
        self.reply_chars = reply_chars
        #: The node's devices (attached once they are open; None on a node without any).
        self.devices: DeviceControl | None = None
        self._queue: queue.SimpleQueue[tuple[int, ct.CommandData] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> RemoteCommands:
        self._thread = threading.Thread(target=self._run, name="hall-remote", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, version: int, command: ct.CommandData) -> None:
        self._queue.put((version, command))

    def _reply(
        self,
        version: int,
        command: ct.CommandData,
        status: ct.CommandStatus,
        detail: str,
        data: dict[str, Any] | None = None,
        **part: Any,
    ) -> None:
        self.send(make_reply(self.node_id, version, command.name, status, detail, data, **part))

    # ---- the worker ----------------------------------------------------------------------
    def _run(self) -> None:
        self._answer_update_outcome()
        while True:
            item = self._queue.get()
            if item is None:
                return
            version, command = item
            log.info("remote command %s (version %d)", command.name, version)
            try:
                self._execute(version, command)
            except Exception as exc:  # a bug: this command fails, the next ones still run
                log.exception("remote command %s failed", command.name)
                self._reply(version, command, "failed", f"the node failed: {exc!r}")

    def _execute(self, version: int, command: ct.CommandData) -> None:
        if command.name == "reopen_devices":
            self._reopen(version, command)
        elif command.name == "probe":
            self._probe(version, command)
        elif command.name == "upload_logs":
            self._upload_logs(version, command)
        elif command.name == "update_agent":
            self._update(version, command)
        else:
            self._reply(version, command, "failed", f"{command.name} is not run here")

    def _reopen(self, version: int, command: ct.CommandData) -> None:
        devices = self.devices
        if devices is None:
            self._reply(version, command, "failed", "this node has no devices")
            return
        ids = [command.device] if command.device is not None else devices.device_ids()
        if not ids:  # a hub without devices of its own: its terminals' are named one by one
            self._reply(version, command, "failed", "this node has no devices of its own")
            return
        timeout = command.timeout_s or DEFAULT_REOPEN_TIMEOUT_S
        answers: dict[str, Any] = {}
        for device_id in ids:
            try:
                answers[device_id] = devices.reopen(device_id, timeout).as_dict()
            except UnknownDevice as exc:
                self._reply(version, command, "failed", exc.describe())
                return
        bad = sorted(d for d, a in answers.items() if not a["ok"])
        status: ct.CommandStatus = "failed" if bad else "done"
        detail = f"re-opened {len(answers)} device(s)" + (
            f"; not answering: {', '.join(bad)}" if bad else ""
        )
        self._reply(version, command, status, detail, {"devices": answers})

    def _probe(self, version: int, command: ct.CommandData) -> None:
        assert command.device is not None  # (the contract requires it)
        if self.devices is None:
            self._reply(version, command, "failed", "this node has no devices")
            return
        timeout = command.timeout_s or DEFAULT_PROBE_TIMEOUT_S
        try:
            answer = self.devices.probe(command.device, timeout)
        except UnknownDevice as exc:
            self._reply(version, command, "failed", exc.describe())
            return
        why = f" ({answer.reason})" if answer.reason else ""
        self._reply(
            version,
            command,
            "done" if answer.ok else "failed",
            f"{command.device}: {answer.status}{why}",
            {"devices": {command.device: answer.as_dict()}},
        )

    def _upload_logs(self, version: int, command: ct.CommandData) -> None:
        asked = command.lines or DEFAULT_LOG_LINES
        lines = tail_lines(self.log_file, asked, ct.MAX_LOG_BYTES)
        parts = chunks(lines, self.reply_chars)
        detail = f"{len(lines)} of the last {asked} lines asked, personal data masked"
        for number, text in enumerate(parts, start=1):
            self._reply(
                version,
                command,
                "done",
                detail,
                {"lines": len(lines)} if number == 1 else None,
                part=number,
                parts=len(parts),
                text=text,
            )

    def _update(self, version: int, command: ct.CommandData) -> None:
        assert command.version is not None  # (the contract requires it)
        if self.updater is None:
            self._reply(version, command, "failed", "this node does not update itself")
            return
        self._reply(version, command, "running", f"updating to {command.version}")
        try:
            outcome = self.updater.run(command.version, version)
        except UpdateNotStarted as exc:
            self._reply(version, command, "failed", str(exc))
            return
        if outcome is not None:
            self._answer(outcome)

    def _answer_update_outcome(self) -> None:
        """The outcome of an update that restarted this agent, answered once."""
        if self.updater is None:
            return
        outcome = self.updater.take_outcome()
        if outcome is not None:
            self._answer(outcome)

    def _answer(self, outcome: UpdateOutcome) -> None:
        reply = make_reply(
            self.node_id,
            outcome.command_version,
            "update_agent",
            outcome.status,
            outcome.reason,
            outcome.as_dict(),
        )
        self.send(reply)
