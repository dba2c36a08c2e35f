"""SNMP collector against real agents: snmpsim (synthetic profiles and real recordings), Debian snmpd on
loopback and inside the lab namespace (where a cut veth shows as ifOperStatus down)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lab_support import REPO, LabEndpoints, ns_exec, require_root, require_shared_fixtures, restore_routes
from pydantic import ValidationError

from collectors import COLLECTORS
from collectors.base import Reason, SecretSource
from collectors.snmp import (
    CounterStore,
    SnmpCollector,
    SnmpConfig,
    counter_delta,
    uptime_went_back,
)
from device_profiles import load_profiles

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
PLATFORMS = sorted(load_profiles())


def v2c(community: str, port: int = 1161, **kw: Any) -> SnmpConfig:
    return SnmpConfig(version="2c", community=SecretSource.parse(community), port=port, timeout_s=1.0, retries=0, **kw)


def sim_v3(context: str, **kw: Any) -> SnmpConfig:
    kw.setdefault("auth_key", SecretSource.parse("auctoritas"))
    kw.setdefault("priv_key", SecretSource.parse("privatus"))
    return SnmpConfig(user="simulator", context=context, port=1161, timeout_s=1.0, retries=0, **kw)


# --- configuration (no network) -------------------------------------------------------------------------------


def test_snmp_is_registered_with_its_config_schema() -> None:
    assert COLLECTORS["snmp"] is SnmpCollector
    assert SnmpCollector.config_model is SnmpConfig


def test_v3_authpriv_sha_aes_is_the_default() -> None:
    cfg = SnmpConfig(
        user="u", auth_key=SecretSource.parse("a" * 8), priv_key=SecretSource.parse("p" * 8), platform="cisco_ios"
    )
    assert (cfg.version, cfg.security_level, cfg.auth_protocol, cfg.priv_protocol) == ("3", "authPriv", "SHA", "AES")
    with pytest.raises(ValidationError, match="needs `user`"):
        SnmpConfig(platform="cisco_ios")
    with pytest.raises(ValidationError, match="needs `priv_key`"):
        SnmpConfig(user="u", auth_key=SecretSource.parse("a" * 8), platform="cisco_ios")


def test_v2c_only_when_asked_and_with_a_community() -> None:
    with pytest.raises(ValidationError, match="community"):
        SnmpConfig(version="2c", platform="cisco_ios")
    with pytest.raises(ValidationError, match="community is for version 1/2c"):
        SnmpConfig(user="u", community=SecretSource.parse("public"), security_level="noAuthNoPriv", oids=("1.3.6",))


def test_only_numeric_oids_are_accepted() -> None:
    with pytest.raises(ValidationError, match="not a numeric OID"):
        v2c("public", oids=("IF-MIB::ifDescr.1",))
    assert v2c("public", oids=(".1.3.6.1.2.1.1.5.0",)).oids == ("1.3.6.1.2.1.1.5.0",)


def test_secrets_never_show_in_config_repr() -> None:
    cfg = sim_v3("x", platform="cisco_ios")
    assert "auctoritas" not in repr(cfg) and "privatus" not in repr(cfg)


async def test_unknown_platform_is_a_misconfigured_result_not_an_exception() -> None:
    result = await SnmpCollector(v2c("public", platform="no_such_box")).collect("127.0.0.1", T0)
    assert (result.ok, result.reason) == (False, Reason.MISCONFIGURED)
    assert "no_such_box" in (result.detail or "")


# --- counter arithmetic ---------------------------------------------------------------------------------------


def test_counter32_going_back_wrapped_once() -> None:
    assert counter_delta(2**32 - 100, 50, 32) == 150
    assert counter_delta(100, 250, 32) == 150


def test_counter64_going_back_is_a_reset_without_rate() -> None:
    assert counter_delta(10**12, 5, 64) is None
    assert counter_delta(5, 10**12, 64) == 10**12 - 5


def test_uptime_wrap_is_not_a_reboot_but_a_drop_is() -> None:
    assert not uptime_went_back(2**32 - 1000, 2000, elapsed_s=30.0)  # 497-day wrap, 30 s later
    assert uptime_went_back(360_000_000, 6_000, elapsed_s=30.0)  # rebooted: 60 s of uptime
    assert not uptime_went_back(1000, 4000, elapsed_s=30.0)


# --- snmpsim: synthetic profiles -------------------------------------------------------------------------------


@pytest.mark.lab
@pytest.mark.parametrize("platform", PLATFORMS)
async def test_every_profile_polls_its_normal_fixture_completely(platform: str) -> None:
    result = await SnmpCollector(v2c(f"{platform}-normal", platform=platform)).collect("127.0.0.1", T0)
    assert result.ok, result.detail
    groups = result.values["groups"]
    assert set(groups) == set(load_profiles()[platform].groups)
    assert result.values["missing"] == [] and result.values["errors"] == []
    rows = groups["interfaces"]["rows"]
    assert set(rows) == {"1", "2", "3"}
    assert [rows[i]["ifOperStatus"] for i in "123"] == ["up", "up", "down"]
    assert rows["3"]["ifAdminStatus"] == "down"
    assert result.values["sys_uptime_s"] > 3_600_000
    assert groups["system"]["sysName"] == f"vigie-{platform.replace('_', '-')}"


@pytest.mark.lab
async def test_v3_authpriv_over_ipv6_with_the_context_as_device() -> None:
    result = await SnmpCollector(sim_v3("vmware_esxi-normal", platform="vmware_esxi")).collect("::1", T0)
    assert result.ok, result.detail
    vms = result.values["groups"]["vmware_vms"]["rows"]
    assert {r["vmwVmState"] for r in vms.values()} == {"poweredOn", "poweredOff"}
    storage = result.values["groups"]["host_storage"]["rows"]
    assert any(r["hrStorageDescr"].startswith("/vmfs/volumes/") for r in storage.values())


@pytest.mark.lab
async def test_interface_down_scenario_shows_the_port_down_with_admin_up() -> None:
    result = await SnmpCollector(v2c("cisco_ios-interface_down", platform="cisco_ios")).collect("127.0.0.1", T0)
    assert result.ok, result.detail
    lan = result.values["groups"]["interfaces"]["rows"]["2"]
    assert (lan["ifName"], lan["ifAdminStatus"], lan["ifOperStatus"]) == ("lan0", "up", "down")
    assert lan["ifLastChange"] > 0


@pytest.mark.lab
async def test_64bit_counters_become_rates_between_two_polls() -> None:
    collector = SnmpCollector(v2c("linux_netsnmp-normal", platform="linux_netsnmp", groups=("system", "interfaces")))
    first = await collector.collect("127.0.0.1", T0)
    assert first.ok and first.values["groups"]["interfaces"]["rows"]["1"]["ifHCInOctets_rate"] is None
    await asyncio.sleep(1.0)
    second = await collector.collect("127.0.0.1", T0)
    rows = second.values["groups"]["interfaces"]["rows"]
    # snmpsim grows ifHCInOctets of up interfaces by 12 500 octets/s (100 kbit/s); down ones stay still
    assert rows["1"]["ifHCInOctets_rate"] == pytest.approx(12_500, rel=0.15)
    assert rows["3"]["ifHCInOctets_rate"] == 0
    assert rows["1"]["ifInErrors_rate"] == 0
    assert second.values["rebooted"] is False


@pytest.mark.lab
async def test_reboot_is_detected_from_sysuptime_and_no_rate_is_invented() -> None:
    store = CounterStore()  # the same device seen before and after its reboot
    before = await SnmpCollector(v2c("cisco_ios-normal", platform="cisco_ios"), counters=store).collect("127.0.0.1", T0)
    after = await SnmpCollector(v2c("cisco_ios-after_reboot", platform="cisco_ios"), counters=store).collect(
        "127.0.0.1", T0
    )
    assert before.ok and after.ok
    assert after.values["rebooted"] is True
    # snmpsim advances sysUpTime from its own start, so compare with the uptime before, not a constant
    assert after.values["sys_uptime_s"] < before.values["sys_uptime_s"]
    row = after.values["groups"]["interfaces"]["rows"]["1"]
    assert row["ifHCInOctets"] < before.values["groups"]["interfaces"]["rows"]["1"]["ifHCInOctets"]
    assert row["ifHCInOctets_rate"] is None and row["ifInErrors_rate"] is None


@pytest.mark.lab
@pytest.mark.parametrize("platform", PLATFORMS)
async def test_garbage_values_are_parse_errors_and_the_rest_is_kept(platform: str) -> None:
    result = await SnmpCollector(v2c(f"{platform}-garbage", platform=platform)).collect("127.0.0.1", T0)
    assert (result.ok, result.reason) == (False, Reason.PARSE_ERROR)
    assert "expected" in (result.detail or "")
    assert len(result.values["errors"]) >= len(result.values["groups"])  # one bad value per group
    assert result.values["groups"]["system"]["sysName"] == f"vigie-{platform.replace('_', '-')}"


@pytest.mark.lab
async def test_extra_oids_and_walks_by_number() -> None:
    cfg = v2c("linux_netsnmp-normal", oids=("1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.99.0"), walk=("1.3.6.1.2.1.2.2.1.2",))
    result = await SnmpCollector(cfg).collect("127.0.0.1", T0)
    assert result.ok, result.detail
    assert result.values["oids"] == {"1.3.6.1.2.1.1.5.0": "vigie-linux-netsnmp", "1.3.6.1.2.1.1.99.0": None}
    assert result.values["walk"]["1.3.6.1.2.1.2.2.1.2"] == {"1": "wan0", "2": "lan0", "3": "mgmt0"}


# --- failures are typed results ---------------------------------------------------------------------------------


@pytest.mark.lab
@pytest.mark.parametrize(
    ("cfg", "reason"),
    [
        (sim_v3("cisco_ios-normal", auth_key=SecretSource.parse("wrong-key-123"), platform="cisco_ios"), "auth_failed"),
        (
            SnmpConfig(
                user="nobody-here",
                auth_key=SecretSource.parse("auctoritas"),
                priv_key=SecretSource.parse("privatus"),
                port=1161,
                timeout_s=1,
                retries=0,
                platform="cisco_ios",
            ),
            "auth_failed",
        ),
        (v2c("no-such-community", platform="cisco_ios"), "timeout"),
        (v2c("public", port=1169, platform="cisco_ios"), "timeout"),  # nothing listens there
    ],
    ids=["wrong-auth-key", "unknown-user", "wrong-community", "closed-port"],
)
async def test_failures_are_results_with_a_reason(cfg: SnmpConfig, reason: str) -> None:
    result = await SnmpCollector(cfg).collect("127.0.0.1", T0)
    assert not result.ok
    assert result.reason == reason, result.detail


async def test_secret_from_a_missing_environment_variable_is_misconfigured() -> None:
    cfg = SnmpConfig(version="2c", community=SecretSource(env="VIGIE_TEST_NO_SUCH_VAR"), oids=("1.3.6.1.2.1.1.5.0",))
    result = await SnmpCollector(cfg).collect("127.0.0.1", T0)
    assert (result.ok, result.reason) == (False, Reason.MISCONFIGURED)
    assert "VIGIE_TEST_NO_SUCH_VAR" in (result.detail or "")


# --- Debian snmpd -----------------------------------------------------------------------------------------------


def snmpd_v3(lab: LabEndpoints, host_port: tuple[str, int], **kw: Any) -> SnmpConfig:
    return SnmpConfig(
        user=lab.v3_user,
        auth_key=SecretSource.parse(lab.v3_auth_key),
        priv_key=SecretSource.parse(lab.v3_priv_key),
        port=host_port[1],
        **{"timeout_s": 1.0, "retries": 1, **kw},
    )


@pytest.mark.lab
async def test_net_snmp_host_over_v3_authpriv(lab: LabEndpoints) -> None:
    result = await SnmpCollector(snmpd_v3(lab, lab.snmpd, platform="linux_netsnmp")).collect(lab.snmpd[0], T0)
    assert result.ok, result.detail
    groups = result.values["groups"]
    assert groups["system"]["sysName"] == "vigie-lab-snmpd"
    assert any(r["ifName"] == "lo" and r["ifOperStatus"] == "up" for r in groups["interfaces"]["rows"].values())
    assert any(r["hrStorageDescr"] == "Physical memory" for r in groups["host_storage"]["rows"].values())
    assert groups["ucd_system"]["memTotalReal"] > 0


@pytest.fixture
def cut_peer(lab: LabEndpoints) -> Iterator[None]:
    """Cut the link from our side: the namespace's veth loses carrier (oper down, admin still up)."""
    require_root()
    subprocess.run(["ip", "link", "set", lab.root_if, "down"], check=True, timeout=10)
    try:
        yield
    finally:
        subprocess.run(["ip", "link", "set", lab.root_if, "up"], check=True, timeout=10)
        restore_routes(lab)  # the root namespace's routes to the lab path went with the link


