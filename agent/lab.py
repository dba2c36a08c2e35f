"""The live lab behind `make run`: simulated customer sites, an edge agent and the central role, a live view.

`vigie lab run` starts, in this order, everything it needs and records every process's PID in
`LAB_DIR/lab.json`; on exit (duration reached, Ctrl-C, SIGTERM) it restores any cut link, then stops each
process by its PID (SIGTERM, then SIGKILL after 5 s) and removes what it created (namespaces, veths,
the blackhole route). Nothing is ever stopped by name.

Two modes (`--mode auto` picks netns as root, loopback otherwise):

- **netns** (root): one network namespace per site (`vigie-live-<site>`) joined to the root namespace by
  a veth pair (`vl-<site>` ↔ `uplink`, 10.251.N.1/30 ↔ 10.251.N.2/30). A blackhole route for
  10.251.0.0/16 is installed *before* any link exists, so a cut link never leaks traffic to the default
  route. Inside each namespace a Debian net-snmp `snmpd` answers on 10.251.N.2:161 (its ifTable shows the
  namespace's real interfaces). The edge polls each site with ICMP (raw socket: root, no sysctl change)
  and SNMP v2c. `vigie lab outage SITE` runs `ip -n vigie-live-SITE link set uplink down`: the site's
  real link goes down; its packets are dropped by the veth (or the blackhole); restored with
  `link set up` and the site's default route put back.
- **loopback** (not root): each site is one SNMP agent on 127.0.0.1 on a free UDP port (net-snmp `snmpd`
  when installed, snmpsim from the venv otherwise). No ICMP (an unprivileged user cannot cut a loopback
  address). `vigie lab outage SITE` sends SIGSTOP to the site's agent (by the PID the lab recorded): the
  device hangs as a crashed CPE would, its queries time out for real; SIGCONT brings it back.

The edge (`vigie agent run --role edge`) and the central role (`--role central`, which also probes every
site's ICMP targets from the "NOC" — the root namespace — as a second vantage point) run as real
processes on the embedded SQLite store in LAB_DIR (no server to install). The view reads that store.

Qualification is set for a demo: ICMP every 1 s and SNMP every 2 s, down after 2 failed samples, up after
2 good ones, microcut below 5 s. GTR clocks: cutting a site (`vigie lab outage`, the demo) opens a ticket
(written channel) for its service in the lab's annotation ledger (LAB_DIR/ledger.sqlite), and restoring
the link notifies its restoration there; the central role reads that ledger like any other, writes each
ticket's clock as `vigie_gtr` points, and the view shows the latest one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml

from agent.clock import Clock, SystemClock
from agent.ledger import Kind, Ledger, Record
from agent.store import schema
from agent.store.sqlite import SqliteStore
from sla.model import Channel

Mode = Literal["netns", "loopback"]
PREFIX = "10.251"  # the live lab's addresses; the test lab (tests/lab) uses 10.250.0.0/16
BLACKHOLE = f"{PREFIX}.0.0/16"
GLOBAL_LOCK = Path("/run/vigie-live-lab.lock")  # netns mode: namespace names and the prefix are global
EDGE_ID = "lab-edge"
NOC_ID = "lab-noc"
COMMUNITY = "vigie-lab"
STOP_GRACE_S = 5.0
CLI = "from agent.cli import main; main()"
LEDGER = "ledger.sqlite"  # the lab's annotation ledger, in LAB_DIR


def default_dir() -> Path:
    return Path(os.environ.get("VIGIE_LIVE_LAB", f"/tmp/vigie-live-lab-{os.getuid()}"))


@dataclass(frozen=True)
class SiteSpec:
    client: str
    site: str
    name: str
    service: str
    contract: str
    fee: int
    access_type: str | None = None
    gtr_option: str | None = None


SITES: tuple[SiteSpec, ...] = (
    SiteSpec("acme", "lyon", "ACME Lyon HQ", "acme-lyon-internet", "internet", 450),
    SiteSpec("acme", "nancy", "ACME Nancy depot", "acme-nancy-vga", "vga", 120, "analog", "6h_24x7"),
    SiteSpec("bistro", "paris", "Bistro Paris", "bistro-paris-internet", "internet", 90),
)


@dataclass
class SiteRuntime:
    spec: SiteSpec
    index: int
    address: str  # where the site's device answers (ICMP target, SNMP agent)
    snmp_port: int
    ns: str | None = None  # netns mode
    root_if: str | None = None
    snmp_pid: int | None = None
    snmp_kind: str = "snmpd"


@dataclass
class LabState:
    """What `vigie lab outage` needs from a running lab (LAB_DIR/lab.json)."""

    mode: Mode
    runner_pid: int
    sites: dict[str, dict[str, Any]]
    pids: dict[str, int] = field(default_factory=dict)

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> LabState:
        data = json.loads(path.read_text())
        return cls(**data)


class LabError(Exception):
    pass


def parse_duration(text: str) -> float:
    """`90`, `90s`, `10m`, `1h`, `1h30m` → seconds."""
    text = text.strip().lower()
    if not text:
        raise ValueError("empty duration")
    try:
        return float(text)
    except ValueError:
        pass
    total, number = 0.0, ""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    for ch in text:
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in units and number:
            total += float(number) * units[ch]
            number = ""
        else:
            raise ValueError(f"{text!r} is not a duration (e.g. 90s, 10m, 1h)")
    if number:
        raise ValueError(f"{text!r}: a number without unit at the end (e.g. 90s, 10m)")
    return total


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, timeout=15)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child is not alive: reap it if it is ours
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def stop_pid(pid: int, grace_s: float = STOP_GRACE_S) -> None:
    """SIGCONT (a cut site's agent may be stopped), SIGTERM, wait, SIGKILL: by PID only."""
    for sig in (signal.SIGCONT, signal.SIGTERM):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


# --- inventories ----------------------------------------------------------------------------------------------


def site_inventory(sites: list[SiteRuntime], mode: Mode, lab_dir: Path) -> list[dict[str, Any]]:
    clients: dict[str, dict[str, Any]] = {}
    for s in sites:
        probes: list[dict[str, Any]] = []
        if mode == "netns":
            probes.append(
                {
                    "kind": "icmp",
                    "interval_s": 1,
                    "timeout_s": 0.9,
                    "config": {"count": 1, "timeout_s": 0.5, "socket": "raw"},
                }
            )
        probes.append(
            {
                "kind": "snmp",
                "interval_s": 2,
                "timeout_s": 1.5,
                "config": {"port": s.snmp_port, "timeout_s": 0.7, "retries": 0, "groups": ["system"]},
            }
        )
        service: dict[str, Any] = {
            "id": s.spec.service,
            "contract": s.spec.contract,
            "monthly_fee_eur": s.spec.fee,
            "qualification": {"down_after": 2, "up_after": 2, "microcut_s": 5},
            "devices": [
                {
                    "name": "cpe",
                    "address": s.address,
                    "platform": "linux_netsnmp",
                    "credentials": {"snmp": {"version": "2c", "community": {"file": str(lab_dir / "community")}}},
                    "probes": probes,
                }
            ],
        }
        if s.spec.access_type:
            service["access_type"] = s.spec.access_type
            service["gtr_option"] = s.spec.gtr_option
        client = clients.setdefault(s.spec.client, {"id": s.spec.client, "sites": []})
        client["sites"].append({"id": s.spec.site, "name": s.spec.name, "agent": EDGE_ID, "services": [service]})
    return list(clients.values())


def agent_inventory(agent_id: str, lab_dir: Path, clients: list[dict[str, Any]], central: bool) -> dict[str, Any]:
    agent: dict[str, Any] = {
        "id": agent_id,
        "heartbeat_interval_s": 1,
        "spool": {"path": str(lab_dir / f"{agent_id}-spool.db")},
        "store": {"kind": "embedded", "path": str(lab_dir / "store.db")},
        "metrics": {"listen": None},
        "log_format": "json",
    }
    if central:
        agent["central"] = {
            "heartbeat_timeout_s": 5,
            "recompute_interval_s": 5,
            "noc_probes": ["icmp"],
            "ledger": str(lab_dir / LEDGER),
        }
    return {"version": 1, "agent": agent, "clients": clients}


# --- the lab --------------------------------------------------------------------------------------------------


def snmpd_config(listen: str, name: str) -> str:
    return (
        f"agentAddress udp:{listen}\n"
        f"rocommunity {COMMUNITY} default\n"
        f"sysName {name}\n"
        "sysLocation vigie live lab\n"
        "sysContact noc@vigie.example\n"
    )


SNMPREC = """1.3.6.1.2.1.1.1.0|4|Linux vigie-lab-cpe (snmpsim)
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.8072.3.2.10
1.3.6.1.2.1.1.3.0|67:numeric|rate=100,initial=1000
1.3.6.1.2.1.1.4.0|4|noc@vigie.example
1.3.6.1.2.1.1.5.0|4|{name}
1.3.6.1.2.1.1.6.0|4|vigie live lab
"""


class Lab:
    def __init__(self, lab_dir: Path, mode: Mode, clock: Clock | None = None) -> None:
        self.dir = lab_dir
        self.mode = mode
        self.clock = clock or SystemClock()
        self.sites: list[SiteRuntime] = []
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._created_ns: list[str] = []
        self._created_if: list[str] = []
        self._blackhole = False
        self._lock_fd: int | None = None
        self.events: list[tuple[datetime, str]] = []

    # -- start ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self.mode == "netns" and os.geteuid() != 0:
            raise LabError("netns mode needs root (ip netns); use --mode loopback")
        self._lock()
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        (self.dir / "cuts").mkdir()
        (self.dir / "community").write_text(COMMUNITY + "\n")
        (self.dir / "community").chmod(0o600)
        try:
            if self.mode == "netns":
                self._start_netns()
            else:
                self._start_loopback()
            self._wait_snmp()
            clients = site_inventory(self.sites, self.mode, self.dir)
            for role, agent_id in (("edge", EDGE_ID), ("central", NOC_ID)):
                cfg = self.dir / f"{role}.yaml"
                cfg.write_text(
                    yaml.safe_dump(agent_inventory(agent_id, self.dir, clients, role == "central"), sort_keys=False)
                )
                self._spawn(role, [sys.executable, "-c", CLI, "agent", "run", str(cfg), "--role", role])
            self._write_state()
        except BaseException:
            self.stop()
            raise

    def _lock(self) -> None:
        path = GLOBAL_LOCK if self.mode == "netns" else self.dir.parent / f".{self.dir.name}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LabError(f"another live lab is running (lock {path} is held); stop it first") from None
        self._lock_fd = fd

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
        log = (self.dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C on the terminal reaches the lab runner only; it stops them by PID
            env={**os.environ, **(env or {})},
            cwd=str(Path(__file__).resolve().parent.parent),
        )
        log.close()
        self.procs[name] = proc
        self._write_state()
        return proc.pid

    def _start_netns(self) -> None:
        if shutil.which("snmpd") is None:
            raise LabError("snmpd is not installed: `make apt` (root) installs it (.ci/apt-packages.txt)")
        _run("ip", "route", "replace", "blackhole", BLACKHOLE)  # before any link: a cut never leaks
        self._blackhole = True
        for i, spec in enumerate(SITES, start=1):
            ns, root_if = f"vigie-live-{spec.site}", f"vl-{spec.site}"[:15]
            _run("ip", "netns", "del", ns, check=False)
            _run("ip", "link", "del", root_if, check=False)
            _run("ip", "netns", "add", ns)
            self._created_ns.append(ns)
            _run("ip", "link", "add", root_if, "type", "veth", "peer", "name", "uplink", "netns", ns)
            self._created_if.append(root_if)
            _run("ip", "addr", "add", f"{PREFIX}.{i}.1/30", "dev", root_if)
            _run("ip", "link", "set", root_if, "up")
            _run("ip", "-n", ns, "addr", "add", f"{PREFIX}.{i}.2/30", "dev", "uplink")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "-n", ns, "link", "set", "uplink", "up")
            _run("ip", "-n", ns, "route", "replace", "default", "via", f"{PREFIX}.{i}.1")
            site = SiteRuntime(spec, i, f"{PREFIX}.{i}.2", 161, ns=ns, root_if=root_if)
            conf = self.dir / f"snmpd-{spec.site}.conf"
            conf.write_text(snmpd_config(f"{site.address}:161", f"cpe-{spec.site}"))
            persist = self.dir / f"snmpd-{spec.site}-p"
            persist.mkdir()
            site.snmp_pid = self._spawn(
                f"snmpd-{spec.site}",
                ["ip", "netns", "exec", ns, "snmpd", "-f", "-Lo", "-C", "-c", str(conf)],
                env={"SNMP_PERSISTENT_DIR": str(persist), "MIBS": "", "MIBDIRS": "/nonexistent"},
            )
            self.sites.append(site)

    def _start_loopback(self) -> None:
        use_snmpd = shutil.which("snmpd") is not None
        for i, spec in enumerate(SITES, start=1):
            port = free_udp_port()
            site = SiteRuntime(spec, i, "127.0.0.1", port, snmp_kind="snmpd" if use_snmpd else "snmpsim")
            if use_snmpd:
                conf = self.dir / f"snmpd-{spec.site}.conf"
                conf.write_text(snmpd_config(f"127.0.0.1:{port}", f"cpe-{spec.site}"))
                persist = self.dir / f"snmpd-{spec.site}-p"
                persist.mkdir()
                argv = ["snmpd", "-f", "-Lo", "-C", "-c", str(conf)]
                env = {"SNMP_PERSISTENT_DIR": str(persist), "MIBS": "", "MIBDIRS": "/nonexistent"}
            else:
                data = self.dir / f"snmpsim-{spec.site}"
                data.mkdir()
                (data / f"{COMMUNITY}.snmprec").write_text(SNMPREC.format(name=f"cpe-{spec.site}"))
                (self.dir / f"snmpsim-{spec.site}-cache").mkdir()
                argv = [
                    sys.executable,
                    "-c",
                    "import sys; from snmpsim.commands.responder import main; sys.exit(main())",
                    f"--data-dir={data}",
                    f"--cache-dir={self.dir / f'snmpsim-{spec.site}-cache'}",
                    f"--agent-udpv4-endpoint=127.0.0.1:{port}",
                    "--logging-method=null",
                ]
                env = {}
            site.snmp_pid = self._spawn(f"snmp-{spec.site}", argv, env=env)
            self.sites.append(site)

    def _wait_snmp(self, timeout_s: float = 30.0) -> None:
        """Each site's agent answers an SNMP GET before the agents start (a bounded wait)."""
        import asyncio

        from collectors.snmp import SnmpCollector
        from collectors.snmp_config import SnmpConfig

        async def ready(site: SiteRuntime) -> bool:
            cfg = SnmpConfig.model_validate(
                {
                    "version": "2c",
                    "community": {"file": str(self.dir / "community")},
                    "port": site.snmp_port,
                    "timeout_s": 0.3,
                    "retries": 0,
                    "oids": ["1.3.6.1.2.1.1.5.0"],
                }
            )
            result = await SnmpCollector(cfg).collect(site.address, self.clock.now())
            return bool(result.ok)

        deadline = time.monotonic() + timeout_s
        pending = list(self.sites)
        while pending:
            pending = [s for s in pending if not asyncio.run(ready(s))]
            for s in pending:
                if s.snmp_pid is not None and not pid_alive(s.snmp_pid):
                    log = self.dir / f"{'snmpd' if self.mode == 'netns' else 'snmp'}-{s.spec.site}.log"
                    raise LabError(f"the SNMP agent of {s.spec.site} exited: {log.read_text(errors='replace')[-500:]}")
            if pending and time.monotonic() > deadline:
                raise LabError(f"SNMP agents not answering after {timeout_s:.0f}s: {[s.spec.site for s in pending]}")
            if pending:
                time.sleep(0.2)

    def _write_state(self) -> None:
        if not self.dir.exists():
            return
        LabState(
            mode=self.mode,
            runner_pid=os.getpid(),
            sites={
                s.spec.site: {
                    "service": s.spec.service,
                    "address": s.address,
                    "ns": s.ns,
                    "index": s.index,
                    "snmp_pid": s.snmp_pid,
                    "snmp_port": s.snmp_port,
                }
                for s in self.sites
            },
            pids={name: p.pid for name, p in self.procs.items()},
        ).write(self.dir / "lab.json")

    # -- outages -------------------------------------------------------------------------------------------

    def due_restores(self) -> list[str]:
        """Restore every cut whose time is up (called by the runner's loop); returns the sites restored."""
        restored = []
        now = self.clock.now().timestamp()
        for path in sorted((self.dir / "cuts").glob("*.json")):
            with contextlib.suppress(OSError, ValueError, KeyError):
                cut = json.loads(path.read_text())
                if now >= float(cut["until"]):
                    restore(self.dir, cut["site"], self.clock)
                    restored.append(cut["site"])
        return restored

    def cuts(self) -> dict[str, float]:
        out = {}
        for path in (self.dir / "cuts").glob("*.json"):
            with contextlib.suppress(OSError, ValueError, KeyError):
                cut = json.loads(path.read_text())
                out[str(cut["site"])] = float(cut["until"])
        return out

    # -- stop ----------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Restore cut links, stop every process by PID (agents first), remove namespaces and routes."""
        if (self.dir / "cuts").exists():
            for path in (self.dir / "cuts").glob("*.json"):
                with contextlib.suppress(Exception):
                    restore(self.dir, json.loads(path.read_text())["site"], self.clock)
        for name in ("edge", "central"):
            if name in self.procs:
                stop_pid(self.procs[name].pid)
        for name, proc in self.procs.items():
            if name not in ("edge", "central"):
                stop_pid(proc.pid)
        for proc in self.procs.values():
            with contextlib.suppress(Exception):
                proc.wait(timeout=1)
        for ns in self._created_ns:
            _run("ip", "netns", "del", ns, check=False)
        for ifname in self._created_if:
            _run("ip", "link", "del", ifname, check=False)
        if self._blackhole:
            _run("ip", "route", "del", "blackhole", BLACKHOLE, check=False)
            self._blackhole = False
        self._created_ns.clear()
        self._created_if.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


