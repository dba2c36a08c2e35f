"""ssh collector against the OpenSSH fake CLI (tests/lab/services.d/20-ssh.sh) speaking as a FortiGate and as a
MikroTik RouterOS box: netmiko's own fortinet and mikrotik_routeros drivers log in, the profiles' commands are
answered with their recorded fixtures, and the values are the fixtures' expectations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from lab_support import LabEndpoints

from collectors.base import Reason, SecretSource
from collectors.ssh import SshCollector, SshConfig
from device_profiles import load_profiles
from device_profiles.cli import command_slug

FIXTURES = Path(__file__).resolve().parents[1] / "device_profiles"
AT = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
PLATFORMS = ("fortinet_fortigate", "mikrotik_routeros")


def ports(lab: LabEndpoints, platform: str) -> dict[str, int]:
    return dict(lab.fortigate_ports if platform == "fortinet_fortigate" else lab.routeros_ports)


def config(lab: LabEndpoints, platform: str, scenario: str) -> SshConfig:
    assert lab.run_dir is not None
    return SshConfig(
        platform=platform,
        port=ports(lab, platform)[scenario],
        username=lab.ssh_user,
        password=SecretSource(file=lab.run_dir / "ssh" / "password"),
        known_hosts_file=lab.run_dir / "ssh" / "known_hosts",
        conn_timeout_s=5,
        read_timeout_s=5,
    )


def expected(platform: str, scenario: str) -> dict[str, Any]:
    cli = load_profiles()[platform].profile.cli
    assert cli is not None
    values = {}
    for name, spec in cli.commands.items():
        path = FIXTURES / platform / command_slug(spec.command) / f"{scenario}.yml"
        values[name] = yaml.safe_load(path.read_text(encoding="utf-8"))["parsed"]
    return values


@pytest.mark.parametrize("scenario", ["normal", "interface_down", "after_reboot"])
@pytest.mark.parametrize("platform", PLATFORMS)
async def test_the_device_is_polled_and_its_answers_parsed(lab: LabEndpoints, platform: str, scenario: str) -> None:
    result = await SshCollector(config(lab, platform, scenario)).collect("127.0.0.1", AT)
    assert result.ok, result.detail
    assert result.values == expected(platform, scenario)


async def test_fortigate_values_show_the_reboot_and_the_port_down(lab: LabEndpoints) -> None:
    down = await SshCollector(config(lab, "fortinet_fortigate", "interface_down")).collect("127.0.0.1", AT)
    assert {i["name"]: i["status"] for i in down.values["interfaces"]}["port1"] == "down"
    rebooted = await SshCollector(config(lab, "fortinet_fortigate", "after_reboot")).collect("127.0.0.1", AT)
    assert rebooted.values["performance"]["uptime"] < 600


async def test_routeros_values_show_the_reboot_and_the_link_down(lab: LabEndpoints) -> None:
    down = await SshCollector(config(lab, "mikrotik_routeros", "interface_down")).collect("127.0.0.1", AT)
    assert {i["name"]: i["status"] for i in down.values["interfaces"]}["ether1"] == ""  # no R: not running
    rebooted = await SshCollector(config(lab, "mikrotik_routeros", "after_reboot")).collect("127.0.0.1", AT)
    assert rebooted.values["resource"]["uptime_weeks"] is None
    assert rebooted.values["resource"]["uptime_minutes"] == 3


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_garbage_is_a_parse_error(lab: LabEndpoints, platform: str) -> None:
    result = await SshCollector(config(lab, platform, "garbage")).collect("127.0.0.1", AT)
    assert not result.ok
    assert result.reason is Reason.PARSE_ERROR, result.detail
