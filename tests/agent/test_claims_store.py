"""`vigie claims build --inventory`: claims from the store, the inventory and the ledger.

- Issue #6: the month read back from InfluxDB (the lab's real influxd 1.6.7, through InfluxQL) gives exactly
  the claim the embedded store gives on the same points: byte-identical JSON, same digest.
- A claim from the store equals the claim from the equivalent case files (same outages, same ledger).
- Bad store options are refused with a clear message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from agent.casefile import ServiceIn
from agent.claims.build import annex_digest
from agent.cli.claims import app
from agent.clock import FakeClock
from agent.config import Inventory, parse_inventory
from agent.ledger import Kind, Ledger, Record
from agent.store import schema
from agent.store.influx import InfluxQL
from agent.store.schema import Record as Point
from agent.store.sqlite import SqliteStore
from tests.agent.test_claims import pdf_pages, squash
from tests.influx_support import influx_db, influxdb_url

__all__ = ["influx_db"]

MONTH = "2026-10"
TODAY = "2026-11-20"
SERVICES = """
  - id: acme
    name: ACME Industries
    sites:
      - id: acme-lyon
        name: Lyon HQ
        agent: edge-lyon
        services:
          - id: acme-lyon-internet
            contract: internet
            monthly_fee_eur: 450.00
            devices: [{name: cpe, address: 192.0.2.1, probes: [{kind: icmp}]}]
          - id: acme-lyon-vga
            contract: vga
            monthly_fee_eur: 120.00
            access_type: analog
            gtr_option: 6h_business
            devices: [{name: voice, address: 192.0.2.10, probes: [{kind: icmp}]}]
      - id: acme-paris
        name: Paris
        services:
          - id: acme-paris-sdsl
            contract: internet
            monthly_fee_eur: 120.00
            devices: [{name: cpe, address: 192.0.2.20, probes: [{kind: icmp}]}]
          - id: acme-paris-new
            contract: internet
            monthly_fee_eur: 99.00
            in_service_from: 2026-11-10
            devices: [{name: cpe, address: 192.0.2.21, probes: [{kind: icmp}]}]
notifications:
  from: noc@acme.example
  clients:
    acme: {declarant: Jeanne Martin, contact: "Paul Durand, 06 12 34 56 78", address: "12 rue des Lilas, Lyon"}
