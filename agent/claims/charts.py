"""The month's timeline as a chart (SVG): one row per service instance, with the coverage windows (or
Heures Ouvrées for VGA) as a light band, outages (counted in red, not counted in pink), exclusions applied
(grey) or refused (hatched), ticket freezes (blue) and microcuts (ticks), a day grid and a legend.

The SVG is written here, element by element, not drawn with a plotting library: it is a handful of
rectangles, lines and labels, and writing them costs ~1 ms where matplotlib took ~60 ms per claim and ~30 MB
per process (docs/claims.md, "Performance"). Compact on purpose: WeasyPrint draws an SVG node by node, so
each kind of mark is one compound `<path>` (all the coverage bands of a chart are one path), the day grid
is one path, and odd days are labelled.

Site and service names are user input: every text goes through `xml.sax.saxutils.escape` (an SVG is XML),
so a `<` or `&` in a name is drawn as such. Label widths, for the left margin, come from the advance widths
of the DejaVu Sans font WeasyPrint draws them with (fontconfig's file, read with fontTools, once per process).
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from fontTools.ttLib import TTFont

from agent.claims.build import ClaimItem
from sla.calendars import Clock, HolidayCalendar, epoch, windows
from sla.profiles import Regime

ROWS_PER_CHART = 12
FONT = "DejaVu Sans"
COLOURS = {
    "coverage": "#dbe9f6",
    "counted": "#c0392b",
    "uncounted": "#f1a9a0",
    "excluded": "#7f8c8d",
    "refused": "url(#refused)",  # #bdc3c7, hatched: the <pattern> in _chart
    "freeze": "#2e86c1",
    "microcut": "#e67e22",
}
LEGEND = (
    ("coverage", "Couverture / coverage"),
    ("counted", "Panne comptée / counted outage"),
    ("uncounted", "Panne non comptée / not counted"),
    ("excluded", "Exclusion appliquée / applied"),
    ("freeze", "Gel GTR / freeze"),
    ("microcut", "Microcoupure / microcut"),
)
PT_PER_IN = 72
WIDTH = 7.5 * PT_PER_IN  # pt
LABEL_PT = 7
LEGEND_PT = 6
LABEL_MAX_CHARS = 60  # the chart label only: the tables print the full names
DAY = 86_400.0


def timeline_svgs(items: Sequence[ClaimItem]) -> list[str]:
    """SVG documents, one per block of up to ROWS_PER_CHART service instances."""
    return [_chart(items[i : i + ROWS_PER_CHART]) for i in range(0, len(items), ROWS_PER_CHART)]


class _Marks:
    """Rectangles and strokes grouped by style, each group drawn as a single compound path."""

    def __init__(self) -> None:
        self.rects: dict[str, list[tuple[float, float, float, float]]] = {}
        self.lines: dict[str, list[tuple[float, float, float, float]]] = {}

    def rect(self, kind: str, x: float, width: float, y: float, height: float) -> None:
        self.rects.setdefault(kind, []).append((x, width, y, height))

    def line(self, kind: str, x0: float, y0: float, x1: float, y1: float) -> None:
        self.lines.setdefault(kind, []).append((x0, y0, x1, y1))


@functools.cache
def _advances() -> tuple[dict[int, int], int, float]:
    """DejaVu Sans as fontconfig resolves it for WeasyPrint: advance width per code point, the default
    (`.notdef`) one, and the font's units per em."""
    path = subprocess.run(
        ["fc-match", "--format=%{file}", FONT], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    font = TTFont(path, lazy=True)
    metrics = font["hmtx"].metrics
    advances = {code: metrics[glyph][0] for code, glyph in font.getBestCmap().items()}
    return advances, metrics[".notdef"][0], float(font["head"].unitsPerEm)


def text_width(text: str, size: float) -> float:
    """The width in pt of `text` set in DejaVu Sans at `size` pt (advance widths, no kerning)."""
    advances, notdef, units = _advances()
    return sum(advances.get(ord(ch), notdef) for ch in text) * size / units


def _label(item: ClaimItem) -> str:
    text = f"{item.site} · {item.statement.service.id}"
    return text if len(text) <= LABEL_MAX_CHARS else text[: LABEL_MAX_CHARS - 1] + "…"


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, text: str, size: float, anchor: str = "start") -> str:
    return f'<text x="{_num(x)}" y="{_num(y)}" font-size="{_num(size)}" text-anchor="{anchor}">{escape(text)}</text>'


