"""`vigie probe`: the registry-driven manual probe, against the lab's real endpoints."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agent.cli import app
from collectors import COLLECTORS

runner = CliRunner()


def probe(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["probe", *args])
    return result.exit_code, result.output


def test_every_registered_kind_is_offered() -> None:
    code, out = probe("no-such-kind", "127.0.0.1")
    assert code == 2
    for kind in COLLECTORS:
        assert kind in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["icmp", "127.0.0.1", "-o", "bogus=1"], "unknown option 'bogus'"),
        (["icmp", "127.0.0.1", "-o", "count"], "expected key=value"),
        (["icmp", "127.0.0.1", "-o", "count=abc"], "count: Input should be a valid integer"),
        (["icmp", "127.0.0.1", "--community", "x"], "--community does not apply to icmp"),
        (["snmp", "127.0.0.1", "--platform", "cisco_ios"], "version 3 needs `user`"),
        (["snmp", "127.0.0.1", "-o", "oids=IF-MIB::ifDescr.1", "--snmp-version", "2c", "--community", "p"], "numeric"),
    ],
)
def test_bad_options_are_clear_messages_not_tracebacks(args: list[str], message: str) -> None:
    code, out = probe(*args)
    assert code == 2
    assert message in " ".join(out.split())
    assert "Traceback" not in out


@pytest.mark.lab
def test_icmp_json_has_ok_reason_and_measurements() -> None:
    code, out = probe("icmp", "127.0.0.1", "--count", "2", "-o", "interval_s=0.01", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert data["ok"] is True and data["reason"] is None
    assert data["values"]["packets_sent"] == 2 and len(data["values"]["rtts_ms"]) == 2


@pytest.mark.lab
def test_failed_probe_exits_1_with_its_reason() -> None:
    code, out = probe("icmp", "10.250.255.1", "--count", "1", "--timeout", "0.3", "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert (data["ok"], data["reason"]) == (False, "unreachable")


@pytest.mark.lab
def test_snmp_v3_table_output_from_the_simulator() -> None:
    code, out = probe(
        "snmp", "127.0.0.1", "--port", "1161", "--user", "simulator", "--auth-key", "auctoritas",
        "--priv-key", "privatus", "-o", "context=cisco_ios-interface_down", "--platform", "cisco_ios",
    )  # fmt: skip
    assert code == 0, out
    assert "OK" in out and "interfaces" in out and "lan0" in out and "down" in out


@pytest.mark.lab
def test_snmp_secret_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_TEST_COMMUNITY", "linux_netsnmp-normal")
    code, out = probe(
        "snmp", "127.0.0.1", "--port", "1161", "--snmp-version", "2c", "--community", "env:VIGIE_TEST_COMMUNITY",
        "-o", "oids=1.3.6.1.2.1.1.5.0", "--format", "json",
    )  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["values"]["oids"] == {"1.3.6.1.2.1.1.5.0": "vigie-linux-netsnmp"}
    assert "linux_netsnmp-normal" not in out
