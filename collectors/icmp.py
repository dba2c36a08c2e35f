"""ICMP echo probe (asyncio; icmplib for sockets, names and ICMP error messages): loss, min/avg/max RTT, jitter
and per-packet RTTs.

Unprivileged datagram sockets are the default. On Linux they need the process's group inside
`net.ipv4.ping_group_range` (per network namespace; the kernel default "1 0" allows nobody):

    sysctl -w net.ipv4.ping_group_range="0 2147483647"

Raw sockets (`socket: raw`, root or CAP_NET_RAW) are the other mode. Every raw ICMP socket receives a copy of
every ICMP packet of the host, so one raw socket per probe made concurrent probes parse each other's replies
and, by the hundred, overflow the socket buffers into loss that did not happen (measured with icmplib's
per-probe socket: 50 concurrent tasks fine, 200 lose a third). Hence `raw_concurrency` (at most 50): a
semaphore per collector instance, at most that many of its targets probed at once. On Linux the raw path now
shares one socket (below), so the cap is no longer what prevents false loss (200 instances at once on loopback
lose nothing, tests/collectors/test_icmp_raw.py); it keeps its meaning (a per-instance limit) and its bound.

`packets_sent == 0` (nothing could even be sent: no route, blackhole, bad source) is down, never "0 % loss".

Schedule: request k of a target leaves at start + k * `interval_s` (a fixed period, like `fping -p`: a lost
reply does not delay the next request) and its reply counts only if it comes back within `timeout_s`.

How requests are sent and replies read on Linux (why part of icmplib is bypassed). A well-kept library was
preferred, and icmplib still creates the sockets (with its error mapping: permission, bad source address),
resolves names, gives the ICMP errors their exceptions and messages ("Destination host unreachable"), and does
the whole path on other systems. But its per-request path costs too much:
- datagram, 1,000 loopback targets (bench/icmp.py): only ~0.4x fping's replies/s. `ICMPRequest.payload`
  draws a random payload per request (`random.choices`), `send` does a `getaddrinfo` and two `setsockopt` per
  request, the asyncio `receive` costs a task, a timer and a `sock_recv` per reply, one socket per target;
- raw, the edge agent (issue #4: icmp was ~25 % of its CPU): per probe a new raw socket; per request a
  `getaddrinfo`, the checksum in a Python loop, `add_reader`/`remove_reader` (the latter, on an fd not
  registered, formats a socket repr into a KeyError) and `wait_for`; and each probe's socket read, parsed and
  dropped the other probes' packets (on loopback even the echo requests).
So on Linux every probe runs an `EchoBatch` (`collect` is a batch of one, `collect_many` one batch for the
datagram mode) over an `EchoSocket`: one ICMP socket per (event loop, address family, mode, source), opened on
first use, shared by every batch and every collector instance of the loop (the agent has one instance per
probe), closed when its last batch ends. Closing at zero rather than keeping it for the process: an open raw
socket gets (and wakes the loop for) every echo reply and ICMP error of the host whether a probe waits or not,
and an fd kept per loop would outlive `asyncio.run`; reopening costs ~0.2 ms of CPU, once per busy period of
the loop (probes that overlap share it). Per socket: one random 8-byte token, the payload built once per
payload size (token, then filler) with its share of the checksum summed once (only the identifier and sequence
are added per request: the kernel computes ICMPv6 and ping-socket checksums itself, raw IPv4 needs ours); on a
raw IPv4 socket `ICMP_FILTER` (ICMPv6: `ICMPV6_FILTER`) makes the kernel drop all but echo replies,
destination unreachable and time exceeded. One `add_reader` callback (`EchoSocket.drain`, also called in-line
while a round of requests goes out, so the receive buffer never overflows) reads the socket dry, parses each
packet once and settles the request it answers in `pending`, keyed by:
- raw: (identifier << 16 | sequence), 32 bits from a counter starting at random (unique while pending);
- datagram: the sequence (the kernel rewrites the identifier and delivers a ping socket only its replies).
An echo reply counts only if its key is pending, its source is the target and its payload starts with the
socket's token (another process's ping with the same identifier and sequence, or a stale reply for an earlier
socket, does not match); an ICMP error (raw only) fails the request whose identifier, sequence, destination
and, when quoted, token it quotes. A truncated or garbage packet is skipped. One timer per batch (its last
request's timeout), not one per request: a reply later than `timeout_s` is loss.
Micro-benchmark (3 requests at 0.2 s, loopback, `asyncio.gather` of N instances' `collect`, CPU per probe,
this 2-core VM where one wake-up from a 0.2 s sleep alone costs ~0.19 ms): raw 1.40 / 0.60 / 0.67 ms with
icmplib's per-probe socket -> 1.12 / 0.30 / 0.19 ms shared (N = 1 / 5 / 10); datagram unchanged (1.2 / 0.33 /
0.2 ms).
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
    ICMPReply,
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
    RAW = "raw"  # root / CAP_NET_RAW; one shared socket per family on Linux, `raw_concurrency` per instance


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
    raw_concurrency: int = Field(
        RAW_CONCURRENCY_MAX,
        ge=1,
        le=RAW_CONCURRENCY_MAX,
        description="raw mode: at most this many targets of one collector instance probed at once",
    )
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
ICMP_ERRORS = {4: frozenset({3, 11}), 6: frozenset({1, 3})}  # destination unreachable, time exceeded
TOKEN_SIZE = 8
DRAIN_EVERY = 32  # requests sent between two in-line drains of the receive queue
RECV_BUFFER = 4 << 20  # asked for; the kernel caps it at net.core.rmem_max
SOL_RAW = 255  # Linux <linux/in.h>, not in the socket module
ICMP_FILTER = 1  # level SOL_RAW, raw IPv4 ICMP: a 32-bit mask of the types the kernel must drop
ICMPV6_FILTER = 1  # level IPPROTO_ICMPV6, raw ICMPv6: 256 bits, a set bit drops that type


def batch_payload(token: bytes, size: int) -> bytes:
    """The payload of every request on a socket: the token, then filler bytes (truncated to `size`)."""
    filler = bytes((0x10 + i) & 0xFF for i in range(max(0, size - len(token))))
    return (token + filler)[:size]


def ones_sum(data: bytes) -> int:
    """Sum of the 16-bit big-endian words of `data` (an odd length padded with a zero byte), not yet folded."""
    if len(data) % 2:
        data += b"\x00"
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def icmp_filter(family: int) -> bytes:
    """The kernel filter of a raw socket: pass echo replies and the errors that quote a request, drop the rest
    (echo requests, ours included on loopback, neighbour discovery, router advertisements...)."""
    wanted = {ECHO_REPLY[family], *ICMP_ERRORS[family]}
    if family == 4:
        return struct.pack("=I", 0xFFFFFFFF & ~sum(1 << t for t in wanted))
    words = [0xFFFFFFFF] * 8
    for t in wanted:
        words[t >> 5] &= ~(1 << (t & 31)) & 0xFFFFFFFF
    return struct.pack("=8I", *words)


def _packed(address: str) -> bytes:
    """The address as the bytes an IP header carries (an IPv6 scope `%eth0` dropped)."""
    return ip_address(address.split("%", 1)[0]).packed


class _Probe:
    """One target's state inside a batch."""

    __slots__ = ("address", "errors", "family", "fatal", "packed", "received", "rtts", "sent", "sockaddr", "target")

    def __init__(self, target: str, count: int) -> None:
        self.target = target
        self.address = target
        self.sockaddr: tuple[Any, ...] = ()
        self.packed = b""  # the address as in an IP header: an ICMP error quoting our request names it
        self.family = 4
        self.rtts: list[float | None] = [None] * count
        self.sent = 0
        self.received = 0
        self.errors: list[CollectorError] = []
        self.fatal: CollectorError | None = None


