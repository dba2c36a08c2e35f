"""Hostile and malformed input through the real `vigie` CLI: each ends in a non-zero exit and an error that names
the file, the key, the value or the line, never a traceback."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import pytest

from tests.agent.test_sla_cli import REPO, vigie

CASE = REPO / "examples" / "internet-maintenance-2026-11.yaml"
INVENTORY = REPO / "agent" / "examples" / "inventory.yaml"


def _case_with(old: str, new: str) -> str:
    text = CASE.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


def _inventory_with(old: str, new: str) -> str:
    text = INVENTORY.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


def _sqlite_of_something_else() -> bytes:
    """An SQLite database that is neither a ledger nor a store (another tool's file at the wrong path)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "other.db"
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE contacts (name TEXT)")
        db.commit()
        db.close()
        return path.read_bytes()


# a claims manifest naming the example case (month 2026-11) for client acme
MANIFEST = "clients:\n  - id: acme\n    services:\n      - {case: cases/acme/case.yaml, site: Lyon}\n"
BUILD = ["claims", "build", "--month", "2026-11", "--out", "out", "--today", "2026-12-10"]


# the example inventory, runnable here: an embedded store beside it, files relative to it, no /metrics port
def _local_inventory() -> str:
    text = INVENTORY.read_text(encoding="utf-8").replace("/var/lib/vigie/", "")
    store, metrics = text.index("  store:\n"), text.index("  metrics:\n")
    text = text[:store] + "  store: {kind: embedded, path: store.db}\n" + text[metrics:]
    return text.replace("    listen: 127.0.0.1:9108", "    listen: null", 1)


LOCAL_INVENTORY = _local_inventory()
NOT_SQLITE = "not a database\n" * 100
TICKET = ["--client", "c", "--site", "s", "--service", "v", "--channel", "email", "--ledger", "l.sqlite"]


# name → (files to write into the scratch directory, the command, what the error must name)
FILES: dict[str, tuple[dict[str, str | bytes], list[str], list[str]]] = {
    "case file not UTF-8": (
        {"case.yaml": b"month: 2026-11\nservice:\n  id: caf\xe9\n"},
        ["sla", "compute", "case.yaml"],
        ["case.yaml:3:", "not UTF-8"],
    ),
    "case file .nan fee": (
        {"case.yaml": _case_with('monthly_fee_eur: "450.00"', "monthly_fee_eur: .nan")},
        ["sla", "compute", "case.yaml"],
        ["case.yaml:7:", ".nan is not a number"],
    ),
    "case file .inf qualification": (
        {"case.yaml": _case_with("month: 2026-11", "month: 2026-11\nqualification: {microcut_s: .inf}")},
        ["sla", "compute", "case.yaml"],
        ["case.yaml:4:", ".inf is not a number"],
    ),
    "case file fee beyond any figure": (
        {"case.yaml": _case_with('monthly_fee_eur: "450.00"', "monthly_fee_eur: 99999999999999999999999999999999999")},
        ["sla", "compute", "case.yaml"],
        ["case.yaml: service.monthly_fee_eur: 99999999999999999999999999999999999"],
    ),
    "case file duplicate key": (
        {"case.yaml": _case_with("month: 2026-11", "month: 2026-11\nmonth: 2026-10")},
        ["sla", "compute", "case.yaml"],
        ["case.yaml:4:", "duplicate key 'month'"],
    ),
    "inventory not UTF-8": (
        {"inv.yaml": b"agent:\n  id: \xff\n"},
        ["config", "check", "inv.yaml"],
        ["inv.yaml:2:", "not UTF-8"],
    ),
    "inventory .nan": (
        {"inv.yaml": INVENTORY.read_text(encoding="utf-8") + "\nbogus: .nan\n"},
        ["config", "check", "inv.yaml"],
        ["inv.yaml:", ".nan is not a number"],
    ),
    "notify on an inventory not UTF-8": (
        {"inv.yaml": b"\xfe\xff"},
        ["notify", "run", "inv.yaml"],
        ["inv.yaml:1:", "not UTF-8"],
    ),
    "ledger import YAML not UTF-8": (
        {"records.yaml": b"tickets:\n  - ref: caf\xe9\n"},
        ["ledger", "import", "records.yaml", "--ledger", "l.sqlite"],
        ["records.yaml:2:", "not UTF-8"],
    ),
    "ledger import CSV not UTF-8": (
        {"records.csv": b"kind,subject\nticket.open,caf\xe9\n"},
        ["ledger", "import", "records.csv", "--ledger", "l.sqlite"],
        ["records.csv:2:", "not UTF-8"],
    ),
    "ledger import section not a list": (
        {"records.yaml": "tickets: T-1\n"},
        ["ledger", "import", "records.yaml", "--ledger", "l.sqlite"],
        ["records.yaml: tickets:", "expected a list", "'T-1'"],
    ),
    "ledger import ticket not a mapping": (
        {"records.yaml": "exclusions:\n  - power_cut\n"},
        ["ledger", "import", "records.yaml", "--ledger", "l.sqlite"],
        ["records.yaml: exclusions[0]", "expected a mapping", "'power_cut'"],
    ),
    "ledger import freezes not a list": (
        {"records.yaml": "tickets:\n  - {ref: T-1, freezes: 5}\n"},
        ["ledger", "import", "records.yaml", "--ledger", "l.sqlite"],
        ["tickets[0].freezes", "expected a list", "5"],
    ),
    "ledger import a ticket opened in year 9999": (
        {
            "records.yaml": "tickets:\n  - {ref: T-1, client: c, site: s, service: v, channel: email,\n"
            "     opened_at: '9999-10-14T10:00:00+02:00'}\n"
        },
        ["ledger", "import", "records.yaml", "--ledger", "l.sqlite"],
        ["records.yaml: ticket.open T-1: opened_at: 9999-10-14T10:00:00+02:00 is outside the years 1970–2999"],
    ),
    "ledger import CSV a freeze ending in year 1": (
        {
            "records.csv": "kind,subject,start,end,reason\nticket.freeze,T-1,2026-10-14T10:00:00+02:00,"
            "0001-01-01T00:00:00+00:00,access_refused\n"
        },
        ["ledger", "import", "records.csv", "--ledger", "l.sqlite"],
        ["records.csv: ticket.freeze T-1: end: 0001-01-01T00:00:00+00:00 is outside the years 1970–2999"],
    ),
    "ledger import duplicate key": (
        {"records.yaml": "tickets: []\ntickets: []\n"},
        ["ledger", "import", "records.yaml", "--ledger", "l.sqlite"],
        ["records.yaml:2:", "duplicate key 'tickets'"],
    ),
    "ledger import CSV supersedes not a number": (
        {"records.csv": "kind,subject,supersedes\nexclusion.accept,X1,abc\n"},
        ["ledger", "import", "records.csv", "--ledger", "l.sqlite"],
        ["records.csv:2: supersedes", "'abc'"],
    ),
    "ledger import CSV supersedes beyond SQLite": (
        {"records.csv": "kind,subject,supersedes\nexclusion.accept,X1,99999999999999999999\n"},
        ["ledger", "import", "records.csv", "--ledger", "l.sqlite"],
        ["records.csv:2: supersedes", "99999999999999999999"],
    ),
    "claims verify: no such file": ({}, ["claims", "verify", "nope.json"], ["nope.json: cannot read"]),
    "claims verify: a directory": ({"d/x": ""}, ["claims", "verify", "d"], ["d: cannot read"]),
    "claims verify: empty": ({"c.json": ""}, ["claims", "verify", "c.json"], ["c.json:1:1: not JSON"]),
    "claims verify: not JSON": ({"c.json": "{annex: 1"}, ["claims", "verify", "c.json"], ["c.json:1:2: not JSON"]),
    "claims verify: not UTF-8": ({"c.json": b'{"a": "\xe9"}'}, ["claims", "verify", "c.json"], ["c.json:1:"]),
    "claims verify: a list": ({"c.json": "[1, 2]"}, ["claims", "verify", "c.json"], ["c.json", "no annex"]),
    "claims verify: no annex": ({"c.json": '{"x": 1}'}, ["claims", "verify", "c.json"], ["c.json", "no annex"]),
    "claims verify: no digest": (
        {"c.json": '{"annex": {}}'},
        ["claims", "verify", "c.json"],
        ["c.json", "no annex_sha256"],
    ),
    "claims build: ledger not SQLite": (
        {"cases/acme/case.yaml": CASE.read_text(encoding="utf-8"), "l.sqlite": "not a database\n" * 100},
        ["claims", "build", "--month", "2026-11", "--out", "out", "--cases", "cases", "--ledger", "l.sqlite"],
        ["l.sqlite: cannot open the ledger"],
    ),
    "claims build: ledger a directory": (
        {"cases/acme/case.yaml": CASE.read_text(encoding="utf-8"), "l.sqlite/x": ""},
        ["claims", "build", "--month", "2026-11", "--out", "out", "--cases", "cases", "--ledger", "l.sqlite"],
        ["l.sqlite: cannot open the ledger"],
    ),
    "claims build: manifest not UTF-8": (
        {"m.yaml": b"clients:\n  - id: caf\xe9\n"},
        ["claims", "build", "--month", "2026-11", "--out", "out", "--manifest", "m.yaml"],
        ["m.yaml:2:", "not UTF-8"],
    ),
    "claims build: --out is a file": (
        {"cases/acme/case.yaml": CASE.read_text(encoding="utf-8"), "out": ""},
        ["claims", "build", "--month", "2026-11", "--out", "out", "--cases", "cases", "--draft"],
        ["--out", "out is a file"],
    ),
    # the claims manifest: every key known, every value text, named with its line
    "claims build: manifest provider with an unknown key": (
        {"m.yaml": 'provider: {name: T, phone: "01"}\n' + MANIFEST},
        [*BUILD, "--manifest", "m.yaml"],
        ["m.yaml:1: provider.phone: unknown key", "'01'"],
    ),
    "claims build: manifest provider a list": (
        {"m.yaml": "provider: [T]\n" + MANIFEST},
        [*BUILD, "--manifest", "m.yaml"],
        ["m.yaml:1: provider: ['T']", "expected a mapping"],
    ),
    "claims build: manifest client with an unknown key": (
        {"m.yaml": MANIFEST + "    notes: call first\n"},
        [*BUILD, "--manifest", "m.yaml"],
        ["m.yaml:5: clients[0].notes: unknown key", "'call first'"],
    ),
    "claims build: manifest service with an unknown key": (
        {"m.yaml": MANIFEST.replace("site: Lyon}", "site: Lyon, colour: red}")},
        [*BUILD, "--manifest", "m.yaml"],
        ["m.yaml:4: clients[0].services[0].colour: unknown key", "'red'"],
    ),
    "claims build: manifest case path not text": (
        {"m.yaml": MANIFEST.replace("case: cases/acme/case.yaml", "case: [1, 2]")},
        [*BUILD, "--manifest", "m.yaml"],
        ["m.yaml:4: clients[0].services[0].case: [1, 2]"],
    ),
    "claims build: manifest client id a number": (
        {"m.yaml": MANIFEST.replace("id: acme", "id: 12")},
        [*BUILD, "--manifest", "m.yaml"],
        ["m.yaml:2: clients[0].id: 12"],
    ),
    "claims build: manifest without clients": (
        {"m.yaml": "provider: {name: T}\n"},
        [*BUILD, "--manifest", "m.yaml"],
        ["m.yaml: clients: required key missing"],
    ),
    # keys of one contract only (sla-semantics §7: access_type, gtr_option "VGA only"; probation_until "Hosted only")
    "case file gtr_option on internet": (
        {"case.yaml": _case_with("contract: internet", "contract: internet\n  gtr_option: 6h_24x7")},
        ["sla", "compute", "case.yaml"],
        ["case.yaml: service: gtr_option: '6h_24x7' applies to contract vga only, not internet"],
    ),
    "case file access_type on internet": (
        {"case.yaml": _case_with("contract: internet", "contract: internet\n  access_type: isdn_t0")},
        ["sla", "compute", "case.yaml"],
        ["case.yaml: service: access_type: 'isdn_t0' applies to contract vga only, not internet"],
    ),
    "case file probation_until on internet": (
        {"case.yaml": _case_with("contract: internet", "contract: internet\n  probation_until: 2026-10-20")},
        ["sla", "compute", "case.yaml"],
        ["case.yaml: service: probation_until: '2026-10-20' applies to contract hosted only, not internet"],
    ),
    "claims build: a case with gtr_option on internet": (
        {
            "cases/acme/case.yaml": _case_with("contract: internet", "contract: internet\n  gtr_option: standard"),
            "m.yaml": MANIFEST,
        },
        [*BUILD, "--manifest", "m.yaml"],
        ["case.yaml: service: gtr_option: 'standard' applies to contract vga only, not internet"],
    ),
    "inventory gtr_option on internet": (
        {"inv.yaml": _inventory_with("contract: internet\n", "contract: internet\n            gtr_option: 6h_24x7\n")},
        ["config", "check", "inv.yaml"],
        ["inv.yaml:30: clients[0].sites[0].services[0]", "gtr_option: '6h_24x7' applies to contract vga only"],
    ),
    # years a statement cannot handle (9999: no day or month after it), refused naming the key
    "case file in_service_until 9999-12-31": (
        {"case.yaml": _case_with("in_service_from: 2024-01-01", "in_service_until: 9999-12-31")},
        ["sla", "compute", "case.yaml"],
        ["case.yaml: service.in_service_until: 9999-12-31 is outside the years 1970–2999"],
    ),
    "claims build: a case in service until 9999-12-31": (
        {"cases/acme/case.yaml": _case_with("in_service_from: 2024-01-01", "in_service_until: 9999-12-31")},
        [*BUILD, "--cases", "cases"],
        ["case.yaml: service.in_service_until: 9999-12-31 is outside the years 1970–2999"],
    ),
    "case file month 9999-12": (
        {"case.yaml": _case_with("month: 2026-11", "month: 9999-12")},
        ["sla", "compute", "case.yaml"],
        ["case.yaml: month: '9999-12' is outside the years 1970–2999"],
    ),
    "case file outage ending in year 10000 UTC": (
        {"case.yaml": _case_with("end: 2026-11-03T10:25:00+01:00", "end: 9999-12-31T23:59:59-14:00")},
        ["sla", "compute", "case.yaml"],
        ["case.yaml: outages[0].end: 9999-12-31T23:59:59-14:00 is outside the years 1970–2999"],
    ),
    "inventory in_service_until 9999-12-31": (
        {
            "inv.yaml": _inventory_with(
                "contract: internet\n", "contract: internet\n            in_service_until: 9999-12-31\n"
            )
        },
        ["config", "check", "inv.yaml"],
        ["inv.yaml:", "in_service_until", "9999-12-31 is outside the years 1970–2999"],
    ),
    # ids and other text fields are text: a list is not written down as "[1, 2]", a number is not 0123 → 83
    "case file service id a list": (
        {"case.yaml": _case_with("id: acme-lyon-fibre", "id: [1, 2]")},
        ["sla", "compute", "case.yaml"],
        ["case.yaml: service.id: [1, 2] is not valid; expected text"],
    ),
    "case file service id a number": (
        {"case.yaml": _case_with("id: acme-lyon-fibre", "id: 0123")},
        ["sla", "compute", "case.yaml"],
        ["case.yaml: service.id: 83 is not valid; expected text", '"12345"'],
    ),
    # store and ledger files that are not ours: refused by name (and left untouched: test below)
    "claims build: --store a text file": (
        {"inv.yaml": LOCAL_INVENTORY, "store.db": NOT_SQLITE},
        [*BUILD, "--inventory", "inv.yaml", "--store", "embedded:store.db"],
        ["store.db: cannot open the store: not an SQLite database"],
    ),
    "claims build: --store an empty file": (
        {"inv.yaml": LOCAL_INVENTORY, "store.db": ""},
        [*BUILD, "--inventory", "inv.yaml", "--store", "embedded:store.db"],
        ["store.db: an empty file, no measurements"],
    ),
    "claims build: --store another tool's SQLite": (
        {"inv.yaml": LOCAL_INVENTORY, "store.db": _sqlite_of_something_else()},
        [*BUILD, "--inventory", "inv.yaml", "--store", "embedded:store.db"],
        ["store.db: cannot open the store: an SQLite database of something else", "contacts"],
    ),
    "claims build: the inventory's store a text file": (
        {"inv.yaml": LOCAL_INVENTORY, "store.db": NOT_SQLITE},
        [*BUILD, "--inventory", "inv.yaml"],
        ["store.db: cannot open the store: not an SQLite database"],
    ),
    "notify run: store a text file": (
        {"inv.yaml": LOCAL_INVENTORY, "store.db": NOT_SQLITE},
        ["notify", "run", "inv.yaml", "--now", "2026-11-20T10:00:00+01:00"],
        ["store.db: cannot open the store: not an SQLite database"],
    ),
    "agent run, central role: store a text file": (
        {"inv.yaml": LOCAL_INVENTORY, "store.db": NOT_SQLITE},
        ["agent", "run", "inv.yaml", "--role", "central"],
        ["store.db: cannot open the store: not an SQLite database"],
    ),
    "ledger verify: a text file": (
        {"l.sqlite": NOT_SQLITE},
        ["ledger", "verify", "--ledger", "l.sqlite"],
        ["l.sqlite: cannot open the ledger: not an SQLite database"],
    ),
    "ledger verify: an empty file": (
        {"l.sqlite": ""},
        ["ledger", "verify", "--ledger", "l.sqlite"],
        ["l.sqlite: cannot open the ledger: an empty file"],
    ),
    "ledger verify: another tool's SQLite": (
        {"l.sqlite": _sqlite_of_something_else()},
        ["ledger", "verify", "--ledger", "l.sqlite"],
        ["l.sqlite: cannot open the ledger: an SQLite database of something else", "contacts"],
    ),
    "ticket open: ledger a text file": (
        {"l.sqlite": NOT_SQLITE},
        ["ticket", "open", "T-1", "--at", "2026-10-14T10:00:00+02:00", *TICKET],
        ["l.sqlite: cannot open the ledger: not an SQLite database"],
    ),
}

# every command that takes a record number: one beyond SQLite's INTEGER is refused as a usage error
OPTIONS: dict[str, tuple[list[str], list[str]]] = {
    "ledger retract: id beyond SQLite": (
        ["ledger", "retract", "99999999999999999999", "--reason", "x", "--ledger", "l.sqlite"],
        ["record_id", "9223372036854775807"],
    ),
    "ticket open --supersedes beyond SQLite": (
        ["ticket", "open", "T-1", "--at", "2026-10-14T10:00:00+02:00", *TICKET, "--supersedes", "99999999999999999999"],
        ["--supersedes", "9223372036854775807"],
    ),
    "maintenance add --supersedes beyond SQLite": (
        [
            "maintenance",
            "add",
            "--received-at",
            "2026-10-13T10:00:00+02:00",
            "--start",
            "2026-10-14T10:00:00+02:00",
            "--end",
            "2026-10-14T11:00:00+02:00",
            "--client",
            "c",
            "--supersedes",
            "99999999999999999999",
            "--ledger",
            "l.sqlite",
        ],
        ["--supersedes", "9223372036854775807"],
    ),
    "claims track: month 2026-13": (
        ["claims", "track", "acme", "2026-13", "drafted", "--date", "2026-12-01", "--ledger", "l.sqlite"],
        ["'2026-13' is not a month"],
    ),
    "claims track: month abc": (
        ["claims", "track", "acme", "abc", "drafted", "--date", "2026-12-01", "--ledger", "l.sqlite"],
        ["'abc' is not a month"],
    ),
    "claims track: amount nan": (
        ["claims", "track", "acme", "2026-11", "drafted", "--date", "2026-12-01", "--amount", "nan"],
        ["--amount", "'nan'"],
    ),
    "claims track: amount abc": (
        ["claims", "track", "acme", "2026-11", "drafted", "--date", "2026-12-01", "--amount", "abc"],
        ["--amount", "'abc'"],
    ),
    "claims track: digest not hex": (
        ["claims", "track", "acme", "2026-11", "drafted", "--date", "2026-12-01", "--digest", "zz"],
        ["--digest", "'zz'"],
    ),
    "claims build: --today 2026-02-30": (
        ["claims", "build", "--month", "2026-01", "--out", "out", "--cases", "cases", "--today", "2026-02-30"],
        ["--today", "'2026-02-30'"],
    ),
    "claims build: --today abc": (
        ["claims", "build", "--month", "2026-01", "--out", "out", "--cases", "cases", "--today", "abc"],
        ["--today", "'abc'"],
    ),
    "claims build: --month 2026-13": (
        ["claims", "build", "--month", "2026-13", "--out", "out", "--cases", "cases"],
        ["--month", "'2026-13' is not a month"],
    ),
    "claims build: --month 9999-12": (
        ["claims", "build", "--month", "9999-12", "--out", "out", "--cases", "cases"],
        ["--month", "'9999-12' is outside the years 1970–2999"],
    ),
    "claims build: --today 9999-01-01": (
        ["claims", "build", "--month", "2026-11", "--out", "out", "--cases", "cases", "--today", "9999-01-01"],
        ["--today", "9999-01-01 is outside the years 1970–2999"],
    ),
    "claims track: --date 0001-01-01": (
        ["claims", "track", "acme", "2026-11", "drafted", "--date", "0001-01-01", "--ledger", "l.sqlite"],
        ["--date", "0001-01-01 is outside the years 1970–2999"],
    ),
    # the ledger's times: a year no statement can handle is refused before it is recorded for good
    "ticket open --at year 9999": (
        ["ticket", "open", "T-1", "--at", "9999-12-31T23:59:59-14:00", *TICKET],
        ["--at", "9999-12-31T23:59:59-14:00 is outside the years 1970–2999"],
    ),
    "ticket open --at year 1": (
        ["ticket", "open", "T-1", "--at", "0001-01-01T00:00:00+02:00", *TICKET],
        ["--at", "0001-01-01T00:00:00+02:00 is outside the years 1970–2999"],
    ),
    "ticket restore --at year 9999": (
        ["ticket", "restore", "T-1", "--at", "9999-01-01T00:00:00+01:00", "--ledger", "l.sqlite"],
        ["--at", "9999-01-01T00:00:00+01:00 is outside the years 1970–2999"],
    ),
    "ticket freeze --end year 9999": (
        [
            "ticket",
            "freeze",
            "T-1",
            "--start",
            "2026-10-14T10:00:00+02:00",
            "--end",
            "9999-01-01T00:00:00+01:00",
            "--reason",
            "site_access_pending",
            "--ledger",
            "l.sqlite",
        ],
        ["--end", "9999-01-01T00:00:00+01:00 is outside the years 1970–2999"],
    ),
    "exclusion add --start year 9999": (
        [
            "exclusion",
            "add",
            "--cause",
            "power_cut",
            "--start",
            "9999-01-01T00:00:00+01:00",
            "--end",
            "9999-01-01T01:00:00+01:00",
            "--client",
            "c",
            "--ledger",
            "l.sqlite",
        ],
        ["--start", "9999-01-01T00:00:00+01:00 is outside the years 1970–2999"],
    ),
    "maintenance add --received-at year 1": (
        [
            "maintenance",
            "add",
            "--received-at",
            "0001-10-13T10:00:00+02:00",
            "--start",
            "2026-10-14T10:00:00+02:00",
            "--end",
            "2026-10-14T11:00:00+02:00",
            "--client",
            "c",
            "--ledger",
            "l.sqlite",
        ],
        ["--received-at", "0001-10-13T10:00:00+02:00 is outside the years 1970–2999"],
    ),
}


def _refused(result_stderr: str, returncode: int, names: list[str]) -> None:
    assert returncode != 0, result_stderr
    assert "Traceback" not in result_stderr, result_stderr
    flat = " ".join(result_stderr.replace("│", " ").split())  # typer's usage box wraps long lines
    for name in names:
        assert name in flat, (name, result_stderr)


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_bad_file_is_refused_by_name(name: str, tmp_path: Path) -> None:
    files, args, names = FILES[name]
    for rel, content in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    result = vigie(*args, cwd=tmp_path)
    _refused(result.stderr, result.returncode, names)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_a_bad_option_value_is_refused_by_name(name: str, tmp_path: Path) -> None:
    args, names = OPTIONS[name]
    (tmp_path / "cases" / "acme").mkdir(parents=True)
    (tmp_path / "cases" / "acme" / "case.yaml").write_text(CASE.read_text(encoding="utf-8"), encoding="utf-8")
    result = vigie(*args, cwd=tmp_path)
    _refused(result.stderr, result.returncode, names)
    assert not (tmp_path / "out").exists()  # nothing written on a refusal


# a store or ledger path that names someone else's file: refused, and the file left byte for byte as it was
UNTOUCHED: dict[str, tuple[bytes, list[str]]] = {
    "ledger verify: empty": (b"", ["ledger", "verify", "--ledger", "f"]),
    "ledger verify: another tool's SQLite": (_sqlite_of_something_else(), ["ledger", "verify", "--ledger", "f"]),
    "ticket open: another tool's SQLite": (
        _sqlite_of_something_else(),
        ["ticket", "open", "T-1", "--at", "2026-10-14T10:00:00+02:00", *TICKET[:-1], "f"],
    ),
    "claims build --store: text": (NOT_SQLITE.encode(), [*BUILD, "--inventory", "inv.yaml", "--store", "embedded:f"]),
    "claims build --store: another tool's SQLite": (
        _sqlite_of_something_else(),
        [*BUILD, "--inventory", "inv.yaml", "--store", "embedded:f"],
    ),
}


@pytest.mark.parametrize("name", sorted(UNTOUCHED))
def test_a_file_that_is_not_ours_is_left_untouched(name: str, tmp_path: Path) -> None:
    content, args = UNTOUCHED[name]
    (tmp_path / "f").write_bytes(content)
    (tmp_path / "inv.yaml").write_text(LOCAL_INVENTORY, encoding="utf-8")
    result = vigie(*args, cwd=tmp_path)
    _refused(result.stderr, result.returncode, ["f: cannot open the"])
    assert (tmp_path / "f").read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "inv.yaml"]  # no -wal, -shm, nor out/


