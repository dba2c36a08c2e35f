"""Footprint of an edge agent (issue 4, "Performance"): RSS and CPU of `vigie agent run` polling 50 targets.

    .venv/bin/python bench/agent_footprint.py                  # 10 minutes (the issue's run)
    .venv/bin/python bench/agent_footprint.py --duration 2m
    .venv/bin/python bench/agent_footprint.py --quick          # 20 s smoke (CI)

The agent is the real process (`vigie agent run INVENTORY --role edge`) on the embedded SQLite store, with
50 devices, each with an ICMP probe every 10 s (count 3) and an SNMP probe every 60 s (the `system` and
`interfaces` groups of linux_netsnmp). Targets are loopback only: ICMP to 127.2.0.1 … 127.2.0.50 (the local
kernel answers), SNMP v2c to one Debian net-snmp `snmpd` that this script starts on a free loopback port
(50 devices poll it). As root the ICMP probes use raw sockets; otherwise datagram sockets, which need
`net.ipv4.ping_group_range` to include this group (else they fail, which the table shows).

Measured from /proc every second: RSS (VmRSS) and CPU time (utime + stime) of the agent process. CPU % is
the CPU time over the wall time of the steady part (after the first 15 s of start-up, or the first quarter
of a short run), as a percentage of one core. Targets: RSS ≤ 60 MB and CPU ≤ 2 % of one core. The machine's
load average (1 min, at the start and at the end, and the 5 and 15 min ones at the end) is printed with it: on a
shared machine the same code measures higher CPU under load.
Prints a table, then one JSON line (the last line). Every process started here is stopped by its PID.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agent.lab import parse_duration, stop_pid  # noqa: E402

CLI = "from agent.cli import main; main()"
TARGET_RSS_MB = 60.0
TARGET_CPU_PCT = 2.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def inventory(tmp: Path, targets: int, snmp_port: int) -> dict[str, Any]:
    icmp_cfg: dict[str, Any] = {"count": 3, "interval_s": 0.2, "timeout_s": 1.0}
    if os.geteuid() == 0:
        icmp_cfg["socket"] = "raw"
    devices = [
        {
            "name": f"cpe{i:02d}",
            "address": f"127.2.0.{i}",
            "platform": "linux_netsnmp",
            "credentials": {"snmp": {"version": "2c", "community": {"file": str(tmp / "community")}}},
            "probes": [
                {"kind": "icmp", "interval_s": 10, "config": icmp_cfg},
                {
                    "kind": "snmp",
                    "interval_s": 60,
                    "target": "127.0.0.1",
                    "config": {"port": snmp_port, "groups": ["system", "interfaces"], "timeout_s": 2, "retries": 1},
                },
            ],
        }
        for i in range(1, targets + 1)
    ]
    services = [
        {"id": f"svc-{i:02d}", "contract": "internet", "monthly_fee_eur": 100, "devices": [d]}
        for i, d in enumerate(devices, 1)
    ]
    return {
        "version": 1,
        "agent": {
            "id": "bench-footprint",
            "spool": {"path": str(tmp / "spool.db")},
            "store": {"kind": "embedded", "path": str(tmp / "store.db")},
            "metrics": {"listen": None},
        },
        "clients": [{"id": "bench", "sites": [{"id": "site", "services": services}]}],
    }


def proc_sample(pid: int) -> tuple[float, float, float]:
    """(CPU seconds, of which in the kernel, RSS MB) of `pid` from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK
    rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20
    return utime + stime, stime, rss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", default="10m", help="run length (10m by default; 90s, 2m, ...)")
    ap.add_argument("--quick", action="store_true", help="20 s smoke run (CI)")
    ap.add_argument("--targets", type=int, default=50)
    args = ap.parse_args()
    duration = 20.0 if args.quick else parse_duration(args.duration)
    snmpd = shutil.which("snmpd")
    if snmpd is None:
        print("bench/agent_footprint.py: snmpd (net-snmp) is not installed", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="vigie-footprint-"))
    (tmp / "community").write_text("bench\n")
    port = free_udp_port()
    (tmp / "snmpd.conf").write_text(f"agentAddress udp:127.0.0.1:{port}\nrocommunity bench 127.0.0.1\n")
    (tmp / "snmpd-p").mkdir()
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(tmp / "snmpd-p"), "MIBS": "", "MIBDIRS": "/nonexistent"}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            subprocess.Popen(
                [snmpd, "-f", "-Lo", "-C", "-c", str(tmp / "snmpd.conf")],
                stdout=(tmp / "snmpd.log").open("wb"),
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        )
        config = tmp / "inventory.yaml"
        config.write_text(yaml.safe_dump(inventory(tmp, args.targets, port), sort_keys=False))
        agent = subprocess.Popen(
            [sys.executable, "-c", CLI, "agent", "run", str(config), "--role", "edge"],
            stdout=(tmp / "agent.log").open("wb"),
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )
        procs.append(agent)
        load_start = os.getloadavg()[0]
        start = time.monotonic()
        warmup = min(15.0, duration / 4)
        samples: list[tuple[float, float, float, float]] = []  # (t, cpu_s, kernel_s, rss_mb)
        while (elapsed := time.monotonic() - start) < duration:
            if agent.poll() is not None:
                print((tmp / "agent.log").read_text()[-2000:], file=sys.stderr)
                print(f"the agent exited with {agent.returncode}", file=sys.stderr)
                return 1
            samples.append((elapsed, *proc_sample(agent.pid)))
            time.sleep(1.0)
        steady = [s for s in samples if s[0] >= warmup]
        if len(steady) < 2:
            steady = samples
        steady_s = max(1e-9, steady[-1][0] - steady[0][0])
        cpu_pct = 100 * (steady[-1][1] - steady[0][1]) / steady_s
        kernel_pct = 100 * (steady[-1][2] - steady[0][2]) / steady_s
        rss_peak = max(s[3] for s in samples)
        rss_end = samples[-1][3]
        total_cpu = samples[-1][1]
        load_end = os.getloadavg()
    finally:
        for p in reversed(procs):
            stop_pid(p.pid)
    runs = _count_runs(tmp / "store.db")
    ok = rss_peak <= TARGET_RSS_MB and cpu_pct <= TARGET_CPU_PCT
    print(f"edge agent footprint: {args.targets} targets (ICMP every 10 s, SNMP every 60 s), {duration:.0f} s run")
    print(f"{'metric':<28} {'value':>10} {'target':>10}")
    print(f"{'RSS peak (MB)':<28} {rss_peak:>10.1f} {'≤ 60':>10}")
    print(f"{'RSS at the end (MB)':<28} {rss_end:>10.1f} {'':>10}")
    print(f"{'CPU steady (% of one core)':<28} {cpu_pct:>10.2f} {'≤ 2':>10}")
    print(f"{'  of which in the kernel':<28} {kernel_pct:>10.2f} {'':>10}")
    print(f"{'CPU total incl. start (s)':<28} {total_cpu:>10.2f} {'':>10}")
    end = " / ".join(f"{x:.2f}" for x in load_end)
    print(f"load average: {load_start:.2f} at the start, {end} at the end (1 / 5 / 15 min)")
    for kind, (n, good) in sorted(runs.items()):
        print(f"{'probe runs ' + kind + ' (ok)':<28} {f'{n} ({good})':>10}")
    print("within targets" if ok else "OUTSIDE the targets")
    print(
        json.dumps(
            {
                "bench": "agent_footprint",
                "targets": args.targets,
                "duration_s": duration,
                "warmup_s": warmup,
                "rss_peak_mb": round(rss_peak, 2),
                "rss_end_mb": round(rss_end, 2),
                "cpu_pct_one_core": round(cpu_pct, 3),
                "kernel_pct_one_core": round(kernel_pct, 3),
                "cpu_total_s": round(total_cpu, 2),
                "loadavg_1m_start": round(load_start, 2),
                "loadavg_end": [round(x, 2) for x in load_end],
                "probe_runs": {k: {"runs": n, "ok": good} for k, (n, good) in runs.items()},
                "within_targets": ok,
                "raw_icmp": os.geteuid() == 0,
            }
        )
    )
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _count_runs(store: Path) -> dict[str, tuple[int, int]]:
    import sqlite3

    if not store.exists():
        return {}
    db = sqlite3.connect(store)
    try:
        rows = db.execute(
            "SELECT json_extract(tags, '$.kind'), count(*), sum(json_extract(fields, '$.ok')) "
            "FROM points WHERE measurement = 'vigie_probe' GROUP BY 1"
        ).fetchall()
        return {str(k): (int(n), int(g or 0)) for k, n, g in rows}
    finally:
        db.close()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
