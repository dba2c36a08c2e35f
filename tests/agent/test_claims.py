"""Monthly claims as a user gets them: real PDFs rendered by ReportLab, read back with poppler
(pdftotext for the words, pdftoppm for the pages as images), plus the JSON/CSV and the digest."""

from __future__ import annotations

import gc
import hashlib
import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from agent.casefile import load_case
from agent.claims.build import ClaimError, build_claim, canonical_json
from agent.claims.render import CSV_COLUMNS, render_pdf, write_claims
from agent.claims.sources import items_for, read_manifest
from agent.clock import FakeClock
from agent.ledger import AUTO_EXCLUSION, AUTO_MAINTENANCE, Kind, Ledger, LedgerError, Record, ServiceRef, fold_all
from agent.ledger.crosscheck import FindingKind, findings_for
from agent.ledger.store import FOLLOW
from sla.calendars import Month
from sla.statement import compute

REPO = Path(__file__).resolve().parents[2]
VIGIE = [sys.executable, "-c", "from agent.cli import main; main()"]
pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="needs poppler-utils (pdftotext, pdftoppm): make apt",
)

HOSTILE_SITE = "<script>alert('x')</script> & \"Lyon\""
HOSTILE_NOTE = '</td></tr><img src="http://127.0.0.1:9/x.png"> {{ 7*7 }} $\\alpha$'

INTERNET_CASE = """
month: 2026-10
service: {id: acme-lyon-fibre, contract: internet, monthly_fee_eur: "450.00", in_service_from: 2024-01-01}
outages:
  - {start: 2026-10-14T10:00:00+02:00, end: 2026-10-14T13:00:00+02:00, notified_at: 2026-10-14T10:05:00+02:00}
  - {start: 2026-10-20T09:00:00+02:00, end: 2026-10-20T10:00:00+02:00, notified_at: 2026-10-20T09:00:00+02:00}
exclusions:
  - {cause: power_cut, start: 2026-10-20T09:00:00+02:00, end: 2026-10-20T10:00:00+02:00, note: 'NOTE'}
"""

QUIET_CASE = """
month: 2026-10
service: {id: acme-paris-sdsl, contract: internet, monthly_fee_eur: "120.00"}
outages: []
"""


def write_manifest(tmp_path: Path, cases: dict[str, str], name: str = 'ACME "Industries" <SAS>') -> Path:
    services = []
    for site, text in cases.items():
        file = tmp_path / f"case-{len(services)}.yaml"
        file.write_text(text.replace("'NOTE'", json.dumps(HOSTILE_NOTE)))
        services.append({"case": file.name, "site": site})
    manifest = {
        "clients": [{"id": "acme", "name": name, "address": "12 rue des Lilas\n69003 Lyon", "services": services}]
    }
    path = tmp_path / "claims.yaml"
    path.write_text(json.dumps(manifest))
    return path


