"""A claim as files: PDF letter + annex in French (the contract's language) and English, JSON and CSV.

The PDFs are laid out with ReportLab's platypus: paragraphs, tables (header row repeated on each page) and
the timeline chart as a drawing (agent/claims/charts.py), in DejaVu Sans (agent/claims/fonts.py). Every
user-supplied string (client, site and service names, references, notes, causes, evidence paths) placed in
a Paragraph goes through `xml.sax.saxutils.escape`, so a `<b>` or `&` in it prints as such; a table cell
that fits on one line is a plain string, never markup; the page header and footer are drawn as text.

Rendering cost (docs/claims.md, "Performance"): the fonts are registered and the styles built once per
process; a table cell is a wrapping Paragraph only when its text does not fit on one line; the chart is
drawn once per claim for both languages.
"""

from __future__ import annotations

import csv
import functools
import gc
import io
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, String
from reportlab.lib.colors import HexColor
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    HRFlowable,
    PageBreak,
    PageTemplate,
    Paragraph,
    Table,
)

from agent.claims import fonts
from agent.claims.build import Claim, claim_document
from agent.claims.charts import timeline_drawings
from agent.claims.fonts import BOLD, MONO, SANS, text_width

MONTHS = {
    "fr": [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
}

STRINGS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Demande de pénalités SLA",
        "dated": "Le",
        "object_claim": "Objet : demande de versement des pénalités au titre des niveaux de service (SLA)",
        "object_statement": "Objet : relevé mensuel des niveaux de service (SLA)",
        "salutation": "Madame, Monsieur,",
        "claim_body": (
            "Conformément aux Conditions Particulières de nos services (niveaux de service, article 4.1 et "
            "équivalents), nous vous demandons le versement des pénalités forfaitaires relatives au mois de "
            "{month}, dans le délai de trente (30) Jours suivant ce mois. Le détail par site et par service, "
            "établi à partir de nos mesures, figure en annexe."
        ),
        "vga_body": (
            "Pour le Service de Téléphonie VGA (article 5.6), le montant des pénalités est à déduire de la "
            "prochaine facture du Service."
        ),
        "met_body": (
            "Les objectifs de niveau de service ont été atteints pour ce mois : aucune pénalité n'est demandée. "
            "Les mesures figurent en annexe."
        ),
        "void_body": (
            "Le délai contractuel de réclamation ({deadline}) est dépassé : toute demande de pénalités effectuée "
            "après ce délai est nulle et non avenue (article 4.1). Document conservé pour mémoire."
        ),
        "site": "Site",
        "service": "Service",
        "contract": "Contrat",
        "availability": "Disponibilité",
        "tier": "Palier",
        "gtr": "Pénalités GTR",
        "total_pct": "Total",
        "capped": "plafonné",
        "amount": "Montant",
        "void": "forclos",
        "total": "Montant total demandé :",
        "excl_vat": "HT",
        "deadline": "Date limite contractuelle d'envoi : {deadline} ; à envoyer de préférence avant le {alert}.",
        "digest_intro": (
            "Empreinte des données de l'annexe (permet de vérifier ultérieurement chaque chiffre, CGV art. 22) :"
        ),
        "closing": "Nous vous prions d'agréer, Madame, Monsieur, l'expression de nos salutations distinguées.",
        "generated": "Document établi par Vigie le {today}.",
        "annex": "Annexe",
        "timeline": "Chronologie du mois",
        "colon": "\u00a0: ",
        "clipped": " […] (texte complet dans l'annexe CSV et JSON)",
        "availability_per_service": "Disponibilité par site et service",
        "contracts_and_policy": "Contrats, règles appliquées et enregistrements",
        "article": "article",
        "version": "version",
        "fee": "redevance mensuelle",
        "net": "Disponibilité nette",
        "gross": "Brute (sans exclusion)",
        "all_hours": "24 h/24",
        "coverage_only": "Couverture seule",
        "measured": "Mesurée",
        "objective": "Objectif",
        "met": "atteint",
        "missed": "non atteint",
        "counted_min": "Minutes comptées",
        "excluded_min": "Minutes exclues",
        "tickets": "Tickets (GTR)",
        "ticket": "Ticket",
        "provider_ref": "Réf. Prestataire",
        "clock": "Horloge",
        "business_hours": "heures ouvrées",
        "wall_clock": "24 h/24",
        "coverage": "couverture",
        "target": "Objectif",
        "start": "Début",
        "stop": "Fin",
        "end": "Fin",
        "elapsed": "Durée",
        "frozen": "Gel",
        "penalty": "Pénalité",
        "flags": "Indicateurs",
        "outages": "Interruptions",
        "minutes_window": "Minutes dans la fenêtre",
        "counted": "Comptée",
        "cause": "Cause",
        "evidence": "Preuve",
        "yes": "oui",
        "no": "non",
        "no_unnotified": "non (non notifiée)",
        "no_outage": "Aucune interruption mesurée.",
        "exclusions": "Exclusions et événements excusables",
        "applied": "Appliquée",
        "note": "Note",
        "findings": "Constats",
        "finding": "Constat",
        "record": "Enregistrement",
        "recorded_period": "Période enregistrée",
        "measured_outage": "Interruption mesurée",
        "maintenance_outside_window": (
            "Interruption hors de la fenêtre de maintenance annoncée (la partie hors fenêtre est comptée)"
        ),
        "restored_while_down": "Rétablissement notifié alors que le service était encore interrompu",
        "restored_late": "Rétablissement notifié longtemps après le retour du service",
        "ticket_without_outage": "Ticket sans interruption mesurée autour de lui",
        "exclusion_without_outage": "Exclusion sans interruption mesurée sur sa période",
        "overlapping_tickets": "Deux tickets ouverts en même temps pour ce service",
        "policy": "Règles appliquées",
        "records": "Enregistrements du registre",
        "completeness": "Complétude des mesures",
        "unknown": "état inconnu",
        "source": "Source",
        "draft": "PROJET — DRAFT",
        "void_marking": "NUL — DÉLAI DÉPASSÉ",
    },
    "en": {
        "title": "SLA penalty claim",
        "dated": "Date:",
        "object_claim": "Subject: claim for service-level (SLA) penalties",
        "object_statement": "Subject: monthly service-level (SLA) statement",
        "salutation": "Dear Sir or Madam,",
        "claim_body": (
            "Under the service-level terms of our contract (article 4.1 and equivalents), we claim the fixed "
            "penalties for {month}, within thirty (30) Jours after that month. The annex gives the detail per "
            "site and service, from our measurements. (Translation; the French version prevails.)"
        ),
        "vga_body": "For the VGA telephony service (article 5.6), the penalties are deducted from the next invoice.",
        "met_body": (
            "The service-level objectives were met this month: no penalty is claimed. The annex gives the figures."
        ),
        "void_body": (
            "The contractual claim deadline ({deadline}) has passed: a claim made after it is null and void "
            "(article 4.1). Kept for the record."
        ),
        "site": "Site",
        "service": "Service",
        "contract": "Contract",
        "availability": "Availability",
        "tier": "Tier",
        "gtr": "GTR penalties",
        "total_pct": "Total",
        "capped": "capped",
        "amount": "Amount",
        "void": "void",
        "total": "Total amount claimed:",
        "excl_vat": "excl. VAT",
        "deadline": "Contractual deadline to send this claim: {deadline}; preferably send it by {alert}.",
        "digest_intro": "Digest of the annex data (lets anyone verify each figure later, CGV art. 22):",
        "closing": "Yours faithfully,",
        "generated": "Produced by Vigie on {today}.",
        "annex": "Annex",
        "timeline": "Timeline of the month",
        "colon": ": ",
        "clipped": " […] (full text in the CSV and JSON annex)",
        "availability_per_service": "Availability per site and service",
        "contracts_and_policy": "Contracts, policy used and records",
        "article": "article",
        "version": "version",
        "fee": "monthly fee",
        "net": "Net availability",
        "gross": "Gross (no exclusion)",
        "all_hours": "All hours",
        "coverage_only": "Coverage only",
        "measured": "Measured",
        "objective": "Objective",
        "met": "met",
        "missed": "missed",
        "counted_min": "Counted minutes",
        "excluded_min": "Excluded minutes",
        "tickets": "Tickets (GTR)",
        "ticket": "Ticket",
        "provider_ref": "Provider ref.",
        "clock": "Clock",
        "business_hours": "business hours",
        "wall_clock": "24/7",
        "coverage": "coverage",
        "target": "Target",
        "start": "Start",
        "stop": "Stop",
        "end": "End",
        "elapsed": "Elapsed",
        "frozen": "Frozen",
        "penalty": "Penalty",
        "flags": "Flags",
        "outages": "Outages",
        "minutes_window": "Minutes in window",
        "counted": "Counted",
        "cause": "Cause",
        "evidence": "Evidence",
        "yes": "yes",
        "no": "no",
        "no_unnotified": "no (not notified)",
        "no_outage": "No outage measured.",
        "exclusions": "Exclusions and excusable events",
        "applied": "Applied",
        "note": "Note",
        "findings": "Findings",
        "finding": "Finding",
        "record": "Record",
        "recorded_period": "Recorded period",
        "measured_outage": "Measured outage",
        "maintenance_outside_window": "Outage outside the announced maintenance window (the part outside counts)",
        "restored_while_down": "Restoration notified while the service was still down",
        "restored_late": "Restoration notified long after the service came back",
        "ticket_without_outage": "Ticket with no measured outage around it",
        "exclusion_without_outage": "Exclusion with no measured outage in its interval",
        "overlapping_tickets": "Two tickets open at the same time for this service",
        "policy": "Policy used",
        "records": "Ledger records",
        "completeness": "Data completeness",
        "unknown": "state unknown",
        "source": "Source",
        "draft": "DRAFT",
        "void_marking": "VOID — DEADLINE PASSED",
    },
}


