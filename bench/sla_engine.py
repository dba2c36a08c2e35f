"""Benchmark of the SLA engine (issue 2, "Performance"): probe samples → qualified outages → statements.

    .venv/bin/python bench/sla_engine.py                     # 1,000 instances (≈ 260 M samples)
    .venv/bin/python bench/sla_engine.py --instances 100
    .venv/bin/python bench/sla_engine.py --quick             # 50 instances, CI smoke
    .venv/bin/python bench/sla_engine.py --scaling           # 100 / 1,000 / 10,000 instances

Each service instance gets one month (November 2024: 30 days, two holidays, no DST change) of 30-second
samples from three probes: 86,400 samples per probe, 259,200 per instance. The data is synthetic and
deterministic (`numpy.random.default_rng((SEED, instance))`, so instance i is the same whatever
`--instances` is) and is generated per instance, on the fly: memory stays bounded by one instance.
It has a realistic shape: a few total outages per month (lognormal durations, minutes to hours), short
blips some of which qualify as microcuts, single-probe failures that are not outages, packet loss,
collector gaps (unknown time), probes with different phases and a little jitter; tickets for most
outages (phone / email / portal, written confirmation or not), planned maintenance (mostly announced
in time), a few power-cut exclusions; a mix of contracts (Internet, VPN, Trunk SIP, Centrex, Mobile
with voice + data probes, Hosted with probation, Office 365, VGA with GTR tickets) and of policies.

Two timings, both on the same already-generated arrays (generation is timed apart and excluded):
- the pipeline: `Case(...)` with `ProbeSamples`, `sla.statement.compute` (qualification, combination,
  exclusions, availability, GTR, GTD) and `to_json` — the statement as the product emits it;
- the floor: one numpy pass reading the same arrays (`times.sum()` and `count_nonzero(ok)` per probe).
Both run in this single thread, one after the other per instance, so both read cache-warm arrays. The
ratio and samples/s per core use CPU time (`time.process_time`), which other tenants of a shared machine
disturb less than wall time; both are printed. A warm-up instance (holiday tables, calendar caches) runs
first and is not counted. "qualification" is timed apart, for the breakdown only.
Targets (issue 2): pipeline within 5 × the floor, and under 60 s on one core for 1,000 instances.

Output: a table for people, then one JSON line (the last line) with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

# Single-threaded numpy: the figures are per core.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sla.calendars import Month, from_epoch, local_midnight  # noqa: E402
from sla.model import (  # noqa: E402
    AccessType,
    Cause,
    Channel,
    Exclusion,
    GtrOption,
    Policy,
    Qualification,
    Service,
    Ticket,
    UnknownAs,
)
from sla.profiles import profile_for  # noqa: E402
from sla.qualify import combine, qualify_probe  # noqa: E402
from sla.statement import Case, ProbeSamples, compute, to_json  # noqa: E402

SEED = 20241101
MONTH = Month(2024, 11)
INTERVAL_S = 30
TARGET_RATIO = 5.0
TARGET_SECONDS_1000 = 60.0
QUICK_INSTANCES = 50
SCALING_SIZES = (100, 1_000, 10_000)
WARMUP_INDEX = 2**31  # an instance never measured

# (contract, share, probe names). Mobile: "Voix + Data" (IX 12.1.2), the groups are name prefixes.
CONTRACT_MIX: tuple[tuple[str, float, tuple[str, str, str]], ...] = (
    ("internet", 0.35, ("icmp-a", "icmp-b", "http")),
    ("vpn_firewall", 0.15, ("icmp-a", "icmp-b", "ipsec")),
    ("trunk_sip", 0.10, ("icmp", "sip-options", "rtp")),
    ("centrex", 0.08, ("icmp", "sip-options", "http")),
    ("mobile", 0.10, ("voice", "data-1", "data-2")),
    ("hosted", 0.10, ("icmp", "http", "tcp-443")),
    ("office365", 0.05, ("http-a", "http-b", "dns")),
    ("vga", 0.07, ("line-test", "icmp-a", "icmp-b")),
)
FEES = tuple(Decimal(f) for f in ("39.00", "89.90", "150.00", "450.00", "1200.00"))


@dataclass(frozen=True)
class Instance:
    case: Case  # without samples: built by the timed pipeline
    probes: tuple[ProbeSamples, ...]

    @property
    def n_samples(self) -> int:
        return sum(int(p.times.size) for p in self.probes)


def _at(seconds: int) -> datetime:
    return from_epoch(int(seconds))


def _interval(rng: np.random.Generator, start: int, end: int, duration: int) -> tuple[int, int]:
    s = int(rng.integers(start, max(start + 1, end - duration)))
    return s, min(end, s + duration)


def generate(index: int) -> Instance:
    """One service instance and its month of samples, deterministic in (SEED, index)."""
    rng = np.random.default_rng((SEED, index))
    m_start, m_end = MONTH.start, MONTH.end
    shares = np.array([share for _, share, _ in CONTRACT_MIX])
    contract, _, names = CONTRACT_MIX[int(rng.choice(len(CONTRACT_MIX), p=shares / shares.sum()))]

    # Service and policy.
    in_service_from: date | None = date(2021, 3, 15)
    samples_from = m_start
    if rng.random() < 0.02:  # installed during the month: probes start that day
        in_service_from = MONTH.first_day + timedelta(days=int(rng.integers(1, 25)))
        samples_from = local_midnight(in_service_from)
    service = Service(
        id=f"svc-{index:05d}-{contract}",
        contract=contract,
        monthly_fee_eur=FEES[int(rng.integers(len(FEES)))],
        in_service_from=in_service_from,
        access_type=(AccessType.ANALOG if rng.random() < 0.7 else AccessType.ISDN_T0) if contract == "vga" else None,
        gtr_option=GtrOption.STANDARD if contract == "vga" else None,
        probation_until=MONTH.first_day + timedelta(days=40) if contract == "hosted" and rng.random() < 0.2 else None,
    )
    policy = Policy(
        unknown_as=UnknownAs.UNAVAILABLE if rng.random() < 0.1 else UnknownAs.AVAILABLE,
        holidays_subdivision="57" if rng.random() < 0.05 else None,
        count_unnotified=bool(rng.random() < 0.1),
    )
    qualification = Qualification(down_after=2) if rng.random() < 0.2 else Qualification()

    # Service-level events (epoch seconds, half-open): total outages, blips, collector gaps.
    span = (samples_from, m_end)
    outages = [
        _interval(rng, *span, int(np.clip(rng.lognormal(np.log(1200), 1.2), 180, 12 * 3600)))
        for _ in range(int(rng.poisson(2.5)))
    ]
    blips = [_interval(rng, *span, int(rng.integers(40, 100))) for _ in range(int(rng.poisson(1.5)))]
    gaps = [_interval(rng, *span, int(rng.integers(300, 4 * 3600))) for _ in range(int(rng.random() < 0.3))]

    # Exclusions: planned maintenance (probes see it fail), power cuts on an outage.
    exclusions: list[Exclusion] = []
    if rng.random() < 0.2:
        day = samples_from + int(rng.integers(0, max(1, (m_end - samples_from) // 86400))) * 86400
        start = day + int(rng.choice([1 * 3600, 3 * 3600, 10 * 3600]))  # night, or in coverage hours
        end = start + int(rng.integers(30, 120)) * 60
        announced = start - int(rng.integers(3, 10)) * 86400 if rng.random() < 0.9 else start + 600
        exclusions.append(Exclusion(Cause.PLANNED_MAINTENANCE, _at(start), _at(end), _at(announced), note="upgrade"))
        outages.append((start + int(rng.integers(0, 300)), end - int(rng.integers(0, 300))))
    if outages and rng.random() < 0.05:
        s, e = outages[0]
        exclusions.append(Exclusion(Cause.POWER_CUT, _at(s), _at(e), note="ENEDIS"))

    # Tickets for most outages of 10 minutes or more.
    tickets: list[Ticket] = []
    for s, e in outages:
        if e - s < 600 or rng.random() < 0.3:
            continue
        opened = s + int(rng.integers(120, 1800))
        channel = (Channel.PHONE, Channel.EMAIL, Channel.PORTAL)[int(rng.integers(3))]
        confirmed = (
            _at(opened + int(rng.integers(300, 2700))) if channel is Channel.PHONE and rng.random() < 0.8 else None
        )
        tickets.append(
            Ticket(
                id=f"T-{index:05d}-{len(tickets) + 1}",
                opened_at=_at(opened),
                channel=channel,
                confirmed_in_writing_at=confirmed,
                restored_at=_at(max(e, opened + 60) + int(rng.integers(0, 900))),
                cause=Cause.CUSTOMER_FAULT if rng.random() < 0.05 else None,
            )
        )

    # Per-probe samples.
    probes = []
    n_full = (m_end - samples_from) // INTERVAL_S
    for name in names:
        phase = int(rng.integers(0, INTERVAL_S))
        times = samples_from + phase + INTERVAL_S * np.arange(n_full, dtype=np.int64)
        times += rng.integers(0, 3, size=n_full, dtype=np.int64)  # jitter, keeps the order
        ok = rng.random(n_full) >= rng.uniform(0.0005, 0.005)  # packet loss: isolated failures
        own = [_interval(rng, *span, int(rng.integers(300, 7200))) for _ in range(int(rng.poisson(1.0)))]
        for s, e in (*outages, *blips, *own):
            lo, hi = np.searchsorted(times, (s, e))
            ok[lo:hi] = False
        own_gaps = [_interval(rng, *span, int(rng.integers(300, 3600)))] if rng.random() < 0.1 else []
        if gaps or own_gaps:
            keep = np.ones(n_full, dtype=np.bool_)
            for s, e in (*gaps, *own_gaps):
                lo, hi = np.searchsorted(times, (s, e))
                keep[lo:hi] = False
            times, ok = times[keep], ok[keep]
        probes.append(ProbeSamples(probe=name, times=times, ok=ok))

    case = Case(
        month=MONTH,
        service=service,
        policy=policy,
        qualification=qualification,
        exclusions=tuple(exclusions),
        tickets=tuple(tickets),
    )
    return Instance(case=case, probes=tuple(probes))


def floor_pass(probes: tuple[ProbeSamples, ...]) -> int:
    """The floor: one numpy pass reading every array once."""
    acc = 0
    for p in probes:
        acc += int(p.times.sum()) + int(np.count_nonzero(p.ok))
    return acc


def qualification_only(instance: Instance) -> int:
    """For the breakdown: the sample-reading part of the pipeline alone (per-probe pass and combination over
    the month; compute() does the same, over six months for VGA)."""
    q = instance.case.qualification
    period = (MONTH.start, MONTH.end)
    timelines = {
        p.probe: qualify_probe(
            p.times, p.ok, period=period, down_after=q.down_after, up_after=q.up_after, interval_s=q.interval_s
        )
        for p in instance.probes
    }
    groups = profile_for(instance.case.service.contract, MONTH.first_day).unavailability_groups
    return len(combine(timelines, period=period, groups=groups, quorum=q.quorum).down)


def pipeline(instance: Instance) -> dict[str, Any]:
    c = instance.case
    case = Case(
        month=c.month,
        service=c.service,
        policy=c.policy,
        qualification=c.qualification,
        samples=instance.probes,
        exclusions=c.exclusions,
        tickets=c.tickets,
    )
    return to_json(compute(case))


@dataclass
class Totals:
    instances: int = 0
    samples: int = 0
    generation_s: float = 0.0
    floor_wall_s: float = 0.0
    floor_cpu_s: float = 0.0
    pipeline_wall_s: float = 0.0
    pipeline_cpu_s: float = 0.0
    qualification_s: float = 0.0
    outages: int = 0
    microcuts: int = 0
    tickets: int = 0
    exclusions: int = 0
    incomplete: int = 0
    below_objective: int = 0
    credit_eur: Decimal = Decimal(0)


def run(instances: int, *, progress: bool = False) -> tuple[Totals, list[float]]:
    """Generate, floor and pipeline each instance in turn; returns totals and per-instance pipeline seconds."""
    pipeline(generate(WARMUP_INDEX))  # warm-up (imports, holiday tables, calendar caches); not counted
    totals = Totals()
    per_instance: list[float] = []
    clock, cpu = time.perf_counter, time.process_time
    for i in range(instances):
        t = clock()
        inst = generate(i)
        totals.generation_s += clock() - t

        t, c = clock(), cpu()
        floor_pass(inst.probes)
        totals.floor_wall_s += clock() - t
        totals.floor_cpu_s += cpu() - c

        t = clock()
        qualification_only(inst)
        totals.qualification_s += clock() - t

        t, c = clock(), cpu()
        doc = pipeline(inst)
        elapsed = clock() - t
        totals.pipeline_cpu_s += cpu() - c
        totals.pipeline_wall_s += elapsed
        per_instance.append(elapsed)

        totals.instances += 1
        totals.samples += inst.n_samples
        totals.outages += len(doc["outages"])
        totals.microcuts += len(doc["microcuts"])
        totals.tickets += len(doc["tickets"])
        totals.exclusions += len(doc["exclusions"])
        totals.incomplete += "incomplete_data" in doc["flags"]
        totals.below_objective += doc["objective_met"] is False
        totals.credit_eur += Decimal(doc["total_credit_eur"])
        if progress and (i + 1) % 1000 == 0:
            print(f"  … {i + 1} instances", file=sys.stderr, flush=True)
    return totals, per_instance


def figures(t: Totals, per_instance: list[float]) -> dict[str, Any]:
    pipeline_s = t.pipeline_cpu_s or t.pipeline_wall_s
    floor_s = t.floor_cpu_s or t.floor_wall_s
    ms = np.array(per_instance) * 1e3 if per_instance else np.zeros(1)
    return {
        "instances": t.instances,
        "probes": 3 * t.instances,
        "samples": t.samples,
        "generation_s": round(t.generation_s, 3),
        "floor_s": round(t.floor_wall_s, 4),
        "floor_cpu_s": round(t.floor_cpu_s, 4),
        "pipeline_s": round(t.pipeline_wall_s, 3),
        "pipeline_cpu_s": round(t.pipeline_cpu_s, 3),
        "qualification_s": round(t.qualification_s, 3),
        "qualification_ratio_to_floor": round(t.qualification_s / t.floor_wall_s, 2) if t.floor_wall_s else None,
        "samples_per_s_per_core": round(t.samples / pipeline_s) if pipeline_s else None,
        "floor_samples_per_s": round(t.samples / floor_s) if floor_s else None,
        "ratio_to_floor": round(pipeline_s / floor_s, 2) if floor_s else None,
        "ms_per_instance_p50": round(float(np.percentile(ms, 50)), 3),
        "ms_per_instance_p99": round(float(np.percentile(ms, 99)), 3),
        "ms_per_instance_max": round(float(ms.max()), 3),
        "outages": t.outages,
        "microcuts": t.microcuts,
        "tickets": t.tickets,
        "exclusions": t.exclusions,
        "incomplete_data": t.incomplete,
        "below_objective": t.below_objective,
        "total_credit_eur": str(t.credit_eur),
    }


def _table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


def report(f: dict[str, Any]) -> str:
    per_1000 = f["pipeline_cpu_s"] * 1000 / f["instances"] if f["instances"] else 0.0
    ratio_ok = f["ratio_to_floor"] is not None and f["ratio_to_floor"] <= TARGET_RATIO
    time_ok = per_1000 <= TARGET_SECONDS_1000
    rows = [
        ("instances × probes", f"{f['instances']:,} × 3 ({MONTH}, {INTERVAL_S}-second samples)"),
        ("samples", f"{f['samples']:,}"),
        ("generation (excluded)", f"{f['generation_s']:.2f} s"),
        (
            "floor (numpy sum pass)",
            f"{f['floor_s']:.3f} s wall, {f['floor_cpu_s']:.3f} s CPU, {f['floor_samples_per_s']:,} samples/s",
        ),
        ("pipeline (compute+json)", f"{f['pipeline_s']:.2f} s wall, {f['pipeline_cpu_s']:.2f} s CPU"),
        (
            "  of which qualification",
            f"≈ {f['qualification_s']:.2f} s alone (qualify_probe × 3 + combine), "
            f"{f['qualification_ratio_to_floor']} × the floor; the rest is the statement (pure Python)",
        ),
        ("samples/s per core", f"{f['samples_per_s_per_core']:,} (samples / pipeline CPU seconds, one thread)"),
        (
            "ratio to floor",
            f"{f['ratio_to_floor']} × in CPU time (target ≤ {TARGET_RATIO:g} ×: {'met' if ratio_ok else 'NOT met'})",
        ),
        (
            "for 1,000 instances",
            f"{per_1000:.2f} s on one core (target < {TARGET_SECONDS_1000:g} s: {'met' if time_ok else 'NOT met'})",
        ),
        (
            "per instance",
            f"p50 {f['ms_per_instance_p50']} ms, p99 {f['ms_per_instance_p99']} ms, max {f['ms_per_instance_max']} ms",
        ),
        (
            "statements",
            f"{f['outages']} outages, {f['microcuts']} microcuts, {f['tickets']} GTR/KPI tickets, "
            f"{f['exclusions']} exclusions, {f['incomplete_data']} incomplete_data, "
            f"{f['below_objective']} below objective, {f['total_credit_eur']} EUR credits",
        ),
    ]
    return _table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=1000, help="service instances (default 1000)")
    parser.add_argument("--quick", action="store_true", help=f"CI smoke: {QUICK_INSTANCES} instances")
    parser.add_argument(
        "--scaling", action="store_true", help="also run 100, 1,000 and 10,000 instances and report the growth"
    )
    args = parser.parse_args(argv)
    if args.quick and "--instances" not in (argv if argv is not None else sys.argv[1:]):
        args.instances = QUICK_INSTANCES
    if args.instances < 1:
        parser.error("--instances must be at least 1")

    sizes = SCALING_SIZES if args.scaling else (args.instances,)
    results = []
    for n in sizes:
        print(f"SLA engine benchmark: {n:,} service instances", flush=True)
        f = figures(*run(n, progress=n >= 5000))
        print(report(f), flush=True)
        print(flush=True)
        results.append(f)

    out: dict[str, Any] = {"benchmark": "sla_engine", "month": str(MONTH), "interval_s": INTERVAL_S, "seed": SEED}
    if len(results) == 1:
        out.update(results[0])
    else:
        base = results[0]
        print("Scaling (pipeline CPU time; instances are independent, so the cost should grow linearly)")
        print(
            _table(
                [
                    (
                        f"{r['instances']:,} instances",
                        f"{r['pipeline_cpu_s']:.2f} s CPU ({r['pipeline_s']:.2f} s wall), "
                        f"{r['pipeline_cpu_s'] / r['instances'] * 1e3:.3f} ms/instance, "
                        f"× {r['pipeline_cpu_s'] / base['pipeline_cpu_s']:.1f} for × "
                        f"{r['instances'] // base['instances']} instances, ratio to floor {r['ratio_to_floor']}",
                    )
                    for r in results
                ]
            )
        )
        out["runs"] = results
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
