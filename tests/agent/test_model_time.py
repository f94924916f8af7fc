"""iso() must write exactly what datetime.isoformat(timespec="microseconds") writes: event
times are compared as text and parsed back by other nodes and the central platform."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from agent.model import iso

ZONES = [
    None,
    dt.UTC,
    ZoneInfo("Asia/Shanghai"),
    ZoneInfo("America/New_York"),  # DST: the offset changes within a day
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("Europe/Amsterdam"),  # before 1937 an offset with seconds (+00:19:32)
    dt.timezone(-dt.timedelta(hours=9, minutes=30)),
]


@given(st.datetimes(), st.sampled_from(ZONES), st.integers(0, 1))
def test_iso_writes_what_isoformat_writes(moment: dt.datetime, zone, fold: int) -> None:
    moment = moment.replace(tzinfo=zone, fold=fold)
    assert iso(moment) == moment.isoformat(timespec="microseconds")


def test_the_same_moment_twice_and_then_another() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    first = dt.datetime(2026, 6, 1, 9, 0, 0, 7, tzinfo=zone)
    assert iso(first) == iso(first) == "2026-06-01T09:00:00.000007+08:00"
    later = first + dt.timedelta(days=200, hours=15, microseconds=993)
    assert iso(later) == "2026-12-19T00:00:00.001000+08:00"
