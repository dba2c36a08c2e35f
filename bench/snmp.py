"""Benchmark of the snmp collector against net-snmp `snmpbulkwalk` (issue 3, "Performance"), side by side.

    .venv/bin/python bench/snmp.py             # 20 simulated devices, 3 rounds per tool
    .venv/bin/python bench/snmp.py --quick     # 5 devices, 1 round (CI smoke)
    .venv/bin/python bench/snmp.py --profile   # also prints where the collector spends its CPU

The bench starts its own snmpsim (one process, loopback, a free UDP port) serving 20 real-world recordings from
the lab's shared data (../shared/fixtures/snmprec, the ones with an ifTable), one v2c community per device
(= the file stem), and stops it by PID at the end. Both clients poll the 13 ifTable / ifXTable columns of the
profiles' `interfaces` group (ifDescr, ifAdminStatus, ifOperStatus, ifLastChange, errors and discards, ifName,
ifHCIn/OutOctets, ifHighSpeed, ifAlias) from every device:
* the collector, the agent's code path: one `SnmpCollector` per device (v2c, `groups: [interfaces]`,
  max_repetitions 25), all devices polled concurrently with `asyncio.gather` through the process's one v1/v2c
  dispatcher (pysnmp's v1arch). It walks the 13 columns together (one GETBULK carries all of them) and GETs
  sysUpTime first (not counted);
* net-snmp: `snmpbulkwalk -v2c -Cr25 -On -Oq` once per device and column (it walks one subtree per run),
  20 processes at a time, MIB loading off (`MIBS= MIBDIRS=/nonexistent`), as the collector loads none.
Varbinds = values returned inside the walked columns (the same number for both when both complete).
Rate = varbinds / wall time of a round. CPU seconds: the collector's `process_time()` (this process), net-snmp's
children rusage (user + system of every snmpbulkwalk), and the agent's (snmpsim) CPU during each round, read
from /proc: when the agent's CPU time is close to the wall time, the agent is the bottleneck, not the client.

As root, snmpsim must drop privileges: it runs as nobody/nogroup through a wrapper that pre-imports the stdlib
modules it loads lazily (test-lab.md §2a). Prerequisites (exit 2 with a message when missing): net-snmp's
`snmpbulkwalk` and `snmpget`, snmpsim in this venv, the shared recordings.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from collectors.base import SecretSource  # noqa: E402
from collectors.snmp import SnmpCollector, SnmpConfig  # noqa: E402
from device_profiles import load_profiles  # noqa: E402

SHARED_SNMPREC = Path(os.environ.get("VIGIE_SHARED_FIXTURES", REPO.parent / "shared" / "fixtures")) / "snmprec"
DEVICES = 20
QUICK_DEVICES = 5
MAX_REPETITIONS = 25
NETSNMP_PARALLEL = 20
SCHEDULED_AT = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
NETSNMP_ENV = {**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent"}
IFDESCR = "1.3.6.1.2.1.2.2.1.2."
WRAPPER = """import dbm, dbm.dumb, encodings.latin_1, encodings.utf_8, encodings.ascii, encodings.idna, sys  # noqa
from snmpsim.commands.responder import main
sys.exit(main())
"""


class Prerequisite(Exception):
    """Something the bench needs is missing: exit non-zero with this message."""


def interface_columns() -> list[tuple[str, str]]:
    """(name, numeric OID) of the `interfaces` group's columns, the same in every profile that uses it."""
    cols: dict[str, str] = {}
    for profile in load_profiles().values():
        group = profile.groups.get("interfaces")
        if group is not None:
            for spec in group.columns:
                cols.setdefault(spec.oid, spec.name)
    return [(name, oid) for oid, name in cols.items()]