# --- cutting a site (used by `vigie lab outage` and by the runner) ------------------------------------------


def read_state(lab_dir: Path) -> LabState:
    path = lab_dir / "lab.json"
    if not path.exists():
        raise LabError(f"no live lab in {lab_dir} (start one with `make run` or `vigie lab run`)")
    state = LabState.read(path)
    if not pid_alive(state.runner_pid):
        raise LabError(f"the live lab in {lab_dir} is not running (runner PID {state.runner_pid} is gone)")
    return state


def cut(lab_dir: Path, site: str, seconds: float, clock: Clock | None = None) -> str:
    """Cut `site`'s link now, for `seconds` (the runner restores it when due). Returns what was done."""
    state = read_state(lab_dir)
    if site not in state.sites:
        raise LabError(f"no site {site!r} in the lab; sites: {', '.join(state.sites)}")
    info = state.sites[site]
    if state.mode == "netns":
        _run("ip", "-n", str(info["ns"]), "link", "set", "uplink", "down")
        how = f"ip -n {info['ns']} link set uplink down"
    else:
        os.kill(int(info["snmp_pid"]), signal.SIGSTOP)
        how = f"SIGSTOP to the site's SNMP agent (PID {info['snmp_pid']})"
    clock = clock or SystemClock()
    ticket = open_ticket(lab_dir, site, clock)
    until = clock.now().timestamp() + seconds
    path = lab_dir / "cuts" / f"{site}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"site": site, "until": until, "how": how, "ticket": ticket}))
    tmp.replace(path)
    return f"{how}; ticket {ticket} opened in {lab_dir / LEDGER}"