def formatters(lang: str) -> dict[str, Callable[..., str]]:
    def num(value: str | None) -> str:
        if value is None:
            return "—"
        return value.replace(".", ",") if lang == "fr" else value

    def money(value: str) -> str:
        amount = Decimal(value).quantize(Decimal("0.01"))
        text = f"{amount:,.2f}"
        if lang == "fr":
            return text.replace(",", "\u202f").replace(".", ",") + " €"
        return "€" + text

    def day(value: str | date | None) -> str:
        if value is None:
            return "—"
        d = value if isinstance(value, date) else date.fromisoformat(value)
        return f"{d.day} {MONTHS[lang][d.month - 1]} {d.year}"

    def dt(value: str) -> str:
        moment = datetime.fromisoformat(value)
        return moment.strftime("%d/%m/%Y %H:%M") if lang == "fr" else moment.strftime("%Y-%m-%d %H:%M")

    return {"num": num, "money": money, "day": day, "dt": dt}


# --- PDF (ReportLab platypus) ------------------------------------------------------------------------------

PAGE_W, PAGE_H = A4
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 16 * mm, 22 * mm, 20 * mm  # the frame of the content, no padding
FRAME_W = PAGE_W - 2 * MARGIN_X
TABLE_PT = 7.5
PAD_X, PAD_Y = 1.2 * mm, 0.8 * mm
LONG_WORD_W = 0.2 * FRAME_W  # the most a flexible table column widens for one long word
CELL_MAX_LINES = 35  # of a table cell: half of the page's frame (9-pt leading)
CELL_FILL = 0.8  # how much of a wrapped cell's lines its text fills, at worst, for the cut of `_clip`
MARKUP_LEAST = 0.25 * FRAME_W  # the least a flexible column of (unmeasured) markup gets, however wide the others
_WORD_BREAKS = re.compile(r"[ \t\n]+")  # where a cell's text may wrap (not at a no-break space)
INK, GREY, RED = HexColor("#222222"), HexColor("#666666"), HexColor("#c0392b")


