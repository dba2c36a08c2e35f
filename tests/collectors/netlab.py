"""Network faults for the scapy collector tests, on the lab path of services.d/30-services-ns.sh: cut a link,
drop packets with nftables in one namespace; every change is undone (and the routes a cut deleted restored)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from lab_support import REPO, LabEndpoints, require_root, restore_routes

AT = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=10)


@contextmanager
def link_down(ns: str | None, iface: str, lab: LabEndpoints) -> Iterator[None]:
    """`ip link set IFACE down` in namespace NS (None: the root namespace), then up again."""
    prefix = ["ip", "-n", ns] if ns else ["ip"]
    _run(*prefix, "link", "set", iface, "down")
    try:
        yield
    finally:
        _run(*prefix, "link", "set", iface, "up")
        restore_routes(lab)


@contextmanager
def nft_drop(ns: str, hook: str, match: str) -> Iterator[None]:
    """Drop what MATCH selects at HOOK (input, forward, prerouting) inside NS, in a table of its own."""
    chain = f"type filter hook {hook} priority -10; policy accept;\n  {match} drop"
    ruleset = f"table inet vigie_test {{\n chain c {{\n  {chain}\n }}\n}}\n"
    subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=ruleset, check=True, text=True, timeout=10)
    try:
        yield
    finally:
        _run("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "vigie_test")


def run_without_cap_net_raw(code: str) -> str:
    """Run CODE in a child that lacks CAP_NET_RAW (as root: drop it from the bounding set), return stdout."""
    argv = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        argv = ["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=REPO, env={**os.environ})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def require_raw_lab(lab: LabEndpoints) -> Path:
    require_root()
    assert lab.run_dir is not None
    return lab.run_dir