def open_ticket(lab_dir: Path, site: str, clock: Clock) -> str:
    """The NOC's ticket for a cut site: opened now, by e-mail (a written channel), in the lab's ledger."""
    spec = next(s for s in SITES if s.site == site)
    now = clock.now()
    ref = f"LAB-{site}-{int(now.timestamp())}"
    data = {"opened_at": now.isoformat(), "channel": Channel.EMAIL.value}
    record = Record(
        Kind.TICKET_OPEN, ref, data, client=spec.client, site=site, service=spec.service, author="vigie lab"
    )
    with Ledger(lab_dir / LEDGER, clock) as book:
        book.append(record)
    return ref


def restore_ticket(lab_dir: Path, ticket: str, clock: Clock) -> None:
    """The provider's notice of restoration, now."""
    with Ledger(lab_dir / LEDGER, clock) as book:
        book.append(Record(Kind.TICKET_RESTORE, ticket, {"restored_at": clock.now().isoformat()}, author="vigie lab"))


def restore(lab_dir: Path, site: str, clock: Clock | None = None) -> None:
    state = LabState.read(lab_dir / "lab.json")
    info = state.sites[site]
    if state.mode == "netns":
        ns, i = str(info["ns"]), int(info["index"])
        _run("ip", "-n", ns, "link", "set", "uplink", "up")
        # taking the link down deleted the routes through it
        _run("ip", "-n", ns, "route", "replace", "default", "via", f"{PREFIX}.{i}.1", check=False)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(info["snmp_pid"]), signal.SIGCONT)
    path = lab_dir / "cuts" / f"{site}.json"
    with contextlib.suppress(OSError, ValueError, KeyError):
        restore_ticket(lab_dir, str(json.loads(path.read_text())["ticket"]), clock or SystemClock())
    path.unlink(missing_ok=True)