POLL_IN_NS = """
import asyncio, datetime, json, sys
from collectors.base import SecretSource
from collectors.snmp import SnmpCollector, SnmpConfig
cfg = SnmpConfig(user="vigie", auth_key=SecretSource.parse("vigie-auth-key"),
                 priv_key=SecretSource.parse("vigie-priv-key"), timeout_s=1, retries=1,
                 platform="linux_netsnmp", groups=("interfaces",))
r = asyncio.run(SnmpCollector(cfg).collect("10.250.0.2", datetime.datetime(2026, 1, 1)))
rows = r.values.get("groups", {}).get("interfaces", {}).get("rows", {})
print(json.dumps({"ok": r.ok, "reason": r.reason, "veth": [v for v in rows.values() if v["ifName"] == "vigie-h1"]}))
"""


def poll_from_inside_ns(lab: LabEndpoints) -> dict[str, Any]:
    out = ns_exec(sys.executable, "-c", POLL_IN_NS)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.lab
async def test_cut_link_shows_as_oper_down_in_the_namespace_agent(lab: LabEndpoints, cut_peer: None) -> None:
    # From the root namespace the agent is now unreachable: a timeout result, not an exception.
    outside = await SnmpCollector(snmpd_v3(lab, lab.snmpd_ns, platform="linux_netsnmp", retries=0)).collect(
        lab.ns_host, T0
    )
    assert (outside.ok, outside.reason) == (False, Reason.TIMEOUT)
    # From inside the namespace, the agent reports its veth down once its ifTable cache (~5 s) expires.
    seen: list[Any] = []
    for _ in range(40):
        state = poll_from_inside_ns(lab)
        assert state["ok"], state
        seen.append(state["veth"][0]["ifOperStatus"])
        if seen[-1] in ("down", "lowerLayerDown"):
            break
        await asyncio.sleep(0.5)
    assert seen[-1] in ("down", "lowerLayerDown"), seen
    assert state["veth"][0]["ifAdminStatus"] == "up"


