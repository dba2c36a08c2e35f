"""A claim as files: PDF letter + annex in French (the contract's language) and English, JSON and CSV.

HTML comes from Jinja2 templates with autoescaping on, so every user-supplied string (client, site and
service names, notes, evidence paths) is escaped; the few strings placed in CSS (page header and footer)
go through `css_string`, which hex-escapes everything but letters and digits. WeasyPrint turns the HTML into
PDF with a URL fetcher that loads nothing but the `data:` URIs of our own charts (no file, no network).

Rendering cost (docs/claims.md, "Performance"): each process keeps one WeasyPrint `FontConfiguration` and the
parsed `claim.css` for all its documents, and the two languages of a claim share an image cache, so the
timeline chart (drawn once per claim) is parsed once.
"""

from __future__ import annotations

import base64
import csv
import functools
import gc
import io
import json
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from agent.claims.build import Claim, claim_document
from agent.claims.charts import timeline_svgs

TEMPLATES = Path(__file__).parent / "templates"
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,  # every {{ }} is HTML-escaped, whatever the file name
    undefined=jinja2.StrictUndefined,
)

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
        "policy": "Règles appliquées",
        "records": "Enregistrements du registre",
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
        "policy": "Policy used",
        "records": "Ledger records",
        "source": "Source",
        "draft": "DRAFT",
        "void_marking": "VOID — DEADLINE PASSED",
    },
}


def css_string(text: str) -> Markup:
    """A CSS string literal safe inside <style>: every character but letters, digits and space is a hex
    escape, so no quote, backslash or `</style>` can get through."""
    out = []
    for ch in text:
        out.append(ch if ch.isascii() and (ch.isalnum() or ch == " ") else f"\\{ord(ch):06x}")
    return Markup('"' + "".join(out) + '"')


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


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def render_html(claim: Claim, lang: str, charts: list[str] | None = None) -> str:
    t = STRINGS[lang]
    f = formatters(lang)
    annex = claim.annex
    month_name = f"{MONTHS[lang][claim.month.month - 1]} {claim.month.year}"
    markings = []
    if claim.draft:
        markings.append(t["draft"])
    if claim.status == "void":
        markings.append(t["void_marking"])
    services = annex["services"]

    def rows_of(table: str) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
        def pick(s: dict[str, Any]) -> list[dict[str, Any]]:
            return [r for r in annex[table] if r["service_id"] == s["service_id"] and r["site"] == s["site"]]

        return pick

    def cause(value: str | None) -> str:
        return "" if value is None else value.replace("_", " ")

    template = _ENV.get_template("claim.html.j2")
    return template.render(
        lang=lang,
        t=t,
        client=claim.client,
        provider=claim.provider,
        annex=annex,
        services=services,
        status=claim.status,
        digest=claim.digest,
        month_name=month_name,
        today=f["day"](claim.today),
        deadline=f["day"](annex["claim_deadline"]),
        alert=f["day"](annex["claim_alert_date"]),
        has_vga=any(s["contract"] == "vga" and Decimal(s["claimed_eur"]) > 0 for s in services),
        charts=[_data_uri(svg) for svg in (charts if charts is not None else timeline_svgs(claim.items))],
        marking_css=css_string(" · ".join(markings)),
        footer_css=css_string(f"{claim.client.name} — {month_name} — SHA-256 {claim.digest[:16]}…"),
        tickets_of=rows_of("tickets"),
        outages_of=rows_of("outages"),
        exclusions_of=rows_of("exclusions"),
        findings_of=rows_of("findings"),
        cause=cause,
        **f,
    )


class _Weasy:
    """What every document of a process shares: WeasyPrint's font configuration (fontconfig lookups and
    loaded faces), the parsed stylesheet, and the URL fetcher."""

    def __init__(self) -> None:
        import weasyprint
        from weasyprint.text.fonts import FontConfiguration
        from weasyprint.urls import URLFetcher

        self.weasyprint = weasyprint
        self.font_config = FontConfiguration()
        # Only our own charts, embedded as data: URIs: nothing from disk or the network, and a refused URL
        # stops the rendering instead of leaving a hole in a legal document.
        self.fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
        self.stylesheet = weasyprint.CSS(
            string=(TEMPLATES / "claim.css").read_text(encoding="utf-8"),
            font_config=self.font_config,
            url_fetcher=self.fetcher,
        )


