"""Report charts painted by Qt: bar heights follow the figures; PNG and PDF both written."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage

from ui.charts import TICKETS, buckets, render_chart

pytestmark = pytest.mark.qt


def _row(key: str, tickets: int, served: int, wait: float | None) -> dict:
    return {
        "key": key,
        "tickets": tickets,
        "served": served,
        "wait_avg_min": wait,
        "wait_p90_min": wait,
    }


TOTAL = {
    "tickets": 5,
    "served": 2,
    "no_shows": 1,
    "transfers": 1,
    "wait_avg_min": 6.75,
    "service_avg_min": 8.0,
    "good_rate_pct": 50.0,
    "bad": 1,
    "ratings": 2,
    **{f"rating_{level}": int(level in (2, 5)) for level in range(1, 6)},
}


def _report(rows: list[dict], by: str = "hour", first: str = "2026-06-01", last: str = "") -> dict:
    return {
        "hall_id": "demo-town",
        "from": first,
        "to": last or first,
        "by": by,
        "rows": rows,
        "total": TOTAL,
    }


def _bar_height(image: QImage, x: int) -> int:
    colour = TICKETS.rgb()
    return sum(1 for y in range(image.height()) if image.pixel(x, y) == colour)


def _bar_columns(image: QImage) -> list[int]:
    """x of the middle of each run of columns holding the tickets colour (the bars)."""
    colour, row = TICKETS.rgb(), image.height() - 140  # just above the x axis
    xs = [x for x in range(image.width() // 3 * 2) if image.pixel(x, row) == colour]
    runs: list[list[int]] = []
    for x in xs:
        if runs and x == runs[-1][-1] + 1:
            runs[-1].append(x)
        else:
            runs.append([x])
    return [run[len(run) // 2] for run in runs if len(run) > 20]


def test_bar_heights_follow_the_tickets_per_hour(qapp, tmp_path: Path) -> None:
    report = _report([_row("09:00", 3, 2, 6.0), _row("11:00", 2, 0, None)])
    path = tmp_path / "day.png"
    render_chart(report, path, "en")
    image = QImage(str(path))
    assert (image.width(), image.height()) == (1600, 1000)
    columns = _bar_columns(image)
    assert len(columns) == 2  # 09:00 and 11:00; the empty 10:00 has no bar
    first, second = (_bar_height(image, x) for x in columns)
    assert first / second == pytest.approx(3 / 2, rel=0.04)
    assert columns[1] - columns[0] > 2 * (image.width() // 3 * 2) // 4  # 10:00 kept between


def test_every_hour_between_and_every_day_of_the_period_is_a_bucket() -> None:
    hours = buckets(_report([_row("09:00", 1, 0, 1.0), _row("12:00", 1, 0, 1.0)]))
    assert [key for key, _ in hours] == ["09:00", "10:00", "11:00", "12:00"]
    assert hours[1][1] is None
    days = buckets(_report([_row("2026-06-02", 1, 1, 2.0)], "day", "2026-05-30", "2026-06-02"))
    assert [key for key, _ in days] == ["2026-05-30", "2026-05-31", "2026-06-01", "2026-06-02"]


def test_pdf_and_chinese_png(qapp, tmp_path: Path) -> None:
    report = _report([_row("2026-06-01", 4, 3, 5.0)], "day")
    render_chart(report, tmp_path / "r.pdf", "zh_CN")
    data = (tmp_path / "r.pdf").read_bytes()
    assert data.startswith(b"%PDF") and b"/Type /Page" in data
    render_chart(report, tmp_path / "r.png", "zh_CN")
    image = QImage(str(tmp_path / "r.png"))
    assert _bar_columns(image) and image.pixelColor(5, 5) == QColor("white")
