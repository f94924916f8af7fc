"""hall.yaml ``terminals``: the PCs of the hall LAN, their roles and windows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config import HUB_LOGIN, load_hall_config, sample_config
from agent.errors import ConfigError


def write_hall(tmp_path: Path, terminals: list[dict[str, Any]]) -> Path:
    data = sample_config().model_dump(mode="json")
    data["terminals"] = terminals
    path = tmp_path / "hall.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_sample_hall_names_a_kiosk_two_window_pcs_and_a_display() -> None:
    hall = sample_config()
    assert [(t.id, t.role, t.windows) for t in hall.terminals] == [
        ("kiosk-1", "kiosk", []),
        ("window-pc-1", "window", [1, 2]),
        ("window-pc-3", "window", [3]),
        ("display-1", "display", []),
    ]
    assert hall.terminal("window-pc-3").windows == [3]  # type: ignore[union-attr]
    assert hall.terminal("nobody") is None


@pytest.mark.parametrize(
    ("terminals", "message"),
    [
        ([{"id": "w", "role": "window"}], "terminals.1: w: a window PC names its windows"),
        (
            [{"id": "k", "role": "kiosk", "windows": [1]}],
            "terminals.1: k: only a window PC has windows",
        ),
        (
            [{"id": "w", "role": "window", "windows": [7]}],
            "terminals.1.windows.1: unknown window 7",
        ),
        ([{"id": "k", "role": "kiosk"}] * 2, "terminals.2.id: 'k' repeats item 1"),
        ([{"id": HUB_LOGIN, "role": "display"}], "'hub' is the hub's own login"),
        ([{"id": "k 1", "role": "kiosk"}], "terminals.1.id: String should match pattern"),
        ([{"id": "k", "role": "hub"}], "terminals.1.role: Input should be"),
        ([{"id": "k", "role": "kiosk", "pin": 1}], "terminals.1.pin: Extra inputs"),
    ],
)
def test_a_bad_terminals_section_names_file_field_and_reason(
    tmp_path: Path, terminals: list[dict[str, Any]], message: str
) -> None:
    path = write_hall(tmp_path, terminals)
    with pytest.raises(ConfigError) as bad:
        load_hall_config(path)
    assert str(bad.value).startswith(f"{path}: ")
    assert message in str(bad.value)
