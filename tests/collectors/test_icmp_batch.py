"""The icmp collector's batch (EchoBatch) on a datagram EchoSocket: one socket per address family, replies
matched on (sequence, source) and the socket's token. Pure tests feed a fake socket; lab tests ping loopback.
The raw socket's own cases are in test_icmp_raw.py."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest

import collectors.icmp as icmp
from collectors.base import Reason
from collectors.icmp import TOKEN_SIZE, EchoBatch, EchoSocket, IcmpCollector, IcmpConfig, batch_payload

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


class FakeSock:
    """Hands out queued datagrams like a non-blocking socket's recvfrom; keeps what is sent."""

    def __init__(self, datagrams: list[Any] | None = None) -> None:
        self.datagrams = list(datagrams or [])
        self.sent: list[tuple[bytes, tuple[Any, ...]]] = []

    def recvfrom(self, size: int) -> tuple[bytes, tuple[Any, ...]]:
        if not self.datagrams:
            raise BlockingIOError
        item = self.datagrams.pop(0)
        if isinstance(item, OSError):
            raise item
        return item  # type: ignore[no-any-return]

    def sendto(self, packet: bytes, sockaddr: tuple[Any, ...]) -> int:
        self.sent.append((packet, sockaddr))
        return len(packet)


def armed(targets: list[str], count: int = 2, family: int = 4, raw: bool = False, **cfg: Any) -> Armed:
    """A batch whose requests all went out on a fake socket (each request's packet in `sock.sent`)."""
    mode = "raw" if raw else "datagram"
    batch = EchoBatch(IcmpConfig(count=count, timeout_s=1.0, socket=mode, **cfg), targets)
    sock = FakeSock()
    esock = EchoSocket(sock, family, raw)

    async def send() -> None:
        await batch._resolve()
        for k in range(count):
            await batch._send_round(esock, batch.probes, k)

    asyncio.run(send())
    return Armed(batch, esock, sock)


class Armed:
    def __init__(self, batch: EchoBatch, esock: EchoSocket, sock: FakeSock) -> None:
        self.batch, self.esock, self.sock = batch, esock, sock
        self.probes = batch.probes

    def request(self, probe: int, k: int) -> bytes:
        """The echo request (ICMP, no IP header) sent for request `k` of probe `probe`."""
        return self.sock.sent[k * len(self.probes) + probe][0]

    def reply(self, probe: int, k: int, *, payload: bytes | None = None, rtype: int | None = None) -> bytes:
        """The echo reply to that request (as a ping socket or a raw ICMPv6 socket reads it)."""
        req = self.request(probe, k)
        rtype = icmp.ECHO_REPLY[self.esock.family] if rtype is None else rtype
        return bytes([rtype]) + req[1:8] + (req[8:] if payload is None else payload)

    def feed(self, *datagrams: Any) -> None:
        self.sock.datagrams.extend(datagrams)
        self.esock.drain()


def test_payload_is_token_then_filler_and_respects_size() -> None:
    token = b"T" * TOKEN_SIZE
    assert batch_payload(token, 56)[:TOKEN_SIZE] == token and len(batch_payload(token, 56)) == 56
    assert batch_payload(token, 4) == b"TTTT"
    assert batch_payload(token, 0) == b""
    assert len(batch_payload(token, 1000)) == 1000


def test_two_sockets_have_different_tokens() -> None:
    assert EchoSocket(FakeSock(), 4, False).token != EchoSocket(FakeSock(), 4, False).token


def test_replies_are_matched_on_sequence_and_source() -> None:
    lab = armed(["127.0.0.1", "127.0.0.2"])
    a, b = lab.probes
    lab.feed(
        (lab.reply(1, 1), ("127.0.0.2", 0)),
        (lab.reply(0, 0), ("127.0.0.1", 0)),
        (lab.reply(0, 0), ("127.0.0.1", 0)),  # duplicate: counted once
        (lab.reply(1, 0), ("127.0.0.1", 0)),  # b's request answered from a's address: not b's reply
    )
    assert a.received == 1 and a.rtts[0] is not None and a.rtts[1] is None
    assert b.received == 1 and b.rtts[1] is not None and b.rtts[0] is None
    assert len(lab.esock.pending) == 2 and lab.batch.outstanding == 2


def test_foreign_and_stale_datagrams_are_ignored() -> None:
    lab = armed(["127.0.0.1"], count=1)
    (p,) = lab.probes
    stale = b"\x00" * TOKEN_SIZE + lab.request(0, 0)[8 + TOKEN_SIZE :]  # another socket's token
    unsent = bytearray(lab.reply(0, 0))
    unsent[7] ^= 1  # a sequence not sent
    lab.feed(
        (lab.reply(0, 0, payload=stale), ("127.0.0.1", 0)),
        (lab.reply(0, 0, rtype=8), ("127.0.0.1", 0)),  # not an echo reply
        (b"\x00\x00\x00", ("127.0.0.1", 0)),  # truncated
        (b"", ("127.0.0.1", 0)),
        OSError(111, "pending socket error"),
        (bytes(unsent), ("127.0.0.1", 0)),
    )
    assert p.received == 0 and lab.esock.pending


