"""Hostile and malformed input through the real `vigie` CLI: each ends in a non-zero exit and an error that names
the file, the key, the value or the line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agent.test_sla_cli import REPO, vigie

CASE = REPO / "examples" / "internet-maintenance-2026-11.yaml"
INVENTORY = REPO / "agent" / "examples" / "inventory.yaml"


def _case_with(old: str, new: str) -> str:
    text = CASE.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


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
}

# every command that takes a record number: one beyond SQLite's INTEGER is refused as a usage error
TICKET = ["--client", "c", "--site", "s", "--service", "v", "--channel", "email", "--ledger", "l.sqlite"]
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