def pick_devices(n: int) -> list[Path]:
    """The first n recordings (by name) that have an ifTable: deterministic, a mix of platforms and sizes."""
    if not SHARED_SNMPREC.is_dir():
        raise Prerequisite(f"shared recordings not found at {SHARED_SNMPREC} (set VIGIE_SHARED_FIXTURES)")
    picked = []
    for path in sorted(SHARED_SNMPREC.glob("*.snmprec")):
        with path.open(encoding="utf-8", errors="replace") as fh:
            if sum(1 for line in fh if line.startswith(IFDESCR)) >= 3:
                picked.append(path)
        if len(picked) == n:
            return picked
    raise Prerequisite(f"only {len(picked)} recordings with an ifTable in {SHARED_SNMPREC}, need {n}")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Snmpsim:
    """Our own snmpsim on 127.0.0.1:port, started and stopped by PID."""

    def __init__(self, workdir: Path, recordings: list[Path]) -> None:
        self.workdir = workdir
        self.recordings = recordings
        self.port = free_udp_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        data, cache = self.workdir / "data", self.workdir / "cache"
        data.mkdir()
        cache.mkdir()
        for path in self.recordings:
            shutil.copyfile(path, data / path.name)
        wrapper = self.workdir / "run_snmpsim.py"
        wrapper.write_text(WRAPPER)
        argv = [
            sys.executable,
            str(wrapper),
            f"--data-dir={data}",
            f"--cache-dir={cache}",
            f"--agent-udpv4-endpoint=127.0.0.1:{self.port}",
            "--logging-method=null",
        ]
        if os.geteuid() == 0:  # snmpsim refuses to run as root: it drops to nobody, who must read / write these
            argv += ["--process-user=nobody", "--process-group=nogroup"]
            self.workdir.chmod(0o711)
            for p in (data, *data.iterdir(), wrapper):
                p.chmod(0o755 if p.is_dir() else 0o644)
            cache.chmod(0o777)
        log = (self.workdir / "snmpsim.log").open("wb")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        community = self.recordings[0].stem
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"snmpsim exited {self.proc.returncode}: {self.log_tail()}")
            probe = subprocess.run(
                ["snmpget", "-v2c", "-c", community, "-t", "0.3", "-r", "0", self.address, "1.3.6.1.2.1.1.3.0"],
                capture_output=True,
                env=NETSNMP_ENV,
                check=False,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"snmpsim not ready on {self.address} after 30 s: {self.log_tail()}")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        try:
            return (self.workdir / "snmpsim.log").read_text(errors="replace")[-800:]
        except OSError:
            return ""

    def cpu(self) -> float:
        assert self.proc is not None
        return proc_cpu(self.proc.pid)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def figures(tool: str, varbinds: int, wall: float, cpu: float, agent_cpu: float, **extra: Any) -> dict[str, Any]:
    return {
        "tool": tool,
        "varbinds": varbinds,
        "wall_s": round(wall, 4),
        "cpu_s": round(cpu, 4),
        "agent_cpu_s": round(agent_cpu, 4),
        "varbinds_per_s": round(varbinds / wall, 1) if wall > 0 else 0.0,
        "varbinds_per_cpu_s": round(varbinds / cpu, 1) if cpu > 0 else 0.0,
        **extra,
    }


def walk_netsnmp(address: str, community: str, oid: str) -> int:
    proc = subprocess.run(
        [
            "snmpbulkwalk",
            "-v2c",
            "-c",
            community,
            f"-Cr{MAX_REPETITIONS}",
            "-On",
            "-Oq",
            "-t",
            "5",
            "-r",
            "1",
            address,
            oid,
        ],
        capture_output=True,
        text=True,
        errors="replace",
        env=NETSNMP_ENV,
        check=False,
        timeout=120,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"snmpbulkwalk -c {community} {oid}: exit {proc.returncode}: {proc.stderr.strip()[:300]}")
    prefix = f".{oid}."
    return sum(1 for line in proc.stdout.splitlines() if line.startswith(prefix))


def run_netsnmp(agent: Snmpsim, communities: list[str], oids: list[str]) -> dict[str, Any]:
    jobs = [(c, o) for c in communities for o in oids]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    agent0 = agent.cpu()
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(NETSNMP_PARALLEL) as pool:
        counts = list(pool.map(lambda job: walk_netsnmp(agent.address, *job), jobs))
    wall = time.perf_counter() - t0
    agent_cpu = agent.cpu() - agent0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    per_device = {c: sum(counts[i * len(oids) : (i + 1) * len(oids)]) for i, c in enumerate(communities)}
    return figures("net-snmp", sum(counts), wall, cpu, agent_cpu, processes=len(jobs), per_device=per_device)


def count_collected(values: dict[str, Any], names: set[str]) -> int:
    rows = values.get("groups", {}).get("interfaces", {}).get("rows", {})
    return sum(1 for row in rows.values() for key in row if key in names)


