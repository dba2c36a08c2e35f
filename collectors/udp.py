"""udp collector: a UDP service probe that sends a real request and reads the answer (scapy, raw sockets:
root or CAP_NET_RAW). Services: `dns` (a query for `query_name`, the answer parsed and checked).

Outcomes:
  answered as expected                                         -> ok;
  ICMP port-unreachable: the host is up, no service            -> closed, reason refused;
  no answer within the timeout                                 -> filtered, reason timeout;
  ICMP unreachable/prohibited from a router or a firewall      -> filtered, reason unreachable;
  an answer that is not DNS, or not an answer to our query     -> reason parse_error;
  a DNS answer with another rcode or without the expected records (the server works but serves the
  wrong thing: SERVFAIL, REFUSED, NXDOMAIN for a name that must exist) -> reason refused.
"""

from __future__ import annotations

import asyncio
import enum
import random
import re
import time
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from collectors.base import (
    CollectorConfig,
    CollectorError,
    ParseError,
    ProbeResult,
    Refused,
    Timeout,
    Unreachable,
)
from collectors.rawnet import (
    check_raw_sockets,
    check_route,
    exchange,
    finish,
    icmp_error_name,
    resolve_ipv4,
    scapy,
    unexpected,
)

_HOSTNAME = re.compile(r"^(?=.{1,253}\.?$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9_-]{1,63}\.?$")
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}


class UdpService(enum.StrEnum):
    DNS = "dns"


class UdpState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    FILTERED = "filtered"


class UdpConfig(CollectorConfig):
    service: UdpService = UdpService.DNS
    port: int = Field(53, ge=1, le=65535)
    query_name: str = Field(description="the name asked for, e.g. a name the customer's resolver must know")
    query_type: Literal["A", "NS", "CNAME", "SOA", "PTR", "MX", "TXT", "AAAA"] = "A"
    expect_rcode: Literal["NOERROR", "NXDOMAIN"] = "NOERROR"
    expect_answers: tuple[str, ...] = Field((), description="records the answer must contain (e.g. an address)")
    timeout_s: float = Field(1.0, gt=0, le=30)
    retries: int = Field(1, ge=0, le=5, description="queries re-sent when nothing answered")

    @field_validator("query_name")
    @classmethod
    def _hostname(cls, value: str) -> str:
        if not _HOSTNAME.match(value):
            raise ValueError(f"query_name {value!r} is not a DNS name")
        return value


