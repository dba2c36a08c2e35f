"""Benchmark of the icmp collector against Debian fping (issue 3, "Performance"), side by side in one run.

    sudo .venv/bin/python bench/icmp.py                 # 1,000 loopback targets, count 3, 3 rounds each
    sudo .venv/bin/python bench/icmp.py --quick         # 100 targets, 1 round (CI smoke)
    sudo .venv/bin/python bench/icmp.py --profile       # also prints where the collector spends its CPU

Targets are loopback addresses only (127.1.0.1, 127.1.0.2, ... skipping .0 and .255): every echo request is
answered by the local kernel, so **every missing reply is false loss** (measurement loss, not network loss).

Both tools probe the same targets with the same schedule:
* fping 5.x: `fping -C 3 -p 50 -i 0 -q -f TARGETS` (count 3, 50 ms between the pings of one target, no
  gap between targets; in count mode fping's per-ping timeout follows the period, 50 ms);
* the icmp collector, the agent's code path: `IcmpCollector(IcmpConfig(count=3, interval_s=0.05))
  .collect_many(targets)` in one asyncio loop, unprivileged datagram sockets (the default), default
  timeout (1 s).
Rounds alternate (fping, collector, fping, ...) after a small warm-up; the table shows the median round of each
by rate and the JSON line (the last line) has every round. Replies per second = replies / wall time of the
round (fping: process start to exit; collector: the `collect_many` call). CPU seconds: fping's rusage
(user + system), the collector's `process_time()` (this process, one thread).

Needs root (fping refuses `-i 0` and `-p` below 10 ms otherwise), fping installed, and unprivileged ICMP sockets
allowed for this group (`net.ipv4.ping_group_range`): when they are not, the bench (as root) sets
`0 2147483647` for its run and puts the old value back at exit, saying so.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collectors.icmp import PING_GROUP_RANGE, IcmpCollector, IcmpConfig

TARGETS = 1000
QUICK_TARGETS = 100
COUNT = 3
PERIOD_MS = 50
SCHEDULED_AT = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # the probe's scheduled time is data, not a clock


class Prerequisite(Exception):
    """Something the bench needs is missing: exit non-zero with this message."""


def loopback_targets(n: int) -> list[str]:
    out: list[str] = []
    b, c, d = 1, 0, 1
    while len(out) < n:
        out.append(f"127.{b}.{c}.{d}")
        d += 1
        if d == 255:
            d, c = 1, c + 1
            if c == 256:
                c, b = 0, b + 1
    return out


def group_allowed(text: str) -> bool:
    try:
        low, high = (int(x) for x in text.split())
    except ValueError:
        return False
    return low <= os.getegid() <= high


def ensure_ping_group_range() -> str | None:
    """Allow unprivileged ICMP sockets for this run; returns the value to restore (None: nothing changed)."""
    try:
        current = " ".join(PING_GROUP_RANGE.read_text().split())
    except OSError as exc:
        raise Prerequisite(f"cannot read {PING_GROUP_RANGE}: {exc}") from exc
    if group_allowed(current):
        return None
    if os.geteuid() != 0:
        raise Prerequisite(
            f"net.ipv4.ping_group_range is '{current}': unprivileged ICMP sockets are not allowed for group "
            f"{os.getegid()}. Run as root (the bench sets it for its run) or "
            '`sysctl -w net.ipv4.ping_group_range="0 2147483647"`'
        )
    PING_GROUP_RANGE.write_text("0 2147483647\n")
    print(f"note: net.ipv4.ping_group_range was '{current}', set to '0 2147483647' for this run", file=sys.stderr)
    return current


def check_prerequisites() -> str:
    fping = shutil.which("fping")
    if fping is None:
        raise Prerequisite("fping is not installed (apt-get install fping; listed in .ci/apt-packages.txt)")
    if os.geteuid() != 0:
        raise Prerequisite("must run as root: fping refuses `-i 0` / `-p 50` for other users")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # one datagram socket per concurrent target
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return fping


def run_fping(fping: str, targets_file: Path, n_targets: int, count: int) -> dict[str, Any]:
    argv = [fping, "-C", str(count), "-p", str(PERIOD_MS), "-i", "0", "-q", "-f", str(targets_file)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):  # 1: some target lost every ping; anything else is an error
        raise RuntimeError(f"fping exited {proc.returncode}: {proc.stderr.strip()[:500]}")
    replies = 0
    seen = 0
    for line in proc.stderr.splitlines():  # `-C` prints "127.1.0.1 : 0.04 0.05 -" per target on stderr
        _host, sep, rtts = line.partition(" : ")
        if not sep:
            continue
        seen += 1
        replies += sum(1 for tok in rtts.split() if tok != "-")
    if seen != n_targets:
        raise RuntimeError(f"fping reported {seen} targets out of {n_targets}: {proc.stderr[-500:]}")
    return round_figures(
        "fping",
        n_targets * count,
        replies,
        wall,
        (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    )


def round_figures(tool: str, sent: int, replies: int, wall: float, cpu: float, **extra: Any) -> dict[str, Any]:
    return {
        "tool": tool,
        "requests": sent,
        "replies": replies,
        "false_loss": sent - replies,
        "wall_s": round(wall, 4),
        "cpu_s": round(cpu, 4),
        "replies_per_s": round(replies / wall, 1) if wall > 0 else 0.0,
        **extra,
    }


async def run_collector(
    collector: IcmpCollector, targets: list[str], count: int, profile: cProfile.Profile | None = None
) -> dict[str, Any]:
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    if profile is not None:
        profile.enable()
    results = await collector.collect_many(targets, SCHEDULED_AT)
    if profile is not None:
        profile.disable()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    replies = sum(int(r.values.get("packets_received", 0)) for r in results)
    sent = len(targets) * count  # asked for; a request that could not even be sent is false loss too
    failed: dict[str, int] = {}
    for r in results:
        if not r.ok:
            key = f"{r.reason}: {r.detail}"[:120]
            failed[key] = failed.get(key, 0) + 1
    return round_figures(
        "collector",
        sent,
        replies,
        wall,
        cpu,
        packets_sent=sum(int(r.values.get("packets_sent", 0)) for r in results),
        failed_probes=failed,
    )


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(rounds, key=lambda r: r["replies_per_s"])
    return ordered[(len(ordered) - 1) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--targets", type=int, default=TARGETS, help=f"loopback targets (default {TARGETS})")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per tool (default 3)")
    parser.add_argument("--quick", action="store_true", help=f"smoke test: {QUICK_TARGETS} targets, 1 round")
    parser.add_argument("--profile", action="store_true", help="print the collector's top functions (cProfile)")
    args = parser.parse_args(argv)
    n_targets, rounds = (QUICK_TARGETS, 1) if args.quick else (args.targets, args.rounds)
    if not 1 <= n_targets <= 60000 or rounds < 1:
        parser.error("--targets must be 1..60000 and --rounds >= 1")

    restore: str | None = None
    try:
        fping = check_prerequisites()
        restore = ensure_ping_group_range()
        targets = loopback_targets(n_targets)
        with tempfile.TemporaryDirectory(prefix="vigie-bench-icmp.") as tmp:
            targets_file = Path(tmp) / "targets.txt"
            targets_file.write_text("\n".join(targets) + "\n")
            warm_file = Path(tmp) / "warm.txt"
            warm_file.write_text("\n".join(targets[:50]) + "\n")
            collector = IcmpCollector(IcmpConfig(count=COUNT, interval_s=PERIOD_MS / 1000))

            async def collector_rounds() -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
                fping_rounds: list[dict[str, Any]] = []
                coll_rounds: list[dict[str, Any]] = []
                run_fping(fping, warm_file, min(50, n_targets), COUNT)  # warm-up, not measured
                await run_collector(collector, targets[:50], COUNT)
                profile_text = ""
                for _ in range(rounds):
                    fping_rounds.append(run_fping(fping, targets_file, n_targets, COUNT))
                    coll_rounds.append(await run_collector(collector, targets, COUNT))
                if args.profile:  # an extra round, not counted: the profiler slows the collector down
                    prof = cProfile.Profile()
                    await run_collector(collector, targets, COUNT, prof)
                    buf = io.StringIO()
                    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(20)
                    profile_text = buf.getvalue()
                return fping_rounds, coll_rounds, profile_text

            fping_rounds, coll_rounds, profile_text = asyncio.run(collector_rounds())
    except Prerequisite as exc:
        print(f"bench/icmp.py: prerequisite missing: {exc}", file=sys.stderr)
        return 2
    finally:
        if restore is not None:
            PING_GROUP_RANGE.write_text(restore + "\n")

    f, c = median_round(fping_rounds), median_round(coll_rounds)
    ratio = c["replies_per_s"] / f["replies_per_s"] if f["replies_per_s"] else 0.0
    worst_false_loss = {
        "fping": max(r["false_loss"] for r in fping_rounds),
        "collector": max(r["false_loss"] for r in coll_rounds),
    }
    print(
        f"ICMP: {n_targets} loopback targets x {COUNT} echo requests, {PERIOD_MS} ms period, {rounds} round(s), "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(f"{'tool':<10} {'replies':>8} {'false loss':>10} {'wall s':>8} {'CPU s':>7} {'replies/s':>10}")
    for r in (f, c):
        print(
            f"{r['tool']:<10} {r['replies']:>8} {r['false_loss']:>10} {r['wall_s']:>8.3f} {r['cpu_s']:>7.3f} "
            f"{r['replies_per_s']:>10.0f}"
        )
    for r in coll_rounds:
        for reason, n in r["failed_probes"].items():
            print(f"collector failed probes: {n} x {reason}")
    target_met = ratio >= 0.8 and worst_false_loss["collector"] == 0
    print(
        f"ratio collector/fping (replies/s): {ratio:.2f} (target >= 0.80 with zero false loss: "
        f"{'met' if target_met else 'NOT met'})"
    )
    if profile_text:
        print("collector profile (last round, by own time):")
        print(profile_text)
    out = {
        "bench": "icmp",
        "targets": n_targets,
        "count": COUNT,
        "period_ms": PERIOD_MS,
        "rounds": rounds,
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "fping": f,
        "collector": c,
        "ratio": round(ratio, 3),
        "false_loss_worst": worst_false_loss,
        "target_met": target_met,
        "all_rounds": {"fping": fping_rounds, "collector": coll_rounds},
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