@pytest.mark.lab
async def test_namespace_agent_sees_its_veth_up_when_linked(lab: LabEndpoints) -> None:
    collector = SnmpCollector(snmpd_v3(lab, lab.snmpd_ns, platform="linux_netsnmp", groups=("interfaces",)))
    for _ in range(30):  # after a cut elsewhere, snmpd's ifTable cache may lag a few seconds
        result = await collector.collect(lab.ns_host, T0)
        assert result.ok, result.detail
        veth = [r for r in result.values["groups"]["interfaces"]["rows"].values() if r["ifName"] == lab.ns_if]
        if veth and veth[0]["ifOperStatus"] == "up":
            break
        await asyncio.sleep(0.5)
    assert veth and veth[0]["ifOperStatus"] == "up"


# --- real-world recordings (../shared/fixtures, read at test time) ---------------------------------------------

RECORDINGS = {
    "ios_2960x": "cisco_ios",
    "iosxe_c9300": "cisco_ios",
    "fortigate_100e": "fortinet_fortigate",
    "junos_vmx": "juniper_junos",
    "routeros_rb750gr3": "mikrotik_routeros",
    "ns-bsd_sn710": "stormshield_sns",
    "pfsense": "pfsense_opnsense",
    "linux_icecast": "linux_netsnmp",
    "vmware-esxi": "vmware_esxi",
}