async def run_collector(
    agent: Snmpsim, collectors: dict[str, SnmpCollector], names: set[str], profile: cProfile.Profile | None = None
) -> dict[str, Any]:
    agent0 = agent.cpu()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    if profile is not None:
        profile.enable()
    results = await asyncio.gather(*(c.collect("127.0.0.1", SCHEDULED_AT) for c in collectors.values()))
    if profile is not None:
        profile.disable()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    agent_cpu = agent.cpu() - agent0
    per_device = {comm: count_collected(r.values, names) for comm, r in zip(collectors, results, strict=True)}
    failed = {
        comm: f"{r.reason}: {(r.detail or '')[:100]}" for comm, r in zip(collectors, results, strict=True) if not r.ok
    }
    return figures("collector", sum(per_device.values()), wall, cpu, agent_cpu, per_device=per_device, not_ok=failed)


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(rounds, key=lambda r: r["varbinds_per_s"])
    return ordered[(len(ordered) - 1) // 2]


def check_prerequisites() -> None:
    for tool in ("snmpbulkwalk", "snmpget"):
        if shutil.which(tool) is None:
            raise Prerequisite(f"`{tool}` is not installed (apt-get install snmp; listed in .ci/apt-packages.txt)")
    try:
        import snmpsim  # noqa: F401
    except ImportError as exc:
        raise Prerequisite(f"snmpsim is not installed in this venv (`make setup`): {exc}") from exc
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("nobody")
        except KeyError as exc:
            raise Prerequisite("running as root, snmpsim must drop to user `nobody`, which does not exist") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--devices", type=int, default=DEVICES, help=f"simulated devices (default {DEVICES})")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per tool (default 3)")
    parser.add_argument("--quick", action="store_true", help=f"smoke test: {QUICK_DEVICES} devices, 1 round")
    parser.add_argument("--profile", action="store_true", help="print the collector's top functions (cProfile)")
    args = parser.parse_args(argv)
    n_devices, rounds = (QUICK_DEVICES, 1) if args.quick else (args.devices, args.rounds)
    if n_devices < 1 or rounds < 1:
        parser.error("--devices and --rounds must be >= 1")

    try:
        check_prerequisites()
        recordings = pick_devices(n_devices)
    except Prerequisite as exc:
        print(f"bench/snmp.py: prerequisite missing: {exc}", file=sys.stderr)
        return 2
    columns = interface_columns()
    names = {name for name, _ in columns}
    oids = [oid for _, oid in columns]
    communities = [p.stem for p in recordings]

    with tempfile.TemporaryDirectory(prefix="vigie-bench-snmp.") as tmp:
        agent = Snmpsim(Path(tmp), recordings)
        try:
            agent.start()
            collectors = {
                comm: SnmpCollector(
                    SnmpConfig(
                        version="2c",
                        community=SecretSource.parse(comm),
                        port=agent.port,
                        platform="linux_netsnmp",  # every profile's `interfaces` group is the shared one
                        groups=("interfaces",),
                        timeout_s=5.0,
                        retries=1,
                        max_repetitions=MAX_REPETITIONS,
                    )
                )
                for comm in communities
            }

            async def all_rounds() -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
                await run_collector(agent, collectors, names)  # warm-up: snmpsim builds its indexes
                run_netsnmp(agent, communities, oids[:1])
                ns_rounds, coll_rounds = [], []
                for _ in range(rounds):
                    ns_rounds.append(run_netsnmp(agent, communities, oids))
                    coll_rounds.append(await run_collector(agent, collectors, names))
                profile_text = ""
                if args.profile:  # an extra round, not counted
                    prof = cProfile.Profile()
                    await run_collector(agent, collectors, names, prof)
                    buf = io.StringIO()
                    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
                    profile_text = buf.getvalue()
                return ns_rounds, coll_rounds, profile_text

            ns_rounds, coll_rounds, profile_text = asyncio.run(all_rounds())
        finally:
            agent.stop()

    n, c = median_round(ns_rounds), median_round(coll_rounds)
    ratio = c["varbinds_per_s"] / n["varbinds_per_s"] if n["varbinds_per_s"] else 0.0
    cpu_ratio = c["varbinds_per_cpu_s"] / n["varbinds_per_cpu_s"] if n["varbinds_per_cpu_s"] else 0.0
    mismatched = sorted(k for k in n["per_device"] if n["per_device"][k] != c["per_device"].get(k))
    print(
        f"SNMP: {n_devices} snmpsim devices (v2c, one agent process), {len(oids)} ifTable/ifXTable columns, "
        f"{rounds} round(s), load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(
        f"{'tool':<10} {'varbinds':>9} {'wall s':>8} {'CPU s':>7} {'agent CPU s':>11} {'varbinds/s':>11} "
        f"{'varbinds/CPU s':>14}"
    )
    for r in (n, c):
        print(
            f"{r['tool']:<10} {r['varbinds']:>9} {r['wall_s']:>8.3f} {r['cpu_s']:>7.3f} {r['agent_cpu_s']:>11.3f} "
            f"{r['varbinds_per_s']:>11.0f} {r['varbinds_per_cpu_s']:>14.0f}"
        )
    for comm, why in c["not_ok"].items():
        print(f"collector result not ok for {comm}: {why}")
    if mismatched:
        print(f"varbind counts differ for: {', '.join(mismatched)}")
    print(
        f"ratio collector/net-snmp: {ratio:.2f} in varbinds/s "
        f"(target >= 1.00: {'met' if ratio >= 1.0 else 'NOT met'}), "
        f"{cpu_ratio:.2f} in varbinds per client CPU second"
    )
    if profile_text:
        print("collector profile (extra round, by own time):")
        print(profile_text)
    out = {
        "bench": "snmp",
        "devices": n_devices,
        "columns": len(oids),
        "max_repetitions": MAX_REPETITIONS,
        "rounds": rounds,
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "netsnmp": {k: v for k, v in n.items() if k != "per_device"},
        "collector": {k: v for k, v in c.items() if k != "per_device"},
        "ratio": round(ratio, 3),
        "cpu_efficiency_ratio": round(cpu_ratio, 3),
        "varbind_count_mismatch": mismatched,
        "target_met": ratio >= 1.0,
        "all_rounds": {
            "netsnmp": [{k: v for k, v in r.items() if k != "per_device"} for r in ns_rounds],
            "collector": [{k: v for k, v in r.items() if k != "per_device"} for r in coll_rounds],
        },
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