def _chart(items: Sequence[ClaimItem]) -> str:
    month = items[0].statement.month
    m0, m1 = month.start, month.end
    n_days = (m1 - m0) / DAY
    marks = _Marks()
    for row, item in enumerate(reversed(items)):
        s = item.statement
        y = float(row)
        calendar = HolidayCalendar(s.policy.holidays_subdivision, s.policy.extra_closed_days)
        clock = Clock.BUSINESS_HOURS if s.profile.regime is Regime.VGA else Clock.COVERAGE
        for a, b in windows(clock, m0, m1, calendar):
            marks.rect("coverage", (a - m0) / DAY, (b - a) / DAY, y - 0.4, 0.8)
        for x in s.exclusions:
            a, b = max(epoch(x.exclusion.start), m0), min(epoch(x.exclusion.end), m1)
            if b > a:
                marks.rect("excluded" if x.applied else "refused", (a - m0) / DAY, (b - a) / DAY, y - 0.4, 0.22)
        for o in s.outages:
            a, b = max(o.start, m0), min(o.end, m1)
            kind = "counted" if o.counted else "uncounted"
            marks.rect(kind, (a - m0) / DAY, max((b - a) / DAY, 0.02), y - 0.15, 0.3)
        for f in item.freezes:
            a, b = max(f.start, m0), min(f.end, m1)
            if b > a:
                marks.rect("freeze", (a - m0) / DAY, (b - a) / DAY, y + 0.18, 0.22)
        for a, _ in s.microcuts:
            if m0 <= a < m1:
                marks.line("microcut", (a - m0) / DAY, y - 0.4, (a - m0) / DAY, y + 0.4)

    n = len(items)
    labels = [_label(it) for it in reversed(items)]
    height = (1.3 + 0.45 * n) * PT_PER_IN
    # Plot area: the left margin fits the widest label (at most half the width).
    left = min(max(text_width(t, LABEL_PT) for t in labels) + 0.2 * PT_PER_IN, WIDTH * 0.5)
    right = WIDTH - 0.15 * PT_PER_IN
    top, bottom = 0.3 * PT_PER_IN, height - 0.75 * PT_PER_IN
    sx = (right - left) / n_days  # pt per day
    sy = (bottom - top) / n  # pt per row; rows span [-0.6, n - 0.4], row 0 at the bottom

    def px(day: float) -> float:
        return left + day * sx

    def py(row: float) -> float:
        return bottom - (row + 0.6) * sy

    def rect_path(rects: list[tuple[float, float, float, float]]) -> str:
        return "".join(
            f"M{_num(px(x))} {_num(py(y + h))}h{_num(w * sx)}v{_num(h * sy)}h{_num(-w * sx)}z" for x, w, y, h in rects
        )

    def line_path(lines: list[tuple[float, float, float, float]]) -> str:
        return "".join(f"M{_num(px(x0))} {_num(py(y0))}L{_num(px(x1))} {_num(py(y1))}" for x0, y0, x1, y1 in lines)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(WIDTH)}pt" height="{_num(height)}pt" '
        f'viewBox="0 0 {_num(WIDTH)} {_num(height)}" font-family={quoteattr(FONT)} fill="#000">',
        '<defs><pattern id="refused" width="4" height="4" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="4" height="4" fill="#bdc3c7"/>'
        '<path d="M0 0V4" stroke="#555" stroke-width="0.8"/></pattern></defs>',
        # the day grid first, under the marks
        f'<path d="{line_path([(d, -0.6, d, n - 0.4) for d in range(1, round(n_days))])}" '
        'stroke="#eeeeee" stroke-width="0.5" fill="none"/>',
    ]
    for kind in ("coverage", "excluded", "refused", "counted", "uncounted", "freeze"):
        if kind in marks.rects:
            out.append(f'<path d="{rect_path(marks.rects[kind])}" fill="{COLOURS[kind]}"/>')
    if "microcut" in marks.lines:
        out.append(
            f'<path d="{line_path(marks.lines["microcut"])}" stroke="{COLOURS["microcut"]}" '
            'stroke-width="0.8" fill="none"/>'
        )
    out.append(
        f'<rect x="{_num(left)}" y="{_num(top)}" width="{_num(right - left)}" height="{_num(bottom - top)}" '
        'fill="none" stroke="#000" stroke-width="0.8"/>'
    )
    out.append(_text(left, top - 5, str(month), 9))
    out += [_text(px(d), bottom + 3.5 + LABEL_PT, str(d + 1), LABEL_PT, "middle") for d in range(0, round(n_days), 2)]
    out += [_text(left - 3.5, py(row) + 0.35 * LABEL_PT, label, LABEL_PT, "end") for row, label in enumerate(labels)]
    # Legend: three columns of two entries, centred under the axes.
    swatch, gap, line = 2 * LEGEND_PT, 0.8 * LEGEND_PT, 1.6 * LEGEND_PT
    columns = [LEGEND[i : i + 2] for i in range(0, len(LEGEND), 2)]
    widths = [swatch + gap + max(text_width(text, LEGEND_PT) for _, text in c) for c in columns]
    lx = (WIDTH - sum(widths) - 2 * LEGEND_PT * (len(columns) - 1)) / 2
    for column, width in zip(columns, widths, strict=True):
        for i, (kind, text) in enumerate(column):
            y = height - 0.02 * PT_PER_IN - (len(column) - i) * line
            out.append(
                f'<rect x="{_num(lx)}" y="{_num(y + 0.15 * LEGEND_PT)}" width="{_num(swatch)}" '
                f'height="{_num(0.7 * LEGEND_PT)}" fill="{COLOURS[kind]}"/>'
            )
            out.append(_text(lx + swatch + gap, y + 0.85 * LEGEND_PT, text, LEGEND_PT))
        lx += width + 2 * LEGEND_PT
    out.append("</svg>")
    return "".join(out)
