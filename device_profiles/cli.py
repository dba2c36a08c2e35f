"""The `cli:` section of a device profile: which commands the ssh collector runs and how their output is read.

Data, not code: a command is fixed text from the profile (never built from a target, a config value or a
device answer), parsed by a TextFSM template (ntc-templates' own where one exists, ours otherwise under
`device_profiles/templates/<platform>_<command>.textfsm`, each ending in a catch-all `-> Error` rule), and
its fields are turned into typed values here, in one place (ntc-templates gives strings only).

```yaml
cli:
  device_type: cisco_ios            # netmiko device type
  privilege: enable                 # user | enable: enter privileged mode before the commands
  error_patterns: ['^% Invalid input', '^% Unknown command']   # lines meaning "command refused"
  commands:
    version:                        # the name a config selects and results are keyed by
      command: show version
      template: ntc                 # or a file name under device_profiles/templates/
      records: one                  # one | many
      fields: {uptime: duration_s}  # typed fields; the others stay strings
```
"""

from __future__ import annotations

import enum
import io
import re
from functools import cache
from pathlib import Path
from typing import Any

import textfsm
from pydantic import BaseModel, ConfigDict, Field, field_validator

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
NTC = "ntc"

# One printable line: a command is sent as typed, so a newline or a control character would smuggle a
# second command into the session.
_COMMAND_RE = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$")
_TEMPLATE_RE = re.compile(r"^[a-z0-9_][a-z0-9_.-]*\.textfsm$")


class CliOutputError(ValueError):
    """The device's answer could not be read (garbage, unknown format, a field of the wrong type)."""


class CliRefusedError(ValueError):
    """The device refused the command (an `error_patterns` line): the profile does not fit the device."""


class FieldType(enum.StrEnum):
    STR = "str"
    INT = "int"
    FLOAT = "float"
    DURATION_S = "duration_s"  # "1 week, 2 days, 3 hours", "3 days,  4:05", "12345.67" -> int seconds


class Records(enum.StrEnum):
    ONE = "one"  # the result is one dict (show version)
    MANY = "many"  # the result is a list of dicts (one per interface)


class Privilege(enum.StrEnum):
    USER = "user"
    ENABLE = "enable"


class CliCommand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str = Field(description="exact command text sent to the device")
    template: str = Field(NTC, description="`ntc` (ntc-templates index) or a file in device_profiles/templates/")
    records: Records = Records.MANY
    min_records: int = Field(1, ge=0, description="fewer parsed records than this is a parse error")
    fields: dict[str, FieldType] = Field(default_factory=dict, description="typed fields (lower-case names)")

    @field_validator("command")
    @classmethod
    def _one_printable_line(cls, value: str) -> str:
        if not _COMMAND_RE.match(value):
            raise ValueError(f"command {value!r} must be one line of printable ASCII without outer spaces")
        return value

    @field_validator("template")
    @classmethod
    def _template_name(cls, value: str) -> str:
        if value != NTC and not _TEMPLATE_RE.match(value):
            raise ValueError(f"template {value!r} must be `ntc` or a file name like cisco_ios_show_x.textfsm")
        return value

    @field_validator("fields")
    @classmethod
    def _lower_case(cls, value: dict[str, FieldType]) -> dict[str, FieldType]:
        bad = [k for k in value if k != k.lower()]
        if bad:
            raise ValueError(f"field names are lower-case (as parsed records are): {bad}")
        return value


class CliSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    device_type: str = Field(description="netmiko device type, e.g. cisco_ios, linux")
    privilege: Privilege = Privilege.USER
    error_patterns: tuple[str, ...] = ()
    commands: dict[str, CliCommand]

    @field_validator("error_patterns")
    @classmethod
    def _compiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"error_patterns: {pattern!r} is not a regular expression: {exc}") from exc
        return value


def command_slug(command: str) -> str:
    """Fixture folder name of a command: `show ip interface brief` -> `show_ip_interface_brief`."""
    return re.sub(r"[^A-Za-z0-9-]+", "_", command).strip("_")


def template_path(name: str, templates_dir: Path = TEMPLATES_DIR) -> Path:
    return templates_dir / name


