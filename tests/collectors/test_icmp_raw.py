"""The icmp collector's raw path: one raw socket per address family per event loop (EchoSocket), shared by every
probe of every collector instance. Pure tests feed a fake socket with what a raw socket reads (IPv4 with its IP
header); lab tests ping loopback, the test host and the routed lab path, concurrently."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import struct
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from icmplib.sockets import ICMPSocket
from lab_support import LabEndpoints, ns_exec, require_binary, require_root
from netlab import nft_drop, run_without_cap_net_raw
from test_icmp_batch import Armed, armed, count_sockets

from collectors.base import Reason
from collectors.icmp import TOKEN_SIZE, EchoSocket, IcmpCollector, IcmpConfig, icmp_filter

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
RAW = IcmpConfig(count=3, interval_s=0.02, timeout_s=0.5, socket="raw")
AGENT = "10.0.0.1"  # our address as the fake packets name it
SILENT = "10.250.3.99"  # blackholed inside vigie-h1 by the `silent` fixture: no reply, no ICMP error
NO_ROUTE = "10.250.3.77"  # the provider edge has no route for it: ICMP net unreachable from 10.250.2.2


def ipv4(src: str, dst: str, body: bytes, ihl: int = 5) -> bytes:
    """An IPv4 header (protocol ICMP, `ihl` words, options zero) before `body`."""
    addresses = socket.inet_aton(src) + socket.inet_aton(dst)
    header = struct.pack("!BBHHHBBH", 0x40 | ihl, 0, 4 * ihl + len(body), 0, 0, 64, 1, 0) + addresses
    return header + b"\x00" * (4 * ihl - 20) + body


def ipv6(src: str, dst: str, body: bytes) -> bytes:
    """An IPv6 header (next header ICMPv6) before `body`."""
    addresses = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
    return struct.pack("!IHBB", 6 << 28, len(body), 58, 64) + addresses + body


def raw_reply(lab: Armed, probe: int, k: int, source: str, **kw: Any) -> tuple[bytes, tuple[Any, ...]]:
    """The echo reply as the raw IPv4 socket reads it: with the IP header."""
    return ipv4(source, AGENT, lab.reply(probe, k, **kw)), (source, 0)


def error4(lab: Armed, probe: int, k: int, router: str, rtype: int, code: int, quote: int | None = None) -> bytes:
    """An ICMPv4 error from `router` quoting request k of `probe` (its IP header and `quote` bytes of it)."""
    request = lab.request(probe, k)[:quote]
    inner = ipv4(AGENT, lab.probes[probe].address, request)
    return ipv4(router, AGENT, struct.pack("!BBHI", rtype, code, 0, 0) + inner)


def test_raw_ipv4_request_checksum_is_icmplibs() -> None:
    lab = armed(["127.0.0.1", "127.0.0.2"], count=3, raw=True, payload_size=57)  # odd size: a padded word
    for packet, _ in lab.sock.sent:
        zeroed = packet[:2] + b"\x00\x00" + packet[4:]
        assert struct.unpack("!H", packet[2:4])[0] == ICMPSocket._checksum(None, zeroed)  # type: ignore[arg-type]
    idents = {struct.unpack("!HH", p[4:8]) for p, _ in lab.sock.sent}
    assert len(idents) == 6  # (identifier, sequence) unique per request


def test_raw_ipv4_replies_are_read_after_the_ip_header() -> None:
    lab = armed(["127.0.0.1", "127.0.0.2"], raw=True)
    a, b = lab.probes
    reply = lab.reply(1, 1)
    lab.feed(
        raw_reply(lab, 0, 0, "127.0.0.1"),
        (ipv4("127.0.0.2", AGENT, reply, ihl=6), ("127.0.0.2", 0)),  # IP options: a longer header
        raw_reply(lab, 0, 1, "127.0.0.3"),  # from another host: not a's reply
    )
    assert a.received == 1 and a.rtts[1] is None
    assert b.received == 1 and b.rtts[1] is not None
    assert lab.batch.outstanding == 2


def test_raw_foreign_echo_replies_are_ignored() -> None:
    lab = armed(["127.0.0.1"], count=1, raw=True)
    (p,) = lab.probes
    foreign = bytearray(lab.reply(0, 0))
    foreign[4:6] = bytes([foreign[4] ^ 0xFF, foreign[5]])  # another process's identifier, our sequence
    other_payload = b"\x00" * TOKEN_SIZE + b"x" * 48  # our identifier and sequence, not our payload
    lab.feed(
        (ipv4("127.0.0.1", AGENT, bytes(foreign)), ("127.0.0.1", 0)),
        raw_reply(lab, 0, 0, "127.0.0.1", payload=other_payload),
        raw_reply(lab, 0, 0, "127.0.0.1", rtype=8),  # our own request (loopback without ICMP_FILTER)
    )
    assert p.received == 0 and len(lab.esock.pending) == 1
    lab.feed(raw_reply(lab, 0, 0, "127.0.0.1"))
    assert p.received == 1 and not lab.esock.pending


@pytest.mark.parametrize(
    ("rtype", "code", "quote", "message"),
    [
        (3, 1, None, "Destination host unreachable"),
        (3, 13, 8, "Packet filtered"),  # a router quoting only the 8 bytes RFC 792 asks for
        (11, 0, None, "Time to live exceeded"),
    ],
)
def test_raw_ipv4_errors_quoting_our_request_fail_it(rtype: int, code: int, quote: int | None, message: str) -> None:
    lab = armed(["192.0.2.7", "192.0.2.8"], count=1, raw=True)
    a, b = lab.probes
    lab.feed((error4(lab, 0, 0, "198.51.100.1", rtype, code, quote), ("198.51.100.1", 0)))
    assert a.received == 0 and a.rtts == [None] and len(a.errors) == 1
    assert a.errors[0].reason is Reason.UNREACHABLE and message.lower() in str(a.errors[0]).lower()
    assert not b.errors and lab.batch.outstanding == 1


def test_raw_error_quoting_another_destination_or_payload_is_ignored() -> None:
    lab = armed(["192.0.2.7"], count=1, raw=True)
    (p,) = lab.probes
    request = lab.request(0, 0)
    elsewhere = ipv4(AGENT, "192.0.2.99", request)  # our identifier and sequence, sent elsewhere
    not_ours = ipv4(AGENT, "192.0.2.7", request[:8] + b"\x00" * TOKEN_SIZE)
    for inner in (elsewhere, not_ours):
        lab.feed((ipv4("198.51.100.1", AGENT, b"\x03\x01\x00\x00\x00\x00\x00\x00" + inner), ("198.51.100.1", 0)))
    assert not p.errors and lab.esock.pending


def test_raw_ipv6_reply_and_error() -> None:
    lab = armed(["2001:db8::7", "2001:db8::8"], count=1, family=6, raw=True)
    a, b = lab.probes
    lab.feed((lab.reply(0, 0), ("2001:db8::7", 0, 0, 0)))
    inner = ipv6("2001:db8::1", "2001:db8::8", lab.request(1, 0))
    lab.feed((struct.pack("!BBHI", 1, 3, 0, 0) + inner, ("2001:db8::ff", 0, 0, 0)))
    assert a.received == 1
    assert b.received == 0 and "address unreachable" in str(b.errors[0]).lower()
    assert not lab.esock.pending and lab.batch.outstanding == 0


def test_garbage_never_breaks_the_reader() -> None:
    lab = armed(["127.0.0.1"], count=1, raw=True)
    rng = random.Random(4)
    request = lab.request(0, 0)
    junk: list[Any] = [(b"", ("127.0.0.1", 0)), (b"\x4f", ("127.0.0.1", 0)), (b"\x4f" + b"\x00" * 59, ("x", 0))]
    for _ in range(2000):
        size = rng.choice([1, 7, 20, 21, 27, 28, 29, 47, 48, 49, 56, 60, 84, 200])
        data = bytearray(rng.randbytes(size))
        if rng.random() < 0.7:  # mostly what gets past a first glance: IPv4, a type we read, bits of our request
            data[0] = 0x40 | rng.choice([0, 1, 5, 6, 15])
            if size > 20:
                data[20] = rng.choice([0, 3, 11])
            if size > 28 and rng.random() < 0.5:
                data[28] = 0x45
                data[48 : 48 + len(request)] = request[: max(0, size - 48)]
                del data[size:]
        junk.append((bytes(data), ("127.0.0.1", 0)))
    lab.feed(*junk)
    assert lab.esock.pending  # nothing matched by chance
    lab.feed(raw_reply(lab, 0, 0, "127.0.0.1"))
    assert lab.probes[0].received == 1


def test_kernel_filter_passes_only_replies_and_errors() -> None:
    (mask,) = struct.unpack("=I", icmp_filter(4))
    assert [t for t in range(32) if not mask >> t & 1] == [0, 3, 11]
    words = struct.unpack("=8I", icmp_filter(6))
    assert [t for t in range(256) if not words[t >> 5] >> (t & 31) & 1] == [1, 3, 129]


# --- lab: real raw sockets -------------------------------------------------------------------------------------


@pytest.mark.lab
@pytest.mark.parametrize("target", ["127.0.0.1", "::1"])
async def test_raw_loopback_answers_with_zero_loss(target: str) -> None:
    require_root()
    result = await IcmpCollector(RAW).collect(target, T0)
    assert result.ok, result.detail
    v = result.values
    assert (v["packets_sent"], v["packets_received"], v["loss_ratio"], v["address"]) == (3, 3, 0.0, target)
    assert 0 < v["rtt_min_ms"] <= v["rtt_avg_ms"] <= v["rtt_max_ms"] < 500
    assert not EchoSocket._shared  # closed with its last user


@pytest.fixture
def silent(lab: LabEndpoints) -> Iterator[str]:
    """SILENT blackholed inside the test host: requests vanish there, nothing comes back."""
    require_root()
    ns_exec("ip", "route", "add", "blackhole", f"{SILENT}/32")
    try:
        yield SILENT
    finally:
        ns_exec("ip", "route", "del", "blackhole", f"{SILENT}/32", check=False)


@pytest.mark.lab
async def test_concurrent_raw_probes_share_one_socket_and_get_only_their_answers(
    lab: LabEndpoints, silent: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = count_sockets(monkeypatch)
    targets = [lab.ns_host, silent, NO_ROUTE, "127.0.0.1", "::1"]
    collectors = [IcmpCollector(RAW) for _ in targets]  # one instance per probe, as in the agent
    up, quiet, no_route, local, local6 = await asyncio.gather(
        *(c.collect(t, T0) for c, t in zip(collectors, targets, strict=True))
    )
    assert sorted(made) == ["ICMPv4Socket", "ICMPv6Socket"]
    for result in (up, local, local6):
        assert result.ok and result.values["packets_received"] == 3, result
    assert not quiet.ok and quiet.reason is Reason.TIMEOUT
    assert (quiet.values["packets_sent"], quiet.values["packets_received"]) == (3, 0)
    assert not no_route.ok and no_route.reason is Reason.UNREACHABLE, no_route
    assert "unreachable" in (no_route.detail or "").lower() and no_route.values["packets_sent"] == 3
    assert not EchoSocket._shared


@pytest.fixture
def only_id_4242(lab: LabEndpoints) -> Iterator[None]:
    """The test host answers only echo requests with identifier 4242."""
    require_root()
    require_binary("nft")
    with nft_drop(lab.ns, "input", "icmp type echo-request icmp id != 4242"):
        yield


@pytest.mark.lab
async def test_another_process_pinging_the_same_target_is_not_counted(lab: LabEndpoints, only_id_4242: None) -> None:
    pinger = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)  # "another process": its own id
    pinger.setblocking(False)
    esock = EchoSocket.acquire(4, True, None)
    esock._next = 0x12340000  # our identifier 0x1234, never 4242 (0x1092)
    stop = asyncio.Event()

    async def ping_4242() -> int:
        seq = 0
        while not stop.is_set():
            for _ in range(3):  # every sequence number our probe uses, and more
                body = struct.pack("!BBHHH", 8, 0, 0, 4242, seq) + b"not vigie"
                body = body[:2] + struct.pack("!H", ICMPSocket._checksum(None, body)) + body[4:]  # type: ignore[arg-type]
                pinger.sendto(body, (lab.ns_host, 0))
                seq += 1
            await asyncio.sleep(0.005)
        return seq

    try:
        foreign = asyncio.create_task(ping_4242())
        result = await IcmpCollector(IcmpConfig(count=3, interval_s=0.05, timeout_s=0.3, socket="raw")).collect(
            lab.ns_host, T0
        )
        stop.set()
        sent = await foreign
    finally:
        esock.release()
        pinger.close()
    assert sent > 20
    assert not result.ok and result.reason is Reason.TIMEOUT
    assert (result.values["packets_sent"], result.values["packets_received"]) == (3, 0)


@pytest.mark.lab
async def test_garbage_on_the_wire_does_not_break_the_shared_socket(lab: LabEndpoints, silent: str) -> None:
    require_root()
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    sender = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    holder = asyncio.create_task(  # keeps the shared socket open while the garbage arrives
        IcmpCollector(IcmpConfig(count=1, timeout_s=1.0, socket="raw")).collect(silent, T0)
    )
    await asyncio.sleep(0.05)
    request = b"\x08\x00\x00\x00" + os.urandom(4) + b"\x00" * 8
    garbage = [
        b"",
        b"\x00",
        b"\x00\x00\x00\x00\x12\x34",  # a truncated echo reply
        b"\x03\x01\x00\x00\x00\x00\x00\x00" + b"\x4f" + b"\x00" * 10,  # an error quoting a truncated header
        b"\x0b\x00\x00\x00\x00\x00\x00\x00" + b"\x45" + b"\x00" * 19 + request[:6],
        b"\x00\x00\x00\x00" + os.urandom(60),
    ]
    out = 0
    for data in garbage * 5:
        with contextlib.suppress(OSError):  # the kernel refuses to send less than a type and a code (EFAULT)
            sender.sendto(data, ("127.0.0.1", 0))
            out += 1
    sender.close()
    assert out >= 20
    during = await IcmpCollector(RAW).collect("127.0.0.1", T0)
    quiet = await holder
    after = await IcmpCollector(RAW).collect("127.0.0.1", T0)
    assert during.ok and during.values["packets_received"] == 3
    assert after.ok and after.values["packets_received"] == 3
    assert quiet.reason is Reason.TIMEOUT
    assert not errors, errors


@pytest.mark.lab
def test_raw_without_cap_net_raw_says_so() -> None:
    require_root()
    require_binary("setpriv")
    code = (
        "import asyncio, datetime, json; from collectors.icmp import IcmpCollector, IcmpConfig;"
        "r = asyncio.run(IcmpCollector(IcmpConfig(socket='raw')).collect('127.0.0.1', datetime.datetime(2026,1,1)));"
        "print(json.dumps({'ok': r.ok, 'reason': r.reason.value, 'detail': r.detail}))"
    )
    out = json.loads(run_without_cap_net_raw(code))
    assert out == {
        "ok": False,
        "reason": "misconfigured",
        "detail": "raw ICMP sockets need root or CAP_NET_RAW; use socket=datagram",
    }


@pytest.mark.lab
async def test_many_instances_at_once_share_the_socket_without_false_loss() -> None:
    require_root()
    targets = [f"127.0.4.{i}" for i in range(1, 201)]
    started = time.monotonic()
    results = await asyncio.gather(
        *(
            IcmpCollector(IcmpConfig(count=3, interval_s=0.01, timeout_s=1.0, socket="raw")).collect(t, T0)
            for t in targets
        )
    )
    assert time.monotonic() - started < 2.0
    lost = sum(r.values["packets_sent"] - r.values["packets_received"] for r in results)
    assert lost == 0 and all(r.ok for r in results)
