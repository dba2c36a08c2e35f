"""Build snmpsim's data directory for the lab: one file per (platform, scenario) merged from the per-group
fixtures in tests/device_profiles/<platform>/snmp/<group>/<scenario>.snmprec, served as community (v2c) and
context (v3) `<platform>-<scenario>`; plus the shared real-world recordings (../shared/fixtures/snmprec),
copied into the run directory only (never into the repository), served under their own stem.

Usage: build_snmpsim_data.py DATA_DIR [SHARED_SNMPREC_DIR]
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "device_profiles"


def oid_key(line: str) -> tuple[int, ...]:
    return tuple(int(x) for x in line.split("|", 1)[0].split("."))


def main(data: Path, shared: Path | None) -> None:
    data.mkdir(parents=True, exist_ok=True)
    merged: dict[str, dict[tuple[int, ...], str]] = {}
    for path in sorted(FIXTURES.glob("*/snmp/*/*.snmprec")):
        platform = path.parents[2].name
        stem = f"{platform}-{path.stem}"
        for line in path.read_text().splitlines():
            if line.strip():
                merged.setdefault(stem, {})[oid_key(line)] = line
    for stem, lines in merged.items():
        (data / f"{stem}.snmprec").write_text("\n".join(lines[k] for k in sorted(lines)) + "\n")
    copied = 0
    if shared is not None and shared.is_dir():
        for path in sorted(shared.glob("*.snmprec")):
            shutil.copyfile(path, data / path.name)
            copied += 1
    print(f"snmpsim data: {len(merged)} synthetic, {copied} shared recordings", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