def _month_name(claim: Claim, lang: str) -> str:
    """The claim's month as the documents print it ("octobre 2026", "October 2026")."""
    return f"{MONTHS[lang][claim.month.month - 1]} {claim.month.year}"


def _fits(text: str, font: str, width: float) -> bool:
    """Whether `text` sets on one line of a table cell `width` wide (its padding taken off)."""
    return "\n" not in text and text_width(text, font, TABLE_PT) <= width - 2 * PAD_X


class _Markup(str):
    """Paragraph markup whose user strings are already escaped (a plain `str` cell is literal text)."""


@dataclass(frozen=True)
class _Group:
    """A row spanning the table, in bold, naming the site and service of the rows under it; `note`, in
    normal weight, when it has no rows."""

    text: str
    note: str | None = None


class _Styles:
    """The paragraph styles and the common table commands of every document, built once per process (the
    fonts registered first)."""

    def __init__(self) -> None:
        fonts.register()
        body = ParagraphStyle("body", fontName=SANS, fontSize=9, leading=11.5, textColor=INK, spaceAfter=7)
        self.body = body
        self.parties = ParagraphStyle("parties", body, spaceAfter=0)
        self.object = ParagraphStyle("object", body, fontName=BOLD, spaceBefore=4 * mm, spaceAfter=3 * mm)
        self.void = ParagraphStyle(
            "void", body, textColor=RED, borderColor=RED, borderWidth=1, borderPadding=2 * mm,
            leftIndent=2 * mm, rightIndent=2 * mm, spaceBefore=2 * mm, spaceAfter=4 * mm,
        )  # fmt: skip
        self.total = ParagraphStyle("total", body, fontName=BOLD, fontSize=11, leading=14, spaceBefore=3 * mm)
        self.digest = ParagraphStyle("digest", body, fontName=MONO, fontSize=7.5, leading=9.5)
        self.small = ParagraphStyle("small", body, fontSize=7, leading=9, textColor=HexColor("#555555"))
        self.h1 = ParagraphStyle("h1", body, fontName=BOLD, fontSize=13, leading=16, spaceAfter=3 * mm)
        self.h2 = ParagraphStyle("h2", body, fontName=BOLD, fontSize=11, leading=13.5, spaceBefore=5 * mm, spaceAfter=1)
        self.service = ParagraphStyle(
            "service", body, fontSize=7, leading=9, textColor=HexColor("#333333"), spaceAfter=1.5 * mm
        )
        self.cell = ParagraphStyle("cell", fontName=SANS, fontSize=TABLE_PT, leading=9, textColor=INK)
        self.cell_right = ParagraphStyle("cell_right", self.cell, alignment=TA_RIGHT)
        self.head = ParagraphStyle("head", self.cell, fontName=BOLD)