# --- what the view shows -------------------------------------------------------------------------------------


PARIS_TZ = "Europe/Paris"


@dataclass(frozen=True)
class ServiceRow:
    client: str
    site: str
    service: str
    contract: str
    edge_state: str | None
    edge_since_ms: int | None
    noc_state: str | None
    noc_cause: str | None
    outages: int
    microcuts: int
    down_s: int
    availability_pct: float | None
    measured_pct: float | None  # unnotified outages counted too: what the probes saw
    budget_min: float | None
    gtr: str
    cut_until: float | None


def month_start_ms(now: datetime) -> int:
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo(PARIS_TZ))
    return schema.ms(local.replace(day=1, hour=0, minute=0, second=0, microsecond=0))


def gtr_clock(store: SqliteStore, service: str) -> str:
    """The service's latest GTR clock as the central role wrote it (`vigie_gtr`, from the lab's ledger)."""
    points = store.latest_gtr(service)
    if not points:
        return "no ticket"
    last = max(points, key=lambda r: str(r.tag("ticket")))  # the refs end with the opening time
    elapsed = timedelta(seconds=int(float(last.field("elapsed_s") or 0)))
    target_h = float(last.field("target_s") or 0) / 3600
    reason = last.tag("freeze_reason")
    return f"{last.tag('status')} {elapsed} / {target_h:g}h" + (f" ({reason})" if reason else "")


