"""Fuzz: malformed SNMP datagrams AT the snmp collector (issue 3, "Bad input").

A fake agent (a UDP socket on 127.0.0.1, in a thread) answers every request of the collector with garbage,
and a second socket sprays garbage at the collector's source port while it waits. At least 10,000 datagrams
(deterministic seed): random bytes, truncated and bit-flipped BER, responses with the wrong request id, wrong
version, wrong community, wrong PDU type, out-of-range error-status / error-index, BER traps (huge lengths,
indefinite lengths, deep nesting, huge integers and sub-identifiers), responses with wrong value types, and
responses sent from another port. Every `collect()` must return a ProbeResult with ok=False and reason
timeout or parse_error (never an exception), and afterwards the same collectors, on the same SNMP engine in
the same process (v2c through the process's one v1arch dispatcher, v3 through its one SNMP engine), must poll
the lab's real snmpsim correctly: through the same fake agent switched to a relay
(first cleanly, then with garbage sent ahead of every genuine reply), and directly.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pyasn1.codec.ber import decoder, encoder
from pyasn1.type import univ
from pysnmp.proto import api, rfc1902, rfc1905

from collectors.base import ProbeResult, Reason, SecretSource
from collectors.snmp import SnmpCollector, SnmpConfig, shared_dispatcher, shared_engine

SEED = 20261126
MIN_DATAGRAMS = 10_000
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
SIM_CONTEXT = "linux_netsnmp-normal"  # synthetic fixture in the lab's snmpsim: community (v2c) and context (v3)
V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
OBJECT_ID = (1, 3, 6, 1, 2, 1, 1, 2, 0)


# --- BER by hand (so that every field can be wrong) -------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def ber_int(value: int) -> bytes:
    return tlv(0x02, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def message(version: int, community: bytes, pdu: bytes) -> bytes:
    return tlv(0x30, ber_int(version) + tlv(0x04, community) + pdu)


def pdu_bytes(
    request_id: int, varbinds: list[tuple[tuple[int, ...], Any]], status: int = 0, index: int = 0, tag: int = 0xA2
) -> bytes:
    vbs = b"".join(
        tlv(0x30, encoder.encode(univ.ObjectIdentifier(oid)) + encoder.encode(value)) for oid, value in varbinds
    )
    return tlv(tag, ber_int(request_id) + ber_int(status) + ber_int(index) + tlv(0x30, vbs))


# --- the requests the collector sends -----------------------------------------------------------------------------


class Request:
    """A decoded v1/v2c request (v3 requests stay opaque)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.version: int | None = None
        self.community = b""
        self.request_id = 0
        self.bulk = False
        self.oids: list[tuple[int, ...]] = []
        try:
            ver = int(api.decodeMessageVersion(data))
            if ver not in api.PROTOCOL_MODULES:
                return
            mod = api.PROTOCOL_MODULES[ver]
            msg, _ = decoder.decode(data, asn1Spec=mod.Message())
            pdu = mod.apiMessage.get_pdu(msg)
            self.version = ver
            self.community = bytes(mod.apiMessage.get_community(msg))
            self.request_id = int(mod.apiPDU.get_request_id(pdu))
            self.bulk = pdu.isSameTypeWith(V2C.GetBulkRequestPDU())
            self.oids = [tuple(oid) for oid, _ in mod.apiPDU.get_varbinds(pdu)]
        except Exception:  # a v3 message, or something we cannot read: answered with generic garbage
            self.version = None

    def good(self) -> list[tuple[tuple[int, ...], Any]]:
        """Correctly typed answers: GET → system scalars, GETBULK → endOfMibView (the walk ends, ok=True)."""
        if self.bulk:
            return [(oid, rfc1905.endOfMibView) for oid in self.oids]
        out: list[tuple[tuple[int, ...], Any]] = []
        for oid in self.oids:
            if oid == UPTIME:
                out.append((oid, rfc1902.TimeTicks(123456)))
            elif oid == OBJECT_ID:
                out.append((oid, univ.ObjectIdentifier((1, 3, 6, 1, 4, 1, 8072))))
            else:
                out.append((oid, rfc1902.OctetString(b"fuzz")))
        return out

    def bad(self) -> list[tuple[tuple[int, ...], Any]]:
        """Wrong value types everywhere (Integer for strings, OIDs, TimeTicks): a parse error if accepted."""
        return [(oid, rfc1902.Integer32(7)) for oid in self.oids]


