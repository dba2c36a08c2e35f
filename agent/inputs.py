"""The files a user hands to `vigie` (inventories, case files, ledger imports, claim manifests): read and parsed
the same way everywhere, so a file that cannot be read or parsed gives one line naming the file and the line
instead of a traceback. Each loader re-raises `InputError` as its own error type (ConfigError, CaseFileError,
LedgerError, ClaimError): the commands already report those."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError


class InputError(ValueError):
    """One line: the file (and line), and what is wrong with it."""


def read_text(path: Path) -> str:
    """The text of a UTF-8 file. A file in another encoding is named with the line of its first bad byte (a
    Latin-1 export from a spreadsheet is the usual case), not left to a UnicodeDecodeError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{path}:{line}: not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); save it as UTF-8"
        ) from None


def yaml_problem(exc: yaml.YAMLError, source: str) -> str:
    """A YAML error on one line, `FILE:LINE:COLUMN: not valid YAML: problem` (PyYAML's own text spans several
    lines and names `<unicode string>` instead of the file)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or problem is None:
        return f"{source}: not valid YAML: {' '.join(str(exc).split())}"
    context = getattr(exc, "context", None)
    where = f"{source}:{mark.line + 1}:{mark.column + 1}"
    return f"{where}: not valid YAML: {problem}" + (f" ({context})" if context else "")


class UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses a duplicate key at its line: PyYAML keeps the last value silently, so a pasted
    second `end:` would replace the first without a word."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: PyYAML's own check below names it
                continue
            if duplicate:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


class ExactLoader(UniqueKeyLoader):
    """YAML for figures and times: times stay text (pydantic parses them, so a naive time is reported rather
    than silently assumed), floats become exact Decimals, `.nan`/`.inf` are refused at their line."""


ExactLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _exact_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    if text.lower().lstrip("+-") in (".inf", ".nan"):  # no figure of a contract is infinite or undefined
        raise ConstructorError(None, None, f"{text} is not a number", node.start_mark)
    return Decimal(text)


ExactLoader.add_constructor("tag:yaml.org,2002:float", _exact_float)


def load_yaml(text: str, source: str, loader: type[UniqueKeyLoader] = ExactLoader) -> Any:
    """`text` through `loader`; any YAML problem as an `InputError` naming `source` and the line."""
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise InputError(yaml_problem(exc, source)) from None
    except RecursionError:
        raise InputError(f"{source}: not valid YAML: recursive alias or nesting too deep") from None


# --- YAML with line marks: errors found after parsing still name their line --------------------------------

KeyPath = tuple[str | int, ...]


def load_yaml_with_lines(text: str, source: str) -> tuple[Any, dict[KeyPath, int]]:
    """The document (as `ExactLoader` reads it) and the 1-based line of every mapping key and sequence item,
    by path. Every duplicate key is reported, one per line of the `InputError`."""
    loader = ExactLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[KeyPath, int] = {}
        errors: list[str] = []
        data = _build(loader, node, (), lines, errors, source) if node is not None else None
    except yaml.YAMLError as exc:
        raise InputError(yaml_problem(exc, source)) from None
    except RecursionError:
        raise InputError(f"{source}: not valid YAML: recursive alias or nesting too deep") from None
    finally:
        loader.dispose()
    if errors:
        raise InputError("\n".join(errors))
    return data, lines


def _build(
    loader: ExactLoader, node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], errors: list[str], src: str
) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in out:
                errors.append(f"{src}:{line}: {dotted((*path, key))}: duplicate key")
            lines[(*path, key)] = line
            out[key] = _build(loader, value_node, (*path, key), lines, errors, src)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            items.append(_build(loader, item, (*path, i), lines, errors, src))
        return items
    return loader.construct_object(node, deep=True)


def dotted(path: KeyPath) -> str:
    """`clients[0].services[1].case`; `(top)` for the document itself."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top)"


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of `path`, else of its nearest ancestor the document has (a missing key: where it belongs)."""
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None


# --- the years a time may fall in --------------------------------------------------------------------------

# Monthly statements count minutes as epoch seconds and look one day or month past a date: a year like 9999
# overflows `date` there (an OverflowError traceback, or a bare "year 10000 is out of range" naming no key).
# No contract, ticket or service date falls outside these years; the epoch is the floor of every figure.
FIRST_YEAR, LAST_YEAR = 1970, 2999
YEARS = f"years {FIRST_YEAR}–{LAST_YEAR}"


def year_problem(value: date) -> str | None:
    """Why a date or time (a `datetime` is a `date`) is refused, or None when its year is one Vigie handles."""
    if FIRST_YEAR <= value.year <= LAST_YEAR:
        return None
    return f"{value.isoformat()} is outside the {YEARS}"


# --- SQLite files of ours ----------------------------------------------------------------------------------

SQLITE_HEADER = b"SQLite format 3\x00"


def foreign_sqlite(path: Path, ours: Collection[str], *, empty_ok: bool) -> str | None:
    """Why the existing file `path` must not be opened as one of our SQLite files (whose tables are any of
    `ours`), or None: absent (created on open), ours, or an SQLite database without tables yet. Checked
    before connecting for writing: SQLite would happily write our schema into a stranger's database, and
    its WAL pragma rewrites the header of any database it opens."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
    if not head:
        return None if empty_ok else "an empty file, not a Vigie file (a truncated copy?); delete it to start anew"
    if head != SQLITE_HEADER:
        return "not an SQLite database, not a Vigie file"
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {str(row[0]) for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            db.close()
    except sqlite3.Error as exc:
        return f"not a readable SQLite database ({exc})"
    tables -= {"sqlite_sequence", "sqlite_stat1"}  # SQLite's own bookkeeping
    if tables and not tables & set(ours):
        return f"an SQLite database of something else, not a Vigie file (tables: {', '.join(sorted(tables)[:5])})"
    return None
