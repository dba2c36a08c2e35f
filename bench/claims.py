"""Benchmark of the monthly claims (issue 5, "Performance"): 200 clients × 10 sites by default.

    .venv/bin/python bench/claims.py                  # 200 clients × 10 sites, October 2026
    .venv/bin/python bench/claims.py --quick          # 10 clients × 10 sites (CI smoke)
    .venv/bin/python bench/claims.py --clients 50 --sites 20 --stages

Each client gets `--sites` Internet service instances with a few outages, an announced maintenance, an
exclusion and a ticket (deterministic, seeded), plus a VGA line with GTR tickets on every fifth site.
Per client the bench does what `vigie claims build` does: compute every statement (sla.statement.compute),
build the claim (annex + digest), draw the timeline, render the French and English PDFs (WeasyPrint) and
write JSON and CSV. It reports seconds per client (median and p95), the time of the first and the second
half of the clients (linear growth: the halves take the same time), and the peak resident memory
(ru_maxrss). `--stages` also splits the time per stage. Target: under 0.5 s per client, linear.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.claims.build import (
    ClaimItem,
    ClientInfo,
    FreezeSpan,
    build_claim,
    claim_document,
)
from agent.claims.charts import timeline_svgs
from agent.claims.render import CSV_COLUMNS, render_csv, render_html, render_pdf
from sla.calendars import PARIS, Month, epoch
from sla.model import AccessType, Cause, Channel, Exclusion, Freeze, GtrOption, Outage, Service, Ticket
from sla.statement import Case, compute


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=PARIS)


def make_case(rng: random.Random, client: int, site: int) -> Case:
    month = Month(2026, 10)
    if site % 5 == 4:
        service = Service(
            id=f"c{client}-s{site}-vga",
            contract="vga",
            monthly_fee_eur=Decimal("39.90"),
            access_type=AccessType.ANALOG,
            gtr_option=GtrOption.BUSINESS_6H,
        )
    else:
        service = Service(id=f"c{client}-s{site}-net", contract="internet", monthly_fee_eur=Decimal("450.00"))
    outages, tickets, exclusions = [], [], []
    for n in range(rng.randint(0, 4)):
        day = rng.choice([5, 6, 7, 8, 9, 12, 13, 14, 15, 16, 19, 20, 21, 22, 23, 26, 27, 28, 29, 30])
        start = at(day, rng.randint(9, 15), rng.choice([0, 15, 30, 45]))
        end = start + timedelta(minutes=rng.randint(2, 400))
        outages.append(Outage(start, end, notified_at=start + timedelta(minutes=5)))
        if n == 0:
            opened = start + timedelta(minutes=8)
            freeze = (Freeze(opened + timedelta(minutes=30), opened + timedelta(minutes=60), "site_access_pending"),)
            tickets.append(
                Ticket(
                    id=f"T-{client}-{site}",
                    opened_at=opened,
                    channel=Channel.PHONE,
                    confirmed_in_writing_at=opened + timedelta(minutes=rng.choice([10, 45])),
                    restored_at=end + timedelta(minutes=10) if end > opened + timedelta(minutes=61) else None,
                    freezes=freeze if end > opened + timedelta(minutes=61) else (),
                )
            )
        if n == 1:
            exclusions.append(Exclusion(Cause.POWER_CUT, start, end, note="UPS log", evidence="ups.log"))
    exclusions.append(
        Exclusion(Cause.PLANNED_MAINTENANCE, at(20, 9), at(20, 10), announced_at=at(13, 12), note="MNT <notice>")
    )
    return Case(
        month=month, service=service, outages=tuple(outages), exclusions=tuple(exclusions), tickets=tuple(tickets)
    )


def run(clients: int, sites: int, out: Path, stages: bool) -> dict[str, object]:
    rng = random.Random(20261031)
    per_client: list[float] = []
    stage_s: dict[str, float] = defaultdict(float)
    total_eur = Decimal(0)
    for c in range(clients):
        cases = [make_case(rng, c, s) for s in range(sites)]  # input generation is not timed
        t0 = time.perf_counter()
        items = []
        for s, case in enumerate(cases):
            statement = compute(case)
            freezes = tuple(FreezeSpan(t.id, epoch(f.start), epoch(f.end)) for t in case.tickets for f in t.freezes)
            items.append(ClaimItem(f"client-{c}", f"Site {s} <&>", statement, freezes=freezes))
        t1 = time.perf_counter()
        claim = build_claim(ClientInfo(f"client-{c}", f"Client {c} SAS"), items, today=date(2026, 11, 5))
        t2 = time.perf_counter()
        charts = timeline_svgs(claim.items)
        t3 = time.perf_counter()
        for lang in ("fr", "en"):
            (out / f"client-{c}-{lang}.pdf").write_bytes(render_pdf(render_html(claim, lang, charts)))
        t4 = time.perf_counter()
        (out / f"client-{c}.json").write_text(json.dumps(claim_document(claim), ensure_ascii=False))
        for table in CSV_COLUMNS:
            (out / f"client-{c}-{table}.csv").write_text(render_csv(claim, table))
        t5 = time.perf_counter()
        per_client.append(t5 - t0)
        for name, dt in (
            ("compute", t1 - t0),
            ("build", t2 - t1),
            ("charts", t3 - t2),
            ("pdf", t4 - t3),
            ("json_csv", t5 - t4),
        ):
            stage_s[name] += dt
        total_eur += claim.total_eur
    half = len(per_client) // 2
    result: dict[str, object] = {
        "clients": clients,
        "sites_per_client": sites,
        "total_s": round(sum(per_client), 3),
        "s_per_client_median": round(statistics.median(per_client), 4),
        "s_per_client_mean": round(statistics.fmean(per_client), 4),
        "s_per_client_p95": round(sorted(per_client)[int(0.95 * (len(per_client) - 1))], 4),
        "first_half_s": round(sum(per_client[:half]), 3),
        "second_half_s": round(sum(per_client[half:]), 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "total_claimed_eur": str(total_eur),
    }
    if stages:
        result["stages_s_per_client"] = {k: round(v / clients, 4) for k, v in stage_s.items()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="10 clients (CI smoke)")
    parser.add_argument("--stages", action="store_true", help="time per stage")
    parser.add_argument("--out", type=Path, default=None, help="keep the files here (default: a temp dir)")
    args = parser.parse_args()
    clients = 10 if args.quick else args.clients
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        result = run(clients, args.sites, out, args.stages)
    target = 0.5
    print(
        f"{result['clients']} clients × {result['sites_per_client']} sites: "
        f"{result['s_per_client_median']} s/client median, {result['s_per_client_p95']} p95 "
        f"(target < {target}); halves {result['first_half_s']} s / {result['second_half_s']} s; "
        f"peak RSS {result['peak_rss_mib']} MiB"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
