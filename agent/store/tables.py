"""The tables in a probe's values as points: one `vigie_interface` point per interface row, one `vigie_vm`
point per virtual machine row (docs/store.md, "Interfaces and virtual machines").

`schema.probe_fields` keeps only the scalars of a probe run (one nested level): the SNMP collector's
table rows (`values["groups"][group]["rows"][index]`) are not fields of `vigie_probe`. This module reads
those rows by their column names, whatever group of the device profile they come from, so a user profile
that walks IF-MIB or VMWARE-VMINFO-MIB under another group name gives the same points:

* an interface row has `ifOperStatus`, `ifAdminStatus` or a traffic counter rate; its `ifname` tag is
  `ifName`, else `ifDescr`, else the row index. Rates are the collector's (`collectors.snmp`: the delta of
  two polls of the same counter, a Counter32 wrap added back, a Counter64 that went back or a reboot giving
  no rate): a row without a rate (first poll, reset, reboot) has no `in_bps` / `out_bps` field, never a
  zero. 64-bit `ifHC*Octets` rates are preferred, 32-bit `if*Octets` rates (a user profile) are the fallback.
* a VM row has `vmwVmState`; its tags are the display name (`vm`) and the row index (`vmid`: recordings
  show display names that are not unique, e.g. anonymised ones).

Every field keeps one type forever (`INTERFACE_FIELDS`, `VM_FIELDS`): states are integers 0/1 (a state
timeline and `last()` read them), measures are floats. A row without any field gives no point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from agent.store import schema
from agent.store.schema import Record

# tags (all strings) besides the device's identity (client, site, service, agent, device)
DEVICE_TAGS = (*schema.SERVICE_TAGS, "agent", "device")
INTERFACE_TAGS = (*DEVICE_TAGS, "ifname")
VM_TAGS = (*DEVICE_TAGS, "vm", "vmid")

INTERFACE_FIELDS: dict[str, type] = {
    "oper_up": int,  # 1 when ifOperStatus is up, 0 for any other status (down, lowerLayerDown, dormant, …)
    "admin_up": int,  # 1 when ifAdminStatus is up
    "in_bps": float,  # bits/s received, from the octet counter delta between two polls
    "out_bps": float,  # bits/s sent
    "in_errors_ps": float,  # ifInErrors per second
    "out_errors_ps": float,  # ifOutErrors per second
    "in_discards_ps": float,  # ifInDiscards per second
    "out_discards_ps": float,  # ifOutDiscards per second
    "speed_bps": float,  # ifHighSpeed (Mbit/s) × 10⁶
}
VM_FIELDS: dict[str, type] = {
    "power_on": int,  # 1 when vmwVmState is powered on
    "guest_running": int,  # 1 when vmwVmGuestState is running (VMware Tools answer)
    "vcpus": int,  # vmwVmCpus
    "mem_bytes": float,  # vmwVmMemSize (MB) × 2²⁰
}

_INTERFACE_MARKERS = ("ifOperStatus", "ifAdminStatus", "ifHCInOctets_rate", "ifInOctets_rate")
_VM_MARKERS = ("vmwVmState",)
MB = 2**20


def _first(row: Mapping[str, Any], *columns: str) -> Any:
    """The first column of `row` that has a value (None when none has)."""
    return next((row[c] for c in columns if row.get(c) is not None), None)


def _is(value: Any, *words: str) -> int | None:
    """1 when an enum / state text is one of `words` (case and spaces ignored), 0 when it is another, None
    when absent. ESXi writes `poweredOn` in its MIB and recordings show `powered on`."""
    if value is None:
        return None
    return int(str(value).replace(" ", "").lower() in words)


def _scaled(value: Any, factor: float) -> float | None:
    return None if value is None else float(value) * factor


def interface_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "oper_up": _is(row.get("ifOperStatus"), "up"),
        "admin_up": _is(row.get("ifAdminStatus"), "up"),
        "in_bps": _scaled(_first(row, "ifHCInOctets_rate", "ifInOctets_rate"), 8),
        "out_bps": _scaled(_first(row, "ifHCOutOctets_rate", "ifOutOctets_rate"), 8),
        "in_errors_ps": row.get("ifInErrors_rate"),
        "out_errors_ps": row.get("ifOutErrors_rate"),
        "in_discards_ps": row.get("ifInDiscards_rate"),
        "out_discards_ps": row.get("ifOutDiscards_rate"),
        "speed_bps": _scaled(row.get("ifHighSpeed"), 1e6),
    }


def vm_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "power_on": _is(row.get("vmwVmState"), "poweredon"),
        "guest_running": _is(row.get("vmwVmGuestState"), "running"),
        "vcpus": row.get("vmwVmCpus"),
        "mem_bytes": _scaled(row.get("vmwVmMemSize"), MB),
    }


def _rows(values: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    groups = values.get("groups")
    if not isinstance(groups, Mapping):
        return
    for group in groups.values():
        rows = group.get("rows") if isinstance(group, Mapping) else None
        if isinstance(rows, Mapping):
            yield from ((str(i), r) for i, r in rows.items() if isinstance(r, Mapping))


def interface_tags(index: str, row: Mapping[str, Any]) -> dict[str, str]:
    return {"ifname": str(_first(row, "ifName", "ifDescr") or index)}


def vm_tags(index: str, row: Mapping[str, Any]) -> dict[str, str]:
    return {"vm": str(_first(row, "vmwVmDisplayName") or index), "vmid": index}


@dataclass(frozen=True)
class Table:
    """How rows become points: a row is this table's when one of `markers` has a value."""

    measurement: str
    markers: tuple[str, ...]
    types: Mapping[str, type]
    fields: Callable[[Mapping[str, Any]], dict[str, Any]]
    tags: Callable[[str, Mapping[str, Any]], dict[str, str]]

    def record(self, device: Mapping[str, str], index: str, row: Mapping[str, Any], time_ms: int) -> Record | None:
        if not any(row.get(m) is not None for m in self.markers):
            return None
        fields = {k: self.types[k](v) for k, v in self.fields(row).items() if v is not None}
        return schema.make(self.measurement, {**device, **self.tags(index, row)}, fields, time_ms) if fields else None


TABLES = (
    Table(schema.INTERFACE, _INTERFACE_MARKERS, INTERFACE_FIELDS, interface_fields, interface_tags),
    Table(schema.VM, _VM_MARKERS, VM_FIELDS, vm_fields, vm_tags),
)


def table_records(ids: Mapping[str, str], values: Mapping[str, Any], time_ms: int) -> list[Record]:
    """The interface and VM points of one probe run (`ids`: the sample's tags; `time_ms`: its slot)."""
    device = {k: ids[k] for k in DEVICE_TAGS if k in ids}
    points = (t.record(device, index, row, time_ms) for index, row in _rows(values) for t in TABLES)
    return [p for p in points if p is not None]
