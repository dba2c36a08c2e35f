"""udp collector (scapy DNS query) against dnsmasq and the UDP ports of the lab's test host."""

from __future__ import annotations

import pytest
from lab_support import LabEndpoints
from netlab import AT, require_raw_lab, run_without_cap_net_raw

from collectors import COLLECTORS
from collectors.base import Reason
from collectors.udp import UdpCollector, UdpConfig


async def dns(target: str, **config: object) -> object:
    fields: dict[str, object] = {"query_name": "svc.vigie.test", "timeout_s": 0.5, "retries": 0}
    fields.update(config)
    return await UdpCollector(UdpConfig(**fields)).collect(target, AT)


def test_the_udp_collector_is_registered_and_checks_the_query_name() -> None:
    assert COLLECTORS["udp"] is UdpCollector
    with pytest.raises(ValueError, match="not a DNS name"):
        UdpConfig(query_name="bad name; rm -rf")
    with pytest.raises(ValueError):
        UdpConfig(query_name="ok.test", query_type="ANY")


async def test_a_dns_query_gets_a_parsed_answer(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    result = await dns(lab.ns_host, expect_answers=(lab.ns_host,))
    assert result.ok, result.detail
    assert result.values["state"] == "open"
    assert result.values["rcode"] == "NOERROR"
    assert [(a["name"], a["type"], a["data"]) for a in result.values["answers"]] == [
        ("svc.vigie.test.", "A", lab.ns_host)
    ]
    assert result.values["rtt_ms"] > 0


async def test_an_unexpected_rcode_or_a_missing_record_is_refused(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    nx = await dns(lab.ns_host, query_name="nothing-here.vigie.test")
    assert (nx.reason, nx.values["rcode"]) == (Reason.REFUSED, "NXDOMAIN")
    assert "expected NOERROR" in (nx.detail or "")
    wanted = await dns(lab.ns_host, query_name="nothing-here.vigie.test", expect_rcode="NXDOMAIN")
    assert wanted.ok, wanted.detail
    wrong = await dns(lab.ns_host, expect_answers=("192.0.2.99",))
    assert wrong.reason is Reason.REFUSED
    assert "192.0.2.99" in (wrong.detail or "")


async def test_a_closed_udp_port_is_refused(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    result = await dns(lab.ns_host, port=lab.udp_closed)
    assert (result.reason, result.values["state"]) == (Reason.REFUSED, "closed")
    assert result.values["icmp"] == "port-unreachable"


async def test_a_dropped_udp_port_times_out(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    result = await dns(lab.ns_host, port=lab.udp_dropped, timeout_s=0.3, retries=1)
    assert (result.reason, result.values["state"]) == (Reason.TIMEOUT, "filtered")
    assert result.values["attempts"] == 2


async def test_a_garbage_answer_is_a_parse_error(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    result = await dns(lab.ns_host, port=lab.udp_garbage)
    assert result.reason is Reason.PARSE_ERROR, result.detail


def test_without_raw_sockets_the_probe_is_misconfigured_and_says_why() -> None:
    out = run_without_cap_net_raw(
        "import asyncio; from datetime import datetime, UTC;"
        "from collectors.udp import UdpCollector, UdpConfig;"
        "c = UdpCollector(UdpConfig(query_name='svc.vigie.test'));"
        "r = asyncio.run(c.collect('127.0.0.1', datetime(2026, 1, 1, tzinfo=UTC)));"
        "print(r.reason.value, '|', r.detail)"
    )
    reason, detail = out.split(" | ")
    assert reason == "misconfigured"
    assert "CAP_NET_RAW" in detail
