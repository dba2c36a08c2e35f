"""ssh collector against real SSH servers (tests/lab/services.d/20-ssh.sh): fakenos (cisco_ios) and Debian
OpenSSH with a ForceCommand fake CLI serving the linux_netsnmp fixtures, on loopback and in the namespace."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from lab_support import LabEndpoints, require_root
from netlab import link_down

from collectors import COLLECTORS
from collectors.base import Reason, SecretSource
from collectors.ssh import HostKeyPolicy, SshCollector, SshConfig, translate
from device_profiles.cli import command_slug

FIXTURES = Path(__file__).resolve().parents[1] / "device_profiles"
AT = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
LOOPBACK = "127.0.0.1"


def expected(platform: str, command: str, scenario: str) -> Any:
    path = FIXTURES / platform / command_slug(command) / f"{scenario}.yml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["parsed"]


def openssh(lab: LabEndpoints, scenario: str = "normal", **overrides: Any) -> SshConfig:
    assert lab.run_dir is not None
    fields: dict[str, Any] = {
        "platform": "linux_netsnmp",
        "port": dict(lab.ssh_ports)[scenario],
        "username": lab.ssh_user,
        "password": SecretSource(file=lab.run_dir / "ssh" / "password"),
        "known_hosts_file": lab.run_dir / "ssh" / "known_hosts",
        "conn_timeout_s": 3,
        "read_timeout_s": 3,
    }
    fields.update(overrides)
    return SshConfig(**fields)


def fakenos(lab: LabEndpoints, scenario: str = "builtin", **overrides: Any) -> SshConfig:
    assert lab.run_dir is not None
    fields: dict[str, Any] = {
        "platform": "cisco_ios",
        "port": dict(lab.fakenos_ports)[scenario],
        "username": lab.fakenos_user,
        "password": SecretSource(value="admin"),
        "enable_secret": SecretSource(value="admin"),
        "known_hosts_file": lab.run_dir / "ssh" / "known_hosts",
        "conn_timeout_s": 3,
        "read_timeout_s": 5,
    }
    fields.update(overrides)
    return SshConfig(**fields)


async def collect(config: SshConfig, target: str = LOOPBACK) -> Any:
    return await SshCollector(config).collect(target, AT)


def test_the_ssh_collector_is_registered() -> None:
    assert COLLECTORS["ssh"] is SshCollector
    assert SshCollector.config_model is SshConfig


def test_a_config_without_credentials_or_with_two_secret_sources_is_refused() -> None:
    with pytest.raises(ValueError, match="password"):
        SshConfig(platform="cisco_ios", username="u")
    with pytest.raises(ValueError, match="exactly one"):
        SecretSource(env="X", value="y")


def test_host_key_checking_is_the_default() -> None:
    config = SshConfig(platform="cisco_ios", username="u", password=SecretSource(env="X"))
    assert config.host_key_policy is HostKeyPolicy.STRICT


# -- OpenSSH + fake CLI (linux_netsnmp profile) -------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["normal", "interface_down", "after_reboot"])
async def test_openssh_device_answers_are_parsed_into_typed_values(lab: LabEndpoints, scenario: str) -> None:
    result = await collect(openssh(lab, scenario))
    assert result.ok, result.detail
    assert result.values["uptime"] == expected("linux_netsnmp", "cat /proc/uptime", scenario)
    assert result.values["links"] == expected("linux_netsnmp", "ip -brief link show", scenario)
    assert isinstance(result.values["uptime"]["uptime_s"], float)


async def test_an_interface_down_and_a_reboot_are_visible_in_the_values(lab: LabEndpoints) -> None:
    down = await collect(openssh(lab, "interface_down"))
    states = {link["interface"]: link["state"] for link in down.values["links"]}
    assert states["wan0"] == "DOWN"
    rebooted = await collect(openssh(lab, "after_reboot"))
    assert rebooted.values["uptime"]["uptime_s"] < 300


async def test_garbage_output_is_a_parse_error(lab: LabEndpoints) -> None:
    result = await collect(openssh(lab, "garbage"))
    assert not result.ok
    assert result.reason is Reason.PARSE_ERROR
    assert "cat /proc/uptime" in (result.detail or "")


async def test_a_device_that_stops_answering_is_a_timeout(lab: LabEndpoints) -> None:
    started = time.monotonic()
    result = await collect(openssh(lab, "hang", read_timeout_s=1.5))
    assert result.reason is Reason.TIMEOUT, result.detail
    assert time.monotonic() - started < 10


async def test_a_wrong_password_is_auth_failed(lab: LabEndpoints) -> None:
    result = await collect(openssh(lab, password=SecretSource(value="not-the-password")))
    assert not result.ok
    assert result.reason is Reason.AUTH_FAILED, result.detail


async def test_an_unknown_host_key_is_refused_unless_explicitly_accepted(lab: LabEndpoints, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    refused = await collect(openssh(lab, known_hosts_file=empty))
    assert refused.reason is Reason.MISCONFIGURED
    assert "accept_unknown" in (refused.detail or "")
    accepted = await collect(openssh(lab, known_hosts_file=empty, host_key_policy="accept_unknown"))
    assert accepted.ok, accepted.detail
    assert empty.read_text() == ""  # trusted for that session only, never written back


async def test_a_changed_host_key_is_auth_failed(lab: LabEndpoints) -> None:
    assert lab.run_dir is not None
    result = await collect(openssh(lab, known_hosts_file=lab.run_dir / "ssh" / "known_hosts_wrong"))
    assert result.reason is Reason.AUTH_FAILED
    assert "mismatch" in (result.detail or "")


async def test_a_missing_known_hosts_file_is_misconfigured(lab: LabEndpoints, tmp_path: Path) -> None:
    result = await collect(openssh(lab, known_hosts_file=tmp_path / "absent"))
    assert result.reason is Reason.MISCONFIGURED
    assert "known_hosts" in (result.detail or "")


async def test_a_closed_port_is_refused(lab: LabEndpoints) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind((LOOPBACK, 0))
        port = s.getsockname()[1]
    result = await collect(openssh(lab, port=port))
    assert result.reason is Reason.REFUSED, result.detail


async def test_one_session_serves_every_command_of_a_poll(lab: LabEndpoints) -> None:
    assert lab.run_dir is not None
    log = lab.run_dir / "ssh" / "sshd.log"
    before = log.read_text().count("Accepted password")
    result = await collect(openssh(lab))
    assert result.ok and len(result.values) == 2
    time.sleep(0.2)
    assert log.read_text().count("Accepted password") == before + 1


async def test_only_profile_commands_can_be_run_and_the_target_is_only_a_host(lab: LabEndpoints) -> None:
    unknown = await collect(openssh(lab, commands=("reboot",)))
    assert unknown.reason is Reason.MISCONFIGURED
    assert "no CLI command" in (unknown.detail or "")
    injected = await collect(openssh(lab), target="127.0.0.1 reboot")
    assert injected.reason is Reason.MISCONFIGURED
    one = await collect(openssh(lab, commands=("uptime",)))
    assert one.ok and set(one.values) == {"uptime"}


async def test_an_unknown_platform_is_misconfigured(lab: LabEndpoints) -> None:
    result = await collect(openssh(lab, platform="no_such_platform"))
    assert result.reason is Reason.MISCONFIGURED


async def test_a_missing_secret_env_is_misconfigured(lab: LabEndpoints, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIGIE_TEST_NO_SUCH_SECRET", raising=False)
    result = await collect(openssh(lab, password=SecretSource(env="VIGIE_TEST_NO_SUCH_SECRET")))
    assert result.reason is Reason.MISCONFIGURED
    assert "VIGIE_TEST_NO_SUCH_SECRET" in (result.detail or "")


# -- inside the namespace: the link is cut, then restored ---------------------------------------------------


async def test_a_cut_link_is_a_timeout_and_the_device_is_back_when_the_link_is(lab: LabEndpoints) -> None:
    require_root()
    config = openssh(lab, port=lab.ssh_ns_port, conn_timeout_s=2)
    up = await collect(config, lab.ns_host)
    assert up.ok, up.detail
    with link_down(lab.ns, lab.ns_if, lab):
        cut = await collect(config, lab.ns_host)
    assert cut.reason in (Reason.TIMEOUT, Reason.UNREACHABLE), cut.detail
    for _ in range(30):  # the veth carrier comes back within a few hundred ms
        back = await collect(config, lab.ns_host)
        if back.ok:
            break
        time.sleep(0.2)
    assert back.ok, back.detail


# -- fakenos (cisco_ios) --------------------------------------------------------------------------------------


async def test_fakenos_cisco_ios_own_outputs_parse(lab: LabEndpoints) -> None:
    result = await collect(fakenos(lab))
    assert result.ok, result.detail
    version = result.values["version"]
    assert version["hostname"] == "cpe-ios-1"
    assert isinstance(version["uptime"], int) and version["uptime"] > 0
    assert version["hardware"] == ["CSR1000V"]
    assert {i["interface"] for i in result.values["interfaces"]} >= {"Ethernet0/0", "Loopback0"}


@pytest.mark.parametrize("scenario", ["interface_down", "after_reboot"])
async def test_fakenos_serving_the_profile_fixtures(lab: LabEndpoints, scenario: str) -> None:
    result = await collect(fakenos(lab, scenario))
    assert result.ok, result.detail
    assert result.values["interfaces"] == expected("cisco_ios", "show ip interface brief", scenario)
    want = expected("cisco_ios", "show version", scenario)
    assert result.values["version"]["uptime"] == want["uptime"]
    assert result.values["version"]["reload_reason"] == want["reload_reason"]


async def test_fakenos_garbage_is_a_parse_error(lab: LabEndpoints) -> None:
    result = await collect(fakenos(lab, "garbage"))
    assert result.reason is Reason.PARSE_ERROR, result.detail


async def test_fakenos_wrong_password_is_auth_failed(lab: LabEndpoints) -> None:
    result = await collect(fakenos(lab, password=SecretSource(value="wrong")))
    assert result.reason is Reason.AUTH_FAILED, result.detail


def test_an_unexpected_error_is_translated_not_raised() -> None:
    error = translate(RuntimeError("boom"))
    assert error.reason is Reason.UNREACHABLE
    assert "RuntimeError" in str(error)


# -- fakenos (juniper_junos) ------------------------------------------------------------------------------------


def junos(lab: LabEndpoints, scenario: str = "builtin") -> SshConfig:
    assert lab.run_dir is not None
    return SshConfig(
        platform="juniper_junos",
        port=dict(lab.fakenos_junos_ports)[scenario],
        username=lab.fakenos_user,
        password=SecretSource(value="admin"),
        known_hosts_file=lab.run_dir / "ssh" / "known_hosts",
        conn_timeout_s=3,
        read_timeout_s=5,
    )


async def test_fakenos_junos_own_outputs_parse(lab: LabEndpoints) -> None:
    result = await collect(junos(lab))
    assert result.ok, result.detail
    assert result.values["uptime"]["boot_year"] == "2021"
    assert isinstance(result.values["uptime"]["load_average_1min"], float)
    links = {i["interface"]: i["link_status"] for i in result.values["interfaces"] if i["link_status"]}
    assert links["ge-0/0/0"] == "Up"


@pytest.mark.parametrize("scenario", ["interface_down", "after_reboot"])
async def test_fakenos_junos_serving_the_profile_fixtures(lab: LabEndpoints, scenario: str) -> None:
    result = await collect(junos(lab, scenario))
    assert result.ok, result.detail
    assert result.values["interfaces"] == expected("juniper_junos", "show interfaces", scenario)
    assert result.values["uptime"] == expected("juniper_junos", "show system uptime", scenario)


async def test_fakenos_junos_garbage_is_a_parse_error(lab: LabEndpoints) -> None:
    result = await collect(junos(lab, "garbage"))
    assert result.reason is Reason.PARSE_ERROR, result.detail
