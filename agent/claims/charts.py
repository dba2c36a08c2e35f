"""The month's timeline as a chart (matplotlib, SVG): one row per service instance, with the coverage
windows (or Heures Ouvrées for VGA) as a light band, outages (counted in red, not counted in pink),
exclusions applied (grey) or refused (hatched), ticket freezes (blue) and microcuts (ticks).

Site and service names are user input: they are drawn with mathtext parsing off (a `$` in a site name must
not become a formula), and matplotlib escapes them as XML text in the SVG.

Compact on purpose (docs/claims.md, "Performance"): the chart is embedded in both PDFs and WeasyPrint draws
an SVG node by node, so each kind of mark is one compound path (all the coverage bands of the chart are
one `<path>`, not 230), the day grid is one path, odd days are labelled and no tick is drawn, and the margins
are computed from the measured label widths instead of `tight_layout` (which draws the figure twice).
No pyplot: a bare `Figure` keeps no global state and needs no closing.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path

from agent.claims.build import ClaimItem
from sla.calendars import Clock, HolidayCalendar, epoch, windows
from sla.profiles import Regime

matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: smaller files, extractable from the PDF
matplotlib.rcParams["svg.hashsalt"] = "vigie"  # stable ids: the same month draws the same bytes
matplotlib.rcParams["font.family"] = "DejaVu Sans"

ROWS_PER_CHART = 12
COLOURS = {
    "coverage": "#dbe9f6",
    "counted": "#c0392b",
    "uncounted": "#f1a9a0",
    "excluded": "#7f8c8d",
    "refused": "#bdc3c7",
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
WIDTH_IN = 7.5
LABEL_PT = 7
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


_MOVE, _LINE, _CLOSE = int(Path.MOVETO), int(Path.LINETO), int(Path.CLOSEPOLY)


def _rect_path(rects: list[tuple[float, float, float, float]]) -> Path:
    vertices: list[tuple[float, float]] = []
    codes: list[int] = []
    for x, w, y, h in rects:
        vertices += [(x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y)]
        codes += [_MOVE, _LINE, _LINE, _LINE, _CLOSE]
    return Path(vertices, codes)


def _line_path(lines: list[tuple[float, float, float, float]]) -> Path:
    vertices: list[tuple[float, float]] = []
    codes: list[int] = []
    for x0, y0, x1, y1 in lines:
        vertices += [(x0, y0), (x1, y1)]
        codes += [_MOVE, _LINE]
    return Path(vertices, codes)


def _label(item: ClaimItem) -> str:
    text = f"{item.site} · {item.statement.service.id}"
    return text if len(text) <= LABEL_MAX_CHARS else text[: LABEL_MAX_CHARS - 1] + "…"


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

    labels = [_label(it) for it in reversed(items)]
    height = 1.3 + 0.45 * len(items)
    fig = Figure(figsize=(WIDTH_IN, height), dpi=72)
    canvas = FigureCanvasAgg(fig)
    # Margins from the labels' measured widths (what tight_layout would find, without drawing twice).
    renderer = canvas.get_renderer()  # type: ignore[no-untyped-call]
    prop = FontProperties(family="DejaVu Sans", size=LABEL_PT)
    widest = max(renderer.get_text_width_height_descent(t, prop, ismath=False)[0] for t in labels) / fig.dpi
    left = min(widest + 0.2, WIDTH_IN * 0.5) / WIDTH_IN
    right = 1 - 0.15 / WIDTH_IN
    bottom = 0.75 / height
    top = 1 - 0.3 / height
    ax = fig.add_axes((left, bottom, right - left, top - bottom))

    # Day grid first (under the marks), as one path.
    ax.add_patch(
        PathPatch(
            _line_path([(d, -0.6, d, len(items) - 0.4) for d in range(1, round(n_days))]),
            edgecolor="#eeeeee",
            linewidth=0.5,
            fill=False,
        )
    )
    for kind in ("coverage", "excluded", "refused", "counted", "uncounted", "freeze"):
        if kind in marks.rects:
            ax.add_patch(
                PathPatch(
                    _rect_path(marks.rects[kind]),
                    facecolor=COLOURS[kind],
                    hatch="///" if kind == "refused" else None,
                    linewidth=0,
                )
            )
    if "microcut" in marks.lines:
        ax.add_patch(
            PathPatch(_line_path(marks.lines["microcut"]), edgecolor=COLOURS["microcut"], linewidth=0.8, fill=False)
        )
    ax.set_xlim(0, n_days)
    ax.set_ylim(-0.6, len(items) - 0.4)
    ax.set_xticks([d + 0.0 for d in range(0, round(n_days), 2)])
    ax.set_xticklabels([str(d + 1) for d in range(0, round(n_days), 2)], fontsize=LABEL_PT)
    ax.set_yticks(list(range(len(items))))
    for label in ax.set_yticklabels(labels, fontsize=LABEL_PT):
        label.set_parse_math(False)
    ax.tick_params(bottom=False, left=False)  # the day grid and the rows place the labels: no tick marks
    ax.set_title(f"{month}", fontsize=9, loc="left")
    fig.legend(
        handles=[Patch(facecolor=COLOURS[k], label=text) for k, text in LEGEND],
        fontsize=6,
        ncol=3,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.02 / height),
        frameon=False,
    )
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    return out.getvalue()