@functools.cache
def _styles() -> _Styles:
    return _Styles()


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (escaped: a `<b>` or `&` in it prints as such)."""
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _clip(text: str, width: float, clipped: str) -> str:
    """`text` cut, and marked `clipped`, where it would pass CELL_MAX_LINES in a cell `width` wide: a table row
    cannot break across pages, and a row taller than a page stops the whole document (ReportLab's
    LayoutError). The JSON and CSV annexes keep every text whole."""
    budget = CELL_MAX_LINES * (width - 2 * PAD_X) * CELL_FILL
    if text_width(text, SANS, TABLE_PT) <= budget:
        return text
    keep = len(text)
    while keep and text_width(text[:keep] + clipped, SANS, TABLE_PT) > budget:
        keep = keep * 3 // 4
    return text[:keep].rstrip() + clipped


def _table(
    header: Sequence[str],
    rows: Sequence[Sequence[str] | _Group],
    flex: dict[int, float],
    right: Sequence[int] = (),
    title: str | None = None,
    clipped: str = " […]",
) -> Table:
    """A table the width of the page: the columns not in `flex` as wide as their widest cell (and the longest
    word of their header), the `flex` ones share the rest by weight. A cell is a plain string when it fits
    on one line (cheap to lay out), else a wrapping Paragraph (escaped), cut (`_clip`, marked `clipped`) if
    it would not fit on half a page. The header row repeats on each page;
    a group row stays with the row after it; `title`, a section heading, is the table's first row (not
    repeated), so that it stays with the header and the first rows."""
    st = _styles()
    data_rows = [r for r in rows if not isinstance(r, _Group)]

    def widest(i: int, words: bool) -> float:
        """Column i's widest header word and widest cell (or cell word: `words`), padding included."""
        head = max(text_width(w, BOLD, TABLE_PT) for w in header[i].split())
        texts = (r[i] for r in data_rows if not isinstance(r[i], _Markup))
        parts = (w for text in texts for w in _WORD_BREAKS.split(text) if w) if words else texts
        return max(head, max((text_width(p, SANS, TABLE_PT) for p in parts), default=0)) + 2 * PAD_X + 0.5

    # As a browser's automatic layout: each column at least its longest word (a flexible column's capped at
    # LONG_WORD_W: a Paragraph splits a longer word, e.g. a VIGIE-… ticket reference; one of Markup cells,
    # which are not measured, at least MARKUP_LEAST), a fixed column up to
    # its widest cell on one line. When the fixed columns do not fit on one line, each gives up the same
    # share of what it has beyond its longest word: a column of short figures keeps its width, and the
    # columns of long texts (periods, clocks) wrap.
    columns = range(len(header))
    most = [min(widest(i, words=True), LONG_WORD_W) if i in flex else widest(i, words=False) for i in columns]
    for i in {i for r in data_rows for i in flex if isinstance(r[i], _Markup)}:
        most[i] = max(most[i], MARKUP_LEAST)  # its cells' text was not measured
    if sum(most) > FRAME_W:  # the fixed columns' longest words, measured only now that they are needed
        least = [most[i] if i in flex else widest(i, words=True) for i in columns]
        spare = max(FRAME_W - sum(least), 0.0)  # beyond every column's longest word (none: all scale down)
        share = spare / (sum(most) - sum(least)) if spare else 0.0
        widths = [lo + (hi - lo) * share for lo, hi in zip(least, most, strict=True)]
    else:
        widths = most
    room = FRAME_W - sum(widths)
    if flex and room > 0:
        total = sum(flex.values())
        widths = [w + room * flex[i] / total if i in flex else w for i, w in enumerate(widths)]
    widths = [w * FRAME_W / sum(widths) for w in widths]  # exactly the frame's width

    def cell(text: str, i: int) -> str | Paragraph:
        if isinstance(text, _Markup):
            return Paragraph(text, st.cell)
        if _fits(text, SANS, widths[i]):
            return text
        return _p(_clip(text, widths[i], clipped), st.cell_right if i in right else st.cell)

    blank = [""] * (len(header) - 1)
    top = 0 if title is None else 1  # the header row
    data: list[list[Any]] = [] if title is None else [[_heading(title), *blank]]
    data.append([_p(text, st.head) for text in header])
    commands: list[Any] = [
        ("FONT", (0, 0), (-1, -1), SANS, TABLE_PT, 9),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, top), (-1, -1), PAD_X),
        ("RIGHTPADDING", (0, top), (-1, -1), PAD_X),
        ("TOPPADDING", (0, top), (-1, -1), PAD_Y),
        ("BOTTOMPADDING", (0, top), (-1, -1), PAD_Y),
        ("GRID", (0, top), (-1, -1), 0.4, HexColor("#bbbbbb")),
        ("BACKGROUND", (0, top), (-1, top), HexColor("#f0f3f6")),
        *(("ALIGN", (i, top + 1), (i, -1), "RIGHT") for i in right),
    ]
    if title is not None:  # the heading, with the header and up to the first row after a group row
        commands += [
            ("SPAN", (0, 0), (-1, 0)),
            ("LEFTPADDING", (0, 0), (-1, 0), 0),
            ("RIGHTPADDING", (0, 0), (-1, 0), 0),
            ("TOPPADDING", (0, 0), (-1, 0), 0),
            ("BOTTOMPADDING", (0, 0), (-1, 0), 3 * mm),
            ("NOSPLIT", (0, 0), (-1, min(len(rows), 2) + top)),
        ]
    for r, row in enumerate(rows, start=top + 1):
        if isinstance(row, _Group):
            first: str | Paragraph
            if row.note is not None:
                text, note = _clip(row.text, FRAME_W / 2, clipped), _clip(row.note, FRAME_W / 2, clipped)
                first = Paragraph(f'<b>{escape(text)}</b><font color="#555555">{escape(note)}</font>', st.cell)
            elif _fits(row.text, BOLD, FRAME_W):
                first = row.text
                commands.append(("FONT", (0, r), (-1, r), BOLD, TABLE_PT, 9))
            else:
                first = _p(_clip(row.text, FRAME_W, clipped), st.head)
            data.append([first, *blank])
            commands += [
                ("SPAN", (0, r), (-1, r)),
                ("BACKGROUND", (0, r), (-1, r), HexColor("#f7f7f7")),
                ("TOPPADDING", (0, r), (-1, r), 1.2 * mm),
            ]
            if r - top < len(rows) and not isinstance(rows[r - top], _Group):
                commands.append(("NOSPLIT", (0, r), (-1, r + 1)))
        else:
            data.append([cell(text, i) for i, text in enumerate(row)])
    return Table(
        data,
        colWidths=widths,
        repeatRows=(top,),
        style=commands,
        hAlign="LEFT",
        spaceBefore=0 if title is None else 5 * mm,
        spaceAfter=3 * mm,
    )


