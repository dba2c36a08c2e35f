"""tcp collector (scapy SYN) against the services on the lab's test host (services.d/30-services-ns.sh)."""

from __future__ import annotations

import pytest
from lab_support import LabEndpoints
from netlab import AT, link_down, require_raw_lab, run_without_cap_net_raw

from collectors import COLLECTORS
from collectors.base import Reason
from collectors.tcp import TcpCollector, TcpConfig


async def syn(target: str, port: int, **config: object) -> object:
    return await TcpCollector(TcpConfig(port=port, timeout_s=0.5, retries=0, **config)).collect(target, AT)


def test_the_tcp_collector_is_registered_with_its_schema() -> None:
    assert COLLECTORS["tcp"] is TcpCollector
    with pytest.raises(ValueError):
        TcpConfig(port=0)
    with pytest.raises(ValueError):
        TcpConfig(port=80, unknown_key=1)


async def test_an_open_port_answers_syn_ack(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    result = await syn(lab.ns_host, lab.tcp_open)
    assert result.ok, result.detail
    assert result.values["state"] == "open"
    assert 0 < result.values["rtt_ms"] < 500


async def test_a_closed_port_is_refused(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    result = await syn(lab.ns_host, lab.tcp_closed)
    assert not result.ok
    assert (result.reason, result.values["state"]) == (Reason.REFUSED, "closed")


async def test_a_dropped_port_is_filtered_and_times_out(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    result = await TcpCollector(TcpConfig(port=lab.tcp_dropped, timeout_s=0.3, retries=1)).collect(lab.ns_host, AT)
    assert (result.reason, result.values["state"]) == (Reason.TIMEOUT, "filtered")
    assert result.values["attempts"] == 2


async def test_a_port_rejected_by_a_firewall_is_filtered_and_names_the_icmp(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    result = await syn(lab.ns_host, lab.tcp_rejected)
    assert (result.reason, result.values["state"]) == (Reason.UNREACHABLE, "filtered")
    assert result.values["icmp"] == "communication-prohibited"
    assert result.values["icmp_from"] == lab.ns_host


async def test_loopback_works_without_naming_an_interface(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    result = await syn("127.0.0.1", dict(lab.ssh_ports)["normal"])
    assert result.ok, result.detail


async def test_a_cut_link_falls_into_the_blackhole_and_is_unreachable(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    with link_down(None, lab.root_if, lab):
        result = await syn(lab.ns_host, lab.tcp_open)
    assert result.reason is Reason.UNREACHABLE, result.detail
    assert "cannot send" in (result.detail or "")
    back = await syn(lab.ns_host, lab.tcp_open)
    assert back.ok, back.detail


async def test_an_unresolvable_name_is_unreachable_not_an_exception(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    result = await syn("no-such-host.invalid", 80)
    assert result.reason is Reason.UNREACHABLE


def test_without_raw_sockets_the_probe_is_misconfigured_and_says_why() -> None:
    out = run_without_cap_net_raw(
        "import asyncio; from datetime import datetime, UTC;"
        "from collectors.tcp import TcpCollector, TcpConfig;"
        "r = asyncio.run(TcpCollector(TcpConfig(port=80)).collect('127.0.0.1', datetime(2026, 1, 1, tzinfo=UTC)));"
        "print(r.reason.value, '|', r.detail)"
    )
    reason, detail = out.split(" | ")
    assert reason == "misconfigured"
    assert "CAP_NET_RAW" in detail