def vigie(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VIGIE, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def pdf_pages(pdf: Path, layout: bool = True) -> list[str]:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    return [
        subprocess.run(
            ["pdftotext", "-f", str(n), "-l", str(n), *(["-layout"] if layout else []), str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for n in range(1, pages + 1)
    ]


def render_images(pdf: Path, out: Path) -> list[Path]:
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(out / pdf.stem)], check=True)
    return sorted(out.glob(f"{pdf.stem}*.png"))


def squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def claim_dir(tmp_path: Path) -> Path:
    manifest = write_manifest(tmp_path, {HOSTILE_SITE: INTERNET_CASE, "Paris": QUIET_CASE})
    result = vigie(
        "claims", "build", "--month", "2026-10", "--manifest", str(manifest), "--out", "out", "--today", "2026-11-05",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "acme 2026-10: claim" in result.stdout
    return tmp_path / "out"


def test_the_claim_pack_has_pdf_in_french_and_english_json_and_csv(claim_dir: Path) -> None:
    names = sorted(p.name for p in claim_dir.iterdir())
    assert names == sorted(
        ["acme-2026-10-fr.pdf", "acme-2026-10-en.pdf", "acme-2026-10.json"]
        + [f"acme-2026-10-{t}.csv" for t in ("services", "tickets", "outages", "exclusions", "findings")]
    )


def test_french_letter_states_the_claim_amount_deadline_and_digest(claim_dir: Path) -> None:
    document = json.loads((claim_dir / "acme-2026-10.json").read_text())
    pages = pdf_pages(claim_dir / "acme-2026-10-fr.pdf")
    letter = squash(pages[0])
    # 180 min in coverage on 14 Oct → 99.597 % → 3 % of 450.00 = 13.50 €
    assert document["annex"]["total_claimed_eur"] == "13.50"
    assert "Objet : demande de versement des pénalités" in letter
    assert "octobre 2026" in letter
    assert "Montant total demandé : 13,50 € HT" in letter
    assert "Date limite contractuelle d'envoi : 14 décembre 2026" in letter
    assert "30 novembre 2026" in letter
    assert document["annex_sha256"] in letter.replace(" ", "")
    assert "DRAFT" not in " ".join(pages)


def test_english_version_says_the_same_in_english(claim_dir: Path) -> None:
    pages = pdf_pages(claim_dir / "acme-2026-10-en.pdf")
    letter = squash(pages[0])
    assert "Subject: claim for service-level (SLA) penalties" in letter
    assert "October 2026" in letter
    assert "Total amount claimed: €13.50 excl. VAT" in letter
    assert "14 December 2026" in letter
    annex = squash(" ".join(pages[1:]))
    assert "Outages" in annex and "Exclusions and excusable events" in annex and "power cut" in annex


def test_the_digest_is_the_sha256_of_the_canonical_annex_and_verify_catches_an_edit(claim_dir: Path) -> None:
    path = claim_dir / "acme-2026-10.json"
    document = json.loads(path.read_text())
    assert document["annex_sha256"] == hashlib.sha256(canonical_json(document["annex"])).hexdigest()
    assert vigie("claims", "verify", str(path), cwd=claim_dir).returncode == 0
    document["annex"]["services"][0]["claimed_eur"] = "1350.00"
    path.write_text(json.dumps(document))
    tampered = vigie("claims", "verify", str(path), cwd=claim_dir)
    assert tampered.returncode == 1 and "does not match" in tampered.stderr


def test_a_note_or_site_name_longer_than_a_page_is_cut_in_the_pdf_and_kept_whole_in_the_annexes(
    tmp_path: Path,
) -> None:
    """A table row cannot break across pages: a cell taller than a page stopped the whole build (ReportLab's
    LayoutError, a traceback, no claim at all). The PDFs cut such a text and say where the whole is."""
    note = "Le technicien est passé, " * 400 + "x" * 3000  # words, then one word longer than a line
    site = "Lyon " + "très long nom de site " * 300
    case = tmp_path / "case-0.yaml"
    case.write_text(INTERNET_CASE.replace("'NOTE'", json.dumps(note)))
    manifest = {"clients": [{"id": "acme", "name": "ACME", "services": [{"case": case.name, "site": site}]}]}
    (tmp_path / "claims.yaml").write_text(json.dumps(manifest))
    done = vigie(
        "claims", "build", "--month", "2026-10", "--manifest", "claims.yaml", "--out", "out", "--today", "2026-11-05",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    for lang, marker in (
        ("fr", "[…] (texte complet dans l'annexe CSV et JSON)"),
        ("en", "[…] (full text in the CSV and JSON annex)"),
    ):
        text = squash(" ".join(pdf_pages(out / f"acme-2026-10-{lang}.pdf", layout=False)))
        assert marker in text and "Le technicien est passé, Le technicien" in text, lang
        assert "x" * 3000 not in "".join(text.split()), lang  # the cut came before the long word's end
    annex = json.loads((out / "acme-2026-10.json").read_text())["annex"]
    assert [x["note"] for x in annex["exclusions"]] == [note]
    assert [s["site"] for s in annex["services"]] == [site]
    assert note in (out / "acme-2026-10-exclusions.csv").read_text()


def test_hostile_site_names_and_notes_are_printed_literally_never_interpreted(claim_dir: Path) -> None:
    text = " ".join(pdf_pages(claim_dir / "acme-2026-10-fr.pdf", layout=False))
    assert "<script>alert('x')</script>" in text
    assert 'ACME "Industries" <SAS>' in text
    # a table cell wraps the long note (where, the layout decides): compare with white space squashed or without
    assert "{{ 7*7 }}" in squash(text) and "$\\alpha$" in text
    assert '</td></tr><imgsrc="http://127.0.0.1:9/x.png">' in "".join(text.split())


def test_markup_in_user_strings_prints_literally_in_every_paragraph_and_cell(tmp_path: Path) -> None:
    """ReportLab's Paragraph reads markup: each user string placed in one is escaped, so a `<b>`, `<script>`
    or `&amp;` prints as typed (unescaped, `<b>` would turn bold, `<script>` stop the rendering, `<img src>`
    fetch a URL). The long site name wraps: a Paragraph in every table, not only a plain cell."""
    site = "<b>Lyon</b> & <script>x</script> " + "long " * 30
    manifest = write_manifest(tmp_path, {site: INTERNET_CASE}, name="<b>ACME</b> &amp; Co")
    _, groups = read_manifest(manifest)
    claim = build_claim(groups[0].client, items_for(groups[0], Month(2026, 10)), today=date(2026, 11, 5))
    pdf = tmp_path / "claim.pdf"
    pdf.write_bytes(render_pdf(claim, "en"))
    text = "".join(" ".join(pdf_pages(pdf, layout=False)).split())  # without white space: cells wrap
    # the letter's table, the chart's label, the availability and outage tables, the contract paragraph
    assert text.count("<b>Lyon</b>&<script>x</script>") >= 5
    assert text.count("<b>ACME</b>&amp;Co") >= 3  # the parties, the annex title, the page footers
    assert '</td></tr><imgsrc="http://127.0.0.1:9/x.png">{{7*7}}$\\alpha$' in text  # the note
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "Title:           SLA penalty claim — <b>ACME</b> &amp; Co — October 2026" in info


def test_pages_render_to_images_with_ink_on_them(claim_dir: Path, tmp_path: Path) -> None:
    pdf = claim_dir / "acme-2026-10-fr.pdf"
    images = render_images(pdf, tmp_path)
    assert len(images) == len(pdf_pages(pdf)) >= 2
    for image in images:
        data = image.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000  # a blank page compresses to far less


def test_csv_columns_are_the_documented_ones(claim_dir: Path) -> None:
    docs = (REPO / "docs" / "claims.md").read_text()
    for table, columns in CSV_COLUMNS.items():
        header = (claim_dir / f"acme-2026-10-{table}.csv").read_text().splitlines()[0]
        assert header == ",".join(columns)
        for column in columns:
            assert f"`{column}`" in docs, f"{table}.{column} undocumented"
    services = (claim_dir / "acme-2026-10-services.csv").read_text().splitlines()
    assert len(services) == 3


def test_an_open_month_is_refused_unless_draft_and_a_draft_says_so_on_every_page(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, {"Lyon": INTERNET_CASE})
    args = ["claims", "build", "--month", "2026-10", "--manifest", str(manifest), "--today", "2026-10-21"]
    refused = vigie(*args, "--out", "out", cwd=tmp_path)
    assert refused.returncode == 2
    assert "month 2026-10 is still open on 2026-10-21" in refused.stderr
    assert not (tmp_path / "out").exists()
    drafted = vigie(*args, "--out", "draft", "--draft", cwd=tmp_path)
    assert drafted.returncode == 0, drafted.stderr
    for lang in ("fr", "en"):
        pages = pdf_pages(tmp_path / "draft" / f"acme-2026-10-{lang}.pdf")
        assert len(pages) >= 2
        assert all("DRAFT" in page for page in pages)
    assert json.loads((tmp_path / "draft" / "acme-2026-10.json").read_text())["draft"] is True


def test_a_month_past_its_deadline_is_marked_void_not_skipped(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, {"Lyon": INTERNET_CASE})
    result = vigie(
        "claims", "build", "--month", "2026-10", "--manifest", str(manifest), "--out", "out", "--today", "2026-12-15",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "acme 2026-10: void, 0.00 EUR" in result.stdout
    document = json.loads((tmp_path / "out" / "acme-2026-10.json").read_text())
    assert document["status"] == "void" and document["annex"]["total_void_eur"] == "13.50"
    fr = pdf_pages(tmp_path / "out" / "acme-2026-10-fr.pdf")
    assert all("NUL" in page for page in fr)
    assert "nulle et non avenue" in squash(fr[0])
    en = pdf_pages(tmp_path / "out" / "acme-2026-10-en.pdf")
    assert all("VOID" in page for page in en)


def test_a_month_with_nothing_to_claim_still_gets_a_short_statement(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, {"Paris": QUIET_CASE}, name="Calme SARL")
    result = vigie(
        "claims", "build", "--month", "2026-10", "--manifest", str(manifest), "--out", "out", "--today", "2026-11-03",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    letter = squash(pdf_pages(tmp_path / "out" / "acme-2026-10-fr.pdf")[0])
    assert "relevé mensuel des niveaux de service" in letter
    assert "aucune pénalité n'est demandée" in letter
    en = squash(pdf_pages(tmp_path / "out" / "acme-2026-10-en.pdf")[0])
    assert "no penalty is claimed" in en


def emailed_opening(ref: str, site: str, service: str = "acme-lyon-fibre") -> Record:
    """A ticket of client acme opened by e-mail on 14 October at 10:10."""
    opened = {"opened_at": "2026-10-14T10:10:00+02:00", "channel": "email"}
    return Record(Kind.TICKET_OPEN, ref, opened, client="acme", site=site, service=service)


def emailed_t9(site: str) -> list[Record]:
    """Ticket T-9 on acme-lyon-fibre at `site`: opened by e-mail at 10:10, restored at 13:05 (14 October)."""
    return [
        emailed_opening("T-9", site),
        Record(Kind.TICKET_RESTORE, "T-9", {"restored_at": "2026-10-14T13:05:00+02:00"}),
    ]


def test_the_claim_names_the_ledger_records_and_contract_version_it_used(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, {"Lyon": INTERNET_CASE})
    with Ledger(tmp_path / "l.sqlite", FakeClock(datetime(2026, 11, 2, tzinfo=UTC))) as book:
        stored = book.append_many(
            [
                *emailed_t9("Lyon"),
                emailed_opening("T-10", site="Other", service="other-service"),
            ]
        )
    result = vigie(
        "claims", "build", "--month", "2026-10", "--manifest", str(manifest), "--out", "out", "--today", "2026-11-05",
        "--ledger", "l.sqlite", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    service = json.loads((tmp_path / "out" / "acme-2026-10.json").read_text())["annex"]["services"][0]
    assert service["ledger_records"] == [stored[0].id, stored[1].id]
    assert service["contract_version"] == "01.07.2023"
    tickets = json.loads((tmp_path / "out" / "acme-2026-10.json").read_text())["annex"]["tickets"]
    assert [t["id"] for t in tickets] == ["T-9"]


def test_a_manifest_site_id_scopes_the_ledger_while_the_site_name_is_printed(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, {"Lyon HQ": INTERNET_CASE})
    raw = json.loads(manifest.read_text())
    raw["clients"][0]["services"][0]["site_id"] = "acme-lyon"
    manifest.write_text(json.dumps(raw))
    with Ledger(tmp_path / "l.sqlite", FakeClock(datetime(2026, 11, 2, tzinfo=UTC))) as book:
        book.append_many(emailed_t9("acme-lyon"))
    result = vigie(
        "claims", "build", "--month", "2026-10", "--manifest", str(manifest), "--out", "out", "--today", "2026-11-05",
        "--ledger", "l.sqlite", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    annex = json.loads((tmp_path / "out" / "acme-2026-10.json").read_text())["annex"]
    assert [t["id"] for t in annex["tickets"]] == ["T-9"]  # the record scoped to the site id applies
    assert annex["services"][0]["site"] == "Lyon HQ"


def test_statements_of_different_months_are_not_mixed(tmp_path: Path) -> None:
    _, groups = read_manifest(write_manifest(tmp_path, {"Lyon": INTERNET_CASE}))
    items = items_for(groups[0], Month(2026, 10))
    other = (REPO / "examples" / "internet-maintenance-2026-11.yaml").read_text()
    (tmp_path / "nov.yaml").write_text(other)
    from agent.claims.sources import ClientCases

    nov = items_for(ClientCases(groups[0].client, (("Lyon", "Lyon", tmp_path / "nov.yaml"),)), Month(2026, 11))
    with pytest.raises(ClaimError, match="several months"):
        build_claim(groups[0].client, [*items, *nov], today=date(2026, 12, 5))


def test_several_clients_on_a_pool_of_jobs_give_the_same_packs_in_order(tmp_path: Path) -> None:
    clients = []
    for n, name in enumerate(("Alpha SAS", "Beta SARL", "Gamma SA")):
        case = tmp_path / f"case-{n}.yaml"
        case.write_text(INTERNET_CASE.replace("acme-lyon-fibre", f"c{n}-fibre").replace("'NOTE'", "note"))
        clients.append({"id": f"c{n}", "name": name, "services": [{"case": case.name, "site": f"Site {n}"}]})
    manifest = tmp_path / "claims.yaml"
    manifest.write_text(json.dumps({"clients": clients}))
    runs = {}
    for jobs in ("1", "2"):
        result = vigie(
            "claims", "build", "--month", "2026-10", "--manifest", str(manifest), "--out", f"out{jobs}",
            "--today", "2026-11-05", "--jobs", jobs, cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert [line.split()[0] for line in result.stdout.splitlines()] == ["c0", "c1", "c2"]
        runs[jobs] = result.stdout
    assert runs["1"] == runs["2"]  # same statuses, amounts and digests
    for n in range(3):
        for lang in ("fr", "en"):
            name = f"c{n}-2026-10-{lang}.pdf"
            assert pdf_pages(tmp_path / "out1" / name) == pdf_pages(tmp_path / "out2" / name)


FINDINGS_CASE = """
month: 2026-10
service: {id: acme-lyon-fibre, contract: internet, monthly_fee_eur: "450.00", in_service_from: 2024-01-01}
outages:
  - {start: 2026-10-05T10:00:00+02:00, end: 2026-10-05T12:00:00+02:00, notified_at: 2026-10-05T10:00:00+02:00}
  - {start: 2026-10-07T14:00:00+02:00, end: 2026-10-07T15:00:00+02:00, notified_at: 2026-10-07T14:00:00+02:00}
  - {start: 2026-10-09T09:00:00+02:00, end: 2026-10-09T11:00:00+02:00, notified_at: 2026-10-09T09:00:00+02:00}
  - {start: 2026-10-12T10:00:00+02:00, end: 2026-10-12T11:00:00+02:00, notified_at: 2026-10-12T10:00:00+02:00}
"""


def lyon(kind: Kind, subject: str, data: dict[str, Any], service: str = "acme-lyon-fibre") -> Record:
    return Record(kind, subject, data, client="acme", site="Lyon", service=service)


def opening(ref: str, at: str, service: str = "acme-lyon-fibre") -> Record:
    return lyon(Kind.TICKET_OPEN, ref, {"opened_at": at, "channel": "phone"}, service)


def ticket(ref: str, opened: str, restored: str) -> list[Record]:
    return [
        opening(ref, f"2026-10-{opened}:00+02:00"),
        Record(Kind.TICKET_RESTORE, ref, {"restored_at": f"2026-10-{restored}:00+02:00"}),
    ]


def build_with_ledger(tmp_path: Path, records: list[Record]) -> tuple[list[Record], dict[str, Any], Path]:
    manifest = write_manifest(tmp_path, {"Lyon": FINDINGS_CASE})
    with Ledger(tmp_path / "l.sqlite", FakeClock(datetime(2026, 10, 1, tzinfo=UTC))) as book:
        stored = book.append_many(records)
    result = vigie(
        "claims", "build", "--month", "2026-10", "--manifest", str(manifest), "--out", "out", "--today", "2026-11-05",
        "--ledger", "l.sqlite", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return stored, json.loads((tmp_path / "out" / "acme-2026-10.json").read_text())["annex"], tmp_path / "out"


def test_the_annex_lists_what_the_ledger_and_the_measurements_disagree_on(tmp_path: Path) -> None:
    stored, annex, out = build_with_ledger(
        tmp_path,
        [
            *ticket("T-DOWN", "05T10:10", "05T11:00"),  # notified restored while down until 12:00
            *ticket("T-LATE", "12T10:05", "12T14:00"),  # service back at 11:00: notified 180 min later
            *ticket("T-NONE", "20T15:00", "20T16:00"),  # no outage that day
            *ticket("T-OK", "07T14:05", "07T15:10"),  # restored 10 min after the service came back: fine
            lyon(
                Kind.EXCLUSION_ADD,
                AUTO_EXCLUSION,
                {"cause": "power_cut", "start": "2026-10-22T08:00:00+02:00", "end": "2026-10-22T09:00:00+02:00"},
            ),
            lyon(
                Kind.MAINTENANCE_ADD,
                AUTO_MAINTENANCE,
                {
                    "received_at": "2026-10-01T09:00:00+02:00",
                    "start": "2026-10-09T09:30:00+02:00",
                    "end": "2026-10-09T10:30:00+02:00",
                },
            ),
        ],
    )
    ids = {r.subject: [x.id for x in stored if x.subject == r.subject] for r in stored}
    exclusion, maintenance = stored[-2].subject, stored[-1].subject
    found = [(f["kind"], f["subject"], f["records"]) for f in annex["findings"]]
    assert found == [
        ("maintenance_outside_window", maintenance, ids[maintenance]),  # began 30 min before the window
        ("maintenance_outside_window", maintenance, ids[maintenance]),  # and overran it by 30 min
        ("restored_while_down", "T-DOWN", ids["T-DOWN"]),
        ("restored_late", "T-LATE", ids["T-LATE"]),
        ("ticket_without_outage", "T-NONE", ids["T-NONE"]),
        ("exclusion_without_outage", exclusion, ids[exclusion]),
    ]
    by_kind = {f["kind"]: f for f in annex["findings"]}
    assert "began 30 min before" in annex["findings"][0]["message"]
    assert "overran the announced window by 30 min" in annex["findings"][1]["message"]
    assert annex["findings"][0]["outage_start"] == "2026-10-09T09:00:00+02:00"
    down = by_kind["restored_while_down"]
    assert f"ticket T-DOWN (records #{ids['T-DOWN'][0]}, #{ids['T-DOWN'][1]})" in down["message"]
    assert "down until 2026-10-05T12:00:00+02:00" in down["message"]
    assert (down["record_end"], down["outage_end"]) == ("2026-10-05T11:00:00+02:00", "2026-10-05T12:00:00+02:00")
    assert "180 min after the service came back" in by_kind["restored_late"]["message"]
    assert by_kind["ticket_without_outage"]["outage_start"] is None
    assert f"exclusion {exclusion} " in by_kind["exclusion_without_outage"]["message"]
    assert all(f["site"] == "Lyon" and f["service_id"] == "acme-lyon-fibre" for f in annex["findings"])
    csv_rows = (out / "acme-2026-10-findings.csv").read_text().splitlines()
    assert len(csv_rows) == 7 and csv_rows[3].startswith("Lyon,acme-lyon-fibre,restored_while_down,T-DOWN,")

    fr = squash(" ".join(pdf_pages(out / "acme-2026-10-fr.pdf", layout=False)[1:]))  # cells in reading order
    assert "Constats" in fr
    assert fr.count("Interruption hors de la fenêtre de maintenance annoncée") == 2
    assert "Rétablissement notifié alors que le service était encore interrompu" in fr
    assert "Rétablissement notifié longtemps après le retour du service" in fr
    assert "Ticket sans interruption mesurée autour de lui" in fr
    assert "Exclusion sans interruption mesurée sur sa période" in fr
    assert "05/10/2026 10:10 → 05/10/2026 11:00" in fr and "05/10/2026 10:00 → 05/10/2026 12:00" in fr
    en = squash(" ".join(pdf_pages(out / "acme-2026-10-en.pdf", layout=False)[1:]))
    assert "Findings" in en and "Restoration notified while the service was still down" in en
    assert "Ticket with no measured outage around it" in en and f"{exclusion} (#{ids[exclusion][0]})" in en
    assert "180 min after the service came back" in en  # the detail, in English only


def test_a_ledger_that_agrees_with_the_measurements_has_no_findings(tmp_path: Path) -> None:
    _, annex, out = build_with_ledger(
        tmp_path,
        [
            *ticket("T-OK", "07T14:05", "07T15:10"),
            lyon(
                Kind.EXCLUSION_ADD,
                AUTO_EXCLUSION,
                {"cause": "power_cut", "start": "2026-10-12T10:00:00+02:00", "end": "2026-10-12T11:00:00+02:00"},
            ),
            Record(Kind.EXCLUSION_ACCEPT, FOLLOW, {}),  # accepted: applied to the outage it covers
            lyon(
                Kind.MAINTENANCE_ADD,
                AUTO_MAINTENANCE,
                {
                    "received_at": "2026-10-01T09:00:00+02:00",
                    "start": "2026-10-09T08:00:00+02:00",
                    "end": "2026-10-09T12:00:00+02:00",
                },
            ),
        ],
    )
    assert annex["findings"] == []
    assert len(annex["services"][0]["ledger_records"]) == 5  # the records were used
    assert annex["outages"][3]["cause"] == "power_cut"
    assert (out / "acme-2026-10-findings.csv").read_text().splitlines()[1:] == []
    assert "Constats" not in " ".join(pdf_pages(out / "acme-2026-10-fr.pdf"))
    assert "Findings" not in " ".join(pdf_pages(out / "acme-2026-10-en.pdf"))


def test_a_freeze_outside_its_tickets_life_never_reaches_the_claim(tmp_path: Path) -> None:
    """No cross-check needed for a freeze overlapping no open ticket time: the ledger refuses it."""
    with Ledger(tmp_path / "l.sqlite", FakeClock(datetime(2026, 10, 1, tzinfo=UTC))) as book:
        book.append_many(ticket("T-1", "05T10:10", "05T11:00"))
        freeze = {"start": "2026-10-05T11:30:00+02:00", "end": "2026-10-05T12:00:00+02:00"}
        with pytest.raises(LedgerError, match="after the restoration notified at 2026-10-05T11:00:00"):
            book.append(Record(Kind.TICKET_FREEZE, "T-1", freeze))
        with pytest.raises(LedgerError, match="before the ticket was opened"):
            book.append(Record(Kind.TICKET_FREEZE, "T-1", {**freeze, "start": "2026-10-05T10:00:00+02:00"}))


def test_findings_look_at_the_records_of_that_service_and_month_only(tmp_path: Path) -> None:
    (tmp_path / "case.yaml").write_text(FINDINGS_CASE)
    statement = compute(load_case(tmp_path / "case.yaml"))
    with Ledger(tmp_path / "l.sqlite", FakeClock(datetime(2026, 12, 1, tzinfo=UTC))) as book:
        book.append_many(
            [
                # not restored: opened during the 5 Oct outage → nothing; opened on a quiet day → a finding
                opening("T-OPEN", "2026-10-05T10:30:00+02:00"),
                opening("T-QUIET", "2026-10-25T10:00:00+01:00"),
                # another service, another month: not this statement's business
                opening("T-OTHER", "2026-10-25T10:00:00+01:00", "acme-lyon-backup"),
                opening("T-NOV", "2026-11-10T10:00:00+01:00"),
            ]
        )
        view = fold_all(book.records(client="acme"))
    found = findings_for(view, ServiceRef("acme", "Lyon", "acme-lyon-fibre"), statement)
    # both still open at the month's end: their lives overlap (T-OTHER, T-NOV are not paired with them either)
    assert [(f.kind, f.subject, f.record_end) for f in found] == [
        (FindingKind.TICKET_WITHOUT_OUTAGE, "T-QUIET", None),
        (FindingKind.OVERLAPPING_TICKETS, "T-OPEN + T-QUIET", None),
    ]
    assert "no outage measured from 2026-10-25T09:00:00+01:00 to 2026-10-25T11:00:00+01:00" in found[0].message


def test_a_batch_collects_garbage_per_claim_and_gives_the_collector_back(tmp_path: Path) -> None:
    _, groups = read_manifest(write_manifest(tmp_path, {"Lyon": INTERNET_CASE}))
    claim = build_claim(groups[0].client, items_for(groups[0], Month(2026, 10)), today=date(2026, 11, 5))
    assert gc.isenabled()
    batch = write_claims([claim, claim], tmp_path / "out", jobs=1)
    _, files = next(batch)
    assert isinstance(files, list)
    assert not gc.isenabled()  # during the batch: one collection per claim, by write_claim
    assert {p.name for p in files} >= {"acme-2026-10-fr.pdf", "acme-2026-10-findings.csv"}
    assert len(list(batch)) == 1
    assert gc.isenabled()


def test_a_claim_that_cannot_be_written_is_reported_and_the_others_are_written(tmp_path: Path) -> None:
    """One client's pack fails (here its English PDF's path is taken by a directory): the CLI names the client
    and the error, writes every other client's pack, exits 1, and leaves no partial pack of the failed client
    (its earlier pack stays as it was, not half replaced)."""
    for n, case in enumerate((INTERNET_CASE, QUIET_CASE)):
        (tmp_path / f"case-{n}.yaml").write_text(case.replace("'NOTE'", '"n"'))
    manifest = {
        "clients": [
            {"id": "acme", "name": "ACME", "services": [{"case": "case-0.yaml", "site": "Lyon"}]},
            {"id": "globex", "name": "Globex", "services": [{"case": "case-1.yaml", "site": "Paris"}]},
        ]
    }
    (tmp_path / "claims.yaml").write_text(json.dumps(manifest))
    out = tmp_path / "out"
    (out / "acme-2026-10-en.pdf").mkdir(parents=True)
    (out / "acme-2026-10.json").write_text("the pack of an earlier build")
    done = vigie(
        "claims", "build", "--month", "2026-10", "--manifest", "claims.yaml", "--out", "out", "--today", "2026-11-05",
        "--jobs", "2", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "error: acme 2026-10: no claim written: IsADirectoryError" in done.stderr
    assert "acme-2026-10-en.pdf" in done.stderr and "1 of 2 claims not written" in done.stderr
    assert "globex 2026-10: nothing_to_claim" in done.stdout
    written = sorted(p.name for p in out.iterdir())
    assert "globex-2026-10-fr.pdf" in written and "globex-2026-10-findings.csv" in written
    assert [n for n in written if n.startswith("acme")] == ["acme-2026-10-en.pdf", "acme-2026-10.json"]
    assert (out / "acme-2026-10.json").read_text() == "the pack of an earlier build"
    assert not [n for n in written if n.endswith(".part")]


OURS = "VIGIE-acme-lyon-fibre-20261005T0800Z"  # our e-mailed notification's ticket (agent/notify_schedule.py)


def test_the_claim_shows_the_providers_reference_of_a_ticket_in_json_csv_and_pdf(tmp_path: Path) -> None:
    _, annex, out = build_with_ledger(
        tmp_path,
        [
            *ticket(OURS, "05T10:10", "05T12:10"),
            Record(Kind.TICKET_REFERENCE, OURS, {"provider_ref": "TT-48213"}),
            *ticket("T-OK", "07T14:05", "07T15:10"),
        ],
    )
    assert [(t["id"], t["provider_ref"]) for t in annex["tickets"]] == [(OURS, "TT-48213"), ("T-OK", None)]
    rows = (out / "acme-2026-10-tickets.csv").read_text().splitlines()
    assert rows[0].split(",")[-1] == "provider_ref" and CSV_COLUMNS["tickets"][-1] == "provider_ref"
    assert rows[1].startswith(f"Lyon,acme-lyon-fibre,{OURS},") and rows[1].endswith(",TT-48213")
    assert rows[2].startswith("Lyon,acme-lyon-fibre,T-OK,") and rows[2].endswith(",")  # none: empty
    for lang, header in (("fr", "Réf. Prestataire"), ("en", "Provider ref.")):
        text = squash(" ".join(pdf_pages(out / f"acme-2026-10-{lang}.pdf", layout=False)[1:]))
        assert header in text and "TT-48213" in text
        assert OURS in "".join(text.split())  # our reference may wrap in its cell


def test_a_long_ticket_reference_wraps_in_its_cell_and_leaves_the_figures_whole(tmp_path: Path) -> None:
    """A VIGIE-… reference is one long word: its column is capped and the word split, so the columns of
    figures keep their width (they were squeezed into "Pénali té", "1,08333 3 h") and a period wraps at its
    arrow, never between a date and its hour."""
    _, _, out = build_with_ledger(
        tmp_path,
        [
            *ticket(OURS, "05T10:10", "05T12:10"),
            Record(Kind.TICKET_REFERENCE, OURS, {"provider_ref": "TT-48213"}),
            *ticket("T-OK", "07T14:05", "07T15:10"),
        ],
    )
    for lang, penalty, hours in (("fr", "Pénalité", "1,083333 h"), ("en", "Penalty", "1.083333 h")):
        pages = pdf_pages(out / f"acme-2026-10-{lang}.pdf", layout=False)[1:]
        lines = [squash(line) for page in pages for line in page.splitlines()]  # a cell's lines, one by one
        assert any(penalty in line for line in lines) and any(hours in line for line in lines), lang
        assert not [line for line in lines if re.search(r"(\d\d/\d\d/|-\d\d-)\d+$", line)], (
            lang
        )  # no date without its hour
    fr = [
        squash(line) for page in pdf_pages(out / "acme-2026-10-fr.pdf", layout=False)[1:] for line in page.splitlines()
    ]
    assert "05/10/2026 10:10 →" in fr and "05/10/2026 12:10" in fr  # the French period wraps at its arrow


def test_two_tickets_for_one_incident_are_a_finding_until_one_is_attached_to_the_other(tmp_path: Path) -> None:
    """Our ticket and the provider's, recorded as a second ticket: each would earn its GTR penalty. The
    finding names both and says what to do; done through the CLI, the next claim has one ticket."""
    stored, annex, out = build_with_ledger(
        tmp_path,
        [*ticket(OURS, "05T10:10", "05T12:10"), *ticket("TT-48213", "05T10:30", "05T12:05")],
    )
    ours, theirs = [r.id for r in stored[:2]], [r.id for r in stored[2:]]
    ((kind, subject, records, start, end, outage, message),) = [
        tuple(f[k] for k in ("kind", "subject", "records", "record_start", "record_end", "outage_start", "message"))
        for f in annex["findings"]
    ]
    assert (kind, subject, records) == ("overlapping_tickets", f"{OURS} + TT-48213", ours + theirs)
    assert (start, end, outage) == ("2026-10-05T10:30:00+02:00", "2026-10-05T12:05:00+02:00", None)  # the overlap
    assert (
        f"tickets {OURS} (records #{ours[0]}, #{ours[1]}) and TT-48213 (records #{theirs[0]}, #{theirs[1]})" in message
    )
    assert (
        f"vigie ledger retract {theirs[1]} --reason 'provider ticket of {OURS}'; "
        f"vigie ledger retract {theirs[0]} --reason 'provider ticket of {OURS}')" in message
    )
    assert f"vigie ticket reference {OURS} TT-48213" in message
    assert [t["id"] for t in annex["tickets"]] == [OURS, "TT-48213"]  # both still computed: a finding corrects nothing
    findings_csv = (out / "acme-2026-10-findings.csv").read_text().splitlines()
    assert findings_csv[1].startswith(f"Lyon,acme-lyon-fibre,overlapping_tickets,{OURS} + TT-48213,")
    fr = squash(" ".join(pdf_pages(out / "acme-2026-10-fr.pdf", layout=False)[1:]))
    assert "Deux tickets ouverts en même temps pour ce service" in fr
    en = squash(" ".join(pdf_pages(out / "acme-2026-10-en.pdf", layout=False)[1:]))
    assert "Two tickets open at the same time for this service" in en

    env = {"VIGIE_LEDGER": str(tmp_path / "l.sqlite")}
    for args in (
        *(("ledger", "retract", str(n), "--reason", "the provider's ticket of VIGIE-…") for n in reversed(theirs)),
        ("ticket", "reference", OURS, "TT-48213"),
    ):
        done = subprocess.run([*VIGIE, *args], capture_output=True, text=True, cwd=tmp_path, timeout=60, env=env)
        assert done.returncode == 0, done.stderr
    rebuilt = vigie(
        "claims", "build", "--month", "2026-10", "--manifest", "claims.yaml", "--out", "again", "--today", "2026-11-05",
        "--ledger", "l.sqlite", cwd=tmp_path,
    )  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stderr
    again = json.loads((tmp_path / "again" / "acme-2026-10.json").read_text())["annex"]
    assert again["findings"] == []
    assert [(t["id"], t["provider_ref"]) for t in again["tickets"]] == [(OURS, "TT-48213")]


def test_tickets_of_one_service_that_do_not_overlap_or_differ_in_kind_are_no_finding(tmp_path: Path) -> None:
    replacement = {"opened_at": "2026-10-07T14:10:00+02:00", "channel": "phone", "kind": "equipment_replacement"}
    _, annex, _ = build_with_ledger(
        tmp_path,
        [
            *ticket("T-1", "07T14:05", "07T15:00"),
            *ticket("T-2", "07T15:00", "07T15:10"),  # opened when T-1 was restored: one after the other
            lyon(Kind.TICKET_OPEN, "T-3", replacement),  # overlaps T-1, but a replacement has its own GTR
            Record(Kind.TICKET_RESTORE, "T-3", {"restored_at": "2026-10-07T15:05:00+02:00"}),
            *ticket("T-4", "12T10:05", "12T11:10"),
        ],
    )
    assert len(annex["tickets"]) == 4
    assert annex["findings"] == []
