"""`vigie profiles list|show|check`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agent.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["profiles", *args])
    return result.exit_code, result.output


def test_list_shows_every_platform() -> None:
    code, out = run("list")
    assert code == 0
    for platform in ("cisco_ios", "fortinet_fortigate", "vmware_esxi", "stormshield_sns"):
        assert platform in out


def test_show_gives_numeric_oids_and_json() -> None:
    code, out = run("show", "vmware_esxi", "--format", "json")
    assert code == 0
    data = json.loads(out)
    oids = {c["oid"] for c in data["resolved_groups"]["vmware_vms"]["columns"]}
    assert "1.3.6.1.4.1.6876.2.1.1.6" in oids  # vmwVmState
    code, out = run("show", "cisco_ios")
    assert code == 0 and "1.3.6.1.2.1.2.2.1.8" in out


def test_show_unknown_platform_fails_clearly() -> None:
    code, out = run("show", "nope")
    assert code == 1 and "unknown platform 'nope'" in out


def test_check_accepts_a_user_override_and_rejects_a_bad_file(tmp_path: Path) -> None:
    good = (Path(__file__).parents[2] / "device_profiles" / "linux_netsnmp.yaml").read_text()
    (tmp_path / "linux_netsnmp.yaml").write_text(good.replace("vendor: net-snmp", "vendor: ours"))
    code, out = run("check", "--dir", str(tmp_path))
    assert code == 0 and "from" in out and "linux_netsnmp" in out
    (tmp_path / "bad_box.yaml").write_text("platform: bad_box\nvendor: x\ndescription: y\nsnmp: {use: [nope]}\n")
    code, out = run("check", "--dir", str(tmp_path))
    assert code == 1
    assert "bad_box.yaml" in out and "unknown shared group 'nope'" in out and "Traceback" not in out