def parse_output(
    section: CliSection,
    spec: CliCommand,
    raw: str,
    templates_dir: Path = TEMPLATES_DIR,
) -> dict[str, Any] | list[dict[str, Any]]:
    """Read one command's raw output into typed records; raise CliRefusedError or CliOutputError."""
    for line in raw.splitlines():
        for pattern in section.error_patterns:
            if re.search(pattern, line.strip()):
                raise CliRefusedError(f"{spec.command!r} refused by the device: {line.strip()[:120]}")
    # ntc-templates' index is keyed by netmiko device type (cisco_ios, linux), not by our profile name.
    rows = _textfsm_rows(section.device_type, spec, raw, templates_dir)
    if len(rows) < spec.min_records:
        raise CliOutputError(
            f"{spec.command!r}: {len(rows)} record(s) parsed, at least {spec.min_records} expected "
            f"(output not recognised: {raw.strip()[:80]!r})"
        )
    typed = [{k: _convert(spec, k, v) for k, v in row.items()} for row in rows]
    if spec.records is Records.ONE:
        if len(typed) > 1:
            raise CliOutputError(f"{spec.command!r}: {len(typed)} records parsed, one expected")
        return typed[0] if typed else {}
    return typed


def _textfsm_rows(platform: str, spec: CliCommand, raw: str, templates_dir: Path) -> list[dict[str, Any]]:
    try:
        if spec.template == NTC:
            return _ntc_rows(platform, spec.command, raw)
        fsm = textfsm.TextFSM(_template_text(template_path(spec.template, templates_dir)))
        header = [h.lower() for h in fsm.header]
        return [dict(zip(header, row, strict=True)) for row in fsm.ParseText(raw)]
    except textfsm.TextFSMError as exc:
        raise CliOutputError(f"{spec.command!r}: {exc}") from exc


def _ntc_rows(platform: str, command: str, raw: str) -> list[dict[str, Any]]:
    from ntc_templates.parse import ParsingException
    from ntc_templates.parse import parse_output as ntc_parse

    try:
        rows: list[dict[str, Any]] = ntc_parse(platform=platform, command=command, data=raw)
    except ParsingException as exc:
        raise CliOutputError(f"{command!r}: {exc}") from exc
    return rows


@cache
def _template_source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _template_text(path: Path) -> io.StringIO:
    return io.StringIO(_template_source(path))


_DURATION_UNITS = {
    "year": 365 * 86400,
    "week": 7 * 86400,
    "day": 86400,
    "hour": 3600,
    "hr": 3600,  # FreeBSD uptime: "up 2 hrs,"
    "minute": 60,
    "min": 60,
    "second": 1,
    "sec": 1,
}
_DURATION_PART = re.compile(r"(\d+)\s*(year|week|day|hour|hr|minute|min|second|sec)s?\b")
_CLOCK_PART = re.compile(r"\b(\d+):(\d{2})(?::(\d{2}))?\b")


def parse_duration_s(text: str) -> int:
    """Device uptime text as integer seconds: `1 week, 2 days, 3 hours, 4 minutes`, `3 days,  4:05`
    (Linux `uptime`), `12345.67` (/proc/uptime)."""
    value = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return int(float(value))
    total, matched = 0, False
    for number, unit in _DURATION_PART.findall(value):
        total += int(number) * _DURATION_UNITS[unit]
        matched = True
    clock = _CLOCK_PART.search(value)
    if clock:
        hours, minutes, seconds = clock.groups()
        total += int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)
        matched = True
    if not matched:
        raise ValueError(f"not a duration: {text!r}")
    return total


def _convert(spec: CliCommand, name: str, value: Any) -> Any:
    kind = spec.fields.get(name, FieldType.STR)
    if kind is FieldType.STR or isinstance(value, list):
        return value
    if value == "":
        return None
    try:
        if kind is FieldType.INT:
            return int(str(value).replace(",", ""))
        if kind is FieldType.FLOAT:
            return float(str(value).replace(",", ""))
        return parse_duration_s(str(value))
    except ValueError as exc:
        raise CliOutputError(f"{spec.command!r}: field {name} = {value!r} is not {kind.value}") from exc
