"""The files a user hands to `vigie` (inventories, case files, ledger imports, claim manifests): read and parsed
the same way everywhere, so a file that cannot be read or parsed gives one line naming the file and the line
instead of a traceback. Each loader re-raises `InputError` as its own error type (ConfigError, CaseFileError,
LedgerError, ClaimError): the commands already report those."""

from __future__ import annotations

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
