"""The inventory: strict, frozen, every error with its path and line; secrets never in clear."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.config import ConfigError, load_inventory, parse_inventory
from collectors.icmp import IcmpConfig
from collectors.snmp import SnmpConfig

HERE = Path(__file__).parent
REPO = HERE.parent.parent
EXAMPLE = REPO / "agent" / "examples" / "inventory.yaml"

# invalid file → (line, path, message substring): blackbox testdata style
INVALID = {
    "literal_secret.yaml": (14, "credentials.snmp.community.value", "secret in clear"),
    "unknown_kind.yaml": (14, "probes[0]", "'telnet'"),
    "unknown_key.yaml": (3, "agent.spool.colour", "Extra inputs are not permitted"),
    "collector_config.yaml": (17, "probes[0].config.count", "greater than or equal to 1"),
    "bad_contract.yaml": (8, "services[0].contract", "'internett' is not a contract"),
    "duplicate_probe.yaml": (7, "services[0]", "probe name: 'ping' appears more than once"),
    "duplicate_key.yaml": (2, "agent", "duplicate key"),
    "jitter.yaml": (14, "probes[0]", "jitter_s: 6.0 must be below half of interval_s"),
    "not_yaml.yaml": (None, "", "not valid YAML"),
    "recursive_alias.yaml": (None, "", "recursive alias"),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_each_invalid_inventory_is_reported_with_its_line_and_path(name: str) -> None:
    line, path, message = INVALID[name]
    with pytest.raises(ConfigError) as err:
        load_inventory(HERE / "invalid" / name)
    text = str(err.value)
    assert message in text
    assert path in text
    if line is not None:
        assert f"{name}:{line}: " in text


def test_the_shipped_example_loads_and_derives_probe_configs_from_the_registry() -> None:
    inv = load_inventory(EXAMPLE).inventory
    probes = {p.id: p for p in inv.probes()}
    snmp = probes["acme/acme-lyon/acme-lyon-internet/snmp-cpe"]
    assert isinstance(snmp.probe.config, SnmpConfig)
    assert snmp.probe.config.platform == "cisco_ios"  # from the device
    assert snmp.probe.config.user == "vigie"  # from the device's credentials
    assert snmp.probe.config.auth_key.env == "ACME_SNMP_AUTH"
    ping = probes["acme/acme-lyon/acme-lyon-internet/icmp-isp-gw"]
    assert isinstance(ping.probe.config, IcmpConfig) and ping.probe.config.count == 5
    assert ping.target == "198.51.100.1"


def test_the_inventory_is_frozen() -> None:
    inv = load_inventory(EXAMPLE).inventory
    with pytest.raises(ValidationError):
        inv.agent.id = "other"  # type: ignore[misc]


def test_every_error_is_listed_not_only_the_first() -> None:
    text = (HERE / "invalid" / "collector_config.yaml").read_text().replace("contract: internet", "contract: nope")
    with pytest.raises(ConfigError) as err:
        parse_inventory(text, "two.yaml")
    assert len(err.value.errors) == 2


def test_a_secret_never_appears_in_an_error_message() -> None:
    text = (HERE / "invalid" / "literal_secret.yaml").read_text().replace("public", "hunter2-s3cret")
    with pytest.raises(ConfigError) as err:
        parse_inventory(text, "s.yaml")
    assert "hunter2" not in str(err.value)


def test_sites_belong_to_their_agent_only() -> None:
    text = EXAMPLE.read_text().replace("agent: edge-lyon-01\n", "agent: edge-paris\n")
    inv = parse_inventory(text, "x.yaml")
    assert list(inv.probes(agent="edge-lyon-01")) == []
    assert len(list(inv.probes(agent="edge-paris"))) == 4


def test_config_check_exits_non_zero_and_prints_each_error() -> None:
    cli = [sys.executable, "-c", "from agent.cli import main; main()", "config", "check"]
    bad = subprocess.run([*cli, str(HERE / "invalid" / "bad_contract.yaml")], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "bad_contract.yaml:8: clients[0].sites[0].services[0].contract" in bad.stderr
    good = subprocess.run([*cli, str(EXAMPLE)], capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert "4 probe(s)" in good.stdout