def _heading(text: str) -> list[Flowable]:
    """A section title of the annex, ruled."""
    return [
        _p(text, _styles().h2),
        HRFlowable(width="100%", thickness=0.5, color=HexColor("#999999"), spaceBefore=1, spaceAfter=2 * mm),
    ]


def _story(claim: Claim, lang: str, charts: Sequence[Drawing]) -> list[Flowable]:
    """The letter, then the annex, as flowables."""
    st, t, f = _styles(), STRINGS[lang], formatters(lang)
    num, money, day, dt = f["num"], f["money"], f["day"], f["dt"]
    annex, client, provider = claim.annex, claim.client, claim.provider
    services = annex["services"]
    table = functools.partial(_table, clipped=t["clipped"])
    month_name = _month_name(claim, lang)
    deadline, alert = day(annex["claim_deadline"]), day(annex["claim_alert_date"])

    def pct(value: str | None) -> str:
        return f"{num(value)}\u00a0%" if value is not None else "—"

    def site(s: dict[str, Any]) -> str:
        return f"{s['site']} — {s['service_id']}"

    def period(start: str, end: str | None) -> str:
        # each time one word (no-break space): a narrow cell wraps at the arrow, not between date and hour
        start_text, end_text = dt(start).replace(" ", "\u00a0"), dt(end).replace(" ", "\u00a0") if end else "…"
        return f"{start_text} → {end_text}"

    def cause(value: str | None) -> str:
        return "" if value is None else value.replace("_", " ")

    def grouped(
        table: str, row: Callable[[dict[str, Any]], Sequence[str]], empty: str | None = None
    ) -> list[Sequence[str] | _Group]:
        """The rows of `table`, each service's under a group row (a service without rows: only when `empty`)."""
        out: list[Sequence[str] | _Group] = []
        for s in services:
            mine = [r for r in annex[table] if r["service_id"] == s["service_id"] and r["site"] == s["site"]]
            if mine:
                out.append(_Group(site(s)))
                out += [row(r) for r in mine]
            elif empty is not None:
                out.append(_Group(site(s) + t["colon"], empty))
        return out

    parties = [
        "\n".join(x for x in (client.name, client.address, client.contact) if x),
        "\n".join(x for x in (provider.name, provider.address, provider.email) if x),
    ]
    story: list[Flowable] = [
        Table(
            [[_p(text, st.parties) for text in parties]],
            colWidths=[0.55 * FRAME_W, 0.45 * FRAME_W],
            style=[
                ("FONT", (0, 0), (-1, -1), SANS),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ],
            hAlign="LEFT",
            spaceAfter=8 * mm,
        ),
        _p(f"{t['dated']} {day(claim.today)}", st.body),
    ]
    if claim.status == "nothing_to_claim":
        story += [_p(f"{t['object_statement']} — {month_name}", st.object), _p(t["met_body"], st.body)]
    else:
        story.append(_p(f"{t['object_claim']} — {month_name}", st.object))
        if claim.status == "void":
            story.append(_p(t["void_body"].format(deadline=deadline), st.void))
        story += [_p(t["salutation"], st.body), _p(t["claim_body"].format(month=month_name), st.body)]
        if any(s["contract"] == "vga" and Decimal(s["claimed_eur"]) > 0 for s in services):
            story.append(_p(t["vga_body"], st.body))
    story.append(
        table(
            [
                t["site"],
                t["service"],
                t["contract"],
                t["availability"],
                t["tier"],
                t["gtr"],
                t["total_pct"],
                t["amount"],
            ],
            [
                [
                    s["site"],
                    s["service_id"],
                    s["contract_title"],
                    pct(s["availability_pct"]),
                    pct(s["tier_pct"]),
                    pct(s["gtr_penalty_pct"]),
                    pct(s["total_credit_pct"]) + (f" ({t['capped']})" if s["cap_applied"] else ""),
                    money(s["claimed_eur"]) + (f" — {t['void']}" if s["void"] else ""),
                ]
                for s in services
            ],
            flex={0: 1, 1: 1, 2: 1.5},
            right=(3, 4, 5, 6, 7),
        )
    )
    story.append(_p(f"{t['total']} {money(annex['total_claimed_eur'])} {t['excl_vat']}", st.total))
    if annex["claim_deadline"]:
        story.append(_p(t["deadline"].format(deadline=deadline, alert=alert), st.body))
    story += [_p(t["digest_intro"], st.body), _p(f"SHA-256 {claim.digest}", st.digest)]
    if claim.status != "nothing_to_claim":
        story.append(_p(t["closing"], st.body))
    story += [_p(t["generated"].format(today=day(claim.today)), st.small), PageBreak()]

    # The annex: the chart, then one table per kind of row for the whole client.
    story.append(_p(f"{t['annex']} — {client.name} — {month_name}", st.h1))
    story += charts

    def availability(s: dict[str, Any]) -> list[str]:
        shadow = s["shadow"] or {}
        objective = f"{pct(s['objective_pct'])} — {t['met'] if s['objective_met'] else t['missed']}"
        return [
            site(s),
            pct(s["availability_pct"]),
            pct(s["gross_availability_pct"]),
            *(pct(shadow.get(k)) for k in ("all_hours_pct", "coverage_only_pct", "measured_pct")),
            objective if s["objective_pct"] else "—",
            num(s["counted_minutes"]),
            num(s["excluded_minutes"]),
        ]

    def ticket(k: dict[str, Any]) -> list[str]:
        return [
            k["id"] + (f" / {k['provider_ref']}" if k["provider_ref"] else ""),
            f"{t[k['clock']]}, {num(k['target_hours'])}\u00a0h",
            period(k["start"], k["stop"]),
            f"{num(k['elapsed_hours'])}\u00a0h",
            f"{num(k['frozen_hours'])}\u00a0h",
            pct(k["penalty_pct"]),
            ", ".join(k["flags"]),
        ]

    def outage(o: dict[str, Any]) -> list[str]:
        return [
            period(o["start"], o["end"]),
            num(o["minutes_in_window"]),
            num(o["excluded_minutes"]),
            t["yes"] if o["counted"] else t["no_unnotified"],
            cause(o["cause"]) + (" — " if o["cause"] and o["evidence"] else "") + (o["evidence"] or ""),
        ]

    def exclusion(x: dict[str, Any]) -> list[str]:
        return [
            cause(x["cause"]),
            period(x["start"], x["end"]),
            t["yes"] if x["applied"] else (x["why_not"] or t["no"]),
            num(x["excluded_minutes"]),
            "\n".join(v for v in (x["note"], x["evidence"]) if v),
        ]

    story.append(
        table(
            [
                f"{t['site']} — {t['service']}",
                t["net"],
                t["gross"],
                t["all_hours"],
                t["coverage_only"],
                t["measured"],
                t["objective"],
                t["counted_min"],
                t["excluded_min"],
            ],
            [availability(s) for s in services],
            flex={0: 1.6, 6: 1},
            title=t["availability_per_service"],
            right=(1, 2, 3, 4, 5, 7, 8),
        )
    )
    if annex["tickets"]:
        story.append(
            table(
                [
                    # our reference (VIGIE-…) / the provider's one attached to it, when a ticket has one
                    f"{t['ticket']} / {t['provider_ref']}"
                    if any(k["provider_ref"] for k in annex["tickets"])
                    else t["ticket"],
                    f"{t['clock']}, {t['target'].lower()}",
                    f"{t['start']} → {t['stop']}",
                    t["elapsed"],
                    t["frozen"],
                    t["penalty"],
                    t["flags"],
                ],
                grouped("tickets", ticket),
                flex={0: 1, 6: 1.5},
                title=t["tickets"],
                right=(3, 4, 5),
            )
        )
    story.append(
        table(
            [
                f"{t['start']} → {t['end']}",
                t["minutes_window"],
                t["excluded_min"],
                t["counted"],
                f"{t['cause']} — {t['evidence'].lower()}",
            ],
            grouped("outages", outage, empty=t["no_outage"]),
            flex={4: 1},
            title=t["outages"],
            right=(1, 2),
        )
    )
    if annex["exclusions"]:
        story.append(
            table(
                [
                    t["cause"],
                    f"{t['start']} → {t['end']}",
                    t["applied"],
                    t["excluded_min"],
                    f"{t['note']} — {t['evidence'].lower()}",
                ],
                grouped("exclusions", exclusion),
                flex={2: 1, 4: 2},
                title=t["exclusions"],
                right=(3,),
            )
        )
    if annex["findings"]:

        def finding(x: dict[str, Any]) -> list[str]:
            label = t[x["kind"]]
            message = escape(_clip(x["message"], MARKUP_LEAST, t["clipped"]))
            return [
                _Markup(f'{escape(label)}<br/><font size="7" color="#555555">{message}</font>')
                if lang == "en"
                else label,
                x["subject"] + (f" (#{', #'.join(map(str, x['records']))})" if x["records"] else ""),
                period(x["record_start"], x["record_end"]),
                period(x["outage_start"], x["outage_end"]) if x["outage_start"] else "—",
            ]

        story.append(
            table(
                [t["finding"], t["record"], t["recorded_period"], t["measured_outage"]],
                grouped("findings", finding),
                flex={0: 3, 1: 1},  # the finding's text, and its subject: long ticket references
                title=t["findings"],
            )
        )
    story += [CondPageBreak(25 * mm), *_heading(t["contracts_and_policy"])]
    for s in services:
        policy = ", ".join(f"{k}={v}" for k, v in s["policy"].items())
        text = [
            f"{t['colon']}{s['contract_title']}" + (f", {t['article']} {s['article']}" if s["article"] else ""),
            f" — {t['version']} {s['contract_version']} — {t['fee']} {money(s['monthly_fee_eur'])}.",
            f" {t['policy']}: {policy}.",
            f" {t['flags']}: {', '.join(s['flags'])}." if s["flags"] else "",
            f" {t['completeness']}: {pct(s['data_completeness_pct'])}"
            f" ({t['unknown']}: {num(s['unknown_minutes'])}\u00a0min).",
            f" {t['records']}: {', '.join(map(str, s['ledger_records'])) if s['ledger_records'] else '—'}.",
            f" {t['source']}: {s['source']}." if s["source"] else "",
        ]
        story.append(Paragraph(f"<b>{escape(site(s))}</b>{escape(''.join(text))}", st.service))
    return story


