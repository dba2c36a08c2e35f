"""`sla/` is the functional core: it imports nothing of ours, no I/O, network, clock or logging module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SLA = Path(__file__).resolve().parents[2] / "sla"
FORBIDDEN_MODULES = {
    "agent",
    "collectors",
    "device_profiles",
    "os",
    "io",
    "pathlib",
    "socket",
    "asyncio",
    "subprocess",
    "time",
    "logging",
    "shutil",
    "tempfile",
    "sqlite3",
    "urllib",
    "http",
    "requests",
    "httpx",
    "pysnmp",
    "netmiko",
    "icmplib",
    "scapy",
    "influxdb_client",
    "apscheduler",
    "threading",
    "multiprocessing",
    "random",
    "sys",
}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "open", "monotonic", "perf_counter", "print", "input"}


def modules() -> list[Path]:
    return sorted(SLA.glob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.name)
def test_sla_module_imports_no_io_clock_network_or_logging(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{path.name}:{node.lineno} imports {name}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.name)
def test_sla_module_reads_no_clock_and_opens_nothing(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"


def test_the_layering_check_sees_every_sla_module() -> None:
    assert {p.name for p in modules()} >= {"calendars.py", "qualify.py", "gtr.py", "statement.py", "profiles.py"}
