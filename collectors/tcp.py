"""tcp collector: is a service port reachable? One TCP SYN (scapy, raw sockets: root or CAP_NET_RAW).

The answer says which of three things holds, which a connect() cannot tell apart quickly:
  open      SYN-ACK: something listens (the kernel then resets the half-open connection for us);
  closed    RST: the host is up, nothing listens             -> ok = false, reason refused;
  filtered  no answer within the timeout                     -> ok = false, reason timeout,
            or an ICMP unreachable/prohibited from a router or a firewall -> reason unreachable.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from collectors.base import CollectorConfig, CollectorError, ProbeResult, Refused, Timeout, Unreachable
from collectors.rawnet import (
    check_raw_sockets,
    check_route,
    finish,
    icmp_error_name,
    resolve_ipv4,
    scapy,
    send_error,
    unexpected,
)


class TcpState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    FILTERED = "filtered"


class TcpConfig(CollectorConfig):
    port: int = Field(ge=1, le=65535, description="service port to probe")
    timeout_s: float = Field(1.0, gt=0, le=30, description="wait for an answer to each SYN")
    retries: int = Field(1, ge=0, le=5, description="SYNs re-sent when nothing answered")


class TcpCollector:
    kind: ClassVar[str] = "tcp"
    config_model: ClassVar[type[CollectorConfig]] = TcpConfig

    def __init__(self, config: TcpConfig) -> None:
        self.config = config

    async def collect(self, target: str, scheduled_at: datetime) -> ProbeResult:
        started = time.monotonic()
        values: dict[str, Any] = {"port": self.config.port}
        error: CollectorError | None
        try:
            check_raw_sockets()
            values.update(await asyncio.to_thread(self._probe, target))
            error = _verdict(values, target, self.config.port)
        except Exception as exc:  # a failed probe is data
            error = unexpected(exc)
        return finish(self.kind, target, scheduled_at, started, values, error)

    def _probe(self, target: str) -> dict[str, Any]:
        sc = scapy()
        address = resolve_ipv4(target)
        check_route(address, target)
        for attempt in range(1 + self.config.retries):
            syn = sc.IP(dst=address) / sc.TCP(
                sport=random.randint(32768, 60999), dport=self.config.port, flags="S", seq=random.getrandbits(32)
            )
            sent = time.monotonic()
            try:
                answer = sc.sr1(syn, timeout=self.config.timeout_s)
            except OSError as exc:
                raise send_error(exc, target) from exc
            if answer is None:
                continue
            rtt_ms = round((time.monotonic() - sent) * 1000, 3)
            base = {"address": address, "rtt_ms": rtt_ms, "attempts": attempt + 1}
            if answer.haslayer(sc.TCP) and not answer.haslayer(sc.ICMP):
                flags = int(answer[sc.TCP].flags)
                if flags & 0x12 == 0x12:
                    return {**base, "state": TcpState.OPEN.value}
                if flags & 0x04:
                    return {**base, "state": TcpState.CLOSED.value}
                return {**base, "state": TcpState.FILTERED.value, "tcp_flags": str(answer[sc.TCP].flags)}
            if answer.haslayer(sc.ICMP):
                icmp = answer[sc.ICMP]
                return {
                    **base,
                    "state": TcpState.FILTERED.value,
                    "icmp": icmp_error_name(int(icmp.type), int(icmp.code)),
                    "icmp_from": answer[sc.IP].src,
                }
        return {"address": address, "state": TcpState.FILTERED.value, "attempts": 1 + self.config.retries}


def _verdict(values: dict[str, Any], target: str, port: int) -> CollectorError | None:
    state = values.get("state")
    if state == TcpState.OPEN:
        return None
    if state == TcpState.CLOSED:
        return Refused(f"{target}:{port} closed (RST)")
    if "icmp" in values:
        return Unreachable(f"{target}:{port} filtered: ICMP {values['icmp']} from {values['icmp_from']}")
    if "tcp_flags" in values:
        return Unreachable(f"{target}:{port} answered with unexpected TCP flags {values['tcp_flags']}")
    return Timeout(f"{target}:{port} filtered: no answer to {values.get('attempts', 1)} SYN(s)")
