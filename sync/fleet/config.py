"""Central's own config (``central.yaml``): named groups of halls and the fleet's alarm
thresholds. Validated like every config here: a bad file names the field and nothing runs.

.. code-block:: yaml

    schema_version: 1
    groups:
      east-county-villages: [village-01, village-02]
      east-county: [east-town, "@east-county-villages"]   # "@name" includes a group
    alarms:
      device_fault_minutes: 30   # a device (e.g. a printer out of paper) not online longer
      node_silent_minutes: 60    # nothing heard from a node for longer
      backlog_events: 5000       # events a node holds that central does not
      clock_skew_seconds: 120    # |central clock - node clock| above this
      results_hours: 24          # refusals and rollbacks nodes reported this recently
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.errors import ConfigError
from agent.validation import describe_validation_error

_NAME = r"^[A-Za-z0-9_.-]{1,64}$"


class AlarmThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    device_fault_minutes: float = Field(default=30, gt=0)
    node_silent_minutes: float = Field(default=60, gt=0)
    backlog_events: int = Field(default=5000, ge=1)
    clock_skew_seconds: float = Field(default=120, gt=0)
    results_hours: float = Field(default=24, gt=0)


class CentralConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    groups: dict[str, list[str]] = Field(default_factory=dict)
    alarms: AlarmThresholds = Field(default_factory=AlarmThresholds)

    @field_validator("groups")
    @classmethod
    def _names(cls, groups: dict[str, list[str]]) -> dict[str, list[str]]:
        for group, members in groups.items():
            if not re.match(_NAME, group):
                raise ValueError(f"group name {group!r} is not [A-Za-z0-9_.-]{{1,64}}")
            for member in members:
                name = member.removeprefix("@")
                if not re.match(_NAME, name):
                    raise ValueError(f"{group}: {member!r} is not a hall id or @group")
                if member.startswith("@") and name not in groups:
                    raise ValueError(f"{group}: includes unknown group {name!r}")
        for group in groups:
            _expand(groups, group, ())
        return groups

    def halls_of(self, group: str) -> list[str]:
        """The hall ids of ``group`` (included groups expanded), sorted, each once."""
        if group not in self.groups:
            known = ", ".join(sorted(self.groups)) or "none"
            raise ConfigError(f"no group {group!r} in central's config (groups: {known})")
        return sorted(_expand(self.groups, group, ()))

    def all_halls(self) -> set[str]:
        return {hall for group in self.groups for hall in _expand(self.groups, group, ())}


def _expand(groups: dict[str, list[str]], group: str, seen: tuple[str, ...]) -> set[str]:
    if group in seen:
        raise ValueError(f"groups include each other in a circle: {' -> '.join((*seen, group))}")
    halls: set[str] = set()
    for member in groups[group]:
        if member.startswith("@"):
            halls |= _expand(groups, member[1:], (*seen, group))
        else:
            halls.add(member)
    return halls


def load_central_config(path: Path | str | None) -> CentralConfig:
    """The config at ``path``; the defaults (no groups) when ``path`` is None."""
    if path is None:
        return CentralConfig()
    source = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror}", file=source) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not YAML: {exc}", file=source) from exc
    try:
        return CentralConfig.model_validate(data or {})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(source, exc), file=source) from exc
