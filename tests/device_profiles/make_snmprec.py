"""Write the synthetic SNMP fixtures: one .snmprec per platform, OID group and scenario.

    .venv/bin/python tests/device_profiles/make_snmprec.py

Layout: tests/device_profiles/<platform>/snmp/<group>/<scenario>.snmprec (snmpsim format `OID|TAG|VALUE`).
The values are ours (invented, deterministic): the real-world recordings stay in ../shared/fixtures and are
only read at test time. The lab (tests/lab/services.d/10-snmp.sh) merges the groups of one platform and
scenario into one snmpsim data file served as community / context `<platform>-<scenario>`.

Scenarios:
* normal: every interface up; uptime and 64-bit counters grow (snmpsim `numeric` variation) so rates are real;
* interface_down: interface 2 is oper down (admin up), with a recent ifLastChange;
* after_reboot: uptime of one minute, counters near zero;
* garbage: the first value of every group has the wrong SNMP type (a string where a number belongs...).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

from device_profiles import OidSpec, ResolvedProfile, ValueType, load_profiles  # noqa: E402

SCENARIOS = ("normal", "interface_down", "after_reboot", "garbage")
IF_ROWS = {1: "wan0", 2: "lan0", 3: "mgmt0"}  # 3 is administratively down in every scenario
UPTIME_NORMAL = 360_000_000  # 1000 h in centiseconds
UPTIME_REBOOT = 6_000  # 60 s
HC_RATE = 12_500  # octets/s on up interfaces: 100 kbit/s

SYS_DESCR = {
    "cisco_ios": "Cisco IOS Software [Dublin], Vigie synthetic C1111-8P, Version 17.12.4, RELEASE SOFTWARE (fc1)",
    "fortinet_fortigate": "vigie-fw-01",
    "juniper_junos": "Juniper Networks, Inc. mx204 internet router, kernel JUNOS 22.4R3, Vigie synthetic",
    "linux_netsnmp": "Linux vigie-host 6.1.0-28-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 x86_64",
    "mikrotik_routeros": "RouterOS RB5009UG+S+",
    "pfsense_opnsense": "pfSense vigie-fw.lan 2.7.2-RELEASE pfSense FreeBSD 14.0-CURRENT amd64",
    "stormshield_sns": "NS-BSD SN310A00000000 amd64",
    "vmware_esxi": "VMware ESXi 8.0.2 build-22380479 VMware, Inc. x86_64",
}


def rows_for(group: str) -> list[int]:
    return list(IF_ROWS) if group == "interfaces" else [1, 2]


def value(profile: ResolvedProfile, group: str, spec: OidSpec, idx: int | None, scenario: str) -> tuple[str, str]:
    """(tag, value) of one instance."""
    name, t = spec.name, spec.type
    up = idx != 3 and not (scenario == "interface_down" and idx == 2)
    reboot = scenario == "after_reboot"
    if name == "sysDescr":
        return "4", SYS_DESCR.get(profile.platform, f"{profile.profile.vendor} synthetic device")
    if name == "sysObjectID":
        prefixes = profile.profile.match.sys_object_id
        return "6", (prefixes[0] + ".4242") if prefixes else "1.3.6.1.4.1.12325.1.1.2.1.1"
    if name == "sysUpTime":
        return "67:numeric", f"rate=100,initial={UPTIME_REBOOT if reboot else UPTIME_NORMAL}"
    if name == "sysName":
        return "4", f"vigie-{profile.platform.replace('_', '-')}"
    if name == "ifAdminStatus":
        return "2", "2" if idx == 3 else "1"
    if name == "ifOperStatus":
        return "2", "1" if up else "2"
    if name == "ifLastChange":
        if scenario == "interface_down" and idx == 2:
            return "67", str(UPTIME_NORMAL - 3000)  # went down 30 s before the recording
        return "67", str(500 if reboot else 1000)
    if name in ("ifDescr", "ifName"):
        assert idx is not None
        return "4", IF_ROWS[idx]
    if name == "ifAlias":
        return "4", f"vigie test link {idx}"
    if name == "ifHighSpeed":
        return "66", "1000"
    if name in ("ifHCInOctets", "ifHCOutOctets"):
        initial = 1000 * (idx or 1) if reboot else 5_000_000_000 * (idx or 1)
        return "70:numeric", f"rate={HC_RATE if up else 0},initial={initial}"
    if name == "vmwVmState":
        return "4", "poweredOff" if idx == 2 else "poweredOn"
    if name == "vmwVmGuestState":
        return "4", "notRunning" if idx == 2 else "running"
    if name == "hrStorageType":
        return "6", "1.3.6.1.2.1.25.2.1.2" if idx == 1 else "1.3.6.1.2.1.25.2.1.4"  # hrStorageRam / hrStorageFixedDisk
    if name == "hrStorageDescr":
        return "4", "Physical memory" if idx == 1 else "/vmfs/volumes/datastore1"
    if name == "hrStorageAllocationUnits":
        return "2", "1024" if idx == 1 else "1048576"
    if name == "hrStorageSize":
        return "2", "8388608" if idx == 1 else "953869"
    if name == "hrStorageUsed":
        return "2", ("1048576" if reboot else "5242880") if idx == 1 else "512000"
    if t is ValueType.STRING:
        return "4", f"{name} {idx}" if idx is not None else f"{name} synthetic"
    if t is ValueType.ENUM:
        assert spec.enum is not None
        return "2", str(min(spec.enum))
    if t is ValueType.OID:
        return "6", "1.3.6.1.4.1.8072.3.2.10"
    if t is ValueType.TIMETICKS:
        return "67", "4200"
    if t is ValueType.COUNTER32:
        return "65", "0" if reboot else str(17 * (idx or 1))
    if t is ValueType.COUNTER64:
        return "70", "10" if reboot else str(10**9 * (idx or 1))
    if t is ValueType.IPADDRESS:
        return "64", "10.250.0.2"
    return ("66" if t is ValueType.GAUGE else "2"), str(7 + (idx or 0))


def garbage(spec: OidSpec) -> tuple[str, str]:
    """A value of the wrong SNMP type for `spec`."""
    if spec.type in (ValueType.STRING, ValueType.OID, ValueType.IPADDRESS):
        return "2", "-1"
    return "4", "not a number"


def records(profile: ResolvedProfile, group: str, scenario: str) -> list[str]:
    spec_group = profile.groups[group]
    out: list[tuple[tuple[int, ...], str]] = []
    first = True
    for spec in spec_group.scalars:
        tag, val = garbage(spec) if scenario == "garbage" and first else value(profile, group, spec, None, scenario)
        first = False
        out.append((tuple(map(int, spec.oid.split("."))), f"{spec.oid}|{tag}|{val}"))
    for spec in spec_group.columns:
        for idx in rows_for(group):
            if scenario == "garbage" and first:
                tag, val = garbage(spec)
            else:
                tag, val = value(profile, group, spec, idx, scenario)
            oid = f"{spec.oid}.{idx}"
            out.append((tuple(map(int, oid.split("."))), f"{oid}|{tag}|{val}"))
        first = False
    return [line for _, line in sorted(out)]


def main() -> None:
    count = 0
    for platform, profile in sorted(load_profiles().items()):
        for group in profile.groups:
            for scenario in SCENARIOS:
                path = HERE / platform / "snmp" / group / f"{scenario}.snmprec"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("\n".join(records(profile, group, scenario)) + "\n")
                count += 1
    print(f"wrote {count} fixtures")


if __name__ == "__main__":
    main()
