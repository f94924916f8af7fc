from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from agent.errors import ConfigError
from devices.cli import register
from devices.profiles import (
    EvaluatorProfile,
    LedProfile,
    PrinterProfile,
    default_profiles_dir,
    load_profile,
    load_profile_file,
    validate_files,
)

SHIPPED = sorted(default_profiles_dir().glob("*.yaml"))


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_every_shipped_profile_loads() -> None:
    kinds = {load_profile_file(p).kind for p in SHIPPED}
    assert kinds == {"printer", "idreader", "scanner", "led", "evaluator"}
    names = {p.stem for p in SHIPPED}
    for wanted in (
        "escpos-80mm",
        "escpos-58mm",
        "ga467-serial",
        "scanner-serial",
        "scanner-hid",
        "scanner-camera",
        "led-rs485-generic",
        "evaluator-generic",
    ):
        assert wanted in names


def test_hex_fields_become_bytes() -> None:
    led = load_profile("led-rs485-generic")
    assert isinstance(led, LedProfile)
    assert led.framing.header == b"\xaa\x55"
    assert led.show_command == 0x01
    ev = load_profile("evaluator-generic")
    assert isinstance(ev, EvaluatorProfile)
    assert sorted(ev.keys.values()) == [1, 2, 3, 4, 5]


def test_unknown_key_and_bad_value_name_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "schema_version: 1\nkind: printer\nname: x\npaper_width_mm: 60\n"
        "dots_per_line: 384\nchars_per_line: 32\ncutter: full\n",
        encoding="utf-8",
    )
    problems = validate_files([bad])
    assert f"{bad}: paper_width_mm: Input should be 58 or 80 (line 4)" in problems
    assert any(p.startswith(f"{bad}: cutter: ") and "Extra inputs" in p for p in problems)


def test_wrong_schema_version_refused(tmp_path: Path) -> None:
    path = tmp_path / "v2.yaml"
    path.write_text("schema_version: 2\nkind: idreader\nname: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="schema_version"):
        load_profile_file(path)


def test_evaluator_needs_five_distinct_scores(tmp_path: Path) -> None:
    text = (default_profiles_dir() / "evaluator-generic.yaml").read_text(encoding="utf-8")
    path = tmp_path / "ev.yaml"
    path.write_text(text.replace("5: 1   #", "5: 2   #"), encoding="utf-8")
    with pytest.raises(ConfigError, match="five key codes"):
        load_profile_file(path)


def test_unknown_profile_name_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match="escpos-80mm"):
        load_profile("no-such-printer")


def test_printer_profiles_match_paper_widths() -> None:
    p80, p58 = load_profile("escpos-80mm"), load_profile("escpos-58mm")
    assert isinstance(p80, PrinterProfile) and isinstance(p58, PrinterProfile)
    assert (p80.dots_per_line, p80.chars_per_line) == (576, 48)
    assert (p58.dots_per_line, p58.chars_per_line) == (384, 32)


def test_cli_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["profiles", "validate"]) == 0
    assert f"{len(SHIPPED)} profile(s) ok" in capsys.readouterr().out
    bad = tmp_path / "led.yaml"
    bad.write_text("schema_version: 1\nkind: led\nname: x\nshow_command: ZZ\n", encoding="utf-8")
    assert run_cli(["profiles", "validate", str(bad), str(SHIPPED[0])]) == 2
    out = capsys.readouterr().out
    assert f"{bad}: framing: Field required" in out
    assert f"{bad}: show_command: " in out
