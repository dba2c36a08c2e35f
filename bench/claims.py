"""Benchmark of the monthly claims (issue 5, "Performance"): 200 clients × 10 sites by default.

    .venv/bin/python bench/claims.py                  # 200 clients × 10 sites, October 2026, one job per core
    .venv/bin/python bench/claims.py --quick          # 10 clients × 10 sites (CI smoke)
    .venv/bin/python bench/claims.py --clients 50 --sites 20 --jobs 1 --stages

Each client gets `--sites` Internet service instances with a few outages, an announced maintenance, an
exclusion and a ticket (deterministic, seeded per client), plus a VGA line with GTR tickets on every fifth
site. Per client the bench does what `vigie claims build` does: compute every statement
(sla.statement.compute), build the claim (annex + digest), draw the timeline once, render the French and
English PDFs (ReportLab, sharing the chart) and write JSON and CSV. Clients run on a pool of `--jobs`
processes (default: one per core), as `vigie claims build --jobs` does.

It reports, honestly for a pool:
- wall seconds per client = the run's wall time / clients (throughput; what 200 clients cost in time);
- CPU seconds per client = CPU of the parent and every worker (getrusage, startup included) / clients;
- the latency of one client inside its worker (median, p95);
- linear growth: the wall time until half the clients are done vs. the rest, and the CPU of each half;
- peak memory of all processes together: the largest sum of RSS and of PSS (shared pages counted once)
  over the parent and its workers, sampled every 0.1 s from /proc, and the largest single RSS (ru_maxrss).
`--stages` also splits the CPU time per stage. Target: under 0.5 s per client, linear.

Last measured (docs/claims.md, "Performance"; 2 shared vCPUs, load 0.9–1.2): 200 clients, 2 jobs: 0.042 wall s
and 0.085 CPU s per client (PDFs 0.069, garbage collection 0.006), halves within 3 %, peak 92 MiB PSS.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.claims.build import (
    ClaimItem,
    ClientInfo,
    FreezeSpan,
    build_claim,
    claim_document,
)
from agent.claims.render import (
    CSV_COLUMNS,
    chart_drawings,
    collect_claim_garbage,
    default_jobs,
    prepare_batch_process,
    render_csv,
    render_pdf,
)
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


SEED = 20261031


def client_job(c: int, sites: int, out: Path) -> dict[str, Any]:
    """One client's claim pack; returns its wall and CPU time (input generation not timed)."""
    rng = random.Random(f"{SEED}-{c}")
    cases = [make_case(rng, c, s) for s in range(sites)]
    w0, t0 = time.perf_counter(), time.process_time()
    items = []
    for s, case in enumerate(cases):
        statement = compute(case)
        freezes = tuple(FreezeSpan(t.id, epoch(f.start), epoch(f.end)) for t in case.tickets for f in t.freezes)
        items.append(ClaimItem(f"client-{c}", f"Site {s} <&>", statement, freezes=freezes))
    t1 = time.process_time()
    claim = build_claim(ClientInfo(f"client-{c}", f"Client {c} SAS"), items, today=date(2026, 11, 5))
    t2 = time.process_time()
    charts = chart_drawings(claim)  # once for both languages, as write_claim does
    t3 = time.process_time()
    for lang in ("fr", "en"):
        (out / f"client-{c}-{lang}.pdf").write_bytes(render_pdf(claim, lang, charts))
    t4 = time.process_time()
    (out / f"client-{c}.json").write_text(json.dumps(claim_document(claim), ensure_ascii=False))
    for table in CSV_COLUMNS:
        (out / f"client-{c}-{table}.csv").write_text(render_csv(claim, table))
    t5 = time.process_time()
    collect_claim_garbage()  # as write_claim does
    t6 = time.process_time()
    return {
        "wall": time.perf_counter() - w0,
        "cpu": t6 - t0,
        "stages": {
            "compute": t1 - t0,
            "build": t2 - t1,
            "charts": t3 - t2,
            "pdf": t4 - t3,
            "json_csv": t5 - t4,
            "gc": t6 - t5,
        },
        "eur": claim.annex["total_claimed_eur"],
    }


def _job(args: tuple[int, int, Path]) -> dict[str, Any]:
    return client_job(*args)