@functools.cache
def _weasy() -> _Weasy:
    return _Weasy()


def warm_up() -> None:
    """Load WeasyPrint, the stylesheet and the fonts now, by rendering a tiny document: before forking
    workers, which then inherit them loaded instead of each paying for it on its first claim."""
    render_pdf("<p>Vigie <b>—</b> 0,00 € <span class='digest'>0</span></p>")


_prepared = False


def prepare_batch_process() -> None:
    """For a process that renders many claims (the CLI, its workers, the bench): warm up, then take the
    cyclic garbage collector in hand. WeasyPrint allocates a few 10^5 objects per document, many in
    reference cycles (boxes and their parents), so the default thresholds run a collection every 700
    allocations and, every so often, one over the whole heap — the ~100 MB of modules and fonts loaded
    once. Freezing what is loaded now keeps those out of every collection; automatic collection is then
    off, and `write_claim` collects once per claim (`collect_claim_garbage`): a claim's garbage is scanned
    once instead of once per generation it survives, and none of it outlives the claim (docs/claims.md,
    "Performance"). The warm-up and freeze happen once per process (a forked worker inherits them done);
    `write_claims` turns automatic collection back on when its batch is over, if it was on."""
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


def render_pdf(html: str, cache: dict[str, Any] | None = None) -> bytes:
    """The PDF of a claim's HTML (render_html), styled by claim.css. `cache`: WeasyPrint's image cache, to
    share between the documents that embed the same chart."""
    w = _weasy()
    document = w.weasyprint.HTML(string=html, url_fetcher=w.fetcher)
    return document.write_pdf(  # type: ignore[no-any-return]
        font_config=w.font_config,
        stylesheets=[w.stylesheet],
        cache={} if cache is None else cache,
        presentational_hints=False,  # no HTML presentational attribute to honour: skip that pass
    )


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
    """Every file of a claim, under `out_dir`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = file_stem(claim)
    written: list[Path] = []
    charts = timeline_svgs(claim.items)  # one drawing for both languages (bilingual legend)
    images: dict[str, Any] = {}  # …parsed once, drawn in each PDF
    for lang in langs:
        path = out_dir / f"{stem}-{lang}.pdf"
        path.write_bytes(render_pdf(render_html(claim, lang, charts), cache=images))
        written.append(path)
    path = out_dir / f"{stem}.json"
    path.write_text(json.dumps(claim_document(claim), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(path)
    for table in CSV_COLUMNS:
        path = out_dir / f"{stem}-{table}.csv"
        path.write_text(render_csv(claim, table), encoding="utf-8")
        written.append(path)
    collect_claim_garbage()
    return written


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _write_one(claim: Claim, out_dir: Path) -> list[Path]:
    return write_claim(claim, out_dir)


def write_claims(claims: Sequence[Claim], out_dir: Path, jobs: int | None = None) -> Iterator[tuple[Claim, list[Path]]]:
    """`write_claim` for each claim, on a pool of `jobs` processes (default: one per core); yields each claim
    with its files, in the order given. One claim, or one job, runs here without a pool. Meant for a batch
    process (the CLI): see `prepare_batch_process`, which it calls; this process gets its automatic garbage
    collection back afterwards."""
    jobs = min(jobs or default_jobs(), len(claims))
    collecting = gc.isenabled()
    prepare_batch_process()  # forked workers inherit it; the initializer covers other start methods
    try:
        if jobs <= 1:
            for claim in claims:
                yield claim, write_claim(claim, out_dir)
            return
        with ProcessPoolExecutor(max_workers=jobs, initializer=prepare_batch_process) as pool:
            yield from zip(claims, pool.map(_write_one, claims, [out_dir] * len(claims)), strict=True)
    finally:
        if collecting:
            gc.enable()
