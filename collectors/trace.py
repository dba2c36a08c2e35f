"""trace collector: a hop-by-hop trace that says where a path breaks (scapy, raw sockets: root or CAP_NET_RAW).

The evidence for the contract's exclusions ("equipment not supplied by the provider", "other operator"):
the config names which hop (TTL index, optionally with its expected address) is the customer's CPE and which
is the provider's edge, and the result names the segment where the path stops:

    agent -- [LAN hops] -- CPE (cpe_hop) -- [access link] -- provider edge (provider_edge_hop) -- beyond
    break in: customer_lan  cpe              access           access                          beyond_provider_edge

The break is the first TTL after the last hop that answered (a router that stays silent while later hops
answer is not a break). An ICMP unreachable from a hop puts the break right after that hop. A probe that
cannot even leave the agent (no route, blackhole, interface down) is a break in the customer LAN.
Every TTL is sent at once, then the silent ones are re-sent `retries` times.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from datetime import datetime
from ipaddress import IPv4Address
from typing import Any, ClassVar

from pydantic import Field, model_validator

from collectors.base import CollectorConfig, CollectorError, ProbeResult, Timeout, Unreachable
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


class TraceProbe(enum.StrEnum):
    ICMP = "icmp"  # echo request; the destination answers with an echo reply
    UDP = "udp"  # to a closed high port; the destination answers port-unreachable
    TCP = "tcp"  # SYN to `port`; the destination answers SYN-ACK or RST


class Segment(enum.StrEnum):
    CUSTOMER_LAN = "customer_lan"
    CPE = "cpe"
    ACCESS = "access"
    BEYOND_PROVIDER_EDGE = "beyond_provider_edge"


class TraceConfig(CollectorConfig):
    cpe_hop: int = Field(ge=1, le=64, description="TTL at which the CPE answers (1 = the agent's gateway)")
    provider_edge_hop: int = Field(ge=2, le=64, description="TTL at which the provider's edge router answers")
    cpe_address: IPv4Address | None = Field(None, description="expected CPE address (checked, not required)")
    provider_edge_address: IPv4Address | None = None
    max_hops: int = Field(16, ge=1, le=64)
    probe: TraceProbe = TraceProbe.ICMP
    port: int = Field(33434, ge=1, le=65535, description="destination port of udp / tcp probes")
    timeout_s: float = Field(1.0, gt=0, le=10, description="wait after each round of probes")
    retries: int = Field(1, ge=0, le=5, description="rounds re-sending the TTLs that got no answer")

    @model_validator(mode="after")
    def _ordered(self) -> TraceConfig:
        if self.provider_edge_hop <= self.cpe_hop:
            raise ValueError(f"provider_edge_hop ({self.provider_edge_hop}) must come after cpe_hop ({self.cpe_hop})")
        if self.max_hops < self.provider_edge_hop:
            raise ValueError(f"max_hops ({self.max_hops}) must reach provider_edge_hop ({self.provider_edge_hop})")
        return self


def segment_of(break_hop: int, config: TraceConfig) -> Segment:
    """The segment in which the first silent TTL lies."""
    if break_hop < config.cpe_hop:
        return Segment.CUSTOMER_LAN
    if break_hop == config.cpe_hop:
        return Segment.CPE
    if break_hop <= config.provider_edge_hop:
        return Segment.ACCESS
    return Segment.BEYOND_PROVIDER_EDGE


def localise(hops: list[dict[str, Any]], reached: bool, config: TraceConfig) -> dict[str, Any]:
    """Pure: the hop list (TTL order, `address` None when silent) -> break hop and segment."""
    if reached:
        return {"reached": True, "break_hop": None, "segment": None}
    answered = [h["ttl"] for h in hops if h["address"] is not None]
    unreachable = [h["ttl"] for h in hops if h.get("icmp", "time-exceeded") != "time-exceeded"]
    if unreachable:
        break_hop = min(unreachable) + 1
    elif answered:
        break_hop = max(answered) + 1
    else:
        break_hop = 1
    return {"reached": False, "break_hop": break_hop, "segment": segment_of(break_hop, config).value}


class TraceCollector:
    kind: ClassVar[str] = "trace"
    config_model: ClassVar[type[CollectorConfig]] = TraceConfig

    def __init__(self, config: TraceConfig) -> None:
        self.config = config

    async def collect(self, target: str, scheduled_at: datetime) -> ProbeResult:
        started = time.monotonic()
        values: dict[str, Any] = {}
        error: CollectorError | None
        try:
            check_raw_sockets()
            values.update(await asyncio.to_thread(self._trace, target))
            error = self._verdict(values, target)
        except Exception as exc:  # a failed probe is data
            error = unexpected(exc)
            if isinstance(error, Unreachable) and str(error).startswith("cannot send"):
                # nothing left the agent: the break is on its own side of the CPE
                values.update({"reached": False, "break_hop": 1, "segment": Segment.CUSTOMER_LAN.value})
        return finish(self.kind, target, scheduled_at, started, values, error)

    def _probes(self, sc: Any, address: str, ttls: list[int]) -> list[Any]:
        cfg = self.config
        ident = random.getrandbits(16)
        if cfg.probe is TraceProbe.ICMP:
            return [sc.IP(dst=address, ttl=t) / sc.ICMP(id=ident, seq=t) for t in ttls]
        if cfg.probe is TraceProbe.UDP:
            return [
                sc.IP(dst=address, ttl=t) / sc.UDP(sport=random.randint(32768, 60999), dport=cfg.port) for t in ttls
            ]
        return [
            sc.IP(dst=address, ttl=t) / sc.TCP(sport=random.randint(32768, 60999), dport=cfg.port, flags="S")
            for t in ttls
        ]

    def _trace(self, target: str) -> dict[str, Any]:
        sc = scapy()
        cfg = self.config
        address = resolve_ipv4(target)
        check_route(address, target)
        hops: dict[int, dict[str, Any]] = {t: {"ttl": t, "address": None} for t in range(1, cfg.max_hops + 1)}
        pending = list(hops)
        for _ in range(1 + cfg.retries):
            sent = time.monotonic()
            try:
                answered, _unanswered = sc.sr(self._probes(sc, address, pending), timeout=cfg.timeout_s)
            except OSError as exc:
                raise send_error(exc, target) from exc
            for request, reply in answered:
                hop = hops[int(request[sc.IP].ttl)]
                hop["address"] = reply[sc.IP].src
                hop["rtt_ms"] = round((float(reply.time) - float(request.sent_time or sent)) * 1000, 3)
                if reply.haslayer(sc.ICMP) and int(reply[sc.ICMP].type) in (3, 11):
                    hop["icmp"] = icmp_error_name(int(reply[sc.ICMP].type), int(reply[sc.ICMP].code))
                hop["destination"] = reply[sc.IP].src == address
            pending = [t for t, h in hops.items() if h["address"] is None]
            if not pending or any(h.get("destination") for h in hops.values()):
                break
        path: list[dict[str, Any]] = []
        reached = False
        for t in sorted(hops):
            hop = hops[t]
            path.append(hop)
            if hop.get("destination"):
                reached = True
                hop.pop("icmp", None)  # port-unreachable from the destination is its answer to a udp probe
                break
        for hop in path:
            hop.pop("destination", None)
        values = {"address": address, "probe": cfg.probe.value, "hops": path, **localise(path, reached, cfg)}
        values["path_as_expected"] = self._as_expected(path)
        return values

    def _as_expected(self, path: list[dict[str, Any]]) -> bool | None:
        cfg = self.config
        checks = [(cfg.cpe_hop, cfg.cpe_address), (cfg.provider_edge_hop, cfg.provider_edge_address)]
        seen = {h["ttl"]: h["address"] for h in path if h["address"] is not None}
        known = [(ttl, str(addr)) for ttl, addr in checks if addr is not None and ttl in seen]
        if not known:
            return None
        return all(seen[ttl] == addr for ttl, addr in known)

    def _verdict(self, values: dict[str, Any], target: str) -> CollectorError | None:
        if values["reached"]:
            return None
        where = f"path to {target} breaks at hop {values['break_hop']} ({values['segment']})"
        errors = [h for h in values["hops"] if h.get("icmp", "time-exceeded") != "time-exceeded"]
        if errors:
            return Unreachable(f"{where}: ICMP {errors[0]['icmp']} from {errors[0]['address']}")
        return Timeout(f"{where}: no answer from hop {values['break_hop']} on")
