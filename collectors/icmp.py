"""ICMP echo probe (icmplib, asyncio): loss, min/avg/max RTT, jitter and per-packet RTTs.

Unprivileged datagram sockets are the default. On Linux they need the process's group inside
`net.ipv4.ping_group_range` (per network namespace; the kernel default "1 0" allows nobody):

    sysctl -w net.ipv4.ping_group_range="0 2147483647"

Raw sockets (`socket: raw`, root or CAP_NET_RAW) are an option, but every raw ICMP socket receives a copy of
every echo reply on the host, so many concurrent raw probes overflow the socket buffers and report loss that
did not happen (measured: 50 concurrent tasks fine, 200 lose a third). Raw probes therefore go through a
semaphore of `raw_concurrency` (at most 50) per collector instance.

`packets_sent == 0` (nothing could even be sent: no route, blackhole, bad source) is down, never "0 % loss".

Schedule: request k of a target leaves at start + k * `interval_s` (a fixed period, like `fping -p`: a lost
reply does not delay the next request) and its reply counts only if it comes back within `timeout_s`.

How the datagram path sends (why part of icmplib is bypassed). A well-kept library was preferred, and icmplib
still creates the sockets (with its error mapping: permission, bad source address), resolves names and does the
whole raw-socket path. But on 1,000 loopback targets (bench/icmp.py) its per-request path reached only ~0.4x
fping's replies/s: `ICMPRequest.payload` draws a random payload per request (`random.choices`), `send` does a
`getaddrinfo` and two `setsockopt` per request, and the asyncio `receive` costs a task, a timer and a
`sock_recv` per reply, all on one socket per target. So `collect_many` (and `collect`, a batch of one) runs an
`EchoBatch`: one datagram ICMP socket per address family per batch, one fixed payload per batch (a random
8-byte batch token, then filler), the 8-byte echo header packed by hand (on a Linux ping socket the kernel
writes the identifier and the checksum), replies read by one `add_reader` callback that drains the socket
(and is also called in-line while a round of requests goes out, so the receive buffer never overflows).
The kernel rewrites the identifier on datagram sockets (and only delivers this socket's replies to it), so a
reply is matched on (source address, sequence number), the sequence being unique within the batch, and
checked against the batch token in its payload (a stale reply for an earlier socket that got the same kernel
identifier does not match). Linux only; elsewhere the per-target icmplib path is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import errno
import itertools
import os
import socket
import struct
import time
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address, ip_address
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
    SocketBroadcastError,
    SocketPermissionError,
    TimeExceeded,
    TimeoutExceeded,
    async_resolve,
    is_hostname,
    is_ipv6_address,
)
from icmplib.utils import PLATFORM_LINUX
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
    interval_s: float = Field(
        0.2,
        ge=0.0,
        le=10.0,
        description="period between two requests to a target (a lost reply does not delay the next)",
    )
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


ECHO_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence
ECHO_REQUEST = {4: 8, 6: 128}
ECHO_REPLY = {4: 0, 6: 129}
TOKEN_SIZE = 8
DRAIN_EVERY = 32  # requests sent between two in-line drains of the receive queue
RECV_BUFFER = 4 << 20  # asked for; the kernel caps it at net.core.rmem_max


def batch_payload(token: bytes, size: int) -> bytes:
    """The payload of every request of a batch: the token, then filler bytes (truncated to `size`)."""
    filler = bytes((0x10 + i) & 0xFF for i in range(max(0, size - len(token))))
    return (token + filler)[:size]


class _Probe:
    """One target's state inside a batch."""

    __slots__ = ("address", "base", "errors", "family", "fatal", "received", "rtts", "sent", "sockaddr", "target")

    def __init__(self, target: str, count: int) -> None:
        self.target = target
        self.address = target
        self.sockaddr: tuple[Any, ...] = ()
        self.family = 4
        self.base = 0  # sequence number of request 0 (unique per request within the batch's socket)
        self.rtts: list[float | None] = [None] * count
        self.sent = 0
        self.received = 0
        self.errors: list[CollectorError] = []
        self.fatal: CollectorError | None = None