def test_a_late_reply_is_loss() -> None:
    lab = armed(["127.0.0.1"], count=1)
    (p,) = lab.probes
    ((key, entry),) = lab.esock.pending.items()
    lab.esock.pending[key] = (*entry[:3], time.perf_counter() - 5.0)  # sent 5 s ago, timeout 1 s
    lab.feed((lab.reply(0, 0), ("127.0.0.1", 0)))
    assert p.received == 0 and p.rtts == [None] and not lab.esock.pending


def test_ipv6_reply_matches_a_non_canonical_target() -> None:
    lab = armed(["0:0:0:0:0:0:0:1"], count=1, family=6)
    (p,) = lab.probes
    assert p.family == 6
    lab.feed((lab.reply(0, 0), ("::1", 0, 0, 0)))
    assert p.received == 1


def test_short_payload_still_matches() -> None:
    lab = armed(["127.0.0.1"], count=1, payload_size=3)
    lab.feed((lab.reply(0, 0), ("127.0.0.1", 0)))
    assert lab.probes[0].received == 1


def test_keys_are_unique_while_pending_and_wrap() -> None:
    esock = EchoSocket(FakeSock(), 4, False)
    esock._next = 0xFFFE
    esock.pending[0xFFFF] = None  # type: ignore[assignment]
    esock.pending[0] = None  # type: ignore[assignment]
    assert [esock.allocate(), esock.allocate()] == [0xFFFE, 1]
    esock.pending = dict.fromkeys(range(0x10000))  # type: ignore[arg-type]
    assert esock.allocate() == 2  # every key in flight: reused, never an endless search


async def test_unresolvable_name_is_misconfigured_and_others_still_probed(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_such_name(name: str, family: int | None = None) -> list[str]:
        from icmplib import NameLookupError

        raise NameLookupError(name)

    monkeypatch.setattr(icmp, "async_resolve", no_such_name)
    opened: list[int] = []
    monkeypatch.setattr(icmp.EchoBatch, "_open", lambda self, family, probes: opened.append(family))  # -> None
    results = await IcmpCollector(IcmpConfig(count=1, timeout_s=0.05)).collect_many(["nowhere.invalid"], T0)
    assert results[0].reason is Reason.MISCONFIGURED and "resolve" in (results[0].detail or "")
    assert opened == []  # nothing left to probe: no socket


def count_sockets(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the icmplib socket classes instantiated from now on, in order."""
    made: list[str] = []
    for name in ("ICMPv4Socket", "ICMPv6Socket"):
        real = getattr(icmp, name)

        def counting(*args: Any, _real: Any = real, _name: str = name) -> Any:
            made.append(_name)
            return _real(*args)

        monkeypatch.setattr(icmp, name, counting)
    return made


@pytest.mark.lab
async def test_one_socket_per_family_for_a_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    made = count_sockets(monkeypatch)
    targets = [f"127.0.3.{i}" for i in range(1, 101)] + ["::1", "127.0.3.1"]  # a duplicate target too
    results = await IcmpCollector(IcmpConfig(count=3, interval_s=0.01, timeout_s=1.0)).collect_many(targets, T0)
    assert sorted(made) == ["ICMPv4Socket", "ICMPv6Socket"]
    assert [r.target for r in results] == targets
    assert all(r.ok and r.values["packets_received"] == 3 for r in results), [r for r in results if not r.ok][:3]
    assert results[-1].values["rtts_ms"] != [None] * 3


@pytest.mark.lab
@pytest.mark.parametrize("payload_size", [0, 4, 8, 1400])
async def test_any_payload_size_gets_replies(payload_size: int) -> None:
    cfg = IcmpConfig(count=2, interval_s=0.0, timeout_s=0.5, payload_size=payload_size)
    result = await IcmpCollector(cfg).collect("127.0.0.1", T0)
    assert result.ok and result.values["packets_received"] == 2, result


@pytest.mark.lab
async def test_lost_reply_does_not_delay_the_next_request() -> None:
    # 127.0.0.1 answers, 10.250.255.1 is blackholed (send refused): the batch ends when the replies are in.
    started = time.monotonic()
    results = await IcmpCollector(IcmpConfig(count=3, interval_s=0.05, timeout_s=2.0)).collect_many(
        ["127.0.0.1", "10.250.255.1"], T0
    )
    assert time.monotonic() - started < 1.0
    assert results[0].ok and not results[1].ok and results[1].reason is Reason.UNREACHABLE
    assert results[1].values["packets_sent"] == 0
