"""Report charts for hall managers, painted by Qt into a PNG (QImage) or a PDF (QPdfWriter).

``hall-agent report --chart FILE`` hands this module a report as plain data
(``agent.reports.Report.as_dict()``, grouped by hour or by day); everything is drawn on a
1600 × 1000 logical page, scaled to the PDF page, so both files look the same.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QMarginsF, QPointF, QRectF, Qt, QTranslator
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPainterPath,
    QPdfWriter,
    QPen,
)

from ui.fonts import cjk_family
from ui.i18n import I18N_DIR
from ui.messages import fill, score_text

WIDTH, HEIGHT = 1600, 1000
translate = QCoreApplication.translate
TICKETS = QColor("#4a78b5")
SERVED = QColor("#9cc0e6")
WAIT = QColor("#d9822b")
GOOD, BAD = QColor("#3f9c5a"), QColor("#c9423a")
INK, GRID, MUTED = QColor("#222222"), QColor("#dddddd"), QColor("#666666")
LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
CENTRE = int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
WRAP_BOTTOM = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom) | int(
    Qt.TextFlag.TextWordWrap
)


def render_chart(report: dict[str, Any], path: Path, language: str = "zh_CN") -> None:
    """Draw ``report`` to ``path`` (.png or .pdf)."""
    if QGuiApplication.instance() is None and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QGuiApplication.instance() or QGuiApplication([])
    translator = QTranslator()  # for this drawing only; a running UI keeps its own language
    if language != "en" and translator.load(str(I18N_DIR / f"{language}.qm")):
        QCoreApplication.installTranslator(translator)
    try:
        _render(report, path, cjk_family() or QFont().family())
    finally:
        QCoreApplication.removeTranslator(translator)
    del app


def _render(report: dict[str, Any], path: Path, family: str) -> None:
    if path.suffix.lower() == ".pdf":
        writer = QPdfWriter(str(path))
        writer.setPageLayout(
            QPageLayout(
                QPageSize(QPageSize.PageSizeId.A4),
                QPageLayout.Orientation.Landscape,
                QMarginsF(10, 10, 10, 10),
            )
        )
        writer.setResolution(150)
        writer.setTitle(_title(report))
        painter = QPainter(writer)
        page = writer.pageLayout().paintRectPixels(writer.resolution())
        scale = min(page.width() / WIDTH, page.height() / HEIGHT)
        painter.scale(scale, scale)
        ChartPainter(painter, family).paint(report)
        painter.end()
    else:
        image = QImage(WIDTH, HEIGHT, QImage.Format.Format_ARGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        ChartPainter(painter, family).paint(report)
        painter.end()
        if not image.save(str(path)):
            raise OSError(f"cannot write {path}")


def _title(report: dict[str, Any]) -> str:
    period = (
        report["from"] if report["from"] == report["to"] else f"{report['from']} – {report['to']}"
    )
    return fill(
        translate("ReportChart", "{hall}: queue and ratings, {period}"),
        hall=report["hall_id"],
        period=period,
    )


def buckets(report: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    """Every hour between the first and the last one with figures, or every day of the
    period, in order; a bucket with nothing has None."""
    rows = {row["key"]: row for row in report["rows"]}
    if report["by"] == "hour":
        hours = [int(key[:2]) for key in rows] or [9]
        keys = [f"{h:02d}:00" for h in range(min(hours), max(hours) + 1)]
    else:
        first, last = dt.date.fromisoformat(report["from"]), dt.date.fromisoformat(report["to"])
        keys = [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    return [(key, rows.get(key)) for key in keys]


class ChartPainter:
    def __init__(self, painter: QPainter, family: str) -> None:
        self.p = painter
        self.family = family
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)

    def font(self, pixels: int, bold: bool = False) -> QFont:
        font = QFont(self.family)
        font.setPixelSize(pixels)
        font.setBold(bold)
        return font

    def text(
        self,
        rect: QRectF,
        text: str,
        pixels: int = 22,
        flags: int = LEFT,
        color: QColor = INK,
        bold: bool = False,
    ) -> None:
        self.p.setFont(self.font(pixels, bold))
        self.p.setPen(color)
        self.p.drawText(rect, flags, text)

    def paint(self, report: dict[str, Any]) -> None:
        self.text(QRectF(40, 20, 1520, 60), _title(report), 36, bold=True)
        self.summary(QRectF(40, 84, 1520, 40), report["total"])
        self.volume_and_waits(QRectF(40, 140, 1040, 820), report)
        self.ratings(QRectF(1120, 140, 440, 820), report["total"])

    def summary(self, rect: QRectF, total: dict[str, Any]) -> None:
        line = fill(
            translate(
                "ReportChart",
                "Tickets {tickets} · served {served} · no-shows {no_shows} · "
                "transfers {transfers} · average wait {wait} min · average service {service} min",
            ),
            tickets=total["tickets"],
            served=total["served"],
            no_shows=total["no_shows"],
            transfers=total["transfers"],
            wait=_number(total["wait_avg_min"]),
            service=_number(total["service_avg_min"]),
        )
        self.text(rect, line, 24, color=MUTED)

    def volume_and_waits(self, rect: QRectF, report: dict[str, Any]) -> None:
        heading = (
            translate("ReportChart", "Tickets and waits per hour")
            if report["by"] == "hour"
            else translate("ReportChart", "Tickets and waits per day")
        )
        self.text(QRectF(rect.left(), rect.top(), rect.width(), 40), heading, 28, bold=True)
        self.legend(rect.left(), rect.top() + 48)
        plot = QRectF(rect.left() + 70, rect.top() + 150, rect.width() - 150, rect.height() - 230)
        data = buckets(report)
        counts = [max(row["tickets"], row["served"]) if row else 0 for _, row in data]
        waits = [row["wait_p90_min"] or 0 for _, row in data if row]
        top_count = _nice_top(max(counts, default=0))
        top_wait = _nice_top(max(waits, default=0))
        self.axes(plot, top_count, top_wait)
        slot = plot.width() / max(1, len(data))
        bar = slot * 0.36
        average = QPainterPath()
        tail = QPainterPath()
        label_every = max(1, math.ceil(len(data) / 16))
        for i, (key, row) in enumerate(data):
            left = plot.left() + i * slot + slot * 0.12
            if row:
                for j, (value, color) in enumerate(
                    ((row["tickets"], TICKETS), (row["served"], SERVED))
                ):
                    height = plot.height() * value / top_count
                    box = QRectF(left + j * bar, plot.bottom() - height, bar, height)
                    self.p.fillRect(box, color)
                centre = plot.left() + (i + 0.5) * slot
                for path, value in ((average, row["wait_avg_min"]), (tail, row["wait_p90_min"])):
                    if value is None:
                        continue
                    point = QPointF(centre, plot.bottom() - plot.height() * value / top_wait)
                    if path.elementCount() == 0:
                        path.moveTo(point)
                    else:
                        path.lineTo(point)
                    self.p.setBrush(WAIT)
                    self.p.setPen(Qt.PenStyle.NoPen)
                    self.p.drawEllipse(point, 5, 5)
            if i % label_every == 0:
                label = key if report["by"] == "hour" else key[5:]
                box = QRectF(plot.left() + i * slot, plot.bottom() + 8, slot * label_every, 30)
                self.text(box, label, 20, CENTRE, MUTED)
        caption = translate(
            "ReportChart",
            "Tickets and waits count when the ticket was taken; served, when service finished.",
        )
        self.text(
            QRectF(plot.left(), plot.bottom() + 44, plot.width(), 30), caption, 20, LEFT, MUTED
        )
        self.p.setBrush(Qt.BrushStyle.NoBrush)
        self.p.setPen(QPen(WAIT, 4))
        self.p.drawPath(average)
        self.p.setPen(QPen(WAIT, 3, Qt.PenStyle.DashLine))
        self.p.drawPath(tail)

    def legend(self, x: float, y: float) -> None:
        items = (
            (TICKETS, translate("ReportChart", "tickets"), False),
            (SERVED, translate("ReportChart", "served"), False),
            (WAIT, translate("ReportChart", "average wait (min)"), False),
            (WAIT, translate("ReportChart", "90% waited less than (min)"), True),
        )
        for color, label, dashed in items:
            if color is WAIT:
                self.p.setPen(
                    QPen(color, 4, Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
                )
                self.p.drawLine(QPointF(x, y + 20), QPointF(x + 36, y + 20))
            else:
                self.p.fillRect(QRectF(x + 8, y + 8, 24, 24), color)
            width = QFontMetricsF(self.font(22)).horizontalAdvance(label) + 36
            self.text(QRectF(x + 44, y, width, 40), label, 22)
            x += 44 + width

    def axes(self, plot: QRectF, top_count: float, top_wait: float) -> None:
        steps = 5
        for k in range(steps + 1):
            y = plot.bottom() - plot.height() * k / steps
            self.p.setPen(QPen(GRID, 1))
            self.p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            left = QRectF(plot.left() - 70, y - 15, 60, 30)
            right = QRectF(plot.right() + 10, y - 15, 70, 30)
            self.text(left, _number(top_count * k / steps), 20, RIGHT, TICKETS)
            self.text(right, _number(top_wait * k / steps), 20, LEFT, WAIT)
        self.p.setPen(QPen(INK, 2))
        self.p.drawLine(plot.bottomLeft(), plot.bottomRight())
        self.text(
            QRectF(plot.left() - 70, plot.top() - 44, 300, 30),
            translate("ReportChart", "tickets"),
            20,
            color=TICKETS,
        )
        self.text(
            QRectF(plot.right() - 230, plot.top() - 44, 310, 30),
            translate("ReportChart", "wait (min)"),
            20,
            RIGHT,
            WAIT,
        )

    def ratings(self, rect: QRectF, total: dict[str, Any]) -> None:
        self.text(
            QRectF(rect.left(), rect.top(), rect.width(), 40),
            translate("ReportChart", "Ratings"),
            28,
            bold=True,
        )
        rate = total["good_rate_pct"]
        headline = fill(
            translate("ReportChart", "Good {rate} · bad {bad} of {count}"),
            rate="-" if rate is None else f"{rate:.1f}%",
            bad=total["bad"],
            count=total["ratings"],
        )
        self.text(QRectF(rect.left(), rect.top() + 48, rect.width(), 40), headline, 24)
        counts = {level: total[f"rating_{level}"] for level in (5, 4, 3, 2, 1)}
        top = max(max(counts.values()), 1)
        row_height = 110
        for i, (level, count) in enumerate(counts.items()):
            y = rect.top() + 120 + i * row_height
            self.text(QRectF(rect.left(), y, rect.width(), 34), score_text(level), 24)
            width = (rect.width() - 90) * count / top
            self.p.fillRect(QRectF(rect.left(), y + 40, width, 40), GOOD if level >= 3 else BAD)
            self.text(QRectF(rect.left() + width + 10, y + 40, 80, 40), str(count), 24, bold=True)
        note = translate("ReportChart", "Good = levels 3–5 of all ratings; bad = levels 1–2.")
        self.text(
            QRectF(rect.left(), rect.bottom() - 120, rect.width(), 90),
            note,
            20,
            WRAP_BOTTOM,
            MUTED,
        )


def _nice_top(value: float) -> float:
    """The next round number at or above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if float(value).is_integer() or value >= 10 else f"{value:.1f}"
