"""ICMP collector against real targets: loopback, ::1, the lab namespace host, a cut link, nftables loss."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from lab_support import ENDPOINTS, LabEndpoints, ns_exec, require_binary, require_root, restore_routes
from pydantic import ValidationError

from collectors import COLLECTORS
from collectors.base import Reason
from collectors.icmp import IcmpCollector, IcmpConfig, summarize

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
FAST = IcmpConfig(count=3, interval_s=0.02, timeout_s=0.5)


def test_icmp_is_registered_with_its_config_schema() -> None:
    assert COLLECTORS["icmp"] is IcmpCollector
    assert IcmpCollector.config_model is IcmpConfig


def test_config_is_strict_and_caps_raw_concurrency() -> None:
    with pytest.raises(ValidationError, match="raw_concurrency"):
        IcmpConfig(socket="raw", raw_concurrency=200)
    with pytest.raises(ValidationError, match="Extra inputs"):
        IcmpConfig.model_validate({"count": 3, "privileged": True})
    assert IcmpConfig().socket.value == "datagram"


def test_nothing_sent_is_total_loss_not_zero_loss() -> None:
    values = summarize([None, None], packets_sent=0)
    assert values["loss_ratio"] == 1.0
    assert values["rtt_avg_ms"] is None


def test_loss_and_jitter_come_from_per_packet_rtts() -> None:
    values = summarize([1.0, None, 3.0, 2.0], packets_sent=4)
    assert values["loss_ratio"] == 0.25
    assert values["rtt_min_ms"] == 1.0 and values["rtt_max_ms"] == 3.0
    assert values["rtt_avg_ms"] == 2.0
    assert values["jitter_ms"] == 1.5  # |3-1| and |2-3|
    assert values["rtts_ms"] == [1.0, None, 3.0, 2.0]


@pytest.mark.lab
@pytest.mark.parametrize("target", ["127.0.0.1", "127.0.0.53", "::1"])
async def test_loopback_answers_with_zero_loss(target: str) -> None:
    result = await IcmpCollector(FAST).collect(target, T0)
    assert result.ok, result.detail
    v = result.values
    assert (v["packets_sent"], v["packets_received"], v["loss_ratio"]) == (3, 3, 0.0)
    assert 0 < v["rtt_min_ms"] <= v["rtt_avg_ms"] <= v["rtt_max_ms"] < 500
    assert len(v["rtts_ms"]) == 3 and None not in v["rtts_ms"]
    assert result.scheduled_at == T0


@pytest.mark.lab
async def test_namespace_host_answers(lab: LabEndpoints) -> None:
    result = await IcmpCollector(FAST).collect(lab.ns_host, T0)
    assert result.ok, result.detail
    assert result.values["packets_received"] == 3


@pytest.fixture
def cut_link(lab: LabEndpoints) -> Iterator[None]:
    require_root()
    ns_exec("ip", "link", "set", lab.ns_if, "down")
    try:
        yield
    finally:
        ns_exec("ip", "link", "set", lab.ns_if, "up")
        restore_routes(lab)  # the test host's default route went with the link


@pytest.mark.lab
async def test_cut_link_is_down_with_full_loss_then_recovers(lab: LabEndpoints, cut_link: None) -> None:
    collector = IcmpCollector(IcmpConfig(count=2, interval_s=0.0, timeout_s=0.3))
    down = await collector.collect(lab.ns_host, T0)
    assert not down.ok
    assert down.reason in (Reason.TIMEOUT, Reason.UNREACHABLE)
    assert down.values["packets_received"] == 0 and down.values["loss_ratio"] == 1.0
    ns_exec("ip", "link", "set", lab.ns_if, "up")
    for _ in range(20):  # the veth carrier comes back within a few ms
        up = await collector.collect(lab.ns_host, T0)
        if up.ok:
            break
    assert up.ok and up.values["packets_received"] >= 1


@pytest.mark.lab
async def test_blackholed_target_sends_nothing_and_is_down() -> None:
    # 10.250.255.1 falls under the lab's blackhole route (no lab host there): the kernel refuses the send.
    result = await IcmpCollector(FAST).collect("10.250.255.1", T0)
    assert not result.ok
    assert result.reason is Reason.UNREACHABLE
    assert result.values["packets_sent"] == 0 and result.values["loss_ratio"] == 1.0


@pytest.fixture
def random_loss(lab: LabEndpoints) -> Iterator[None]:
    require_root()
    require_binary("nft")
    ns_exec(
        "nft",
        "add table inet vigie_loss; "
        "add chain inet vigie_loss input { type filter hook input priority 0; policy accept; }; "
        "add rule inet vigie_loss input icmp type echo-request numgen random mod 100 < 50 drop",
    )
    try:
        yield
    finally:
        ns_exec("nft", "delete table inet vigie_loss", check=False)


@pytest.mark.lab
async def test_nftables_random_loss_shows_as_partial_loss(lab: LabEndpoints, random_loss: None) -> None:
    result = await IcmpCollector(IcmpConfig(count=80, interval_s=0.0, timeout_s=0.2)).collect(lab.ns_host, T0)
    assert result.ok  # some replies came back: measured, with loss
    v = result.values
    assert v["packets_sent"] == 80
    # 50 % drop: 80 draws stay within [20 %, 80 %] except with probability < 1e-6
    assert 0.2 <= v["loss_ratio"] <= 0.8
    assert v["rtts_ms"].count(None) == 80 - v["packets_received"]


@pytest.mark.lab
@pytest.mark.parametrize("socket", ["datagram", "raw"])
async def test_many_loopback_targets_concurrently_without_false_loss(socket: str) -> None:
    require_root()
    targets = [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(150)]
    collector = IcmpCollector(IcmpConfig(count=3, interval_s=0.01, timeout_s=1.0, socket=socket))
    results = await collector.collect_many(targets, T0)
    assert [r.target for r in results] == targets
    lost = sum(r.values["packets_sent"] - r.values["packets_received"] for r in results)
    assert lost == 0, f"{lost} false losses in {socket} mode"


def test_unprivileged_socket_refused_says_how_to_fix_it() -> None:
    # A fresh network namespace has the kernel default ping_group_range "1 0": datagram ICMP is refused.
    require_root()
    require_binary("unshare")
    code = (
        "import asyncio, datetime, json; from collectors.icmp import IcmpCollector;"
        "r = asyncio.run(IcmpCollector().collect('127.0.0.1', datetime.datetime(2026,1,1)));"
        "print(json.dumps({'ok': r.ok, 'reason': r.reason.value, 'detail': r.detail}))"
    )
    out = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert '"ok": false' in out.stdout
    assert '"reason": "misconfigured"' in out.stdout
    assert "ping_group_range" in out.stdout and "'1 0'" in out.stdout


def test_endpoints_are_the_lab_prefix() -> None:
    assert ENDPOINTS.ns_host.startswith("10.250.0.")
