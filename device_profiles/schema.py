"""Schema of a device profile (one YAML per platform). Strict: unknown keys and non-numeric OIDs are errors.

A profile says how to recognise a platform (sysObjectID prefixes, sysDescr patterns), which SNMP OID groups to
poll (numeric OIDs only; the YAML comments carry the MIB names) and which CLI commands to run with which
TextFSM template (the `cli:` section, schema in device_profiles/cli.py).
"""

from __future__ import annotations

import enum
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from device_profiles.cli import CliSection

_OID = re.compile(r"^[012](\.(0|[1-9][0-9]*))+$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _numeric_oid(value: str) -> str:
    value = value.strip()
    if value.startswith("."):
        value = value[1:]
    if not _OID.match(value):
        raise ValueError(f"{value!r} is not a numeric OID (MIB names are for comments, not values)")
    return value


def _identifier(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not an identifier (letters, digits, underscore)")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
    return value


NumericOid = Annotated[str, AfterValidator(_numeric_oid)]
Identifier = Annotated[str, AfterValidator(_identifier)]
Regex = Annotated[str, AfterValidator(_regex)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValueType(enum.StrEnum):
    """What a varbind must be; anything else is a parse error for that value."""

    INTEGER = "integer"  # INTEGER / Integer32
    GAUGE = "gauge"  # Gauge32 / Unsigned32
    COUNTER32 = "counter32"  # Counter32: rate with 32-bit wrap
    COUNTER64 = "counter64"  # Counter64: rate, a decrease is a reset
    TIMETICKS = "timeticks"  # hundredths of a second
    STRING = "string"  # OCTET STRING, decoded as UTF-8 (hex when not printable)
    OID = "oid"  # OBJECT IDENTIFIER
    ENUM = "enum"  # INTEGER with named values (`enum:` map)
    IPADDRESS = "ipaddress"


class OidSpec(Strict):
    name: Identifier
    oid: NumericOid
    type: ValueType
    enum: dict[int, str] | None = None
    rate: bool = Field(False, description="counters: also report the per-second rate between two polls")
    scale: float | None = Field(None, description="multiply numeric values (e.g. kB → bytes)")

    @model_validator(mode="after")
    def _consistent(self) -> OidSpec:
        if self.type is ValueType.ENUM and not self.enum:
            raise ValueError(f"{self.name}: type enum needs an `enum:` map")
        if self.enum and self.type is not ValueType.ENUM:
            raise ValueError(f"{self.name}: `enum:` is only for type enum")
        if self.rate and self.type not in (ValueType.COUNTER32, ValueType.COUNTER64):
            raise ValueError(f"{self.name}: rate is only for counter32/counter64")
        return self


class OidGroup(Strict):
    """Scalars are fetched with GET; columns are bulk-walked and returned as rows keyed by index."""

    description: str
    scalars: list[OidSpec] = Field(default_factory=list)
    columns: list[OidSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> OidGroup:
        if not self.scalars and not self.columns:
            raise ValueError("an OID group needs scalars or columns")
        names = [s.name for s in (*self.scalars, *self.columns)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate names in group: {dupes}")
        return self


class Match(Strict):
    sys_object_id: list[NumericOid] = Field(default_factory=list, description="sysObjectID.0 prefixes")
    sys_descr: list[Regex] = Field(default_factory=list, description="regexes searched in sysDescr.0")


class SnmpSection(Strict):
    use: list[Identifier] = Field(default_factory=list, description="shared groups from _common.yaml")
    groups: dict[Identifier, OidGroup] = Field(default_factory=dict)


class DeviceProfile(Strict):
    platform: Identifier
    vendor: str
    description: str
    match: Match = Field(default_factory=Match)
    netmiko_device_type: str | None = None
    snmp: SnmpSection = Field(default_factory=SnmpSection)
    cli: CliSection | None = Field(None, description="SSH collector: commands and TextFSM templates")


class CommonGroups(Strict):
    groups: dict[Identifier, OidGroup]


class ResolvedProfile(Strict):
    """A profile with its shared groups pulled in: what collectors use."""

    profile: DeviceProfile
    groups: dict[str, OidGroup]
    source: str

    @property
    def platform(self) -> str:
        return self.profile.platform
