"""Device profiles: the bundled YAML validates strictly, user directories add or override platforms, and every
OID group has a fixture for every scenario (meta-test: untested profile data fails the build)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from device_profiles import BUNDLED_DIR, ProfileError, identify, load_profile, load_profiles

HERE = Path(__file__).resolve().parent
SCENARIOS = ("normal", "interface_down", "after_reboot", "garbage")
REQUIRED_PLATFORMS = {
    "cisco_ios",
    "fortinet_fortigate",
    "juniper_junos",
    "mikrotik_routeros",
    "stormshield_sns",
    "pfsense_opnsense",
    "linux_netsnmp",
    "vmware_esxi",
}
PROFILES = load_profiles()


def test_every_required_platform_has_a_profile() -> None:
    assert set(PROFILES) >= REQUIRED_PLATFORMS


@pytest.mark.parametrize("platform", sorted(PROFILES))
def test_every_profile_polls_uptime_and_interfaces(platform: str) -> None:
    groups = PROFILES[platform].groups
    assert "system" in groups and "interfaces" in groups
    oids = {s.oid for g in groups.values() for s in (*g.scalars, *g.columns)}
    assert "1.3.6.1.2.1.1.3.0" in oids  # sysUpTime: reboot evidence
    assert {"1.3.6.1.2.1.2.2.1.8", "1.3.6.1.2.1.31.1.1.1.6"} <= oids  # ifOperStatus, ifHCInOctets


@pytest.mark.parametrize("path", sorted(BUNDLED_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_numeric_oid_line_names_its_mib_object(path: Path) -> None:
    # snmp_exporter style: the number is the value, `MIB::object` in the comment says what it is
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if re.search(r"\boid: [0-9.]+", line) or re.search(r"^\s*- \{name: .*oid:", line):
            assert re.search(r"#\s*[A-Z][A-Za-z0-9-]*-MIB::\w+", line), f"{path.name}:{n}: no MIB::object comment"


def test_esxi_profile_covers_vm_state_cpu_memory_and_datastores() -> None:
    groups = PROFILES["vmware_esxi"].groups
    names = {s.name for g in groups.values() for s in (*g.scalars, *g.columns)}
    assert {"vmwVmState", "vmwVmCpus", "vmwVmMemSize", "hrStorageDescr", "hrStorageUsed", "hrProcessorLoad"} <= names


# --- meta-test: fixtures ----------------------------------------------------------------------------------------


def fixture_oids(path: Path) -> set[str]:
    return {line.split("|", 1)[0] for line in path.read_text().splitlines() if line.strip()}


@pytest.mark.parametrize(
    ("platform", "group"), [(p, g) for p in sorted(PROFILES) for g in PROFILES[p].groups], ids=lambda x: str(x)
)
def test_every_oid_group_has_a_fixture_for_every_scenario(platform: str, group: str) -> None:
    spec = PROFILES[platform].groups[group]
    for scenario in SCENARIOS:
        path = HERE / platform / "snmp" / group / f"{scenario}.snmprec"
        assert path.is_file(), f"missing fixture {path.relative_to(HERE)} (run make_snmprec.py)"
        oids = fixture_oids(path)
        for s in spec.scalars:
            assert s.oid in oids, f"{path.name}: no record for {group}.{s.name}"
        for c in spec.columns:
            assert any(o.startswith(c.oid + ".") for o in oids), f"{path.name}: no row for {group}.{c.name}"


def test_no_fixture_without_a_group() -> None:
    for path in HERE.glob("*/snmp/*/*.snmprec"):
        platform, group = path.parents[2].name, path.parent.name
        assert platform in PROFILES and group in PROFILES[platform].groups, f"orphan fixture {path}"


# --- identification -----------------------------------------------------------------------------------------------


def test_identify_prefers_the_longest_sysobjectid_prefix_then_sysdescr() -> None:
    assert identify(PROFILES, "1.3.6.1.4.1.9.1.1208", "") == "cisco_ios"
    assert identify(PROFILES, "1.3.6.1.4.1.12325.1.1.2.1.1", "pfSense fw 2.7.2-RELEASE") == "pfsense_opnsense"
    assert identify(PROFILES, "1.3.6.1.4.1.99999", "something else") is None


# --- strict loading and user directories ------------------------------------------------------------------------

GOOD = """
platform: acme_box
vendor: ACME
description: ACME test box
match: {sys_descr: ['^ACME']}
snmp:
  use: [system]
  groups:
    acme_temp:
      description: temperature
      scalars:
        - {name: acmeTemp, oid: 1.3.6.1.4.1.424242.1.0, type: gauge}   # ACME-MIB::acmeTemp.0
"""


def write(d: Path, name: str, text: str) -> Path:
    path = d / name
    path.write_text(text)
    return path


def test_user_directory_adds_a_platform(tmp_path: Path) -> None:
    write(tmp_path, "acme_box.yaml", GOOD)
    profiles = load_profiles(tmp_path)
    assert set(profiles) >= REQUIRED_PLATFORMS
    assert set(profiles["acme_box"].groups) == {"system", "acme_temp"}


def test_user_directory_overrides_a_bundled_platform(tmp_path: Path) -> None:
    write(tmp_path, "cisco_ios.yaml", GOOD.replace("acme_box", "cisco_ios"))
    profiles = load_profiles(tmp_path)
    assert profiles["cisco_ios"].profile.vendor == "ACME"
    assert profiles["cisco_ios"].source == str(tmp_path / "cisco_ios.yaml")


INVALID = [
    ("oid: 1.3.6.1.4.1.424242.1.0", "oid: ACME-MIB::acmeTemp.0", "not a numeric OID"),
    ("type: gauge", "type: float", "snmp.groups.acme_temp.scalars.0.type"),
    ("vendor: ACME", "vendor: ACME\ncolour: red", "colour: Extra inputs are not permitted"),
    ("use: [system]", "use: [nope]", "unknown shared group 'nope'"),
    ("platform: acme_box", "platform: other_box", "must match the file name"),
    ("type: gauge}", "type: gauge, rate: true}", "rate is only for counter32/counter64"),
    ("match: {sys_descr: ['^ACME']}", "match: {sys_descr: ['(unclosed']}", "invalid regular expression"),
]


@pytest.mark.parametrize(("old", "new", "message"), INVALID, ids=[m for _, _, m in INVALID])
def test_invalid_profiles_are_rejected_with_the_file_and_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    path = write(tmp_path, "acme_box.yaml", GOOD.replace(old, new))
    with pytest.raises(ProfileError, match=re.escape(message)) as info:
        load_profiles(tmp_path)
    assert str(path) in str(info.value)


def test_broken_yaml_and_missing_directory_are_profile_errors(tmp_path: Path) -> None:
    write(tmp_path, "acme_box.yaml", "platform: [unclosed")
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_profile(tmp_path / "acme_box.yaml")
    with pytest.raises(ProfileError, match="does not exist"):
        load_profiles(tmp_path / "nope")
