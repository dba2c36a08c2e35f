"""Write the fakenos inventory of the lab (tests/lab/services.d/20-ssh.sh): per platform, one device with
fakenos' own outputs and one per recorded scenario.

Usage: fakenos_inventory.py OUT_YAML HOST_KEY_FILE

cisco_ios on 127.0.0.1:6001-6004 and juniper_junos on 6005-6008: the first port answers with fakenos' own
outputs, the next three answer the profile's CLI commands with the recorded fixtures of one scenario
(tests/device_profiles/<platform>/<command>/<scenario>.raw). Mirrored in tests/lab_support.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from device_profiles.cli import CliSection, command_slug  # noqa: E402

PLATFORMS = {"cisco_ios": (6001, "cpe-ios"), "juniper_junos": (6005, "pe-junos")}
SCENARIOS = ("builtin", "interface_down", "after_reboot", "garbage")
USERNAME = PASSWORD = "admin"  # fakenos' cisco_ios enable secret is also "admin"


def _commands(platform: str) -> list[str]:
    profile = yaml.safe_load((REPO / "device_profiles" / f"{platform}.yaml").read_text(encoding="utf-8"))
    cli = CliSection.model_validate(profile["cli"]) if profile.get("cli") else None
    return [spec.command for spec in cli.commands.values()] if cli else []


def main(out: Path, host_key: Path) -> None:
    hosts: dict[str, object] = {}
    for platform, (first_port, name) in PLATFORMS.items():
        fixtures = REPO / "tests" / "device_profiles" / platform
        commands = _commands(platform)
        for n, scenario in enumerate(SCENARIOS):
            host: dict[str, object] = {"port": first_port + n, "platform": platform}
            overrides = {}
            for command in commands if scenario != "builtin" else []:
                raw = fixtures / command_slug(command) / f"{scenario}.raw"
                if raw.is_file():
                    overrides[command] = {
                        "output": raw.read_text(encoding="utf-8").rstrip("\n"),
                        "help": f"recorded fixture ({scenario})",
                        "prompt": ["{base_prompt}>", "{base_prompt}#"],
                    }
            if overrides:
                host["nos"] = {"plugin": platform, "configuration": {"commands": overrides}}
            hosts[f"{name}-{n + 1}"] = host
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