class EchoSocket:
    """One ICMP socket (one family, raw or datagram) of an event loop, shared by every batch that runs on the
    loop, and the one reader that matches what comes back to the requests waiting on it.

    `pending` maps a key to (batch, probe, request index, send time). On a raw socket the key is the 32-bit
    (identifier << 16 | sequence) we write, from a counter starting at random; a Linux datagram socket rewrites
    the identifier (its own, and it delivers only its replies), so the key is the 16-bit sequence. A key is
    never handed out while still pending. A reply counts only if its key is pending, it comes from the
    target's address and its payload starts with this socket's random token; an ICMP error (raw sockets only)
    counts if the request it quotes has a pending key and was sent to the target.
    """

    __slots__ = (
        "_csum",
        "_isock",
        "_next",
        "_payloads",
        "errors",
        "family",
        "ip_header",
        "key",
        "mask",
        "pending",
        "raw",
        "reply_type",
        "request_type",
        "sock",
        "token",
        "users",
    )

    _shared: ClassVar[dict[tuple[Any, ...], EchoSocket]] = {}

    def __init__(self, sock: Any, family: int, raw: bool, isock: Any = None) -> None:
        self.sock = sock
        self._isock = isock  # the icmplib socket, kept: its __del__ closes the socket
        self.family = family
        self.raw = raw
        self.ip_header = raw and family == 4  # a raw IPv4 socket reads the IP header too
        self._csum = raw and family == 4  # the kernel computes ICMPv6 and ping-socket checksums, not raw IPv4
        self.errors = ICMP_ERRORS[family] if raw else frozenset()  # a ping socket gets no ICMP errors as packets
        self.mask = 0xFFFFFFFF if raw else 0xFFFF
        self.request_type = ECHO_REQUEST[family]
        self.reply_type = ECHO_REPLY[family]
        self.token = os.urandom(TOKEN_SIZE)
        self.pending: dict[int, tuple[EchoBatch, _Probe, int, float]] = {}
        self._next = int.from_bytes(os.urandom(4)) & self.mask
        self._payloads: dict[int, tuple[bytes, int]] = {}
        self.users = 0
        self.key: tuple[Any, ...] = ()

    @classmethod
    def acquire(cls, family: int, raw: bool, source: str | None) -> EchoSocket:
        """The loop's socket for (family, mode, source), opened on first use; `release` it when done. Raises
        icmplib's errors (permission, source address)."""
        loop = asyncio.get_running_loop()
        key = (loop, family, raw, source)
        esock = cls._shared.get(key)
        if esock is None:
            isock = (ICMPv6Socket if family == 6 else ICMPv4Socket)(source, raw)
            sock = isock.sock
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
            if raw:  # Linux: the kernel drops what no request waits for; elsewhere the reader does
                with contextlib.suppress(OSError):
                    if family == 4:
                        sock.setsockopt(SOL_RAW, ICMP_FILTER, icmp_filter(4))
                    else:
                        sock.setsockopt(socket.IPPROTO_ICMPV6, ICMPV6_FILTER, icmp_filter(6))
            esock = cls(sock, family, raw, isock)
            esock.key = key
            loop.add_reader(sock.fileno(), esock.drain)
            cls._shared[key] = esock
        esock.users += 1
        return esock

    def release(self) -> None:
        """One user less; the last one closes the socket (an open raw socket gets a copy of every ICMP reply
        and error of the host, whether a probe waits or not)."""
        self.users -= 1
        if self.users > 0:
            return
        if EchoSocket._shared.get(self.key) is self:
            del EchoSocket._shared[self.key]
        loop = self.key[0] if self.key else None
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(Exception):
                loop.remove_reader(self.sock.fileno())
        if self._isock is not None:
            self._isock.close()

    def payload(self, size: int) -> tuple[bytes, int]:
        """The payload of every request of `size` bytes on this socket, and its part of the checksum."""
        made = self._payloads.get(size)
        if made is None:
            data = batch_payload(self.token, size)
            made = self._payloads[size] = (data, ones_sum(data) + (self.request_type << 8))
        return made

    def allocate(self) -> int:
        """A key that no pending request has (while one is left: 65,536 requests in flight on a ping socket
        reuse keys, as a 16-bit sequence must)."""
        key = self._next
        pending = self.pending
        while key in pending and len(pending) <= self.mask:
            key = (key + 1) & self.mask
        self._next = (key + 1) & self.mask
        return key

    def packet(self, key: int, payload: bytes, partial: int) -> bytes:
        """The echo request with `key` as its identifier and sequence (a ping socket writes its identifier)."""
        ident, seq = key >> 16, key & 0xFFFF
        csum = 0
        if self._csum:
            s = partial + ident + seq
            s = (s & 0xFFFF) + (s >> 16)
            csum = ~((s & 0xFFFF) + (s >> 16)) & 0xFFFF
        return ECHO_HEADER.pack(self.request_type, 0, csum, ident, seq) + payload

    def drain(self) -> None:
        """Read every packet waiting on the socket, each parsed once; resolve the request it answers."""
        recvfrom = self.sock.recvfrom
        pending = self.pending
        reply_type = self.reply_type
        errors = self.errors
        ip_header = self.ip_header
        mask = self.mask
        token = self.token
        clock = time.perf_counter
        for _ in range(100_000):  # bounded: a socket error is reported once, never in a loop
            try:
                data, addr = recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # a pending socket error (sk_err); read on
            now = clock()
            size = len(data)
            o = ((data[0] & 0x0F) << 2) if ip_header and size else 0
            if size < o + 8:
                continue  # empty, truncated, garbage
            t = data[o]
            if t == reply_type:
                key = int.from_bytes(data[o + 4 : o + 8]) & mask
                entry = pending.get(key)
                if entry is None:
                    continue  # duplicate, late, or another process's ping
                batch, probe, k, sent_at = entry
                check = token[: batch.check_size]
                if data[o + 8 : o + 8 + len(check)] != check:
                    continue  # not our payload: same identifier and sequence by chance
                if addr[0] != probe.sockaddr[0] and not self._same_address(addr[0], probe):
                    continue  # answered by another host than the target
                error = None
            elif t in errors:  # destination unreachable / time exceeded quoting a request of ours?
                inner = o + 8
                if ip_header:
                    q = inner + ((data[inner] & 0x0F) << 2) if size > inner else size
                    dst = data[inner + 16 : inner + 20]
                else:
                    q = inner + 40
                    dst = data[inner + 24 : inner + 40]
                if size < q + 8 or data[q] != self.request_type:
                    continue
                key = int.from_bytes(data[q + 4 : q + 8]) & mask
                entry = pending.get(key)
                if entry is None or entry[1].packed != dst:
                    continue
                batch, probe, k, sent_at = entry
                quoted = data[q + 8 : q + 8 + batch.check_size]
                if quoted != token[: len(quoted)]:
                    continue  # what it quotes of the payload (if anything) is not ours
                error = self._error(addr[0], data, o, t, q)
            else:
                continue
            del pending[key]
            if error is not None:
                probe.errors.append(translate(error, batch.config))
            elif now - sent_at <= batch.config.timeout_s:
                probe.rtts[k] = (now - sent_at) * 1000.0
                probe.received += 1
            batch.answered()

    def _same_address(self, source: str, probe: _Probe) -> bool:
        """An IPv6 source as the kernel reports it against the target's canonical address."""
        if self.family != 6:
            return False
        try:
            return _packed(source) == probe.packed
        except ValueError:
            return False

    def _error(self, source: str, data: bytes, o: int, t: int, q: int) -> ICMPLibError:
        """icmplib's exception for an ICMP error (its messages: 'Destination host unreachable'...)."""
        ident_seq = int.from_bytes(data[q + 4 : q + 8])
        reply = ICMPReply(source, self.family, ident_seq >> 16, ident_seq & 0xFFFF, t, data[o + 1], len(data) - o, 0.0)
        try:
            reply.raise_for_status()
        except ICMPLibError as exc:
            return exc
        return ICMPLibError(f"ICMP type {t}, code {data[o + 1]}")  # not reached: only errors get here


