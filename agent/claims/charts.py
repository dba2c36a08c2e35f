"""The month's timeline as a chart: one row per service instance, with the coverage windows (or Heures
Ouvrées for VGA) as a light band, outages (counted in red, not counted in pink), exclusions applied (grey) or
refused (hatched), ticket freezes (blue) and microcuts (ticks), a day grid and a legend.

`timeline_charts` computes the geometry once (`Chart`: marks grouped by kind, in pt, y downwards from the
top); `timeline_drawings` turns it into ReportLab drawings, which the PDFs of both languages place as they
are (the legend is bilingual). Compact on purpose: each kind of mark is one compound path (all the coverage
bands of a chart are one path), the day grid is one path, odd days are labelled; labels are real text in
DejaVu Sans (agent/claims/fonts.py), so their widths, for the left margin, are the font's advance widths.
Site and service names are drawn as given (a ReportLab string is text, never markup).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from reportlab.graphics.shapes import Drawing, Path, String
from reportlab.lib.colors import HexColor

from agent.claims.build import ClaimItem
from agent.claims.fonts import SANS, text_width
from sla.calendars import Clock, HolidayCalendar, epoch, windows
from sla.profiles import Regime

ROWS_PER_CHART = 12
COLOURS = {
    "coverage": "#dbe9f6",
    "counted": "#c0392b",
    "uncounted": "#f1a9a0",
    "excluded": "#7f8c8d",
    "refused": "#bdc3c7",  # hatched: the "hatch" strokes over it
    "freeze": "#2e86c1",
    "microcut": "#e67e22",
    "grid": "#eeeeee",
    "hatch": "#555555",
}
STROKES = {"grid": 0.5, "hatch": 0.8, "microcut": 0.8}  # stroke kinds → line width
# drawing order of the filled boxes (a microcut is a stroke: its box is the legend swatch)
FILLS = ("coverage", "excluded", "refused", "counted", "uncounted", "freeze", "microcut")
LEGEND = (
    ("coverage", "Couverture / coverage"),
    ("counted", "Panne comptée / counted outage"),
    ("uncounted", "Panne non comptée / not counted"),
    ("excluded", "Exclusion appliquée / applied"),
    ("freeze", "Gel GTR / freeze"),
    ("microcut", "Microcoupure / microcut"),
)
PT_PER_IN = 72
LABEL_PT = 7
LEGEND_PT = 6
TITLE_PT = 9
HATCH_PT = 4  # distance between the hatch strokes of a refused exclusion
LABEL_MAX_CHARS = 60  # the chart label only: the tables print the full names
DAY = 86_400.0

NON_ZERO: Literal[1] = 1  # a path's fill rule (ReportLab's FILL_NON_ZERO): boxes that overlap stay filled
Anchor = Literal["start", "middle", "end"]
Box = tuple[float, float, float, float]  # x, y (top), width, height in pt
Segment = tuple[float, float, float, float]  # x0, y0, x1, y1 in pt


@dataclass(frozen=True)
class Label:
    x: float
    y: float  # baseline
    text: str
    size: float
    anchor: Anchor = "start"


@dataclass
class Chart:
    """One chart's marks in pt, y downwards from the top: filled boxes and strokes per kind, the frame of
    the plot area, and the labels."""

    width: float
    height: float
    frame: Box = (0.0, 0.0, 0.0, 0.0)
    boxes: dict[str, list[Box]] = field(default_factory=dict)
    strokes: dict[str, list[Segment]] = field(default_factory=dict)
    labels: list[Label] = field(default_factory=list)

    def box(self, kind: str, x: float, y: float, width: float, height: float) -> None:
        self.boxes.setdefault(kind, []).append((x, y, width, height))

    def stroke(self, kind: str, x0: float, y0: float, x1: float, y1: float) -> None:
        self.strokes.setdefault(kind, []).append((x0, y0, x1, y1))

    def hatch(self, x: float, y: float, width: float, height: float) -> None:
        """Diagonal strokes every HATCH_PT across a box (x + y constant along each), cut to the box."""
        step = HATCH_PT * math.sqrt(2)
        c = math.ceil((x + y) / step) * step
        while c < x + width + y + height:
            xa, xb = max(x, c - y - height), min(x + width, c - y)
            if xb > xa:
                self.stroke("hatch", xa, c - xa, xb, c - xb)
            c += step


def timeline_charts(items: Sequence[ClaimItem], width: float) -> list[Chart]:
    """The charts, `width` pt wide, one per block of up to ROWS_PER_CHART service instances."""
    return [_chart(items[i : i + ROWS_PER_CHART], width) for i in range(0, len(items), ROWS_PER_CHART)]


def timeline_drawings(items: Sequence[ClaimItem], width: float) -> list[Drawing]:
    """The charts as ReportLab drawings (flowables)."""
    return [drawing(chart) for chart in timeline_charts(items, width)]


def _label(item: ClaimItem) -> str:
    text = f"{item.site} · {item.statement.service.id}"
    return text if len(text) <= LABEL_MAX_CHARS else text[: LABEL_MAX_CHARS - 1] + "…"


def _chart(items: Sequence[ClaimItem], width: float) -> Chart:
    month = items[0].statement.month
    m0, m1 = month.start, month.end
    n_days = (m1 - m0) / DAY
    n = len(items)
    labels = [_label(it) for it in reversed(items)]
    chart = Chart(width, (1.3 + 0.45 * n) * PT_PER_IN)
    # Plot area: the left margin fits the widest label (at most half the width).
    left = min(max(text_width(t, SANS, LABEL_PT) for t in labels) + 0.2 * PT_PER_IN, width * 0.5)
    right = width - 0.15 * PT_PER_IN
    top, bottom = 0.3 * PT_PER_IN, chart.height - 0.75 * PT_PER_IN
    sx = (right - left) / n_days  # pt per day
    sy = (bottom - top) / n  # pt per row; row r spans [r - 0.6, r + 0.4], row 0 at the bottom

    def px(day: float) -> float:
        return left + day * sx

    def py(row: float) -> float:
        return bottom - (row + 0.6) * sy

    def mark(kind: str, a: float, b: float, row: float, low: float, high: float) -> None:
        """A box from a to b (epoch seconds) between row + low and row + high."""
        x, y = px((a - m0) / DAY), py(row + high)
        chart.box(kind, x, y, (b - a) / DAY * sx, (high - low) * sy)
        if kind == "refused":
            chart.hatch(x, y, (b - a) / DAY * sx, (high - low) * sy)

    for d in range(1, round(n_days)):  # the day grid, under the marks
        chart.stroke("grid", px(d), py(n - 0.6), px(d), py(-0.6))
    for row, item in enumerate(reversed(items)):
        s = item.statement
        calendar = HolidayCalendar(s.policy.holidays_subdivision, s.policy.extra_closed_days)
        clock = Clock.BUSINESS_HOURS if s.profile.regime is Regime.VGA else Clock.COVERAGE
        for a, b in windows(clock, m0, m1, calendar):
            mark("coverage", a, b, row, -0.4, 0.4)
        for x in s.exclusions:
            a, b = max(epoch(x.exclusion.start), m0), min(epoch(x.exclusion.end), m1)
            if b > a:
                mark("excluded" if x.applied else "refused", a, b, row, -0.4, -0.18)
        for o in s.outages:
            a, b = max(o.start, m0), min(o.end, m1)
            mark("counted" if o.counted else "uncounted", a, max(b, a + 0.02 * DAY), row, -0.15, 0.15)
        for f in item.freezes:
            a, b = max(f.start, m0), min(f.end, m1)
            if b > a:
                mark("freeze", a, b, row, 0.18, 0.4)
        for a, _ in s.microcuts:
            if m0 <= a < m1:
                chart.stroke("microcut", px((a - m0) / DAY), py(row - 0.4), px((a - m0) / DAY), py(row + 0.4))

    chart.frame = (left, top, right - left, bottom - top)
    chart.labels.append(Label(left, top - 5, str(month), TITLE_PT))
    chart.labels += [
        Label(px(d), bottom + 3.5 + LABEL_PT, str(d + 1), LABEL_PT, "middle") for d in range(0, round(n_days), 2)
    ]
    chart.labels += [Label(left - 3.5, py(row) + 0.35 * LABEL_PT, t, LABEL_PT, "end") for row, t in enumerate(labels)]
    # Legend: three columns of two entries, centred under the axes.
    swatch, gap, line = 2 * LEGEND_PT, 0.8 * LEGEND_PT, 1.6 * LEGEND_PT
    columns = [LEGEND[i : i + 2] for i in range(0, len(LEGEND), 2)]
    widths = [swatch + gap + max(text_width(text, SANS, LEGEND_PT) for _, text in c) for c in columns]
    lx = (width - sum(widths) - 2 * LEGEND_PT * (len(columns) - 1)) / 2
    for column, column_width in zip(columns, widths, strict=True):
        for i, (kind, text) in enumerate(column):
            y = chart.height - 0.02 * PT_PER_IN - (len(column) - i) * line
            chart.box(kind, lx, y + 0.15 * LEGEND_PT, swatch, 0.7 * LEGEND_PT)
            chart.labels.append(Label(lx + swatch + gap, y + 0.85 * LEGEND_PT, text, LEGEND_PT))
        lx += column_width + 2 * LEGEND_PT
    return chart


def drawing(chart: Chart) -> Drawing:
    """The chart as a ReportLab drawing: one compound path per kind of box and of stroke, the frame, the
    labels as text (ReportLab's y goes upwards: flipped here)."""
    h = chart.height
    out = Drawing(chart.width, h, initialFontName=SANS, initialFontSize=LABEL_PT)
    out.add(_strokes(chart.strokes.get("grid", []), h, "grid"))  # under the marks
    for kind in FILLS:
        boxes = chart.boxes.get(kind, [])
        if boxes:
            path = Path(fillColor=HexColor(COLOURS[kind]), strokeColor=None, fillMode=NON_ZERO)
            for box in boxes:
                _rectangle(path, box, h)
            out.add(path)
    for kind in ("hatch", "microcut"):
        out.add(_strokes(chart.strokes.get(kind, []), h, kind))
    out.add(_rectangle(Path(fillColor=None, strokeColor=HexColor("#000000"), strokeWidth=0.8), chart.frame, h))
    for label in chart.labels:
        out.add(String(label.x, h - label.y, label.text, fontName=SANS, fontSize=label.size, textAnchor=label.anchor))
    return out


def _rectangle(path: Path, box: Box, h: float) -> Path:
    """Add the box (x, y from the top, width, height) to `path` as a closed subpath; returns `path`."""
    x, y, w, bh = box
    path.moveTo(x, h - y - bh)
    path.lineTo(x + w, h - y - bh)
    path.lineTo(x + w, h - y)
    path.lineTo(x, h - y)
    path.closePath()
    return path


def _strokes(segments: list[Segment], h: float, kind: str) -> Path:
    path = Path(fillColor=None, strokeColor=HexColor(COLOURS[kind]), strokeWidth=STROKES[kind])
    for x0, y0, x1, y1 in segments:
        path.moveTo(x0, h - y0)
        path.lineTo(x1, h - y1)
    return path