class Garbage:
    """Deterministic generator of malformed datagrams, given the request they answer (or None)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.kinds: Counter[str] = Counter()

    def _flip(self, data: bytes) -> bytes:
        buf = bytearray(data)
        for _ in range(self.rng.randint(1, 8)):
            if buf:
                buf[self.rng.randrange(len(buf))] ^= 1 << self.rng.randrange(8)
        return bytes(buf)

    def _flip_not_an_answer(self, data: bytes, request_id: int) -> bytes:
        """Bit flips that leave no well-formed message carrying the request id: a flip that only changes a value
        (error-status 0 -> 4, a type tag to a valid one) makes a genuine answer, rightly taken as one."""
        for _ in range(20):
            flipped = self._flip(data)
            decoded = Request(flipped)
            if decoded.version is None or decoded.request_id != request_id:
                return flipped
        return data[: len(data) // 2]

    def one(self, req: Request | None, noise: bool = False) -> bytes:
        """One malformed datagram for `req`. `noise`: only kinds that can never be taken for the answer (sent ahead
        of a genuine reply: a well-formed Response with the right request id, such as "wrong_types", would
        rightly be taken as the answer and make the genuine reply a late duplicate)."""
        rng = self.rng
        if req is None or req.version is None:  # v3 (opaque) or no request at hand
            kind = rng.choice(["random", "random_seq", "echo_truncated", "echo_flipped", "v3_ish", "ber_trap"])
        elif noise:
            kind = rng.choice(
                [
                    "random",
                    "random_seq",
                    "truncated",
                    "wrong_request_id",
                    "wrong_version",
                    "wrong_community",
                    "error_status",
                ]
            )
        else:
            kind = rng.choice(
                [
                    "random",
                    "random_seq",
                    "truncated",
                    "flipped",
                    "wrong_request_id",
                    "wrong_version",
                    "wrong_community",
                    "wrong_pdu_type",
                    "error_status",
                    "wrong_types",
                    "varbind_count",
                    "ber_trap",
                ]
            )
        self.kinds[kind] += 1
        data = req.data if req is not None else b"\x30\x00"
        if kind == "random":
            return rng.randbytes(rng.randint(0, 600))
        if kind == "random_seq":
            body = rng.randbytes(rng.randint(0, 300))
            return b"\x30" + _length(len(body) + rng.choice([0, 0, 1, -1 if body else 0, 1000])) + body
        if kind == "echo_truncated":
            return data[: rng.randrange(len(data))]
        if kind == "echo_flipped":
            return self._flip(data)
        if kind == "v3_ish":  # SNMPv3 header with random security parameters and a random scoped PDU
            return tlv(
                0x30,
                ber_int(3)
                + tlv(
                    0x30,
                    ber_int(rng.getrandbits(31)) + ber_int(65507) + tlv(0x04, bytes([rng.randrange(8)])) + ber_int(3),
                )
                + tlv(0x04, rng.randbytes(rng.randint(0, 80)))
                + rng.choice([tlv(0x04, rng.randbytes(40)), tlv(0x30, rng.randbytes(30))]),
            )
        if kind == "ber_trap":
            return rng.choice(
                [
                    b"\x30\x84\xff\xff\xff\xff" + rng.randbytes(20),  # length far beyond the datagram
                    b"\x30\x80" + ber_int(1) + tlv(0x04, b"public") + b"\x00\x00",  # indefinite length
                    b"\x30\x80" * rng.randint(50, 2000),  # deep nesting
                    b"\x30\x83" + rng.randbytes(3),
                    tlv(0x30, ber_int(1) + tlv(0x04, b"x") + tlv(0xA2, tlv(0x02, b"\xff" * 40))),  # huge request id
                    tlv(
                        0x30,
                        ber_int(1)
                        + tlv(0x04, b"x")
                        + tlv(
                            0xA2,
                            ber_int(1)
                            + ber_int(0)
                            + ber_int(0)
                            + tlv(0x30, tlv(0x30, tlv(0x06, b"\x2b" + b"\xff" * 30 + b"\x7f") + b"\x05\x00")),
                        ),
                    ),
                    b"\x02\x01\x01",
                    b"",
                    b"\x30" + b"\x81\x00",
                    b"\x30\x82\x00\x03\x02\x01",
                ]
            )
        assert req is not None and req.version is not None
        rid, good, bad = req.request_id, req.good(), req.bad()
        if kind == "truncated":
            full = message(req.version, req.community, pdu_bytes(rid, bad))
            return full[: rng.randrange(len(full))]
        if kind == "flipped":
            return self._flip_not_an_answer(message(req.version, req.community, pdu_bytes(rid, bad)), rid)
        if kind == "wrong_request_id":
            other = (rid + rng.randint(1, 2**31 - 2)) % 2**31
            return message(req.version, req.community, pdu_bytes(other, good))
        if kind == "wrong_version":
            version = rng.choice([v for v in (0, 1, 2, 3, 99, -1, 2**40) if v != req.version])
            return message(version, req.community, pdu_bytes(rid, good))
        if kind == "wrong_community":
            community = rng.choice([b"", req.community + b"x", req.community.upper(), rng.randbytes(12)])
            return message(req.version, community, pdu_bytes(rid, good))
        if kind == "wrong_pdu_type":  # wrong value types too, in case one was taken as the answer
            tag = rng.choice([0xA0, 0xA1, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xBF, 0x30, 0x04])
            return message(req.version, req.community, pdu_bytes(rid, bad, tag=tag))
        if kind == "error_status":  # another request's id (a right id gives `refused`, or `parse_error` out of 0..18)
            status = rng.choice([1, 2, 5, 18, 19, 99, -1, 2**31, 2**40])
            index = rng.choice([0, 1, len(req.oids) + 5, -3])
            other = (rid + rng.randint(1, 2**31 - 2)) % 2**31
            return message(req.version, req.community, pdu_bytes(other, bad, status=status, index=index))
        if kind == "wrong_types":
            return message(req.version, req.community, pdu_bytes(rid, bad))
        if kind == "varbind_count":  # more varbinds than asked, each with a wrong type
            extra = [((1, 3, 6, 1, 2, 1, 1, 99, i), rfc1902.Integer32(i)) for i in range(rng.randint(1, 300))]
            return message(req.version, req.community, pdu_bytes(rid, bad + extra))
        raise AssertionError(kind)


# --- the fake agent and the sprayer ---------------------------------------------------------------------------------


class FakeAgent(threading.Thread):
    """Answers each request with `burst` garbage datagrams ("garbage"), or relays to a real agent ("relay"),
    optionally sending garbage ahead of each genuine reply ("relay_noisy")."""

    def __init__(self, upstream: tuple[str, int], seed: int) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = int(self.sock.getsockname()[1])
        self.up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.up.settimeout(2.0)
        self.upstream = upstream
        self.garbage = Garbage(seed)
        self.mode = "garbage"
        self.burst = (4, 10)
        self.sent = 0
        self.requests = 0
        self.clients: set[tuple[str, int]] = set()
        self.in_flight: list[Request] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.requests += 1
            self.clients.add(addr)
            req = Request(data)
            self.in_flight = [*self.in_flight[-20:], req]
            if self.mode == "garbage":
                for _ in range(self.garbage.rng.randint(*self.burst)):
                    self._send(self.garbage.one(req), addr)
                continue
            if self.mode == "relay_noisy":
                for _ in range(3):
                    self._send(self.garbage.one(req, noise=True), addr)
            self.up.sendto(data, self.upstream)
            try:
                reply, _ = self.up.recvfrom(65535)
            except TimeoutError:
                continue
            self.sock.sendto(reply, addr)

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self.sock.sendto(data, addr)
            self.sent += 1
        except OSError:  # e.g. EMSGSIZE for an oversized nesting trap: not sent, not counted
            pass

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)
        self.sock.close()
        self.up.close()


class Sprayer(threading.Thread):
    """Sprays garbage from another port at every source port the collector used, while it waits."""

    def __init__(self, agent: FakeAgent, seed: int, pause_s: float = 0.0005) -> None:
        super().__init__(daemon=True)
        self.agent = agent
        self.garbage = Garbage(seed)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.pause_s = pause_s
        self.sent = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            targets = list(self.agent.clients)
            if not targets:
                time.sleep(0.01)
                continue
            recent = self.agent.in_flight
            req = recent[-1] if recent else None
            for addr in targets:
                try:
                    self.sock.sendto(self.garbage.one(req), addr)
                    self.sent += 1
                except OSError:
                    pass
            time.sleep(self.pause_s)

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)
        self.sock.close()


# --- the test ------------------------------------------------------------------------------------------------


def _collectors(port: int, timeout_s: float) -> dict[str, SnmpCollector]:
    common: dict[str, Any] = {
        "port": port,
        "platform": "linux_netsnmp",
        "groups": ("system", "interfaces"),
        "timeout_s": timeout_s,
        "retries": 0,
    }
    return {
        "v2c": SnmpCollector(SnmpConfig(version="2c", community=SecretSource.parse(SIM_CONTEXT), **common)),
        "v3": SnmpCollector(
            SnmpConfig(
                user="simulator",
                auth_key=SecretSource.parse("auctoritas"),
                priv_key=SecretSource.parse("privatus"),
                context=SIM_CONTEXT,
                **common,
            )
        ),
    }


def _stable(result: ProbeResult) -> dict[str, Any]:
    """What must not change between two polls of the same simulated device (no counters, no uptime)."""
    groups = result.values["groups"]
    rows = groups["interfaces"]["rows"]
    return {
        "sysName": groups["system"]["sysName"],
        "sysObjectID": groups["system"]["sysObjectID"],
        "interfaces": {
            idx: (row.get("ifDescr"), row.get("ifAdminStatus"), row.get("ifOperStatus")) for idx, row in rows.items()
        },
    }


async def _poll_all(collectors: dict[str, SnmpCollector]) -> dict[str, ProbeResult]:
    results = await asyncio.gather(*(c.collect("127.0.0.1", T0) for c in collectors.values()))
    return dict(zip(collectors, results, strict=True))


async def test_malformed_datagrams_never_escape_and_the_engine_still_polls(lab: Any) -> None:
    upstream = lab.snmpsim
    agent = FakeAgent(upstream, SEED)
    agent.start()
    sprayer = Sprayer(agent, SEED + 1)
    collectors = _collectors(agent.port, timeout_s=0.25)
    engine, dispatcher = shared_engine(), shared_dispatcher()
    # pysnmp lets some garbage raise out of its datagram callback (TypeError from pyasn1 in
    # decode_message_version); asyncio logs each at ERROR. Counted here, reported, not a failure: the loop goes on.
    loop = asyncio.get_running_loop()
    callback_errors: Counter[str] = Counter()
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: callback_errors.update([repr(ctx.get("exception"))[:80]]))
    try:
        # 0. baseline through the relay: the collectors and the real agent work before any garbage
        agent.mode = "relay"
        baseline = await _poll_all(collectors)
        for name, result in baseline.items():
            assert result.ok, (name, result.reason, result.detail)
            assert result.values["groups"]["interfaces"]["rows"], name

        # 1. garbage: every answer and a continuous spray are malformed
        agent.mode = "garbage"
        sprayer.start()
        reasons: Counter[str] = Counter()
        unexpected: list[str] = []
        n_collects = 0
        deadline = time.monotonic() + 45
        while agent.sent + sprayer.sent < MIN_DATAGRAMS and time.monotonic() < deadline:
            batch = [collectors["v3" if i % 4 == 3 else "v2c"].collect("127.0.0.1", T0) for i in range(24)]
            for result in await asyncio.gather(*batch, return_exceptions=True):
                n_collects += 1
                if not isinstance(result, ProbeResult):
                    unexpected.append(f"exception escaped: {type(result).__name__}: {result}")
                    continue
                reasons[str(result.reason)] += 1
                if result.ok or result.reason not in (Reason.TIMEOUT, Reason.PARSE_ERROR):
                    unexpected.append(f"ok={result.ok} reason={result.reason} detail={result.detail}")
        sprayer.stop()
        total = agent.sent + sprayer.sent
        kinds = agent.garbage.kinds + sprayer.garbage.kinds
        print(f"fuzz: {total} datagrams ({agent.sent} answers, {sprayer.sent} sprayed) over {n_collects} collects")
        print(f"fuzz: reasons {dict(reasons)}; kinds {dict(kinds)}")
        print(f"fuzz: exceptions out of pysnmp's receive callback: {dict(callback_errors)}")
        assert total >= MIN_DATAGRAMS, f"only {total} datagrams within the time budget"
        assert not unexpected, f"{len(unexpected)} unexpected results, e.g. {Counter(unexpected).most_common(5)}"

        # 2. the same collectors, same engine: clean relay, then garbage ahead of every genuine reply
        assert shared_engine() is engine and shared_dispatcher() is dispatcher
        for mode in ("relay", "relay_noisy"):
            agent.mode = mode
            after = await _poll_all(collectors)
            for name, result in after.items():
                assert result.ok, (mode, name, result.reason, result.detail)
                assert _stable(result) == _stable(baseline[name]), (mode, name)

        # 3. and directly on the real agent, still on the same engine
        direct = _collectors(upstream[1], timeout_s=1.0)
        for name, result in (await _poll_all(direct)).items():
            assert result.ok, (name, result.reason, result.detail)
            assert _stable(result) == _stable(baseline[name]), name
    finally:
        loop.set_exception_handler(previous_handler)
        if sprayer.is_alive():
            sprayer.stop()
        agent.stop()


# --- single malformed answers (found by the fuzz) ----------------------------------------------------------------


async def _answer_once(answer: Callable[[Request], bytes], from_other_port: bool = False) -> ProbeResult:
    """One v2c collect against a fake agent whose only reply to each request is `answer(request)`."""
    agent = FakeAgent(("127.0.0.1", 9), SEED)
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    agent.garbage.one = answer  # type: ignore[method-assign]
    agent.burst = (1, 1)
    if from_other_port:
        agent._send = lambda data, addr: other.sendto(data, addr)  # type: ignore[method-assign]
    agent.start()
    try:
        return await _collectors(agent.port, timeout_s=0.3)["v2c"].collect("127.0.0.1", T0)
    finally:
        agent.stop()
        other.close()


def _response(req: Request, *, tag: int = 0xA2, status: int = 0, values: str = "good") -> bytes:
    assert req.version is not None
    varbinds = req.good() if values == "good" else req.bad()
    return message(req.version, req.community, pdu_bytes(req.request_id, varbinds, status=status, tag=tag))


async def test_well_formed_answer_is_data() -> None:
    """Control for the tests below: the same fake agent with a proper Response-PDU gives ok=True."""
    result = await _answer_once(_response)
    assert result.ok, (result.reason, result.detail)
    assert result.values["groups"]["system"]["sysDescr"] == "fuzz"


@pytest.mark.parametrize("status", [19, 99])
async def test_out_of_range_error_status_is_a_parse_error(status: int) -> None:
    # Outside RFC 3416's 0..18 the response is malformed: parse_error, not `refused` (found by the fuzz).
    result = await _answer_once(lambda req: _response(req, status=status))
    assert not result.ok
    assert result.reason is Reason.PARSE_ERROR, (result.reason, result.detail)
    assert f"error-status {status}" in (result.detail or "")


async def test_in_range_error_status_is_still_refused() -> None:
    result = await _answer_once(lambda req: _response(req, status=5))  # genErr
    assert not result.ok
    assert result.reason is Reason.REFUSED, (result.reason, result.detail)


async def test_v2c_report_pdu_is_not_an_answer() -> None:
    # pysnmp (v3arch and v1arch alike) takes a Report-PDU (0xA8) carrying the request id as the answer; for a
    # community-based request only a Response-PDU (0xA2) is one: the collector's dispatcher drops it, the GET times out
    result = await _answer_once(lambda req: _response(req, tag=0xA8))
    assert not result.ok
    assert result.reason is Reason.TIMEOUT, (result.reason, result.detail)


async def test_answer_from_another_port_is_not_accepted() -> None:
    # pysnmp (v3arch and v1arch alike) takes the right request id and community from any source address/port;
    # the collector's dispatcher only from the agent that was asked (hardening against off-path injection)
    result = await _answer_once(_response, from_other_port=True)
    assert not result.ok
    assert result.reason is Reason.TIMEOUT, (result.reason, result.detail)
