"""Commands over the hall LAN: round trips, and refusals that change nothing."""

from __future__ import annotations

import pytest

from agent import commands as c
from agent.codec import BadCommand, decode_command, encode_command

ROUND_TRIPS = [
    c.IssueTicket("household", citizen=c.Citizen("h", "张*", elderly=True), channel="idcard"),
    c.IssueTicket("household", staff_priority=True),
    c.IssueTicket("", bundle="newborn"),
    c.CheckIn("APT-20260601-00001"),
    c.CallNext(2),
    c.Recall(2),
    c.Transfer(1, "civil-affairs"),
    c.MarkAssisted(2, "proxy", "S-0042"),
    c.Reactivate("A012"),
    c.RecordEvaluation(3, 4),
    c.DeviceStatusChanged("kiosk-printer", "fault", "paper_out"),
]


@pytest.mark.parametrize("command", ROUND_TRIPS, ids=lambda cmd: type(cmd).__name__)
def test_terminal_commands_round_trip(command: c.Command) -> None:
    assert decode_command(encode_command(command)) == command


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{", "not JSON"),
        (
            b'{"type": "IssueTicket", "args": {"service": "a", "citizen": {"citizen_hash": "h",'
            b' "birth_date": "1950-01-02"}}}',
            "birth_date: Unexpected",
        ),
        (b"\xff\xfe", "not JSON"),
        (b"[1]", "must be"),
        (b'{"type": "CallNext"}', "must be"),
        (b'{"type": "ApplyHallConfig", "args": {}}', "not a terminal command"),
        (b'{"type": "Tick", "args": {}}', "not a terminal command"),
        (b'{"type": "ApplyCalendar", "args": {}}', "not a terminal command"),
        (b'{"type": "CallNext", "args": {"window": 1, "extra": 2}}', "extra: Unexpected"),
        (b'{"type": "CallNext", "args": {"window": "one"}}', "window: Input should be"),
        (
            b'{"type": "IssueTicket", "args": {"service": "a", "appointment": {"code": "x",'
            b' "slot_start": "2026-06-01T09:00:00+08:00", "slot_end": "2026-06-01T09:30:00+08:00"'
            b"}}}",
            "CheckIn",
        ),
        (b'{"type": "CallNext", "args": {"window": 1}}' + b" " * 5000, "limit"),
    ],
)
def test_malformed_or_forbidden_commands_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(BadCommand, match=reason):
        decode_command(data)


def test_central_only_commands_cannot_be_encoded_for_a_terminal() -> None:
    with pytest.raises(BadCommand):
        encode_command(c.PublishNotice("n1", "通知"))