class EchoBatch:
    """Echo requests to many targets over the event loop's ICMP socket of each address family (`EchoSocket`):
    datagram (Linux ping sockets) or raw."""

    def __init__(self, config: IcmpConfig, targets: list[str]) -> None:
        self.config = config
        self.raw = config.socket is SocketMode.RAW
        self.probes = [_Probe(t, config.count) for t in targets]
        self.check_size = min(TOKEN_SIZE, config.payload_size)  # payload bytes that must be the socket's token
        self.outstanding = 0  # requests sent and neither answered nor expired
        self._keys: list[tuple[EchoSocket, int]] = []  # every request of this batch on its socket
        self._done: asyncio.Future[None] | None = None  # set once every request of the last round is sent

    def answered(self) -> None:
        """A request of this batch got its answer (reply or ICMP error)."""
        self.outstanding -= 1
        if not self.outstanding and self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def run(self) -> list[_Probe]:
        cfg = self.config
        loop = asyncio.get_running_loop()
        await self._resolve()
        by_family: dict[int, list[_Probe]] = {4: [], 6: []}
        for p in self.probes:
            if p.fatal is None:
                by_family[p.family].append(p)
        live: list[tuple[EchoSocket, list[_Probe]]] = []
        try:
            for family, probes in by_family.items():
                if probes and (esock := self._open(family, probes)) is not None:
                    live.append((esock, probes))
            start = time.perf_counter()
            last_sent = start
            for k in range(cfg.count):
                if k:
                    await asyncio.sleep(max(0.0, start + k * cfg.interval_s - time.perf_counter()))
                for esock, probes in live:
                    await self._send_round(esock, probes, k)
                last_sent = time.perf_counter()
            for esock, _ in live:
                esock.drain()
            now = time.perf_counter()
            for esock, key in self._keys:
                entry = esock.pending.get(key)
                if entry is not None and entry[0] is self and now - entry[3] > cfg.timeout_s:
                    del esock.pending[key]  # expired: lost
                    self.outstanding -= 1
            if self.outstanding:  # the reader callback fills the results; wake up when the last reply is in
                self._done = loop.create_future()
                await asyncio.wait({self._done}, timeout=max(0.0, last_sent + cfg.timeout_s - time.perf_counter()))
        finally:
            for esock, key in self._keys:
                entry = esock.pending.get(key)
                if entry is not None and entry[0] is self:
                    del esock.pending[key]
            self._keys.clear()
            for esock, _ in live:
                esock.release()
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
                p.packed = _packed(str(p.sockaddr[0]))
            except Exception as exc:
                p.fatal = translate(exc, cfg)

        names = [p for p in self.probes if is_hostname(p.target)]
        if names:
            await asyncio.gather(*(one(p) for p in names))
        for p in self.probes:
            if not is_hostname(p.target):
                await one(p)  # numeric: no I/O, never suspends

    def _open(self, family: int, probes: list[_Probe]) -> EchoSocket | None:
        cfg = self.config
        try:
            return EchoSocket.acquire(family, self.raw, str(cfg.source) if cfg.source is not None else None)
        except Exception as exc:
            error = translate(exc, cfg)
            for p in probes:
                p.fatal = error
            return None

    async def _send_round(self, esock: EchoSocket, probes: list[_Probe], k: int) -> None:
        loop = asyncio.get_running_loop()
        sock = esock.sock
        sendto = sock.sendto
        payload, partial = esock.payload(self.config.payload_size)
        pending = esock.pending
        keys = self._keys
        clock = time.perf_counter
        for n, p in enumerate(probes):
            key = esock.allocate()
            packet = esock.packet(key, payload, partial)
            keys.append((esock, key))
            self.outstanding += 1  # before the send: the reader may see the reply during `sock_sendto`
            try:
                pending[key] = (self, p, k, clock())
                try:
                    sendto(packet, p.sockaddr)
                except BlockingIOError:  # send buffer full: read what came back, then wait until writable
                    esock.drain()
                    pending[key] = (self, p, k, clock())
                    await loop.sock_sendto(sock, packet, p.sockaddr)
            except OSError as exc:
                del pending[key]
                self.outstanding -= 1
                broadcast = isinstance(exc, PermissionError) and esock.family == 4
                p.errors.append(translate(SocketBroadcastError() if broadcast else exc, self.config))
                continue
            p.sent += 1
            if n % DRAIN_EVERY == DRAIN_EVERY - 1:
                esock.drain()


