"""``update_agent``: the node starts the update (packaging/debian/hall-agent-update: apt,
health check, rollback) outside its own unit and reads the outcome the update leaves behind.

The package's postinst restarts the agent, so the answer to central usually comes from the
next agent: at start it finds the outcome file and answers the command it names. An agent
still running when the update ends (the update failed before installing anything, or a
test's throwaway root) answers at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sync.contract import CommandStatus

log = logging.getLogger(__name__)

#: The packaged update, started as root in a transient unit of its own (the sudoers rule
#: /etc/sudoers.d/hall-agent-update allows exactly this line, with any arguments).
PACKAGED_LAUNCHER = (
    "sudo",
    "-n",
    "/usr/bin/systemd-run",
    "--unit=hall-agent-update",
    "--collect",
    "--quiet",
    "/opt/hall-agent/libexec/hall-agent-update",
)
#: Where the packaged update writes its outcome (the package's data dir).
PACKAGED_RESULT = Path("/var/lib/hall-agent/update-result.json")
#: How long an update may take, from launch to outcome (apt fetches ~100 MB).
UPDATE_BUDGET_S = 30 * 60.0


class UpdateNotStarted(RuntimeError):
    """The launcher failed: nothing was changed."""


@dataclass(frozen=True)
class UpdateOutcome:
    """What ``hall-agent-update`` wrote: ``outcome`` is updated | rolled_back | failed."""

    command_version: int
    outcome: str
    from_version: str
    to_version: str
    reason: str

    @property
    def status(self) -> CommandStatus:
        """The reply's status for this outcome."""
        if self.outcome == "updated":
            return "done"
        return "rolled_back" if self.outcome == "rolled_back" else "failed"

    def as_dict(self) -> dict[str, str]:
        return {
            "outcome": self.outcome,
            "from": self.from_version,
            "to": self.to_version,
            "reason": self.reason,
        }


class AgentUpdater:
    def __init__(
        self,
        launcher: Sequence[str] = PACKAGED_LAUNCHER,
        result_file: Path = PACKAGED_RESULT,
        budget_s: float = UPDATE_BUDGET_S,
    ) -> None:
        self.launcher = tuple(launcher)
        self.result_file = result_file
        self.budget_s = budget_s

    def run(self, version: str, command_version: int) -> UpdateOutcome | None:
        """Start the update and wait for its outcome; None when this process ends first
        (then the next agent answers, :meth:`take_outcome`)."""
        with contextlib.suppress(FileNotFoundError):
            self.result_file.unlink()  # an outcome of an earlier command, answered already
        try:
            done = subprocess.run(
                [*self.launcher, version, str(command_version)],
                capture_output=True,
                text=True,
                timeout=self.budget_s,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UpdateNotStarted(f"cannot start the update: {exc}") from exc
        deadline = time.monotonic() + self.budget_s
        while time.monotonic() < deadline:
            outcome = self.take_outcome()
            if outcome is not None and outcome.command_version == command_version:
                return outcome
            if done.returncode != 0:  # finished without an outcome: it never ran
                raise UpdateNotStarted(
                    f"the update did not start (exit {done.returncode}): "
                    f"{done.stderr.strip()[-300:]}"
                )
            time.sleep(1.0)
        return None

    def take_outcome(self) -> UpdateOutcome | None:
        """The outcome an update left, removed once read (it is answered once)."""
        try:
            raw = json.loads(self.result_file.read_text(encoding="utf-8"))
            outcome = UpdateOutcome(
                int(raw["command_version"]),
                str(raw["outcome"]),
                str(raw["from"]),
                str(raw["to"]),
                str(raw["reason"])[:900],
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("unreadable update outcome %s: %r", self.result_file, exc)
            return None
        with contextlib.suppress(OSError):
            self.result_file.unlink()
        return outcome
