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


def test_one_day_in_two_zones_and_across_a_dst_change() -> None:
    """The day table is keyed by date *and* offset: the same date elsewhere, or after the
    clocks changed, must not reuse the other's offset."""
    new_york = ZoneInfo("America/New_York")
    moments = [
        dt.datetime(2026, 3, 8, 1, 59, 59, 999999, tzinfo=new_york),  # EST, -05:00
        dt.datetime(2026, 3, 8, 3, 0, tzinfo=new_york),  # EDT, -04:00, same date
        dt.datetime(2026, 3, 8, 3, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
        dt.datetime(2026, 3, 8, 3, 0),  # naive: no offset at all
        dt.datetime(2026, 11, 1, 1, 30, tzinfo=new_york, fold=0),  # the hour that repeats
        dt.datetime(2026, 11, 1, 1, 30, tzinfo=new_york, fold=1),
    ]
    assert [iso(m) for m in moments] == [
        "2026-03-08T01:59:59.999999-05:00",
        "2026-03-08T03:00:00.000000-04:00",
        "2026-03-08T03:00:00.000000+08:00",
        "2026-03-08T03:00:00.000000",
        "2026-11-01T01:30:00.000000-04:00",
        "2026-11-01T01:30:00.000000-05:00",
    ]