def snapshot(store: SqliteStore, now: datetime, cuts: dict[str, float]) -> list[ServiceRow]:
    rows = []
    since = month_start_ms(now)
    for spec in SITES:
        edge = store.state_intervals(spec.service, "edge")
        noc = store.state_intervals(spec.service, "central")
        outs = store.db.execute(
            "SELECT class, count(*), coalesce(sum(end_ms - start_ms), 0) FROM outages "
            "WHERE service = ? AND start_ms >= ? GROUP BY class",
            (spec.service, since),
        ).fetchall()
        by_class = {str(c): (int(n), int(d)) for c, n, d in outs}
        statement = store.latest_statement(spec.service)
        rows.append(
            ServiceRow(
                client=spec.client,
                site=spec.site,
                service=spec.service,
                contract=spec.contract + (f" {spec.gtr_option}" if spec.gtr_option else ""),
                edge_state=edge[-1].state if edge else None,
                edge_since_ms=edge[-1].start_ms if edge else None,
                noc_state=noc[-1].state if noc else None,
                noc_cause=noc[-1].cause if noc else None,
                outages=by_class.get("outage", (0, 0))[0],
                microcuts=by_class.get("microcut", (0, 0))[0],
                down_s=by_class.get("outage", (0, 0))[1] // 1000,
                availability_pct=None if statement is None else statement.get("availability_pct"),
                measured_pct=None if statement is None else statement.get("measured_pct"),
                budget_min=None if statement is None else statement.get("budget_min"),
                gtr=gtr_clock(store, spec.service),
                cut_until=cuts.get(spec.site),
            )
        )
    return rows


def events_since(store: SqliteStore, since_ms: int) -> Iterator[tuple[int, str]]:
    """State changes (edge and NOC view) and closed outages after `since_ms`, as (time_ms, text), in order."""
    rows = store.db.execute(
        "SELECT time_ms, service, source, state, cause FROM state_changes WHERE time_ms >= ? "
        "UNION ALL SELECT start_ms, service, 'outage', class, CAST((end_ms - start_ms) / 1000 AS TEXT) "
        "FROM outages WHERE start_ms >= ? ORDER BY 1",
        (since_ms, since_ms),
    ).fetchall()
    for t, service, source, state, cause in rows:
        if source == "outage":
            yield int(t), f"{service}: {state} counted, {cause} s (qualified at the edge, in the store)"
        elif source == "edge":
            yield int(t), f"{service}: edge qualified {state.upper()}"
        else:
            yield int(t), f"{service}: NOC view {state.upper()}" + (f" ({cause})" if cause else "")
