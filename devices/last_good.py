"""The last profile each device worked with, kept on disk so a rollback survives a restart.

When a device re-opened with a new profile fails its health check, the device manager goes
back to the profile it had and writes down here both that good profile and the fingerprint
of the one it refused. At the next start the manager loads the device's profile as usual
(the pushed one wins over the shipped one) and, when it is exactly the refused one, opens
the device with the last good profile instead: a profile that broke a device never breaks
it again by a restart. A newer push (another fingerprint) is tried again.

One YAML file per device, ``<dir>/<device id>.yaml``, written atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agent.errors import ConfigError
from agent.files import write_atomically
from devices.profiles import AnyProfile, parse_profile

log = logging.getLogger(__name__)


def profile_document(profile: AnyProfile) -> dict[str, Any]:
    """``profile`` as the YAML document it validates from (bytes written as hex text)."""
    return _plain(profile.model_dump(mode="python", exclude_none=True))


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex(" ").upper()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def fingerprint(profile: AnyProfile) -> str:
    """A stable digest of the profile's content (not of its file's spelling)."""
    text = json.dumps(profile_document(profile), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LastGood:
    good: AnyProfile
    refused: str | None  # fingerprint of the profile rolled back from, if any
    reason: str | None


class LastGoodProfiles:
    """``<dir>/<device>.yaml`` per device; ``dir`` None keeps nothing (a demo hall)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def _path(self, device: str) -> Path | None:
        return None if self.folder is None else self.folder / f"{device}.yaml"

    def read(self, device: str) -> LastGood | None:
        path = self._path(device)
        if path is None or not path.exists():
            return None
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            good = parse_profile(data["good"], f"{path}: good")
        except (OSError, yaml.YAMLError, KeyError, TypeError, ConfigError) as exc:
            log.warning("device %s: last good profile %s unreadable: %s", device, path, exc)
            return None
        refused = data.get("refused")
        reason = data.get("reason")
        return LastGood(
            good, refused if isinstance(refused, str) else None, str(reason) if reason else None
        )

    def write(
        self, device: str, good: AnyProfile, refused: AnyProfile | None, reason: str | None
    ) -> None:
        path = self._path(device)
        if path is None:
            return
        data = {
            "device": device,
            "good": profile_document(good),
            "refused": None if refused is None else fingerprint(refused),
            "reason": reason,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        header = "# the device manager's last good profile of this device; do not edit\n"
        write_atomically(path, header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False))

    def effective(self, device: str, loaded: AnyProfile) -> AnyProfile:
        """``loaded``, unless it is the profile this device was rolled back from."""
        record = self.read(device)
        if record is not None and record.refused == fingerprint(loaded):
            log.warning(
                "device %s: its profile was rolled back (%s); opening the last good one",
                device,
                record.reason or "-",
            )
            return record.good
        return loaded
