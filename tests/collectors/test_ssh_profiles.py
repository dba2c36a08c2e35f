"""The profiles' CLI data: every command has a recorded fixture per scenario, each parses to its expectation,
and every template of ours ends in a catch-all `-> Error` rule (ntc-templates' rule)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from device_profiles import load_profiles
from device_profiles.cli import (
    NTC,
    TEMPLATES_DIR,
    CliOutputError,
    CliRefusedError,
    CliSection,
    command_slug,
    parse_duration_s,
    parse_output,
)

FIXTURES = Path(__file__).resolve().parents[1] / "device_profiles"
SCENARIOS = ("normal", "interface_down", "after_reboot", "garbage")
PROFILES = {name: rp.profile.cli for name, rp in load_profiles().items() if rp.profile.cli is not None}
CASES = [
    (platform, name, scenario)
    for platform, cli in sorted(PROFILES.items())
    for name in cli.commands
    for scenario in SCENARIOS
]


def test_the_ssh_platforms_have_cli_sections() -> None:
    assert {"cisco_ios", "linux_netsnmp"} <= set(PROFILES)


@pytest.mark.parametrize(("platform", "name", "scenario"), CASES, ids=["/".join(c) for c in CASES])
def test_every_command_has_a_fixture_per_scenario_that_parses_to_its_expectation(
    platform: str, name: str, scenario: str
) -> None:
    cli = PROFILES[platform]
    spec = cli.commands[name]
    folder = FIXTURES / platform / command_slug(spec.command)
    raw, expected = folder / f"{scenario}.raw", folder / f"{scenario}.yml"
    assert raw.is_file(), f"missing fixture {raw}"
    assert expected.is_file(), f"missing expectation {expected}"
    want = yaml.safe_load(expected.read_text(encoding="utf-8"))
    text = raw.read_text(encoding="utf-8")
    if "error" in want:
        errors = {"parse_error": CliOutputError, "misconfigured": CliRefusedError}
        with pytest.raises(errors[want["error"]]):
            parse_output(cli, spec, text)
    else:
        assert parse_output(cli, spec, text) == want["parsed"]


def test_garbage_is_a_parse_error_for_every_command() -> None:
    for platform, cli in PROFILES.items():
        for spec in cli.commands.values():
            raw = FIXTURES / platform / command_slug(spec.command) / "garbage.raw"
            with pytest.raises(CliOutputError):
                parse_output(cli, spec, raw.read_text(encoding="utf-8"))


def test_every_template_of_ours_ends_in_a_catch_all_error_rule() -> None:
    templates = sorted(TEMPLATES_DIR.glob("*.textfsm"))
    assert templates
    for path in templates:
        rules = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert re.fullmatch(r"\^\.\*\s+->\s+Error(\s+.*)?", rules[-1]), f"{path.name}: last rule {rules[-1]!r}"


def test_every_template_named_by_a_profile_exists_and_every_template_is_used() -> None:
    named = {spec.template for cli in PROFILES.values() for spec in cli.commands.values() if spec.template != NTC}
    on_disk = {p.name for p in TEMPLATES_DIR.glob("*.textfsm")}
    assert named <= on_disk, f"missing templates: {named - on_disk}"
    assert on_disk <= named, f"templates no profile uses: {on_disk - named}"
    for platform, cli in PROFILES.items():
        for spec in cli.commands.values():
            if spec.template != NTC:
                assert spec.template.startswith(f"{platform}_"), spec.template


@pytest.mark.parametrize(
    "command",
    ["show version\nreload", "show version; reload", " show version", "show\x00version", "show version\r"],
)
def test_a_profile_command_is_one_printable_line(command: str) -> None:
    if ";" in command:  # a literal `;` is printable text for the device, not a shell separator
        CliSection.model_validate({"device_type": "cisco_ios", "commands": {"x": {"command": command}}})
        return
    with pytest.raises(ValueError, match="one line of printable ASCII"):
        CliSection.model_validate({"device_type": "cisco_ios", "commands": {"x": {"command": command}}})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1 day, 17 hours, 32 minutes", 149520),
        ("4 minutes", 240),
        ("2 years, 1 week, 3 days, 1 hour, 1 minute", 2 * 31536000 + 7 * 86400 + 3 * 86400 + 3600 + 60),
        ("3 days,  4:05", 3 * 86400 + 4 * 3600 + 5 * 60),
        ("1209637.42", 1209637),
        ("2 hrs", 7200),  # FreeBSD uptime (pfSense / OPNsense)
        ("0 days, 22 hours, 59 minutes", 82740),  # FortiOS
    ],
)
def test_uptime_text_becomes_seconds(text: str, seconds: int) -> None:
    assert parse_duration_s(text) == seconds


def test_a_typed_field_that_does_not_convert_is_a_parse_error() -> None:
    cli = CliSection.model_validate(
        {
            "device_type": "linux",
            "commands": {
                "u": {
                    "command": "cat /proc/uptime",
                    "template": "linux_netsnmp_cat_proc_uptime.textfsm",
                    "records": "one",
                    "fields": {"uptime_s": "duration_s"},
                }
            },
        }
    )
    assert parse_output(cli, cli.commands["u"], "12.5 3.0\n") == {"uptime_s": 12, "idle_s": "3.0"}
    with pytest.raises(CliOutputError, match="0 record"):
        parse_output(cli, cli.commands["u"], "\n")