class _PagedCanvas(Canvas):
    """A canvas that holds its pages until the document is complete, to print "page / pages" on each."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]  # ReportLab's own reset for the next page

    def save(self) -> None:
        for n, page in enumerate(self._pages, start=1):
            self.__dict__.update(page)
            self.setFont(SANS, 7)
            self.setFillColor(GREY)
            self.drawRightString(PAGE_W - MARGIN_X, 10 * mm, f"{n} / {len(self._pages)}")
            super().showPage()
        super().save()


PageCallback = Callable[[Canvas, BaseDocTemplate], None]


def _page_decoration(claim: Claim, lang: str) -> PageCallback:
    """What every page carries: the marking (DRAFT, VOID) at the top, the client, month and digest at the
    bottom (the page number: `_PagedCanvas`). Drawn as text, never markup."""
    t = STRINGS[lang]
    markings = [t["draft"]] if claim.draft else []
    if claim.status == "void":
        markings.append(t["void_marking"])
    marking = " · ".join(markings)
    month_name = _month_name(claim, lang)
    name, room = claim.client.name, 0.75 * FRAME_W
    footer = f"{name} — {month_name} — SHA-256 {claim.digest[:16]}…"
    while text_width(footer, SANS, 7) > room and len(name) > 1:  # a very long client name is cut
        name = name[: max(1, len(name) * 3 // 4)]
        footer = f"{name}… — {month_name} — SHA-256 {claim.digest[:16]}…"

    def decorate(canvas: Canvas, doc: BaseDocTemplate) -> None:
        canvas.saveState()
        if marking:
            canvas.setFont(BOLD, 14)
            canvas.setFillColor(RED)
            canvas.drawCentredString(PAGE_W / 2, PAGE_H - 13 * mm, marking)
        canvas.setFont(SANS, 7)
        canvas.setFillColor(GREY)
        canvas.drawString(MARGIN_X, 10 * mm, footer)
        canvas.restoreState()

    return decorate


def chart_drawings(claim: Claim) -> list[Drawing]:
    """The timeline chart(s) of a claim, the width of the page: drawn once, placed in both languages."""
    return timeline_drawings(claim.items, FRAME_W)


def _document(out: io.BytesIO, decorate: PageCallback | None = None, **metadata: Any) -> BaseDocTemplate:
    """An A4 document with one frame, the page less its margins (no padding: the tables and the chart are
    FRAME_W wide), `decorate` drawn on every page."""
    frame = Frame(
        MARGIN_X, MARGIN_BOTTOM, FRAME_W, PAGE_H - MARGIN_TOP - MARGIN_BOTTOM,
        leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0,
    )  # fmt: skip
    page = PageTemplate("page", [frame]) if decorate is None else PageTemplate("page", [frame], onPage=decorate)
    return BaseDocTemplate(out, pagesize=A4, pageTemplates=[page], initialFontName=SANS, **metadata)


def render_pdf(claim: Claim, lang: str, charts: Sequence[Drawing] | None = None) -> bytes:
    """The claim letter and its annex in `lang` as PDF. `charts`: `chart_drawings(claim)`, to share between
    the languages."""
    t = STRINGS[lang]
    out = io.BytesIO()
    month_name = _month_name(claim, lang)
    doc = _document(
        out,
        _page_decoration(claim, lang),
        title=f"{t['title']} — {claim.client.name} — {month_name}",
        author=claim.provider.name,
        subject=f"SLA {claim.month} — SHA-256 {claim.digest}",
        creator="Vigie",
        lang=lang,
        displayDocTitle=True,
    )
    doc.build(_story(claim, lang, chart_drawings(claim) if charts is None else charts), canvasmaker=_PagedCanvas)
    return out.getvalue()


def warm_up() -> None:
    """Import ReportLab, register the fonts and build the styles now, by rendering a tiny document: before
    forking workers, which then inherit them loaded instead of each paying for it on its first claim."""
    out = io.BytesIO()
    st = _styles()
    doc = _document(out)
    sample = Drawing(100, 20, initialFontName=SANS)
    sample.add(String(0, 5, "Vigie 0,00 €", fontName=SANS, fontSize=7))
    doc.build(
        [
            _p("Vigie — 0,00 €", st.total),
            _p("SHA-256 0", st.digest),
            _table(["Site", "%"], [_Group("Site"), ["Lyon <&>", "99,9\u00a0%"]], flex={0: 1}, right=(1,)),
            sample,
        ],
        canvasmaker=_PagedCanvas,
    )


_prepared = False


def prepare_batch_process() -> None:
    """For a process that renders many claims (the CLI, its workers, the bench): warm up, then take the
    cyclic garbage collector in hand. Freezing what is loaded now (modules, fonts, styles) keeps it out of
    every collection; automatic collection is then off, and `write_claim` collects once per claim
    (`collect_claim_garbage`): a claim's reference cycles (ReportLab's flowables and their styles) are
    scanned once and freed with it. With ReportLab this costs no CPU either way (±2 %) and keeps each process
    ~6 MiB smaller (docs/claims.md, "Performance"). The warm-up and freeze happen once per process (a forked
    worker inherits them done); `write_claims` turns automatic collection back on when its batch is over, if
    it was on."""
    global _prepared
    if not _prepared:
        _prepared = True
        warm_up()
        gc.collect()
        gc.freeze()
    gc.disable()


def collect_claim_garbage() -> None:
    """After a claim's files are written: in a batch process (automatic collection off), free its reference
    cycles now. Elsewhere the automatic collector does it."""
    if not gc.isenabled():
        gc.collect()


# --- CSV (docs/claims.md lists the columns; they only ever grow at the end) -------------------------------

CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "services": (
        "client",
        "site",
        "service_id",
        "contract",
        "contract_version",
        "article",
        "monthly_fee_eur",
        "availability_pct",
        "gross_availability_pct",
        "all_hours_pct",
        "coverage_only_pct",
        "measured_pct",
        "objective_pct",
        "objective_met",
        "counted_minutes",
        "excluded_minutes",
        "tier_pct",
        "gtr_penalty_pct",
        "total_credit_pct",
        "cap_applied",
        "computed_credit_eur",
        "claimed_eur",
        "claim_deadline",
        "claim_alert_date",
        "void",
        "flags",
        "ledger_records",
        "unknown_minutes",
        "data_completeness_pct",
    ),
    "tickets": (
        "site",
        "service_id",
        "id",
        "kind",
        "clock",
        "target_hours",
        "start",
        "stop",
        "elapsed_hours",
        "frozen_hours",
        "breached",
        "penalty_pct",
        "flags",
        "provider_ref",
    ),
    "outages": (
        "site",
        "service_id",
        "start",
        "end",
        "duration_minutes",
        "minutes_in_window",
        "excluded_minutes",
        "notified",
        "counted",
        "cause",
        "evidence",
    ),
    "exclusions": (
        "site",
        "service_id",
        "cause",
        "start",
        "end",
        "applied",
        "why_not",
        "excluded_minutes",
        "note",
        "evidence",
        "author",
    ),
    "findings": (
        "site",
        "service_id",
        "kind",
        "subject",
        "records",
        "record_start",
        "record_end",
        "outage_start",
        "outage_end",
        "message",
    ),
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def render_csv(claim: Claim, table: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = CSV_COLUMNS[table]
    writer.writerow(columns)
    for row in claim.annex[table]:
        flat = dict(row)
        if table == "services" and row.get("shadow"):
            flat |= row["shadow"]
        writer.writerow([_cell(flat.get(c)) for c in columns])
    return out.getvalue()


def file_stem(claim: Claim) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in claim.client.id) or "client"
    return f"{safe}-{claim.month}"


def write_claim(claim: Claim, out_dir: Path, langs: tuple[str, ...] = ("fr", "en")) -> list[Path]:
    """Every file of a claim, under `out_dir`; returns their paths. Each file is written as `<name>.part` and
    the pack renamed into place only once every file is written: a claim that fails while it is rendered or
    written leaves no partial pack, and its earlier pack (an earlier build) as it was."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = file_stem(claim)
    parts: list[tuple[Path, Path]] = []

    def part(name: str) -> Path:
        path = out_dir / name
        parts.append((path.with_name(path.name + ".part"), path))
        return parts[-1][0]

    try:
        charts = chart_drawings(claim)  # one drawing for both languages (bilingual legend)
        for lang in langs:
            part(f"{stem}-{lang}.pdf").write_bytes(render_pdf(claim, lang, charts))
        document = json.dumps(claim_document(claim), indent=2, ensure_ascii=False) + "\n"
        part(f"{stem}.json").write_text(document, encoding="utf-8")
        for table in CSV_COLUMNS:
            part(f"{stem}-{table}.csv").write_text(render_csv(claim, table), encoding="utf-8")
        taken = [final for _, final in parts if final.is_dir()]  # the one failure a rename would meet halfway
        if taken:
            raise IsADirectoryError(f"{taken[0]}: a directory has that name")
        for tmp, final in parts:
            tmp.replace(final)
    finally:
        for tmp, _ in parts:
            tmp.unlink(missing_ok=True)
        collect_claim_garbage()
    return [final for _, final in parts]


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ClaimFailed:
    """Why one claim's files could not be written (the others of the batch are written all the same)."""

    error: str


