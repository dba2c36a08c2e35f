"""`vigie influx setup|check`: the DBRP mapping a 2.x needs (against a FAKE 2.x on loopback: no real 2.x
can run here), the database of a 1.x (against the lab's real influxdb 1.6.7), and actionable errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.store.influx import InfluxError, InfluxQL, InfluxReader, setup
from tests.agent.fake_influxdb2 import FakeInfluxDB2State, fake_influxdb2
from tests.influx_support import influx_db, require_influxdb

__all__ = ["influx_db"]


def _inventory(tmp_path: Path, url: str, bucket: str = "vigie", org: str = "noc") -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(
        f"""version: 1
agent:
  id: central-1
  store: {{kind: influxdb, url: "{url}", token: {{env: VIGIE_TEST_INFLUX_TOKEN}}, org: {org}, bucket: {bucket},
           timeout_s: 3}}
""",
        encoding="utf-8",
    )
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- 2.x (fake) ---------------------------------------------------------------------------------------------


def test_setup_creates_the_dbrp_mapping_once() -> None:
    with fake_influxdb2() as (url, st):
        first = setup(url, "good-token", "noc", "vigie")
        assert (first.server, first.action, first.database, first.retention_policy) == (
            "2.x",
            "DBRP mapping created",
            "vigie",
            "autogen",
        )
        posts = [r for r in st.requests if r[0] == "POST"]
        assert len(posts) == 1
        _, path, _, body, auth = posts[0]
        assert path == "/api/v2/dbrps"
        assert auth == "Token good-token"
        assert body == {
            "orgID": "0a1b2c3d4e5f6071",
            "bucketID": "b0b1b2b3b4b5b6b7",
            "database": "vigie",
            "retention_policy": "autogen",
            "default": True,
        }
        again = setup(url, "good-token", "noc", "vigie")
        assert again.action == "DBRP mapping already present"
        assert len([r for r in st.requests if r[0] == "POST"]) == 1


def test_a_virtual_mapping_gets_a_real_one() -> None:
    state = FakeInfluxDB2State()
    state.dbrps.append(
        {
            "id": "v1",
            "database": "vigie",
            "retention_policy": "autogen",
            "bucketID": "b0b1b2b3b4b5b6b7",
            "virtual": True,
        }
    )
    with fake_influxdb2(state) as (url, _):
        assert setup(url, "good-token", "noc", "vigie").action == "DBRP mapping created"


def test_read_before_setup_says_run_setup_and_works_after() -> None:
    with fake_influxdb2() as (url, _):
        client = InfluxQL(url, "vigie", token="good-token")
        with pytest.raises(InfluxError) as err:
            InfluxReader(client).last_heartbeats()
        assert "vigie influx setup" in err.value.hint
        setup(url, "good-token", "noc", "vigie")
        assert InfluxReader(client).last_heartbeats() == {}
        client.close()


@pytest.mark.parametrize(
    ("token", "org", "bucket", "expect"),
    [
        ("bad-token", "noc", "vigie", "store.token"),
        ("good-token", "nope", "vigie", "store.org"),
        ("good-token", "noc", "nope", "influx bucket create -o noc -n nope"),
    ],
)
def test_setup_errors_say_what_to_change(token: str, org: str, bucket: str, expect: str) -> None:
    with fake_influxdb2() as (url, st):
        with pytest.raises(InfluxError) as err:
            setup(url, token, org, bucket)
        assert expect in err.value.hint
        assert not [r for r in st.requests if r[0] == "POST"]


def test_setup_refuses_a_database_mapped_to_another_bucket() -> None:
    state = FakeInfluxDB2State()
    state.dbrps.append({"id": "x1", "database": "vigie", "retention_policy": "autogen", "bucketID": "other"})
    with fake_influxdb2(state) as (url, _), pytest.raises(InfluxError) as err:
        setup(url, "good-token", "noc", "vigie")
    assert "--database" in err.value.hint and err.value.status == 409


def test_cli_setup_and_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_TEST_INFLUX_TOKEN", "good-token")
    runner = CliRunner()
    with fake_influxdb2() as (url, _):
        config = _inventory(tmp_path, url)
        before = runner.invoke(app, ["influx", "check", str(config)])
        assert before.exit_code == 1 and "vigie influx setup" in before.output
        done = runner.invoke(app, ["influx", "setup", str(config)])
        assert done.exit_code == 0, done.output
        assert "DBRP mapping created" in done.output
        after = runner.invoke(app, ["influx", "check", str(config)])
        assert after.exit_code == 0 and "InfluxQL read ok" in after.output
        monkeypatch.setenv("VIGIE_TEST_INFLUX_TOKEN", "bad-token")
        refused = runner.invoke(app, ["influx", "check", str(config)])
        assert refused.exit_code == 1 and "store.token" in refused.output
        assert "bad-token" not in refused.output


def test_unreachable_server_says_check_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_TEST_INFLUX_TOKEN", "t")
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(InfluxError) as err:
        setup(url, "t", "noc", "vigie", timeout_s=2)
    assert "store.url" in err.value.hint
    out = CliRunner().invoke(app, ["influx", "check", str(_inventory(tmp_path, url))])
    assert out.exit_code == 1 and "store.url" in out.output


def test_embedded_store_needs_no_setup(tmp_path: Path) -> None:
    config = tmp_path / "inv.yaml"
    config.write_text("version: 1\nagent: {id: a}\n", encoding="utf-8")
    out = CliRunner().invoke(app, ["influx", "setup", str(config)])
    assert out.exit_code == 1 and "not `kind: influxdb`" in out.output


# --- 1.x (the lab's real influxdb 1.6.7) --------------------------------------------------------------------


@pytest.mark.lab
def test_setup_on_influxdb_1x_creates_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = require_influxdb()
    name = f"vigie_setup_{tmp_path.name[-8:].replace('-', '_')}"
    monkeypatch.setenv("VIGIE_TEST_INFLUX_TOKEN", "unused-by-1x")
    config = _inventory(tmp_path, url, bucket=name)
    runner = CliRunner()
    missing = runner.invoke(app, ["influx", "check", str(config)])
    assert missing.exit_code == 1 and "CREATE DATABASE" in missing.output
    done = runner.invoke(app, ["influx", "setup", str(config)])
    assert done.exit_code == 0, done.output
    assert "1.6.7" in done.output
    with InfluxQL(url, name) as client:
        shown = client.query("SHOW DATABASES")
        assert [name] in shown[0][0].values
        assert runner.invoke(app, ["influx", "check", str(config)]).exit_code == 0
        client.command(f'DROP DATABASE "{name}"')


@pytest.mark.lab
def test_query_error_of_influxdb_1x_is_reported(influx_db: InfluxQL) -> None:
    with pytest.raises(InfluxError) as err:
        influx_db.query("SELECT nonsense(")
    assert "InfluxQL query failed" in err.value.message