class IcmpCollector:
    kind: ClassVar[str] = "icmp"
    config_model: ClassVar[type[CollectorConfig]] = IcmpConfig

    def __init__(self, config: IcmpConfig | None = None) -> None:
        self.config = config or IcmpConfig()
        self._raw_gate: asyncio.Semaphore | None = None
        self._raw_gate_loop: asyncio.AbstractEventLoop | None = None
        # icmplib's path (not Linux): a fixed payload, not icmplib's random one per request
        self._payload = batch_payload(b"vigie-v1", self.config.payload_size)

    def _gate(self) -> asyncio.Semaphore | None:
        if self.config.socket is not SocketMode.RAW:
            return None
        loop = asyncio.get_running_loop()
        if self._raw_gate is None or self._raw_gate_loop is not loop:
            self._raw_gate = asyncio.Semaphore(self.config.raw_concurrency)
            self._raw_gate_loop = loop
        return self._raw_gate

    async def collect(self, target: str, scheduled_at: datetime) -> ProbeResult:
        gate = self._gate()
        if gate is None:
            return await self._collect(target, scheduled_at)
        async with gate:
            return await self._collect(target, scheduled_at)

    async def _collect(self, target: str, scheduled_at: datetime) -> ProbeResult:
        if PLATFORM_LINUX:
            return (await self._batch([target], scheduled_at))[0]
        started = time.monotonic()
        try:
            return await self._probe(target, scheduled_at, started)
        except Exception as exc:  # a probe never raises: translate and report
            return ProbeResult.failed(
                self.kind, target, scheduled_at, translate(exc, self.config), time.monotonic() - started
            )

    async def collect_many(self, targets: list[str], scheduled_at: datetime) -> list[ProbeResult]:
        """Many targets concurrently: datagram probes in one batch; raw probes one batch per target (all on the
        loop's shared raw socket), at most `raw_concurrency` of them at a time."""
        if self.config.socket is SocketMode.DATAGRAM and PLATFORM_LINUX:
            return await self._batch(targets, scheduled_at)
        return list(await asyncio.gather(*(self.collect(t, scheduled_at) for t in targets)))

    async def _batch(self, targets: list[str], scheduled_at: datetime) -> list[ProbeResult]:
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