class EchoBatch:
    """Echo requests to many targets over one datagram ICMP socket per address family (Linux ping sockets)."""

    def __init__(self, config: IcmpConfig, targets: list[str]) -> None:
        self.config = config
        self.probes = [_Probe(t, config.count) for t in targets]
        self.token = os.urandom(TOKEN_SIZE)
        self.payload = batch_payload(self.token, config.payload_size)
        self._check = self.payload[:TOKEN_SIZE]
        # (source address as the kernel reports it, sequence) -> (probe, request index, send time)
        self._pending: dict[tuple[str, int], tuple[_Probe, int, float]] = {}
        self._socks: dict[int, Any] = {}  # family -> icmplib socket (kept: its __del__ closes the socket)
        self._done: asyncio.Future[None] | None = None  # set once every request of the last round is sent

    async def run(self) -> list[_Probe]:
        cfg = self.config
        loop = asyncio.get_running_loop()
        await self._resolve()
        by_family: dict[int, list[_Probe]] = {4: [], 6: []}
        for p in self.probes:
            if p.fatal is None:
                by_family[p.family].append(p)
        try:
            for family, probes in by_family.items():
                if probes:
                    self._open(family, probes)
            live = [(family, probes) for family, probes in by_family.items() if probes and family in self._socks]
            for family, _ in live:
                sock = self._socks[family].sock
                loop.add_reader(sock.fileno(), self._drain, sock, family)
            start = time.perf_counter()
            last_sent = start
            for k in range(cfg.count):
                if k:
                    await asyncio.sleep(max(0.0, start + k * cfg.interval_s - time.perf_counter()))
                for family, probes in live:
                    await self._send_round(family, probes, k)
                last_sent = time.perf_counter()
            for family, _ in live:
                self._drain(self._socks[family].sock, family)
            now = time.perf_counter()
            for key in [key for key, (_, _, sent_at) in self._pending.items() if now - sent_at > cfg.timeout_s]:
                del self._pending[key]  # expired: lost
            if self._pending:  # the reader callback fills the results; wake up when the last reply is in
                self._done = loop.create_future()
                await asyncio.wait({self._done}, timeout=max(0.0, last_sent + cfg.timeout_s - time.perf_counter()))
        finally:
            for isock in self._socks.values():
                with contextlib.suppress(Exception):
                    loop.remove_reader(isock.sock.fileno())
                isock.close()
            self._socks.clear()
        return self.probes

    async def _resolve(self) -> None:
        cfg = self.config

        async def one(p: _Probe) -> None:
            try:
                if is_hostname(p.target):
                    p.address = (await async_resolve(p.target, cfg.family))[0]
                p.family = 6 if is_ipv6_address(p.address) else 4
                p.sockaddr = socket.getaddrinfo(
                    p.address,
                    None,
                    family=socket.AF_INET6 if p.family == 6 else socket.AF_INET,
                    type=socket.SOCK_DGRAM,
                    flags=socket.AI_NUMERICHOST,
                )[0][4]
            except Exception as exc:
                p.fatal = translate(exc, cfg)

        names = [p for p in self.probes if is_hostname(p.target)]
        if names:
            await asyncio.gather(*(one(p) for p in names))
        for p in self.probes:
            if not is_hostname(p.target):
                await one(p)  # numeric: no I/O, never suspends

    def _open(self, family: int, probes: list[_Probe]) -> None:
        cfg = self.config
        source = str(cfg.source) if cfg.source is not None else None
        try:
            isock = (ICMPv6Socket if family == 6 else ICMPv4Socket)(source, False)
        except Exception as exc:
            error = translate(exc, cfg)
            for p in probes:
                p.fatal = error
            return
        isock.sock.setblocking(False)
        with contextlib.suppress(OSError):
            isock.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
        self._socks[family] = isock
        seq = 0
        for p in probes:
            p.base = seq
            seq += cfg.count

    async def _send_round(self, family: int, probes: list[_Probe], k: int) -> None:
        loop = asyncio.get_running_loop()
        sock = self._socks[family].sock
        sendto = sock.sendto
        pack = ECHO_HEADER.pack
        rtype = ECHO_REQUEST[family]
        payload = self.payload
        pending = self._pending
        clock = time.perf_counter
        for n, p in enumerate(probes):
            seq = (p.base + k) & 0xFFFF
            packet = pack(rtype, 0, 0, 0, seq) + payload
            key = (p.sockaddr[0], seq)
            try:
                pending[key] = (p, k, clock())
                try:
                    sendto(packet, p.sockaddr)
                except BlockingIOError:  # send buffer full: read what came back, then wait until writable
                    self._drain(sock, family)
                    pending[key] = (p, k, clock())
                    await loop.sock_sendto(sock, packet, p.sockaddr)
            except PermissionError as exc:
                del pending[key]
                p.errors.append(translate(SocketBroadcastError() if family == 4 else exc, self.config))
                continue
            except OSError as exc:
                del pending[key]
                p.errors.append(translate(exc, self.config))
                continue
            p.sent += 1
            if n % DRAIN_EVERY == DRAIN_EVERY - 1:
                self._drain(sock, family)

    def _drain(self, sock: socket.socket, family: int) -> None:
        """Read every datagram waiting on the socket; match each echo reply to its request."""
        recvfrom = sock.recvfrom
        pending = self._pending
        reply_type = ECHO_REPLY[family]
        check = self._check
        end = 8 + len(check)
        timeout = self.config.timeout_s
        clock = time.perf_counter
        for _ in range(100_000):  # bounded: a socket error is reported once, never in a loop
            try:
                data, addr = recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # a pending socket error (sk_err); read on
            now = clock()
            if len(data) < 8 or data[0] != reply_type or data[8:end] != check:
                continue
            source = addr[0]
            seq = (data[6] << 8) | data[7]
            entry = pending.pop((source, seq), None)
            if entry is None and family == 6:
                with contextlib.suppress(ValueError):
                    entry = pending.pop((str(ip_address(source)), seq), None)
            if entry is None:
                continue  # duplicate, or not ours
            probe, k, sent_at = entry
            rtt = now - sent_at
            if rtt > timeout:
                continue  # late: that request is lost
            probe.rtts[k] = rtt * 1000.0
            probe.received += 1
            if not pending and self._done is not None and not self._done.done():
                self._done.set_result(None)


