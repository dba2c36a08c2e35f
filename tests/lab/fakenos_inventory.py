"""Write the fakenos inventory of the lab (tests/lab/services.d/20-ssh.sh): one cisco_ios device per scenario.

Usage: fakenos_inventory.py OUT_YAML HOST_KEY_FILE

cpe-ios-1 (port 6001) answers with fakenos' own cisco_ios outputs. The other devices answer the cisco_ios
profile's CLI commands with the recorded fixtures of one scenario (tests/device_profiles/cisco_ios/...).
Ports and scenarios are listed in tests/lab_support.py (LabEndpoints.fakenos).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from device_profiles.cli import CliSection, command_slug  # noqa: E402

SCENARIOS = {6002: "interface_down", 6003: "after_reboot", 6004: "garbage"}
USERNAME = PASSWORD = "admin"  # fakenos' cisco_ios enable secret is also "admin"


def main(out: Path, host_key: Path) -> None:
    profile = yaml.safe_load((REPO / "device_profiles" / "cisco_ios.yaml").read_text(encoding="utf-8"))
    cli = CliSection.model_validate(profile["cli"]) if profile.get("cli") else None
    commands = [spec.command for spec in cli.commands.values()] if cli else []
    fixtures = REPO / "tests" / "device_profiles" / "cisco_ios"
    hosts: dict[str, object] = {"cpe-ios-1": {"port": 6001, "platform": "cisco_ios"}}
    for n, (port, scenario) in enumerate(sorted(SCENARIOS.items()), start=2):
        overrides = {}
        for command in commands:
            raw = fixtures / command_slug(command) / f"{scenario}.raw"
            if raw.is_file():
                overrides[command] = {
                    "output": raw.read_text(encoding="utf-8").rstrip("\n"),
                    "help": f"recorded fixture ({scenario})",
                    "prompt": ["{base_prompt}>", "{base_prompt}#"],
                }
        host: dict[str, object] = {"port": port, "platform": "cisco_ios"}
        if overrides:
            host["nos"] = {"plugin": "cisco_ios", "configuration": {"commands": overrides}}
        hosts[f"cpe-ios-{n}"] = host
    inventory = {
        "default": {
            "username": USERNAME,
            "password": PASSWORD,
            "server": {
                "plugin": "ParamikoSshServer",
                "configuration": {"address": "127.0.0.1", "timeout": 1, "ssh_key_file": str(host_key)},
            },
        },
        "hosts": hosts,
    }
    out.write_text(yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
