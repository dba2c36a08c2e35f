"""Shared by the scapy collectors (tcp, udp, trace): the raw-socket check, the scapy import, target
resolution and the names of ICMP errors. Not a collector.

Raw packets need root or CAP_NET_RAW. Without it the collectors return `misconfigured` with that sentence,
never a PermissionError. scapy is imported on first use (0.6 s) and sends through `L3RawSocket`: the kernel
routes each packet at send time, so a route that disappears (a cut link falling back to a blackhole) is
seen at once, and loopback works without naming an interface.
"""

from __future__ import annotations

import errno
import ipaddress
import select
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import cache
from types import ModuleType
from typing import Any

from collectors.base import CollectorError, Misconfigured, ProbeResult, Unreachable

RAW_SOCKETS_NEEDED = (
    "raw sockets need root or CAP_NET_RAW (run the agent as root, or `setcap cap_net_raw+ep` on its interpreter)"
)

# ICMP destination-unreachable codes (RFC 792, RFC 1812) as a NOC engineer reads them.
UNREACHABLE_CODES = {
    0: "net-unreachable",
    1: "host-unreachable",
    2: "protocol-unreachable",
    3: "port-unreachable",
    4: "fragmentation-needed",
    9: "net-prohibited",
    10: "host-prohibited",
    13: "communication-prohibited",
}
PROHIBITED_CODES = frozenset({9, 10, 13})

_import_lock = threading.Lock()


def check_raw_sockets() -> None:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW).close()
    except PermissionError as exc:
        raise Misconfigured(RAW_SOCKETS_NEEDED) from exc


@cache
def _load_scapy() -> ModuleType:
    import scapy.all as scapy_all

    scapy_all.conf.verb = 0
    scapy_all.conf.L3socket = scapy_all.L3RawSocket
    return scapy_all


def scapy() -> ModuleType:
    with _import_lock:  # scapy's first import is not thread-safe
        return _load_scapy()


def resolve_ipv4(target: str) -> str:
    """An IPv4 address for `target` (the scapy probes are IPv4 for now)."""
    try:
        address = ipaddress.ip_address(target)
    except ValueError:
        try:
            infos = socket.getaddrinfo(target, None, socket.AF_INET, socket.SOCK_RAW)
        except (socket.gaierror, UnicodeError) as exc:
            raise Unreachable(f"cannot resolve {target!r}: {exc}") from exc
        return str(infos[0][4][0])
    if address.version != 4:
        raise Misconfigured(f"{target}: only IPv4 targets are supported by the scapy probes")
    return str(address)


def send_error(exc: OSError, target: str) -> CollectorError:
    """A packet that could not even leave the host: no route, a blackhole, an interface down."""
    if isinstance(exc, PermissionError):
        return Misconfigured(RAW_SOCKETS_NEEDED)
    reasons = {
        errno.ENETUNREACH: "no route",
        errno.EHOSTUNREACH: "no route to host",
        errno.EINVAL: "blackholed or invalid route",
        errno.ENETDOWN: "interface down",
    }
    return Unreachable(f"cannot send to {target}: {reasons.get(exc.errno or 0, exc.strerror or str(exc))}")


def icmp_error_name(icmp_type: int, code: int) -> str:
    if icmp_type == 3:
        return UNREACHABLE_CODES.get(code, f"unreachable-code-{code}")
    if icmp_type == 11:
        return "time-exceeded"
    return f"icmp-{icmp_type}-{code}"


def unexpected(exc: Exception) -> CollectorError:
    """Anything else scapy raises is still a failed probe, named, never an exception for the scheduler."""
    if isinstance(exc, CollectorError):
        return exc
    return Unreachable(f"probe failed: {type(exc).__name__}: {exc}")


def finish(
    kind: str,
    target: str,
    scheduled_at: datetime,
    started: float,
    values: dict[str, Any],
    error: CollectorError | None,
) -> ProbeResult:
    return ProbeResult(
        kind=kind,
        target=target,
        scheduled_at=scheduled_at,
        ok=error is None,
        reason=None if error is None else error.reason,
        detail=None if error is None else str(error),
        duration_s=time.monotonic() - started,
        values=values,
    )


def check_route(address: str, target: str) -> None:
    """Fail fast when no packet to `address` can leave (no route, a blackhole, the interface down): scapy
    only logs such send errors. connect() on a UDP socket asks the kernel's routing without sending."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((address, 9))
    except OSError as exc:
        raise send_error(exc, target) from exc
    finally:
        probe.close()


def exchange(sc: ModuleType, packet: Any, match: Callable[[Any], bool], timeout_s: float) -> Any | None:
    """Send one packet and return the first received packet that `match` accepts, or None at the timeout.
    Unlike scapy's sr1 the caller decides what an answer is, so a reply that does not decode as the
    protocol asked (garbage) is still seen, and can be reported as such."""
    sock = sc.L3RawSocket()
    try:
        if not sock.send(packet):
            raise Unreachable(f"could not send to {packet[sc.IP].dst}")
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                return None
            received = sock.recv()
            if received is not None and match(received):
                return received
        return None
    finally:
        sock.close()
