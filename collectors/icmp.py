"""ICMP echo probe (icmplib, asyncio): loss, min/avg/max RTT, jitter and per-packet RTTs.

Unprivileged datagram sockets are the default. On Linux they need the process's group inside
`net.ipv4.ping_group_range` (per network namespace; the kernel default "1 0" allows nobody):

    sysctl -w net.ipv4.ping_group_range="0 2147483647"

Raw sockets (`socket: raw`, root or CAP_NET_RAW) are an option, but every raw ICMP socket receives a copy of
every echo reply on the host, so many concurrent raw probes overflow the socket buffers and report loss that
did not happen (measured: 50 concurrent tasks fine, 200 lose a third). Raw probes therefore go through a
semaphore of `raw_concurrency` (at most 50) per collector instance.

`packets_sent == 0` (nothing could even be sent: no route, blackhole, bad source) is down, never "0 % loss".
"""

from __future__ import annotations

import asyncio
import enum
import errno
import itertools
import os
import time
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any, ClassVar

from icmplib import (
    AsyncSocket,
    DestinationUnreachable,
    ICMPLibError,
    ICMPRequest,
    ICMPSocketError,
    ICMPv4Socket,
    ICMPv6Socket,
    NameLookupError,
    SocketAddressError,
    SocketPermissionError,
    TimeExceeded,
    TimeoutExceeded,
    async_resolve,
    is_hostname,
    is_ipv6_address,
)
from pydantic import Field

from collectors.base import (
    CollectorConfig,
    CollectorError,
    Misconfigured,
    ProbeResult,
    Reason,
    Timeout,
    Unreachable,
)

PING_GROUP_RANGE = Path("/proc/sys/net/ipv4/ping_group_range")
RAW_CONCURRENCY_MAX = 50


class SocketMode(enum.StrEnum):
    DATAGRAM = "datagram"  # unprivileged, kernel fills ICMP headers; needs ping_group_range
    RAW = "raw"  # root / CAP_NET_RAW; capped concurrency (false loss above ~50 tasks)


class IcmpConfig(CollectorConfig):
    count: int = Field(3, ge=1, le=100, description="echo requests per probe")
    interval_s: float = Field(0.2, ge=0.0, le=10.0, description="gap between two requests")
    timeout_s: float = Field(1.0, gt=0.0, le=30.0, description="wait for each reply")
    payload_size: int = Field(56, ge=0, le=65000)
    socket: SocketMode = SocketMode.DATAGRAM
    raw_concurrency: int = Field(RAW_CONCURRENCY_MAX, ge=1, le=RAW_CONCURRENCY_MAX)
    source: IPv4Address | IPv6Address | None = None
    family: int | None = Field(None, description="4 or 6 when the target is a host name")


def _ping_group_range() -> str:
    try:
        return " ".join(PING_GROUP_RANGE.read_text().split())
    except OSError:
        return "unknown"


def translate(exc: BaseException, config: IcmpConfig) -> CollectorError:
    """icmplib / OS errors → our error tree. Most specific first."""
    if isinstance(exc, CollectorError):
        return exc
    if isinstance(exc, SocketPermissionError):
        if config.socket is SocketMode.DATAGRAM:
            return Misconfigured(
                f"unprivileged ICMP sockets are not allowed for group {os.getegid()}: "
                f"net.ipv4.ping_group_range is '{_ping_group_range()}' in this network namespace. "
                'Run `sysctl -w net.ipv4.ping_group_range="0 2147483647"` (or a range holding this group), '
                "or use socket=raw as root"
            )
        return Misconfigured("raw ICMP sockets need root or CAP_NET_RAW; use socket=datagram")
    if isinstance(exc, NameLookupError):
        return Misconfigured(f"cannot resolve target: {exc}")
    if isinstance(exc, SocketAddressError):
        return Misconfigured(f"cannot bind source address: {exc}")
    if isinstance(exc, DestinationUnreachable | TimeExceeded):
        return Unreachable(str(exc))
    if isinstance(exc, TimeoutExceeded | asyncio.TimeoutError):
        return Timeout(str(exc) or "no reply")
    if isinstance(exc, ICMPSocketError | OSError):
        cause = exc.__cause__ if isinstance(exc, ICMPSocketError) else exc
        if isinstance(cause, OSError) and cause.errno in (errno.EINVAL, errno.EAFNOSUPPORT):
            return Unreachable(f"cannot send: {cause.strerror or exc}")
        return Unreachable(f"socket error: {exc}")
    if isinstance(exc, ICMPLibError | ValueError):
        return Misconfigured(str(exc))
    return Unreachable(f"{type(exc).__name__}: {exc}")