@pytest.mark.parametrize("args", [["ledger", "verify"], ["ledger", "history"], ["ticket", "show", "T-1"]])
def test_a_command_that_only_reads_the_ledger_does_not_create_a_missing_one(args: list[str], tmp_path: Path) -> None:
    result = vigie(*args, "--ledger", "typo.sqlite", cwd=tmp_path)
    _refused(result.stderr, result.returncode, ["typo.sqlite: no ledger here"])
    assert list(tmp_path.iterdir()) == []  # nothing created: not an empty ledger reported intact


def test_ledger_history_of_an_unknown_subject_exits_1(tmp_path: Path) -> None:
    ledger = ["--ledger", "l.sqlite"]
    opened = vigie("ticket", "open", "T-1", "--at", "2026-10-14T10:00:00+02:00", *TICKET, cwd=tmp_path)
    assert opened.returncode == 0, opened.stderr
    result = vigie("ledger", "history", "T-2", *ledger, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: no ledger records about T-2\n"
    known = vigie("ledger", "history", "T-1", *ledger, cwd=tmp_path)
    assert known.returncode == 0 and '"subject": "T-1"' in known.stdout


def test_an_internal_error_is_one_line_and_exit_70(capsys: pytest.CaptureFixture[str]) -> None:
    """The last-resort handler, called directly with an exception: no genuine internal error is left to
    provoke through a command without relying on a bug that a fix would remove."""
    from agent.cli import internal_error

    try:
        raise ValueError("two\nlines")
    except ValueError as exc:
        status = internal_error(exc)
    assert status == 70
    err = capsys.readouterr().err
    assert err == (
        "error: internal error: ValueError: two lines — please report it (VIGIE_DEBUG=1 shows the traceback)\n"
    )


def test_vigie_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The same handler, called directly (see above), with VIGIE_DEBUG=1."""
    from agent.cli import internal_error

    monkeypatch.setenv("VIGIE_DEBUG", "1")
    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError as exc:
        assert internal_error(exc) == 70
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "ZeroDivisionError: boom\n" in err
    assert err.endswith(
        "error: internal error: ZeroDivisionError: boom — please report it (VIGIE_DEBUG=1 shows the traceback)\n"
    )


def test_main_turns_an_unexpected_exception_into_exit_70(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`main()` itself, with a command group whose building fails as a bug would (called directly, in-process:
    see above); typer's own exits keep their status."""
    import agent.cli

    def broken(only: str | None = None) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(agent.cli, "build", broken)
    monkeypatch.setattr("sys.argv", ["vigie", "sla"])
    with pytest.raises(SystemExit) as ended:
        agent.cli.main()
    assert ended.value.code == 70
    assert "error: internal error: RuntimeError: a bug — please report it" in capsys.readouterr().err
    monkeypatch.undo()
    monkeypatch.setattr("sys.argv", ["vigie", "ledger", "history", "--no-such-option"])
    with pytest.raises(SystemExit) as usage:
        agent.cli.main()
    assert usage.value.code == 2
