"""trace collector on the lab path agent - LAN router - CPE - provider edge - far host
(services.d/30-services-ns.sh): where a path breaks is named by segment."""

from __future__ import annotations

import asyncio

import pytest
from lab_support import LabEndpoints
from netlab import AT, link_down, nft_drop, require_raw_lab, run_without_cap_net_raw

from collectors import COLLECTORS
from collectors.base import Reason
from collectors.trace import Segment, TraceCollector, TraceConfig, localise

CPE_HOP, PE_HOP = 2, 3


def config(lab: LabEndpoints, **overrides: object) -> TraceConfig:
    fields: dict[str, object] = {
        "cpe_hop": CPE_HOP,
        "provider_edge_hop": PE_HOP,
        "cpe_address": lab.trace_hops[CPE_HOP - 1],
        "provider_edge_address": lab.trace_hops[PE_HOP - 1],
        "max_hops": 6,
        "timeout_s": 0.5,
        "retries": 1,
    }
    fields.update(overrides)
    return TraceConfig(**fields)


async def trace(lab: LabEndpoints, **overrides: object) -> object:
    return await TraceCollector(config(lab, **overrides)).collect(lab.trace_far, AT)


def test_the_trace_collector_is_registered_and_its_hops_are_ordered() -> None:
    assert COLLECTORS["trace"] is TraceCollector
    with pytest.raises(ValueError, match="must come after"):
        TraceConfig(cpe_hop=3, provider_edge_hop=2)
    with pytest.raises(ValueError, match="max_hops"):
        TraceConfig(cpe_hop=1, provider_edge_hop=4, max_hops=3)


@pytest.mark.parametrize(
    ("answered", "unreachable_at", "segment", "break_hop"),
    [
        ([], None, Segment.CUSTOMER_LAN, 1),
        ([1], None, Segment.CPE, 2),
        ([1, 2], None, Segment.ACCESS, 3),
        ([1, 2, 3], None, Segment.BEYOND_PROVIDER_EDGE, 4),
        ([1, 3], None, Segment.BEYOND_PROVIDER_EDGE, 4),  # a silent CPE that forwards is not the break
        ([1, 2], 2, Segment.ACCESS, 3),  # the CPE says "net unreachable": its access link is down
        ([1], 1, Segment.CPE, 2),
    ],
)
def test_the_break_is_the_first_hop_after_the_last_answer(
    answered: list[int], unreachable_at: int | None, segment: Segment, break_hop: int
) -> None:
    hops = [{"ttl": t, "address": f"10.0.0.{t}" if t in answered else None} for t in range(1, 7)]
    if unreachable_at is not None:
        hops[unreachable_at - 1]["icmp"] = "net-unreachable"
    got = localise(hops, False, TraceConfig(cpe_hop=CPE_HOP, provider_edge_hop=PE_HOP, max_hops=6))
    assert (got["segment"], got["break_hop"]) == (segment.value, break_hop)


@pytest.mark.parametrize("probe", ["icmp", "udp", "tcp"])
async def test_a_whole_path_is_traced_hop_by_hop(lab: LabEndpoints, probe: str) -> None:
    require_raw_lab(lab)
    result = await trace(lab, probe=probe, port=33434 if probe == "udp" else 80)
    assert result.ok, result.detail
    assert [h["address"] for h in result.values["hops"]] == list(lab.trace_hops)
    assert result.values["segment"] is None
    assert result.values["path_as_expected"] is True


async def test_a_path_dropped_beyond_the_provider_edge(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    with nft_drop("vigie-pe", "forward", f"ip daddr {lab.trace_far}"):
        result = await trace(lab)
    assert not result.ok
    assert (result.values["segment"], result.values["break_hop"]) == ("beyond_provider_edge", 4)
    assert result.reason is Reason.TIMEOUT


async def test_a_silent_provider_edge_is_an_access_break(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    with nft_drop("vigie-pe", "prerouting", "ip saddr 10.250.0.0/24"):
        result = await trace(lab)
    assert (result.values["segment"], result.values["break_hop"]) == ("access", PE_HOP)


async def test_a_cut_access_link_is_localised_on_the_access(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    ns, iface = lab.access_link
    with link_down(ns, iface, lab):
        result = await trace(lab)
    assert result.values["segment"] == "access", result.values
    assert result.reason is Reason.UNREACHABLE  # the CPE, without its way out, says net-unreachable
    assert result.values["hops"][CPE_HOP - 1]["icmp"] == "net-unreachable"
    again = await trace(lab)
    assert again.ok, again.detail


async def test_a_dead_cpe_is_localised_on_the_cpe(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    with nft_drop("vigie-cpe", "prerouting", "ip saddr 10.250.0.0/24"):
        result = await trace(lab)
    assert (result.values["segment"], result.values["break_hop"]) == ("cpe", CPE_HOP)
    assert [h["address"] for h in result.values["hops"][:1]] == [lab.ns_host]


async def test_a_cut_lan_link_on_the_agent_side_falls_into_the_blackhole(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    with link_down(None, lab.root_if, lab):
        result = await trace(lab)
    assert result.reason is Reason.UNREACHABLE
    assert result.values["segment"] == "customer_lan"
    assert "cannot send" in (result.detail or "")


async def test_a_cut_lan_link_on_the_far_side_is_silence_in_the_customer_lan(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    with link_down(lab.ns, lab.ns_if, lab):
        result = await trace(lab)
    assert result.reason is Reason.TIMEOUT
    assert (result.values["segment"], result.values["break_hop"]) == ("customer_lan", 1)
    again = await trace(lab)
    for _ in range(5):  # the link is back: its neighbours and routes settle (seen once in CI: hop 2 still silent)
        if again.ok:
            break
        await asyncio.sleep(1)
        again = await trace(lab)
    assert again.ok, again.detail


async def test_an_unexpected_hop_address_is_reported(lab: LabEndpoints) -> None:
    require_raw_lab(lab)
    result = await trace(lab, cpe_address="192.0.2.1")
    assert result.ok
    assert result.values["path_as_expected"] is False


def test_without_raw_sockets_the_probe_is_misconfigured_and_says_why() -> None:
    out = run_without_cap_net_raw(
        "import asyncio; from datetime import datetime, UTC;"
        "from collectors.trace import TraceCollector, TraceConfig;"
        "c = TraceCollector(TraceConfig(cpe_hop=1, provider_edge_hop=2));"
        "r = asyncio.run(c.collect('127.0.0.1', datetime(2026, 1, 1, tzinfo=UTC)));"
        "print(r.reason.value, '|', r.detail)"
    )
    reason, detail = out.split(" | ")
    assert reason == "misconfigured"
    assert "CAP_NET_RAW" in detail