def librenms_ports(stem: str) -> dict[int, str]:
    data = json.loads((require_shared_fixtures() / "librenms-data" / f"{stem}.json").read_text())
    return {int(p["ifIndex"]): p["ifOperStatus"] for p in data["ports"]["discovery"]["ports"]}


@pytest.mark.lab
@pytest.mark.parametrize("stem", sorted(RECORDINGS))
async def test_real_recordings_poll_with_their_platform_profile(stem: str) -> None:
    require_shared_fixtures()
    platform = RECORDINGS[stem]
    result = await SnmpCollector(v2c(stem, platform=platform)).collect("127.0.0.1", T0)
    assert result.reason != Reason.PARSE_ERROR or "expected" not in (result.detail or ""), result.detail
    assert result.ok, result.detail
    rows = result.values["groups"]["interfaces"]["rows"]
    expected = librenms_ports(stem)
    polled = {int(i): r["ifOperStatus"] for i, r in rows.items() if int(i) in expected}
    assert polled, "no interface in common with LibreNMS's discovery"
    assert polled == {i: expected[i] for i in polled}


@pytest.mark.lab
async def test_profile_identification_from_real_recordings() -> None:
    from device_profiles import identify

    require_shared_fixtures()
    profiles = load_profiles()
    for stem, platform in RECORDINGS.items():
        result = await SnmpCollector(v2c(stem, platform=platform, groups=("system",))).collect("127.0.0.1", T0)
        system = result.values["groups"]["system"]
        assert identify(profiles, system["sysObjectID"] or "", system["sysDescr"] or "") == platform, stem


def test_fixture_generator_is_reproducible(tmp_path: Path) -> None:
    # The committed fixtures are exactly what make_snmprec.py writes (nobody edits them by hand).
    out = subprocess.run(
        [sys.executable, str(REPO / "tests/device_profiles/make_snmprec.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "wrote" in out.stdout
    diff = subprocess.run(
        ["git", "status", "--porcelain", "--", "tests/device_profiles"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert ".snmprec" not in diff.stdout, diff.stdout