class MemorySampler(threading.Thread):
    """Largest sum of RSS and of PSS over this process and its children, every `period` seconds."""

    def __init__(self, period: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.period = period
        self.stop = threading.Event()
        self.peak_rss_kib = 0
        self.peak_pss_kib = 0
        self.peak_processes = 0

    @staticmethod
    def _pids() -> list[int]:
        me = os.getpid()
        pids = [me]
        for task in os.listdir(f"/proc/{me}/task"):
            try:
                with open(f"/proc/{me}/task/{task}/children") as f:
                    pids += [int(p) for p in f.read().split()]
            except OSError:
                pass
        return pids

    @staticmethod
    def _kib(pid: int) -> tuple[int, int]:
        rss = pss = 0
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss = int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss = int(line.split()[1])
        except OSError:
            pass
        return rss, pss

    def sample(self) -> None:
        pids = self._pids()
        sizes = [self._kib(p) for p in pids]
        self.peak_rss_kib = max(self.peak_rss_kib, sum(r for r, _ in sizes))
        self.peak_pss_kib = max(self.peak_pss_kib, sum(p for _, p in sizes))
        self.peak_processes = max(self.peak_processes, len(pids))

    def run(self) -> None:
        while not self.stop.wait(self.period):
            self.sample()


def run(clients: int, sites: int, out: Path, stages: bool, jobs: int) -> dict[str, object]:
    sampler = MemorySampler()
    sampler.start()
    prepare_batch_process()  # as write_claims does: ReportLab and fonts loaded, GC in hand, inherited by the workers
    t_start = time.monotonic()
    args = [(c, sites, out) for c in range(clients)]
    half = clients // 2
    t_half = t_start
    if jobs <= 1:
        results = []
        for n, a in enumerate(args):
            results.append(_job(a))
            if n + 1 == half:
                t_half = time.monotonic()
    else:
        with ProcessPoolExecutor(max_workers=jobs, initializer=prepare_batch_process) as pool:
            results = []
            for n, r in enumerate(pool.map(_job, args)):  # in client order
                results.append(r)
                if n + 1 == half:
                    t_half = time.monotonic()
    wall = time.monotonic() - t_start
    sampler.stop.set()
    sampler.join()
    sampler.sample()
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime
    latency = [r["wall"] for r in results]
    job_cpu = [r["cpu"] for r in results]
    stage_s: dict[str, float] = defaultdict(float)
    for r in results:
        for k, v in r["stages"].items():
            stage_s[k] += v
    result: dict[str, object] = {
        "clients": clients,
        "sites_per_client": sites,
        "jobs": jobs,
        "cores": default_jobs(),
        "wall_s": round(wall, 3),
        "wall_s_per_client": round(wall / clients, 4),
        "cpu_s": round(cpu, 3),
        "cpu_s_per_client": round(cpu / clients, 4),
        "cpu_s_per_client_jobs_only": round(sum(job_cpu) / clients, 4),
        "latency_s_median": round(statistics.median(latency), 4),
        "latency_s_p95": round(sorted(latency)[int(0.95 * (len(latency) - 1))], 4),
        "wall_first_half_s": round(t_half - t_start, 3),
        "wall_second_half_s": round(wall - (t_half - t_start), 3),
        "cpu_first_half_s": round(sum(job_cpu[:half]), 3),
        "cpu_second_half_s": round(sum(job_cpu[half:]), 3),
        "peak_rss_all_processes_mib": round(sampler.peak_rss_kib / 1024, 1),
        "peak_pss_all_processes_mib": round(sampler.peak_pss_kib / 1024, 1),
        "processes": sampler.peak_processes,
        "max_rss_parent_mib": round(me.ru_maxrss / 1024, 1),
        "max_rss_largest_worker_mib": round(children.ru_maxrss / 1024, 1),
        "total_claimed_eur": str(sum((Decimal(r["eur"]) for r in results), Decimal(0))),
    }
    if stages:
        result["stages_cpu_s_per_client"] = {k: round(v / clients, 4) for k, v in stage_s.items()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="processes (default: one per core)")
    parser.add_argument("--quick", action="store_true", help="10 clients (CI smoke)")
    parser.add_argument("--stages", action="store_true", help="CPU time per stage")
    parser.add_argument("--out", type=Path, default=None, help="keep the files here (default: a temp dir)")
    args = parser.parse_args()
    clients = 10 if args.quick else args.clients
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        result = run(clients, args.sites, out, args.stages, max(1, args.jobs))
    target = 0.5
    print(
        f"{result['clients']} clients × {result['sites_per_client']} sites, {result['jobs']} jobs "
        f"on {result['cores']} cores: {result['wall_s_per_client']} wall s/client (target < {target}), "
        f"{result['cpu_s_per_client']} CPU s/client; one client {result['latency_s_median']} s median, "
        f"{result['latency_s_p95']} p95; halves {result['wall_first_half_s']} s / {result['wall_second_half_s']} s "
        f"wall, {result['cpu_first_half_s']} s / {result['cpu_second_half_s']} s CPU; peak memory of "
        f"{result['processes']} processes {result['peak_pss_all_processes_mib']} MiB PSS "
        f"({result['peak_rss_all_processes_mib']} MiB RSS)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