class IcmpCollector:
    kind: ClassVar[str] = "icmp"
    config_model: ClassVar[type[CollectorConfig]] = IcmpConfig

    def __init__(self, config: IcmpConfig | None = None) -> None:
        self.config = config or IcmpConfig()
        self._raw_gate: asyncio.Semaphore | None = None
        self._raw_gate_loop: asyncio.AbstractEventLoop | None = None
        self._payload = batch_payload(b"vigie-v1", self.config.payload_size)  # raw path: fixed, not random

    def _batched(self) -> bool:
        return self.config.socket is SocketMode.DATAGRAM and PLATFORM_LINUX

    def _gate(self) -> asyncio.Semaphore | None:
        if self.config.socket is not SocketMode.RAW:
            return None
        loop = asyncio.get_running_loop()
        if self._raw_gate is None or self._raw_gate_loop is not loop:
            self._raw_gate = asyncio.Semaphore(self.config.raw_concurrency)
            self._raw_gate_loop = loop
        return self._raw_gate

    async def collect(self, target: str, scheduled_at: datetime) -> ProbeResult:
        if self._batched():
            return (await self.collect_many([target], scheduled_at))[0]
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
        """Many targets concurrently: datagram sockets share one socket per address family for the whole batch;
        raw sockets go one per target and stay under the concurrency cap."""
        if not self._batched():
            return list(await asyncio.gather(*(self.collect(t, scheduled_at) for t in targets)))
        started = time.monotonic()
        batch = EchoBatch(self.config, targets)
        try:
            probes = await batch.run()
        except Exception as exc:  # a probe never raises: translate and report
            error = translate(exc, self.config)
            return [ProbeResult.failed(self.kind, t, scheduled_at, error, time.monotonic() - started) for t in targets]
        duration = time.monotonic() - started
        return [
            self._result(p.target, p.address, scheduled_at, p.rtts, p.sent, p.errors, p.fatal, duration) for p in probes
        ]

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
                request = ICMPRequest(destination=address, id=ident, sequence=seq, payload=self._payload)
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
        return self._result(target, address, scheduled_at, rtts, packets_sent, errors, None, time.monotonic() - started)

    def _result(
        self,
        target: str,
        address: str,
        scheduled_at: datetime,
        rtts: list[float | None],
        packets_sent: int,
        errors: list[CollectorError],
        fatal: CollectorError | None,
        duration: float,
    ) -> ProbeResult:
        cfg = self.config
        if fatal is not None:
            return ProbeResult.failed(self.kind, target, scheduled_at, fatal, duration)
        values = summarize(rtts, packets_sent)
        values["address"] = address
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
        return ProbeResult.failed(self.kind, target, scheduled_at, error, duration, values)