"""


def inventory_text(store: str) -> str:
    return f"version: 1\nagent:\n  id: central-1\n  store: {store}\nclients:{SERVICES}"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# (service, down at, up at): long outages, a microcut, one across the month start, one across its end,
# and changes well after the month (must not change the claim).
OUTAGES = [
    ("acme-lyon-internet", "2026-09-30T23:00:00+02:00", "2026-10-01T03:00:00+02:00"),
    ("acme-lyon-internet", "2026-10-14T10:00:00+02:00", "2026-10-14T13:00:00+02:00"),
    ("acme-lyon-internet", "2026-10-20T09:00:00+02:00", "2026-10-20T10:00:00+02:00"),
    ("acme-lyon-internet", "2026-10-22T09:00:00+02:00", "2026-10-22T09:00:40+02:00"),
    ("acme-lyon-internet", "2026-10-31T20:00:00+01:00", "2026-11-01T02:00:00+01:00"),
    ("acme-lyon-vga", "2026-10-06T09:00:00+02:00", "2026-10-06T19:30:00+02:00"),
    ("acme-lyon-vga", "2026-11-04T09:00:00+01:00", "2026-11-04T12:00:00+01:00"),
    ("acme-paris-sdsl", "2026-10-27T14:00:00+01:00", "2026-10-27T14:30:00+01:00"),
]
SITES = {"acme-lyon-internet": "acme-lyon", "acme-lyon-vga": "acme-lyon", "acme-paris-sdsl": "acme-paris"}


def points() -> list[Point]:
    out = []
    for service in sorted(SITES):
        ids = {"client": "acme", "site": SITES[service], "service": service, "agent": "edge-lyon"}
        out.append(schema.state(ids=ids, state="up", source="edge", time_ms=schema.ms(at("2026-03-01T00:00:00+01:00"))))
        # the central role's own view must not leak into the claim
        out.append(schema.state(ids=ids, state="unknown", source="central", time_ms=schema.ms(at(TODAY + "T00:00Z"))))
    for service, down, up in OUTAGES:
        ids = {"client": "acme", "site": SITES[service], "service": service, "agent": "edge-lyon"}
        out.append(schema.state(ids=ids, state="down", source="edge", time_ms=schema.ms(at(down)), cause="icmp_loss"))
        out.append(schema.state(ids=ids, state="up", source="edge", time_ms=schema.ms(at(up))))
    return out


def write_ledger(path: Path) -> None:
    """An e-mail ticket on the VGA outage (restored), a phone ticket confirmed in writing on the internet
    outage, and a client-wide accepted exclusion."""
    with Ledger(path, FakeClock(datetime(2026, 11, 2, tzinfo=UTC))) as book:
        scope = {"client": "acme", "site": "acme-lyon"}
        book.append(
            Record(
                Kind.TICKET_OPEN,
                "VGA-5538",
                {"opened_at": "2026-10-06T09:20:00+02:00", "channel": "email"},
                service="acme-lyon-vga",
                **scope,
            )
        )
        book.append(Record(Kind.TICKET_RESTORE, "VGA-5538", {"restored_at": "2026-10-06T19:40:00+02:00"}))
        book.append(
            Record(
                Kind.TICKET_OPEN,
                "INT-77",
                {"opened_at": "2026-10-14T10:10:00+02:00", "channel": "phone"},
                service="acme-lyon-internet",
                **scope,
            )
        )
        book.append(Record(Kind.TICKET_CONFIRM, "INT-77", {"confirmed_at": "2026-10-14T10:25:00+02:00"}))
        book.append(Record(Kind.TICKET_RESTORE, "INT-77", {"restored_at": "2026-10-14T13:05:00+02:00"}))
        x = book.append(
            Record(
                Kind.EXCLUSION_ADD,
                "X?",
                {"cause": "power_cut", "start": "2026-10-20T09:00:00+02:00", "end": "2026-10-20T10:00:00+02:00"},
                client="acme",
            )
        )
        book.append(Record(Kind.EXCLUSION_ACCEPT, x.subject, {}))
        book.append(
            Record(
                Kind.TICKET_OPEN,
                "INT-80",
                {"opened_at": "2026-10-20T09:05:00+02:00", "channel": "email"},
                service="acme-lyon-internet",
                **scope,
            )
        )


def build(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["build", "--month", MONTH, "--today", TODAY, "--jobs", "1", *args])
    return result.exit_code, result.output


def claim_json(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / f"acme-{MONTH}.json").read_text(encoding="utf-8")))


@pytest.fixture
def embedded(tmp_path: Path) -> tuple[Path, Path]:
    store = SqliteStore(tmp_path / "vigie.db")
    store.write(points())
    store.close()
    write_ledger(tmp_path / "ledger.sqlite")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(inventory_text("{kind: embedded, path: vigie.db}"), encoding="utf-8")
    return inventory, tmp_path / "ledger.sqlite"


@pytest.mark.lab
def test_claims_from_influxdb_equal_claims_from_the_embedded_store(
    influx_db: InfluxQL, embedded: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inventory, ledger = embedded
    influx_db.write(points())
    monkeypatch.setenv("VIGIE_TEST_INFLUX_TOKEN", "unused-by-influxdb-1.6")
    influx_inventory = tmp_path / "influx.yaml"
    store = f"{{kind: influxdb, url: '{influxdb_url()}', token: {{env: VIGIE_TEST_INFLUX_TOKEN}}, bucket: vigie}}"
    influx_inventory.write_text(inventory_text(store), encoding="utf-8")

    code, output = build("--inventory", str(inventory), "--ledger", str(ledger), "--out", str(tmp_path / "a"))
    assert code == 0, output
    code, output = build(
        "--inventory",
        str(influx_inventory),
        "--database",
        influx_db.database,
        "--ledger",
        str(ledger),
        "--out",
        str(tmp_path / "b"),
    )
    assert code == 0, output
    a, b = (tmp_path / d / f"acme-{MONTH}.json" for d in ("a", "b"))
    assert a.read_bytes() == b.read_bytes()
    for name in ("services", "tickets", "outages", "exclusions"):
        assert (tmp_path / "a" / f"acme-{MONTH}-{name}.csv").read_bytes() == (
            tmp_path / "b" / f"acme-{MONTH}-{name}.csv"
        ).read_bytes()
    document = claim_json(tmp_path / "b")
    assert document["annex_sha256"] in output
    # the month is not trivial: something is claimed, the ledger was used, the late service is left out
    annex = document["annex"]
    assert document["status"] == "claim" and annex["total_claimed_eur"] != "0.00"
    assert [s["service_id"] for s in annex["services"]] == ["acme-lyon-internet", "acme-lyon-vga", "acme-paris-sdsl"]
    assert {t["id"]: t["penalty_pct"] for t in annex["tickets"]} == {"INT-77": "0", "INT-80": "0", "VGA-5538": "5"}
    assert any(x["applied"] for x in annex["exclusions"])
    assert all(s["source"] == "store" for s in annex["services"])
    # the ledger cross-checked against the measurements read back: the client-wide exclusion finds no outage
    # on the two services that were up at the time
    assert [(f["service_id"], f["kind"]) for f in annex["findings"]] == [
        ("acme-lyon-vga", "exclusion_without_outage"),
        ("acme-paris-sdsl", "exclusion_without_outage"),
    ]


def case_file(service: dict[str, Any], outages: list[dict[str, str]]) -> str:
    return yaml.safe_dump({"month": MONTH, "service": service, "outages": outages}, sort_keys=False)


def test_a_claim_from_the_store_equals_the_claim_from_the_equivalent_case_files(
    embedded: tuple[Path, Path], tmp_path: Path
) -> None:
    inventory_path, ledger = embedded
    inventory: Inventory = parse_inventory(inventory_path.read_text(encoding="utf-8"))
    services: list[dict[str, str]] = []
    for _client, site, service in inventory.services():
        if service.id not in SITES:
            continue  # not in service in October: no case file either
        outages = [{"start": d, "end": u} for s, d, u in OUTAGES if s == service.id]
        billed = service.model_dump(mode="json", exclude_none=True, include=set(ServiceIn.model_fields))
        file = tmp_path / f"{service.id}.yaml"
        file.write_text(case_file(billed, outages), encoding="utf-8")
        services.append({"case": file.name, "site": site.name or site.id})
    manifest = tmp_path / "claims.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "clients": [
                    {
                        "id": "acme",
                        "name": "ACME Industries",
                        "address": "12 rue des Lilas, Lyon",
                        "contact": "Paul Durand, 06 12 34 56 78",
                        "services": services,
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    # the case files' sites are the site names: the ledger's site-scoped records name the site id, so the
    # comparison uses ledger records scoped by service and client only
    code, output = build("--inventory", str(inventory_path), "--ledger", str(ledger), "--out", str(tmp_path / "s"))
    assert code == 0, output
    code, output = build("--manifest", str(manifest), "--ledger", str(ledger), "--out", str(tmp_path / "c"))
    assert code == 0, output
    from_store, from_cases = claim_json(tmp_path / "s")["annex"], claim_json(tmp_path / "c")["annex"]
    assert [s["source"] for s in from_store["services"]] == ["store"] * 3
    assert [s["source"] for s in from_cases["services"]] == [f"{s}.yaml" for s in sorted(SITES)]
    for annex in (from_store, from_cases):
        for line in annex["services"]:
            line["source"] = None
    assert from_store == from_cases
    assert annex_digest(from_store) == annex_digest(from_cases)
    assert len(from_store["outages"]) >= 6 and from_store["microcuts"]


def test_an_agent_that_died_in_the_month_leaves_unknown_time_in_the_claim(
    embedded: tuple[Path, Path], tmp_path: Path
) -> None:
    """The Paris site's agent (the inventory's own, `central-1`) sent its last heartbeat on 25 October and never
    came back: its last state (up since the 27th, 14:30 — a change it recorded, so alive then) holds until that
    change, and the rest of the month is unknown in the claim, not available. Lyon's agent is not concerned."""
    inventory, ledger = embedded
    code, output = build("--inventory", str(inventory), "--ledger", str(ledger), "--out", str(tmp_path / "before"))
    assert code == 0, output
    store = SqliteStore(tmp_path / "vigie.db")
    beat = schema.ms(at("2026-10-25T12:00:00+02:00"))
    store.write([schema.heartbeat(agent="central-1", role="edge", seq=9, uptime_s=1, spool_records=0, time_ms=beat)])
    store.close()
    code, output = build("--inventory", str(inventory), "--ledger", str(ledger), "--out", str(tmp_path / "after"))
    assert code == 0, output
    before, after = (
        {s["service_id"]: s for s in claim_json(tmp_path / d)["annex"]["services"]} for d in ("before", "after")
    )
    paris = after["acme-paris-sdsl"]
    assert before["acme-paris-sdsl"]["unknown_minutes"] == "0.00"
    assert paris["unknown_minutes"] == f"{(4 * 24 + 9) * 60 + 30}.00"  # 27 Oct 14:30 → 1 Nov 00:00, Paris
    assert "incomplete_data" in paris["flags"]
    assert after["acme-lyon-internet"] == before["acme-lyon-internet"]
    completeness = paris["data_completeness_pct"]
    assert float(completeness) < 100
    for lang, line in (
        ("fr", f"Complétude des mesures: {completeness.replace('.', ',')} % (état inconnu: 6330,00 min)"),
        ("en", f"Data completeness: {completeness} % (state unknown: 6330.00 min)"),
    ):
        assert line in squash(" ".join(pdf_pages(tmp_path / "after" / f"acme-{MONTH}-{lang}.pdf", layout=False)))


