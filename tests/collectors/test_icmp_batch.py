"""The icmp collector's datagram batch (EchoBatch): one socket per address family, replies matched on
(source, sequence) and the batch token. Pure tests feed a fake socket; lab tests ping loopback."""

from __future__ import annotations

import asyncio
import struct
import time
from datetime import UTC, datetime
from typing import Any

import pytest

import collectors.icmp as icmp
from collectors.base import Reason
from collectors.icmp import TOKEN_SIZE, EchoBatch, IcmpCollector, IcmpConfig, batch_payload

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


class FakeSock:
    """Hands out queued datagrams like a non-blocking socket's recvfrom."""

    def __init__(self, datagrams: list[tuple[bytes, tuple[Any, ...]]]) -> None:
        self.datagrams = list(datagrams)

    def recvfrom(self, size: int) -> tuple[bytes, tuple[Any, ...]]:
        if not self.datagrams:
            raise BlockingIOError
        item = self.datagrams.pop(0)
        if isinstance(item, OSError):
            raise item
        return item


def reply(
    batch: EchoBatch, seq: int, *, family: int = 4, payload: bytes | None = None, rtype: int | None = None
) -> bytes:
    rtype = icmp.ECHO_REPLY[family] if rtype is None else rtype
    return struct.pack("!BBHHH", rtype, 0, 0, 4242, seq) + (batch.payload if payload is None else payload)


def armed(targets: list[str], count: int = 2, **cfg: Any) -> EchoBatch:
    """A batch whose requests are all pending, as after its send rounds (no socket)."""
    batch = EchoBatch(IcmpConfig(count=count, timeout_s=1.0, **cfg), targets)
    asyncio.run(batch._resolve())
    seq = 0
    now = time.perf_counter()
    for p in batch.probes:
        p.base = seq
        seq += count
        for k in range(count):
            batch._pending[(p.sockaddr[0], (p.base + k) & 0xFFFF)] = (p, k, now)
            p.sent += 1
    return batch


def test_payload_is_token_then_filler_and_respects_size() -> None:
    token = b"T" * TOKEN_SIZE
    assert batch_payload(token, 56)[:TOKEN_SIZE] == token and len(batch_payload(token, 56)) == 56
    assert batch_payload(token, 4) == b"TTTT"
    assert batch_payload(token, 0) == b""
    assert len(batch_payload(token, 1000)) == 1000


def test_two_batches_have_different_tokens() -> None:
    assert EchoBatch(IcmpConfig(), ["127.0.0.1"]).token != EchoBatch(IcmpConfig(), ["127.0.0.1"]).token


def test_replies_are_matched_on_source_and_sequence() -> None:
    batch = armed(["127.0.0.1", "127.0.0.2"])
    a, b = batch.probes
    sock = FakeSock(
        [
            (reply(batch, b.base + 1), ("127.0.0.2", 0)),
            (reply(batch, a.base), ("127.0.0.1", 0)),
            (reply(batch, a.base), ("127.0.0.1", 0)),  # duplicate: counted once
            (reply(batch, b.base), ("127.0.0.1", 0)),  # b's sequence from a's address: not b's reply
        ]
    )
    batch._drain(sock, 4)  # type: ignore[arg-type]
    assert a.received == 1 and a.rtts[0] is not None and a.rtts[1] is None
    assert b.received == 1 and b.rtts[1] is not None and b.rtts[0] is None
    assert len(batch._pending) == 2


def test_foreign_and_stale_datagrams_are_ignored() -> None:
    batch = armed(["127.0.0.1"], count=1)
    (p,) = batch.probes
    stale = b"\x00" * TOKEN_SIZE + batch.payload[TOKEN_SIZE:]  # an earlier batch's token
    sock = FakeSock(
        [
            (reply(batch, p.base, payload=stale), ("127.0.0.1", 0)),
            (reply(batch, p.base, rtype=8), ("127.0.0.1", 0)),  # not an echo reply
            (b"\x00\x00\x00", ("127.0.0.1", 0)),  # truncated
            OSError(111, "pending socket error"),  # type: ignore[list-item]
            (reply(batch, p.base + 1), ("127.0.0.1", 0)),  # a sequence not sent
        ]
    )
    batch._drain(sock, 4)  # type: ignore[arg-type]
    assert p.received == 0 and batch._pending


def test_a_late_reply_is_loss() -> None:
    batch = armed(["127.0.0.1"], count=1)
    (p,) = batch.probes
    key = next(iter(batch._pending))
    batch._pending[key] = (p, 0, time.perf_counter() - 5.0)  # sent 5 s ago, timeout 1 s
    batch._drain(FakeSock([(reply(batch, p.base), ("127.0.0.1", 0))]), 4)  # type: ignore[arg-type]
    assert p.received == 0 and p.rtts == [None]


def test_ipv6_reply_matches_a_non_canonical_target() -> None:
    batch = armed(["0:0:0:0:0:0:0:1"], count=1)
    (p,) = batch.probes
    assert p.family == 6
    batch._drain(FakeSock([(reply(batch, p.base, family=6), ("::1", 0, 0, 0))]), 6)  # type: ignore[arg-type]
    assert p.received == 1


def test_short_payload_still_matches() -> None:
    batch = armed(["127.0.0.1"], count=1, payload_size=3)
    (p,) = batch.probes
    batch._drain(FakeSock([(reply(batch, p.base), ("127.0.0.1", 0))]), 4)  # type: ignore[arg-type]
    assert p.received == 1


async def test_unresolvable_name_is_misconfigured_and_others_still_probed(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_such_name(name: str, family: int | None = None) -> list[str]:
        from icmplib import NameLookupError

        raise NameLookupError(name)

    monkeypatch.setattr(icmp, "async_resolve", no_such_name)
    opened: list[int] = []
    monkeypatch.setattr(icmp.EchoBatch, "_open", lambda self, family, probes: opened.append(family))
    results = await IcmpCollector(IcmpConfig(count=1, timeout_s=0.05)).collect_many(["nowhere.invalid"], T0)
    assert results[0].reason is Reason.MISCONFIGURED and "resolve" in (results[0].detail or "")
    assert opened == []  # nothing left to probe: no socket


@pytest.mark.lab
async def test_one_socket_per_family_for_a_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    for name in ("ICMPv4Socket", "ICMPv6Socket"):
        real = getattr(icmp, name)

        def counting(*args: Any, _real: Any = real, _name: str = name) -> Any:
            made.append(_name)
            return _real(*args)

        monkeypatch.setattr(icmp, name, counting)
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
