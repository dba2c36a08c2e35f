"""Hostile SNMP replies: a UDP socket on loopback answers the collector with malformed BER, replies with the
wrong request-id, or floods it with 10 000 malformed datagrams. Each poll ends as a typed failed result and the
same collector (same dispatcher) still polls a real agent correctly afterwards."""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

from collectors.base import Reason, SecretSource
from collectors.snmp import SnmpCollector, SnmpConfig

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
Reply = Callable[[bytes], list[bytes]]


class HostileAgent:
    """A UDP 'agent' on 127.0.0.1 whose answers come from `reply(request) -> datagrams`."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.requests += 1
            for datagram in self.reply(data):
                self.sock.sendto(datagram, peer)
                self.sent += 1

    def __enter__(self) -> HostileAgent:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def v2c(port: int, community: str = "public", *, timeout_s: float = 0.5, retries: int = 0) -> SnmpConfig:
    return SnmpConfig(
        version="2c",
        community=SecretSource.parse(community),
        port=port,
        timeout_s=timeout_s,
        retries=retries,
        oids=("1.3.6.1.2.1.1.5.0",),
    )


def echo_with(request: bytes, *, request_id_delta: int) -> bytes:
    """A well-formed v2c response to `request`, request-id shifted by `request_id_delta`."""
    p = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    msg, _ = decoder.decode(request, asn1Spec=p.Message())
    req_pdu = p.apiMessage.get_pdu(msg)
    rsp_pdu = p.apiPDU.get_response(req_pdu)
    p.apiPDU.set_request_id(rsp_pdu, int(p.apiPDU.get_request_id(req_pdu)) + request_id_delta)
    p.apiPDU.set_varbinds(rsp_pdu, [(oid, p.OctetString("evil")) for oid, _ in p.apiPDU.get_varbinds(req_pdu)])
    p.apiMessage.set_pdu(msg, rsp_pdu)
    return bytes(encoder.encode(msg))


GARBAGE: dict[str, Reply] = {
    "random-bytes": lambda req: [random.Random(1).randbytes(64)],
    "truncated-ber": lambda req: [req[: len(req) // 2]],
    "bad-length": lambda req: [b"\x30\x84\xff\xff\xff\xff" + req[2:]],
    "wrong-request-id": lambda req: [echo_with(req, request_id_delta=1)],
    "empty": lambda req: [b""],
    "not-a-sequence": lambda req: [b"\x02\x01\x05"],
}


@pytest.fixture
def lab_agent() -> Iterator[SnmpConfig]:
    from lab_support import require_lab

    require_lab()
    yield v2c(1161, "linux_netsnmp-normal")


@pytest.mark.parametrize("name", sorted(GARBAGE))
async def test_garbage_reply_is_a_failed_result(name: str) -> None:
    with HostileAgent(GARBAGE[name]) as agent:
        result = await SnmpCollector(v2c(agent.port)).collect("127.0.0.1", T0)
    assert agent.requests >= 1, "the collector never asked"
    assert not result.ok
    assert result.reason in (Reason.TIMEOUT, Reason.PARSE_ERROR), result.detail


async def test_right_request_id_is_accepted_by_the_same_hostile_socket() -> None:
    # Control for the test above: the same forged reply with the right request-id is taken.
    with HostileAgent(lambda req: [echo_with(req, request_id_delta=0)]) as agent:
        result = await SnmpCollector(v2c(agent.port)).collect("127.0.0.1", T0)
    assert result.ok, result.detail
    assert result.values["oids"] == {"1.3.6.1.2.1.1.5.0": "evil"}


async def test_a_lost_request_is_sent_again_and_the_answer_to_the_retry_is_taken() -> None:
    # v1/v2c retries and timeouts run on a timer per request (the collector's dispatcher), not pysnmp's tick
    requests: list[bytes] = []

    def answer_the_second(req: bytes) -> list[bytes]:
        requests.append(req)
        return [echo_with(req, request_id_delta=0)] if len(requests) == 2 else []

    with HostileAgent(answer_the_second) as agent:
        result = await SnmpCollector(v2c(agent.port, timeout_s=0.3, retries=2)).collect("127.0.0.1", T0)
    assert result.ok, result.detail
    assert len(requests) == 2 and requests[0] == requests[1]  # the same message, sent again
    assert 0.3 <= result.duration_s < 0.6 + 1.0  # answered after the first timeout, before the second


async def test_a_timeout_waits_for_every_attempt() -> None:
    with HostileAgent(lambda req: []) as agent:
        result = await SnmpCollector(v2c(agent.port, timeout_s=0.3, retries=2)).collect("127.0.0.1", T0)
    assert result.reason is Reason.TIMEOUT, result.detail
    assert agent.requests == 3
    assert 0.9 <= result.duration_s < 0.9 + 1.0  # three attempts of 0.3 s (slack for a loaded machine)


def fuzz_datagrams(seed: int, request: bytes, n: int) -> list[bytes]:
    rng = random.Random(seed)
    out: list[bytes] = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            out.append(rng.randbytes(rng.randrange(1, 200)))
        elif kind == 1:  # flipped bytes in a real request
            b = bytearray(request)
            for _ in range(rng.randrange(1, 6)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            out.append(bytes(b))
        elif kind == 2:
            out.append(request[: rng.randrange(1, len(request))])
        else:  # a well-formed response for another request
            out.append(echo_with(request, request_id_delta=rng.randrange(1, 2**20)))
    return out


@pytest.mark.lab
async def test_ten_thousand_malformed_datagrams_then_a_real_poll_still_works(lab_agent: SnmpConfig) -> None:
    sent: list[int] = []

    def flood(req: bytes) -> list[bytes]:
        if sent:
            return []
        batch = fuzz_datagrams(7, req, 10_000)
        sent.append(len(batch))
        return batch

    with HostileAgent(flood) as agent:
        result = await SnmpCollector(v2c(agent.port)).collect("127.0.0.1", T0)
    assert agent.sent == 10_000
    assert not result.ok and result.reason in (Reason.TIMEOUT, Reason.PARSE_ERROR)
    # The same process and engine answer correctly afterwards. All targets share the engine's UDP socket, so
    # the good reply may first queue behind the junk still being discarded: allow a few polls to drain it.
    collector = SnmpCollector(lab_agent)
    polls = 0
    for _ in range(20):
        polls += 1
        good = await collector.collect("127.0.0.1", T0)
        if good.ok:
            break
        assert good.reason is Reason.TIMEOUT, good.detail
    assert good.ok, f"still failing after {polls} polls: {good.detail}"
    assert good.values["oids"] == {"1.3.6.1.2.1.1.5.0": "vigie-linux-netsnmp"}
