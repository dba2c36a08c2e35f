"""Probe collectors. `COLLECTORS` is the only registry: one line per collector module.

Each line names, as `"module:attribute"` strings, the collector class and its config schema. Nothing is
imported until it is used: `COLLECTORS[kind]` imports that collector's module (the class, with `kind` and
`config_model`), `config_model(kind)` imports only the module holding the schema (kept light: pydantic and
`collectors.base`). An agent therefore imports the collectors of the kinds it runs and no other — SNMP's
pysnmp (~10 MB resident) is loaded only when an SNMP probe is configured. The config schemas are derived
from the registry (`agent/config.py`), so a new probe is one new module plus one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

# kind: (collector class, its config_model). The schema's module must stay light (no network library).
_REGISTRY: dict[str, tuple[str, str]] = {
    "icmp": ("collectors.icmp:IcmpCollector", "collectors.icmp:IcmpConfig"),
    "snmp": ("collectors.snmp:SnmpCollector", "collectors.snmp_config:SnmpConfig"),
    "ssh": ("collectors.ssh:SshCollector", "collectors.ssh:SshConfig"),
    "tcp": ("collectors.tcp:TcpCollector", "collectors.tcp:TcpConfig"),
    "udp": ("collectors.udp:UdpCollector", "collectors.udp:UdpConfig"),
    "trace": ("collectors.trace:TraceCollector", "collectors.trace:TraceConfig"),
}


@cache
def _resolve(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class _Collectors(Mapping[str, Any]):
    """kind → collector class, imported on first access; `in`, `len` and iteration import nothing."""

    def __getitem__(self, kind: str) -> Any:
        cls = _resolve(_REGISTRY[kind][0])
        if cls.kind != kind or cls.config_model is not config_model(kind):
            raise RuntimeError(f"collectors registry: {kind!r} does not match {cls.__name__}")
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter(_REGISTRY)

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __contains__(self, kind: object) -> bool:
        return kind in _REGISTRY

    def __repr__(self) -> str:
        return f"COLLECTORS({', '.join(f'{k}={v[0]}' for k, v in _REGISTRY.items())})"


COLLECTORS: Mapping[str, Any] = _Collectors()


def config_model(kind: str) -> Any:
    """The config schema of `kind` without importing the collector itself (what config validation needs)."""
    return _resolve(_REGISTRY[kind][1])