def summarize(rtts: list[float | None], packets_sent: int) -> dict[str, Any]:
    """Loss and RTT statistics from per-packet RTTs (None = no reply). Jitter as icmplib/RFC 3550-ish:
    mean absolute difference between consecutive received RTTs."""
    got = [r for r in rtts if r is not None]
    values: dict[str, Any] = {
        "packets_sent": packets_sent,
        "packets_received": len(got),
        "loss_ratio": (1.0 - len(got) / packets_sent) if packets_sent else 1.0,
        "rtt_min_ms": min(got) if got else None,
        "rtt_avg_ms": sum(got) / len(got) if got else None,
        "rtt_max_ms": max(got) if got else None,
        "jitter_ms": (sum(abs(a - b) for a, b in itertools.pairwise(got)) / (len(got) - 1))
        if len(got) > 1
        else (0.0 if got else None),
        "rtts_ms": [round(r, 4) if r is not None else None for r in rtts],
    }
    return values


class IcmpCollector:
    kind: ClassVar[str] = "icmp"
    config_model: ClassVar[type[CollectorConfig]] = IcmpConfig

    def __init__(self, config: IcmpConfig | None = None) -> None:
        self.config = config or IcmpConfig()
        self._raw_gate: asyncio.Semaphore | None = None
        self._raw_gate_loop: asyncio.AbstractEventLoop | None = None

    def _gate(self) -> asyncio.Semaphore | None:
        if self.config.socket is not SocketMode.RAW:
            return None
        loop = asyncio.get_running_loop()
        if self._raw_gate is None or self._raw_gate_loop is not loop:
            self._raw_gate = asyncio.Semaphore(self.config.raw_concurrency)
            self._raw_gate_loop = loop
        return self._raw_gate

    async def collect(self, target: str, scheduled_at: datetime) -> ProbeResult:
        started = time.monotonic()
        gate = self._gate()
        try:
            if gate is None:
                return await self._probe(target, scheduled_at, started)
            async with gate:
                return await self._probe(target, scheduled_at, started)
        except Exception as exc:  # a probe never raises: translate and report
            return ProbeResult.failed(
                self.kind, target, scheduled_at, translate(exc, self.config), time.monotonic() - started
            )

    async def collect_many(self, targets: list[str], scheduled_at: datetime) -> list[ProbeResult]:
        """Many targets concurrently (raw sockets stay under the concurrency cap)."""
        return list(await asyncio.gather(*(self.collect(t, scheduled_at) for t in targets)))

    async def _probe(self, target: str, scheduled_at: datetime, started: float) -> ProbeResult:
        cfg = self.config
        address = target
        if is_hostname(target):
            address = (await async_resolve(target, cfg.family))[0]
        sock_cls = ICMPv6Socket if is_ipv6_address(address) else ICMPv4Socket
        source = str(cfg.source) if cfg.source is not None else None
        privileged = cfg.socket is SocketMode.RAW
        ident = (os.getpid() ^ id(self) ^ int(started * 1000)) & 0xFFFF
        rtts: list[float | None] = []
        errors: list[CollectorError] = []
        packets_sent = 0
        with AsyncSocket(sock_cls(source, privileged)) as sock:
            for seq in range(cfg.count):
                if seq:
                    await asyncio.sleep(cfg.interval_s)
                request = ICMPRequest(destination=address, id=ident, sequence=seq, payload_size=cfg.payload_size)
                try:
                    sock.send(request)
                except ICMPLibError as exc:
                    errors.append(translate(exc, cfg))
                    rtts.append(None)
                    continue
                packets_sent += 1
                try:
                    reply = await sock.receive(request, cfg.timeout_s)
                    reply.raise_for_status()
                except ICMPLibError as exc:
                    errors.append(translate(exc, cfg))
                    rtts.append(None)
                    continue
                rtts.append((reply.time - request.time) * 1000.0)
        values = summarize(rtts, packets_sent)
        values["address"] = address
        duration = time.monotonic() - started
        if values["packets_received"]:
            return ProbeResult(
                kind=self.kind,
                target=target,
                scheduled_at=scheduled_at,
                ok=True,
                duration_s=duration,
                values=values,
            )
        # Down: nothing came back. An explicit error (unreachable, send failure) beats a plain timeout.
        error = next((e for e in errors if not isinstance(e, Timeout)), None) or Timeout(
            f"no reply to {packets_sent} echo request(s) within {cfg.timeout_s} s"
        )
        if packets_sent == 0 and error.reason is Reason.TIMEOUT:
            error = Unreachable("no echo request could be sent")
        return ProbeResult(
            kind=self.kind,
            target=target,
            scheduled_at=scheduled_at,
            ok=False,
            reason=error.reason,
            detail=str(error),
            duration_s=duration,
            values=values,
        )
