"""The hall config file: each mistake an operator makes is refused with ``file: field: reason``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from agent.config import OpeningHours, load_hall_config, sample_config_text
from agent.errors import ConfigError
from agent.node import load_node_config
from devices.profiles import load_profile_file

SAMPLE = sample_config_text()
FIRST_HOURS = 'hours: {periods: ["08:30-12:00", "13:30-17:30"], weekdays: [1, 2, 3, 4, 5, 6]}'


def refusal(tmp_path: Path, text: str) -> str:
    path = tmp_path / "hall.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_hall_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message[len(f"{path}: ") :]


def with_first_hours(hours: str) -> str:
    assert FIRST_HOURS in SAMPLE
    return SAMPLE.replace(FIRST_HOURS, f"hours: {hours}")


def test_a_duplicate_key_is_refused_not_last_wins(tmp_path: Path) -> None:
    text = SAMPLE.replace("    daily_cap: 300\n", "    daily_cap: 300\n    daily_cap: 5\n")
    assert refusal(tmp_path, text) == (
        "services.1.daily_cap: duplicate key, first at line 14 (line 15)"
    )


@pytest.mark.parametrize(
    ("hours", "reason"),
    [
        (
            '{periods: ["08:30-12:00", "11:30-17:30"]}',
            "services.1.hours.periods.2: '11:30-17:30' overlaps '08:30-12:00'",
        ),
        (
            '{periods: ["13:30-17:30", "08:30-12:00", "13:30-17:30"]}',
            "services.1.hours.periods.3: '13:30-17:30' repeats '13:30-17:30'",
        ),
        (
            '{periods: ["08:30-12:00"], weekdays: [1, 2, 3, 2]}',
            "services.1.hours.weekdays.4: weekday 2 is repeated",
        ),
        ('{periods: ["12:00-08:00"]}', "services.1.hours.periods.1: '12:00-08:00' ends before"),
        ('{periods: ["24:00-24:00"]}', "services.1.hours.periods.1: '24:00-24:00' is not HH:MM"),
    ],
)
def test_bad_opening_hours_are_refused_naming_the_position(
    tmp_path: Path, hours: str, reason: str
) -> None:
    assert refusal(tmp_path, with_first_hours(hours)).startswith(reason)


def test_all_day_and_touching_periods_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "hall.yaml"
    path.write_text(with_first_hours('{periods: ["00:00-24:00"]}'), encoding="utf-8")
    hours = load_hall_config(path).services[0].hours
    assert hours.is_open(dt.datetime(2026, 6, 1, 23, 59, 59))  # a Monday
    assert hours.is_open(dt.datetime(2026, 6, 1, 0, 0))
    touching = OpeningHours(periods=["08:00-12:00", "12:00-13:00"])
    assert touching.is_open(dt.datetime(2026, 6, 1, 12, 30))


def test_cross_references_name_the_field_not_the_top_level(tmp_path: Path) -> None:
    data = yaml.safe_load(SAMPLE)
    data["windows"][1]["services"].append("passport")
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    assert refusal(tmp_path, text).startswith("windows.2.services.3: unknown service 'passport'")
    data = yaml.safe_load(SAMPLE)
    data["services"][2]["prefix"] = data["services"][0]["prefix"]
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    assert refusal(tmp_path, text).startswith("services.3.prefix: 'A' repeats item 1")
    data = yaml.safe_load(SAMPLE)
    for window in data["windows"]:
        window["services"] = [s for s in window["services"] if s != "enterprise"]
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    assert refusal(tmp_path, text).startswith("services.4.code: no window serves 'enterprise'")


def test_a_deep_document_is_refused_without_recursion(tmp_path: Path) -> None:
    reason = refusal(tmp_path, "services: " + "[" * 20_000)
    assert reason == "(whole file): nested deeper than 32 (line 1)"


def test_a_huge_integer_is_refused(tmp_path: Path) -> None:
    reason = refusal(tmp_path, SAMPLE.replace("daily_cap: 300", "daily_cap: " + "9" * 5000))
    assert reason == "services.1.daily_cap: a number of 5000 digits (at most 18) (line 14)"


def test_a_huge_file_and_an_alias_bomb_are_refused(tmp_path: Path) -> None:
    assert refusal(tmp_path, "# " + "x" * 3_000_000).endswith("larger than 2048 KiB")
    levels = "".join(f"k{n}: &k{n} [*k{n - 1}, *k{n - 1}]\n" for n in range(1, 60))
    bomb = "k0: &k0 [x]\n" + levels  # 2^59 items once expanded
    assert refusal(tmp_path, bomb).startswith("(whole file): more than 100 aliases")


def test_not_yaml_and_not_utf8_are_one_line(tmp_path: Path) -> None:
    assert refusal(tmp_path, "services: [unclosed").startswith("(whole file): not valid YAML:")
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"name_zh: \xc7\xe0\n")
    with pytest.raises(ConfigError, match=r"latin.yaml: not UTF-8 text"):
        load_hall_config(path)


def test_node_config_and_profiles_share_the_loader(tmp_path: Path) -> None:
    node = tmp_path / "node.yaml"
    node.write_text("node_id: a\nrole: hub\nrole: kiosk\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"node.yaml: role: duplicate key, first at line 2"):
        load_node_config(node)
    profile = tmp_path / "p.yaml"
    profile.write_text("kind: printer\nkind: printer\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"p.yaml: kind: duplicate key, first at line 1"):
        load_profile_file(profile)
