"""Probe collectors. `COLLECTORS` is the only registry: one line per collector module.

The config schemas are derived from it (each class carries `kind` and `config_model`), so a new probe is
one new module plus one line here.
"""

from __future__ import annotations

from typing import Any

from collectors.icmp import IcmpCollector
from collectors.snmp import SnmpCollector
from collectors.ssh import SshCollector
from collectors.tcp import TcpCollector
from collectors.trace import TraceCollector
from collectors.udp import UdpCollector

COLLECTORS: dict[str, Any] = {
    IcmpCollector.kind: IcmpCollector,
    SnmpCollector.kind: SnmpCollector,
    SshCollector.kind: SshCollector,
    TcpCollector.kind: TcpCollector,
    UdpCollector.kind: UdpCollector,
    TraceCollector.kind: TraceCollector,
}