class UdpCollector:
    kind: ClassVar[str] = "udp"
    config_model: ClassVar[type[CollectorConfig]] = UdpConfig

    def __init__(self, config: UdpConfig) -> None:
        self.config = config

    async def collect(self, target: str, scheduled_at: datetime) -> ProbeResult:
        started = time.monotonic()
        values: dict[str, Any] = {"service": self.config.service.value, "port": self.config.port}
        error: CollectorError | None
        try:
            check_raw_sockets()
            values.update(await asyncio.to_thread(self._probe, target))
            error = self._verdict(values, target)
        except Exception as exc:  # a failed probe is data
            error = unexpected(exc)
        return finish(self.kind, target, scheduled_at, started, values, error)

    def _probe(self, target: str) -> dict[str, Any]:
        sc = scapy()
        cfg = self.config
        address = resolve_ipv4(target)
        check_route(address, target)
        for attempt in range(1 + cfg.retries):
            query_id = random.getrandbits(16)
            sport = random.randint(32768, 60999)
            query = (
                sc.IP(dst=address)
                / sc.UDP(sport=sport, dport=cfg.port)
                / sc.DNS(id=query_id, rd=1, qd=sc.DNSQR(qname=cfg.query_name, qtype=QTYPES[cfg.query_type]))
            )

            def is_answer(p: Any, sport: int = sport) -> bool:
                # any datagram back from the service's port to ours, decodable or not, or an ICMP error
                # quoting our query
                if not p.haslayer(sc.IP):
                    return False
                if p.haslayer(sc.ICMP) and p.haslayer(sc.UDPerror):
                    quoted = p[sc.UDPerror]
                    return bool(quoted.sport == sport and quoted.dport == cfg.port)
                return bool(
                    p[sc.IP].src == address
                    and p.haslayer(sc.UDP)
                    and p[sc.UDP].sport == cfg.port
                    and p[sc.UDP].dport == sport
                )

            sent = time.monotonic()
            answer = exchange(sc, query, is_answer, cfg.timeout_s)
            if answer is None:
                continue
            base = {"address": address, "rtt_ms": round((time.monotonic() - sent) * 1000, 3), "attempts": attempt + 1}
            if answer.haslayer(sc.ICMP):
                icmp = answer[sc.ICMP]
                name = icmp_error_name(int(icmp.type), int(icmp.code))
                state = UdpState.CLOSED if name == "port-unreachable" else UdpState.FILTERED
                return {**base, "state": state.value, "icmp": name, "icmp_from": answer[sc.IP].src}
            return {**base, "state": UdpState.OPEN.value, **_read_dns(sc, answer, query_id)}
        return {"address": address, "state": UdpState.FILTERED.value, "attempts": 1 + cfg.retries}

    def _verdict(self, values: dict[str, Any], target: str) -> CollectorError | None:
        cfg = self.config
        where = f"{target}:{cfg.port}/udp"
        state = values.get("state")
        if state == UdpState.CLOSED:
            return Refused(f"{where} closed: ICMP port-unreachable from {values['icmp_from']}")
        if state == UdpState.FILTERED:
            if "icmp" in values:
                return Unreachable(f"{where} filtered: ICMP {values['icmp']} from {values['icmp_from']}")
            return Timeout(f"{where}: no answer to {values.get('attempts', 1)} {cfg.service.value} query(ies)")
        if values["rcode"] != cfg.expect_rcode:
            return Refused(f"{where}: DNS answered {values['rcode']} for {cfg.query_name}, expected {cfg.expect_rcode}")
        missing = [a for a in cfg.expect_answers if a not in {r["data"] for r in values["answers"]}]
        if missing:
            return Refused(f"{where}: DNS answer for {cfg.query_name} lacks {missing}")
        return None


def _read_dns(sc: Any, answer: Any, query_id: int) -> dict[str, Any]:
    payload = bytes(answer[sc.UDP].payload)
    try:
        dns = sc.DNS(payload)  # decoded here whatever the port: scapy binds DNS to port 53 only
    except Exception as exc:
        raise ParseError(f"not a DNS answer: {payload[:40]!r}") from exc
    if dns.id != query_id or not dns.qr:
        raise ParseError(f"DNS packet is not the answer to query id {query_id} (id {dns.id}, qr {dns.qr})")
    if dns.haslayer(sc.Raw) or (dns.haslayer(sc.Padding) and bytes(dns[sc.Padding]).strip(b"\0")):
        raise ParseError("DNS answer has trailing garbage")
    declared = (int(dns.qdcount or 0), int(dns.ancount or 0))
    carried = (len(dns.qd or []), len(dns.an or []))
    if declared != carried:
        raise ParseError(f"DNS answer declares {declared} question/answer records but carries {carried}")
    records = []
    for rr in dns.an or []:
        data = rr.rdata
        if isinstance(data, bytes):
            data = data.decode("ascii", "replace")
        elif isinstance(data, list):
            data = " ".join(x.decode("ascii", "replace") if isinstance(x, bytes) else str(x) for x in data)
        records.append(
            {
                "name": rr.rrname.decode("ascii", "replace"),
                "type": rr.sprintf("%type%"),
                "ttl": int(rr.ttl),
                "data": str(data),
            }
        )
    return {
        "rcode": RCODES.get(int(dns.rcode), f"RCODE{int(dns.rcode)}"),
        "authoritative": bool(dns.aa),
        "answers": records,
    }
