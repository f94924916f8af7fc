"""The hall LAN's rules without a broker: request checks, role feeds, limits, broker files."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agent.config import HUB_LOGIN, sample_config
from agent.errors import HallError
from agent.model import Event
from sync.cli import _lan_line
from sync.lan import roles, wire
from sync.lan.broker_files import acl_text, password_hash, write_broker_files
from sync.lan.quietlog import RepeatFilter
from sync.lan.ratelimit import TokenBuckets
from tests.sync.conftest import REPO, SHIPPED_BROKER


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# ---- wire ----------------------------------------------------------------------------------
def test_an_error_with_a_lone_surrogate_still_encodes_as_json() -> None:
    reply = wire.error_reply(HallError("no service \ud800", service="\ud800"))
    decoded = json.loads(reply)
    assert decoded["error"]["service"] == "\ud800" and decoded["ok"] is False


def test_nesting_is_measured_without_parsing_and_ignores_brackets_in_strings() -> None:
    assert wire._nesting(b'{"a": [1, {"b": "]]]\\"[[[["}]}') == 3
    assert wire._nesting(b"[" * 5000) == 5000


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("\ud800", "bad_text"),
        ("a\x00b", "bad_text"),
        ("a\nb", "bad_text"),
        ("\u202eevil", "bad_text"),
        ("x" * (wire.MAX_TEXT_CHARS + 1), "text_too_long"),
    ],
)
def test_a_bad_text_is_refused_without_repeating_it(text: str, reason: str) -> None:
    with pytest.raises(wire.BadRequest) as bad:
        wire.check_text(text, "args.service")
    assert bad.value.details["reason"] == reason
    assert text not in str(bad.value)
    wire.error_reply(bad.value)  # encodes


def test_chinese_and_english_texts_pass() -> None:
    assert wire.check_text("社保医保 Social & medical", "name") == "社保医保 Social & medical"


# ---- roles ---------------------------------------------------------------------------------
def test_each_feed_carries_only_what_its_role_shows() -> None:
    issued = {
        "ticket": {"number": "A001", "citizen_hash": "ab" * 32, "appointment_code": "APT-1"},
        "counter": 1,
    }
    called = {"ticket_id": "x", "number": "A001", "window": 2, "citizen_name": "王*", "at": "t"}
    assert roles.feed_payload("kiosk", called) == {}
    assert roles.feed_payload("display", called) == {"number": "A001", "window": 2}
    assert roles.feed_payload("window", called) == {"number": "A001", "window": 2}
    for role in roles.ROLES:
        assert roles.feed_payload(role, issued) == {}
        assert "citizen" not in json.dumps(roles.feed_payload(role, {"roster": 1, **called}))


def test_a_feed_event_keeps_every_field_a_terminal_checks() -> None:
    event = Event("hub-1", 7, "TicketCalled", "2026-11-29", "t", "w", {"number": "A1"})
    data = json.loads(wire.event_payload(event, {}))
    assert set(data) == {"schema_version", *Event._fields} and data["payload"] == {}


def test_the_config_a_terminal_reads_does_not_list_the_terminals() -> None:
    hall = sample_config()
    kiosk = hall.terminal("kiosk-1")
    assert kiosk is not None
    shaped = roles.shape_result(kiosk, hall, "config", hall.model_dump(mode="json"))
    assert "terminals" not in shaped and shaped["hall_id"] == hall.hall_id


def test_device_rows_are_bounded_and_a_terminals_own_are_unprefixed() -> None:
    recorded = {f"kiosk-1/dev-{i:03d}": {"status": "online", "reason": None} for i in range(300)}
    recorded["window-pc-1/led-bus"] = {"status": "fault", "reason": "no_answer"}
    recorded["x" * 2000] = {"status": "fault", "reason": None}
    rows, omitted = roles.bounded_devices("window-pc-1", recorded)
    assert len(rows) == wire.MAX_DEVICE_ROWS and omitted == 302 - wire.MAX_DEVICE_ROWS
    assert rows["kiosk-1/dev-000"]["status"] == "online"
    assert all(len(name) <= 2 * wire.MAX_DEVICE_CHARS + 1 for name in rows)
    own, _ = roles.bounded_devices("window-pc-1", {"window-pc-1/led-bus": {"status": "online"}})
    assert own == {"led-bus": {"status": "online"}}


# ---- limits --------------------------------------------------------------------------------
def test_a_bucket_allows_a_burst_then_refills_at_its_rate() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(burst=3, per_minute=6, clock=clock)
    assert [buckets.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k") == pytest.approx(10.0)
    assert buckets.take("other") == 0.0
    clock.now += 10
    assert buckets.take("k") == 0.0 and buckets.take("k") > 0


def test_a_repeated_record_passes_a_few_times_then_is_counted() -> None:
    clock = FakeClock()
    quiet = RepeatFilter(burst=2, window_s=60, clock=clock)

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("sync.lan.server", logging.ERROR, "f.py", 1, msg, None, None)

    passed = [quiet.filter(record("same")) for _ in range(10)]
    assert passed == [True, True] + [False] * 8
    assert quiet.filter(record("other")) is True
    clock.now += 60
    again = record("same")
    assert quiet.filter(again) is True and "(8 like it suppressed)" in again.getMessage()


# ---- the broker's files --------------------------------------------------------------------
def test_sync_status_shows_the_lans_refusals_in_one_line() -> None:
    lan = {"online": True, "requests": 40, "refused": 35, "forbidden": 0, "rate_limited": 35}
    line = _lan_line({**lan, "rate_limited_by_terminal": {"kiosk-1": 35}})
    assert line == (
        "online, 40 requests, 35 refused (0 forbidden, 35 rate-limited); rate-limited: kiosk-1 35"
    )


def test_the_shipped_hall_broker_conf_holds_the_limits_the_hub_builds_replies_for() -> None:
    conf = (SHIPPED_BROKER / "hall-broker.conf").read_text()
    settings = dict(
        line.split(None, 1) for line in conf.splitlines() if line and not line.startswith("#")
    )
    assert int(settings["message_size_limit"]) == wire.MESSAGE_SIZE_LIMIT
    assert wire.MAX_REPLY_BYTES < wire.MESSAGE_SIZE_LIMIT
    assert settings["use_username_as_clientid"] == "true"
    assert settings["allow_anonymous"] == "false"
    assert int(settings["max_queued_messages"]) > 0  # bounded, and far above a hall's needs


def test_the_example_acl_is_what_the_generator_writes_for_the_sample_hall() -> None:
    example = (SHIPPED_BROKER / "hall-acl.example.conf").read_text()
    assert example.endswith(acl_text(sample_config()))


def test_passwords_are_in_the_form_mosquitto_writes() -> None:
    line = password_hash("secret", salt=bytes(12))
    assert re.fullmatch(r"\$7\$101\$[A-Za-z0-9+/=]{16}\$[A-Za-z0-9+/=]{88}", line)


def test_broker_files_from_the_cli_keep_known_passwords(tmp_path: Path) -> None:
    config = tmp_path / "hall.yaml"
    data = sample_config().model_dump(mode="json")
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "broker"

    def run() -> dict[str, str]:
        cli = [sys.executable, "-m", "agent.cli", "hall", "broker-files"]
        done = subprocess.run(
            [*cli, "--config", str(config), "--out", str(out)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "5 logins" in done.stdout
        logins: dict[str, str] = yaml.safe_load((out / "hall-logins.yaml").read_text())
        return logins

    first = run()
    assert list(first) == [HUB_LOGIN, "kiosk-1", "window-pc-1", "window-pc-3", "display-1"]
    assert len(set(first.values())) == 5
    for name in ("passwd", "hall-logins.yaml"):
        assert (out / name).stat().st_mode & 0o077 == 0
    data["terminals"] = [*data["terminals"][1:], {"id": "kiosk-9", "role": "kiosk"}]
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    second = run()
    assert "kiosk-1" not in second and second["window-pc-1"] == first["window-pc-1"]
    assert second["kiosk-9"] not in first.values()
    users = [line.split(":")[0] for line in (out / "passwd").read_text().splitlines()]
    assert users == list(second)
    assert "user kiosk-9" in (out / "hall-acl.conf").read_text()


def test_generated_files_are_written_again_in_place(tmp_path: Path) -> None:
    files = write_broker_files(sample_config(), tmp_path)
    again = write_broker_files(sample_config(), tmp_path)
    assert files == again
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hall-acl.conf",
        "hall-logins.yaml",
        "passwd",
    ]


@pytest.mark.parametrize("terminal", sample_config().terminals, ids=lambda t: t.id)
@pytest.mark.parametrize("read", ["device_states", "profile_versions"])
def test_the_hubs_own_fleet_reads_are_not_a_terminals(terminal, read: str) -> None:
    """GIVEN the reads the hub's sync makes for the fleet status (device states, pushed
    profile versions) WHEN any terminal login asks for one THEN it is forbidden: the LAN
    allows each role only the reads its screens make."""
    with pytest.raises(wire.Forbidden):
        roles.authorise(terminal, terminal.id, wire.QueryRequest(read, {}))


@pytest.mark.parametrize("channel", ["qr", "kiosk"])
def test_a_window_pc_rates_only_by_its_evaluator_or_its_screen(channel: str) -> None:
    """GIVEN a window PC WHEN it sends a rating claiming the citizen's QR or the kiosk THEN it
    is forbidden (staff could otherwise pass their own rating off as the citizen's)."""
    from agent import commands as c

    window = next(t for t in sample_config().terminals if t.role == "window")
    number = window.windows[0]
    roles.authorise(window, window.id, c.RecordEvaluation(number, 5, channel="evaluator"))
    with pytest.raises(wire.Forbidden):
        roles.authorise(window, window.id, c.RecordEvaluation(number, 5, channel=channel))
