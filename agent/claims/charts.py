"""The month's timeline as a chart (matplotlib, SVG): one row per service instance, with the coverage
windows (or Heures Ouvrées for VGA) as a light band, outages (counted in red, not counted in pink),
exclusions applied (grey) or refused (hatched), ticket freezes (blue) and microcuts (ticks).

Site and service names are user input: they are drawn with mathtext parsing off (a `$` in a site name must
not become a formula), and matplotlib escapes them as XML text in the SVG.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.patches import Patch

from agent.claims.build import ClaimItem
from sla.calendars import Clock, HolidayCalendar, epoch, windows
from sla.profiles import Regime

plt.rcParams["svg.fonttype"] = "none"  # text stays text: smaller files, extractable from the PDF
plt.rcParams["svg.hashsalt"] = "vigie"  # stable ids: the same month draws the same bytes
plt.rcParams["font.family"] = "DejaVu Sans"

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


def timeline_svgs(items: Sequence[ClaimItem]) -> list[str]:
    """SVG documents, one per block of up to ROWS_PER_CHART service instances."""
    return [_chart(items[i : i + ROWS_PER_CHART]) for i in range(0, len(items), ROWS_PER_CHART)]


def _chart(items: Sequence[ClaimItem]) -> str:
    month = items[0].statement.month
    m0, m1 = month.start, month.end
    day = 86_400.0
    height = 1.3 + 0.45 * len(items)
    fig, ax = plt.subplots(figsize=(7.5, height), dpi=72)
    try:
        for row, item in enumerate(reversed(items)):
            s = item.statement
            y = row
            calendar = HolidayCalendar(s.policy.holidays_subdivision, s.policy.extra_closed_days)
            clock = Clock.BUSINESS_HOURS if s.profile.regime is Regime.VGA else Clock.COVERAGE
            bands = [((a - m0) / day, (b - a) / day) for a, b in windows(clock, m0, m1, calendar)]
            ax.broken_barh(bands, (y - 0.4, 0.8), facecolors=COLOURS["coverage"], linewidth=0)
            for x in s.exclusions:
                a, b = max(epoch(x.exclusion.start), m0), min(epoch(x.exclusion.end), m1)
                if b > a:
                    ax.broken_barh(
                        [((a - m0) / day, (b - a) / day)],
                        (y - 0.4, 0.22),
                        facecolors=COLOURS["excluded" if x.applied else "refused"],
                        hatch=None if x.applied else "///",
                        linewidth=0,
                    )
            for o in s.outages:
                a, b = max(o.start, m0), min(o.end, m1)
                colour = COLOURS["counted" if o.counted else "uncounted"]
                ax.broken_barh([((a - m0) / day, max((b - a) / day, 0.02))], (y - 0.15, 0.3), facecolors=colour)
            for f in item.freezes:
                a, b = max(f.start, m0), min(f.end, m1)
                if b > a:
                    ax.broken_barh([((a - m0) / day, (b - a) / day)], (y + 0.18, 0.22), facecolors=COLOURS["freeze"])
            for a, _ in s.microcuts:
                if m0 <= a < m1:
                    ax.plot([(a - m0) / day] * 2, [y - 0.4, y + 0.4], color=COLOURS["microcut"], linewidth=0.8)
        ax.set_xlim(0, (m1 - m0) / day)
        ax.set_ylim(-0.6, len(items) - 0.4)
        days = range(0, round((m1 - m0) / day) + 1, 1)
        ax.set_xticks(list(days))
        ax.set_xticklabels([str(d + 1) if d % 2 == 0 else "" for d in days], fontsize=7)
        ax.set_yticks(list(range(len(items))))
        labels = ax.set_yticklabels([f"{it.site} · {it.statement.service.id}" for it in reversed(items)], fontsize=7)
        for label in labels:
            label.set_parse_math(False)
        ax.grid(axis="x", color="#eeeeee", linewidth=0.5)
        ax.set_axisbelow(True)
        ax.set_title(f"{month}", fontsize=9, loc="left")
        ax.legend(
            handles=[Patch(facecolor=COLOURS[k], label=text) for k, text in LEGEND],
            fontsize=6,
            ncol=3,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12 - 0.5 / height),
            frameon=False,
        )
        fig.tight_layout()
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
        return out.getvalue()
    finally:
        plt.close(fig)