def test_store_options_are_checked(embedded: tuple[Path, Path], tmp_path: Path) -> None:
    inventory, _ = embedded
    out = str(tmp_path / "o")
    code, output = build("--inventory", str(inventory), "--store", "influx:x", "--out", out)
    assert code == 2 and "--store 'influx:x': expected embedded:PATH" in output
    code, output = build("--inventory", str(inventory), "--store", f"embedded:{tmp_path / 'none.db'}", "--out", out)
    assert code == 2 and f"embedded store {tmp_path / 'none.db'}: no such file" in output
    code, output = build("--cases", str(tmp_path), "--store", "embedded:x", "--out", out)
    assert code == 2 and "they go with --inventory" in output
    code, output = build("--inventory", str(inventory), "--client", "globex", "--out", out)
    assert code == 2 and "--client globex: no such client" in output
    code, output = build("--inventory", str(inventory), "--store", f"embedded:{tmp_path / 'vigie.db'}", "--out", out)
    assert code == 0 and (tmp_path / "o" / f"acme-{MONTH}.json").is_file()
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        inventory_text("{kind: embedded, path: vigie.db}").replace("monthly_fee_eur: 450.00", "monthly_fee_eur: x")
    )
    code, output = build("--inventory", str(bad), "--out", out)
    assert code == 2 and f"{bad}:" in output and "monthly_fee_eur" in output