def _write_one(claim: Claim, out_dir: Path) -> list[Path] | ClaimFailed:
    try:
        return write_claim(claim, out_dir)
    except Exception as exc:  # one client's failure is reported with its name, never the batch's end
        return ClaimFailed(f"{type(exc).__name__}: {exc}")


def write_claims(
    claims: Sequence[Claim], out_dir: Path, jobs: int | None = None
) -> Iterator[tuple[Claim, list[Path] | ClaimFailed]]:
    """`write_claim` for each claim, on a pool of `jobs` processes (default: one per core); yields each claim
    with its files, or why they could not be written (`ClaimFailed`: the batch goes on), in the order given.
    One claim, or one job, runs here without a pool. Meant for a batch process (the CLI): see
    `prepare_batch_process`, which it calls; this process gets its automatic garbage collection back
    afterwards."""
    jobs = min(jobs or default_jobs(), len(claims))
    collecting = gc.isenabled()
    prepare_batch_process()  # forked workers inherit it; the initializer covers other start methods
    try:
        if jobs <= 1:
            for claim in claims:
                yield claim, _write_one(claim, out_dir)
            return
        with ProcessPoolExecutor(max_workers=jobs, initializer=prepare_batch_process) as pool:
            yield from zip(claims, pool.map(_write_one, claims, [out_dir] * len(claims)), strict=True)
    finally:
        if collecting:
            gc.enable()
