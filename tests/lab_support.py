"""Shared helpers for tests that need the real lab endpoints started by `tests/lab/run`.

A lab test calls `require_lab()` (or uses the `lab` fixture from tests/conftest.py). Outside the lab
(`VIGIE_LAB` is not "1") it skips and says why; when `VIGIE_LAB_REQUIRED=1` (CI) it fails instead, so a
broken lab can never turn into a green run of skipped tests.

The endpoint addresses are fixed by the services.d scripts and collected here, so tests never spell them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


@dataclass(frozen=True)
class LabEndpoints:
    """Where the lab services listen (see tests/lab/services.d/)."""

    ns: str = "vigie-h1"  # network namespace of the test host
    ns_if: str = "vigie-h1"  # the host's veth, inside the namespace
    root_if: str = "vigie-h0"  # its peer in the root namespace
    ns_host: str = "10.250.0.2"  # the test host
    ns_gateway: str = "10.250.0.1"  # our side of the veth
    snmpsim: tuple[str, int] = ("127.0.0.1", 1161)  # snmpsim: recorded walks, v2c + v3
    snmpsim6: tuple[str, int] = ("::1", 1161)
    snmpd: tuple[str, int] = ("127.0.0.1", 1162)  # Debian snmpd on loopback
    snmpd_ns: tuple[str, int] = ("10.250.0.2", 161)  # Debian snmpd inside the namespace
    community: str = "public"  # snmpd communities (read-only)
    v3_user: str = "vigie"  # snmpd v3 authPriv SHA/AES user
    v3_auth_key: str = "vigie-auth-key"
    v3_priv_key: str = "vigie-priv-key"
    simulator_user: str = "simulator"  # snmpsim v3 user (context name = data file stem)
    simulator_auth_key: str = "auctoritas"
    simulator_priv_key: str = "privatus"
    # SSH devices (services.d/20-ssh.sh); host keys, known_hosts and the OpenSSH password under run_dir/ssh/
    ssh_user: str = "vigielab"  # OpenSSH with the fake CLI serving the linux_netsnmp fixtures
    ssh_ports: tuple[tuple[str, int], ...] = (
        ("normal", 2222),
        ("interface_down", 2223),
        ("after_reboot", 2224),
        ("garbage", 2225),
        ("hang", 2226),
    )
    ssh_ns_port: int = 22  # the same fake CLI on ns_host (normal)
    fortigate_ports: tuple[tuple[str, int], ...] = (  # the fake CLI serving fortinet_fortigate fixtures
        ("normal", 2231),
        ("interface_down", 2232),
        ("after_reboot", 2233),
        ("garbage", 2234),
    )
    routeros_ports: tuple[tuple[str, int], ...] = (  # the fake CLI serving mikrotik_routeros fixtures
        ("normal", 2241),
        ("interface_down", 2242),
        ("after_reboot", 2243),
        ("garbage", 2244),
    )
    fakenos_user: str = "admin"  # fakenos cisco_ios; password and enable secret are "admin" too
    fakenos_ports: tuple[tuple[str, int], ...] = (
        ("builtin", 6001),
        ("interface_down", 6002),
        ("after_reboot", 6003),
        ("garbage", 6004),
    )
    fakenos_junos_ports: tuple[tuple[str, int], ...] = (  # fakenos juniper_junos, same scenarios
        ("builtin", 6005),
        ("interface_down", 6006),
        ("after_reboot", 6007),
        ("garbage", 6008),
    )
    # Services on ns_host and the routed path behind it (services.d/30-services-ns.sh)
    tcp_open: int = 8080  # a listener
    tcp_closed: int = 8081  # nothing listens: RST
    tcp_dropped: int = 8082  # nftables drop: no answer
    tcp_rejected: int = 8083  # nftables reject with ICMP admin-prohibited
    dns_port: int = 53  # dnsmasq: svc.vigie.test A 10.250.0.2, NXDOMAIN for other *.vigie.test
    dns_name: str = "svc.vigie.test"
    udp_closed: int = 5353  # ICMP port-unreachable
    udp_dropped: int = 5354  # nftables drop
    udp_garbage: int = 5355  # answers with the query id, then garbage
    trace_far: str = "10.250.3.2"  # beyond the provider edge; hops: LAN router, CPE, PE, far host
    trace_hops: tuple[str, ...] = ("10.250.0.2", "10.250.1.2", "10.250.2.2", "10.250.3.2")
    trace_namespaces: tuple[str, ...] = ("vigie-h1", "vigie-cpe", "vigie-pe", "vigie-far")
    access_link: tuple[str, str] = ("vigie-cpe", "cpe-pe")  # (namespace, interface) of the access link
    # Stores (services.d/40-victoria-metrics.sh, 50-influxdb.sh)
    influxdb_url: str = "http://127.0.0.1:8086"  # Debian influxdb 1.6.7: the InfluxQL engine (no /api/v2)
    run_dir: Path | None = None  # VIGIE_LAB_RUN: pid files, logs, generated data


ENDPOINTS = LabEndpoints(run_dir=Path(os.environ["VIGIE_LAB_RUN"]) if os.environ.get("VIGIE_LAB_RUN") else None)


def lab_required() -> bool:
    return os.environ.get("VIGIE_LAB_REQUIRED") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip with `reason` when `condition` is false, or fail when the lab is required (CI)."""
    if condition:
        return
    if lab_required():
        pytest.fail(f"VIGIE_LAB_REQUIRED=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def require_lab() -> LabEndpoints:
    """Skip (or fail under VIGIE_LAB_REQUIRED=1) unless the lab endpoints were started."""
    require(
        os.environ.get("VIGIE_LAB") == "1",
        "lab endpoints not started (run through `tests/lab/run`, as root, which sets VIGIE_LAB=1)",
    )
    return ENDPOINTS


def require_root() -> None:
    require(os.geteuid() == 0, "needs root (network namespaces, raw sockets)")


def require_binary(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"`{name}` is not installed (see .ci/apt-packages.txt)")
    assert path is not None
    return path


def require_shared_fixtures() -> Path:
    """The LibreNMS recordings in ../shared/fixtures: read at test time, never copied into the repo.

    Where that folder is absent (a clone outside the workplace) the test skips, saying so, even in CI: the
    recordings are not ours to ship."""
    if not (SHARED_FIXTURES / "snmprec").is_dir():
        pytest.skip(f"shared fixtures not found at {SHARED_FIXTURES} (a clone without ../shared)")
    return SHARED_FIXTURES


def ns_exec(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command inside the lab namespace (root only)."""
    return subprocess.run(
        ["ip", "netns", "exec", ENDPOINTS.ns, *argv], check=check, capture_output=True, text=True, timeout=10
    )


def restore_routes(lab: LabEndpoints) -> None:
    """Put back every route of the lab path (services.d/30-services-ns.sh `routes`): taking a link down deletes
    the routes through it, and bringing it up again restores only the link's own subnet."""
    services = REPO / "tests" / "lab" / "services.d" / "30-services-ns.sh"
    subprocess.run([str(services), "routes", str(lab.run_dir)], check=True, capture_output=True, text=True, timeout=10)
