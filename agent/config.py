"""The inventory: one YAML file, clients → sites → services → devices → probes, plus the agent's own settings.

Strict (unknown keys are errors) and frozen. The probe schemas are *derived* from the collector registry
(`collectors.COLLECTORS`): each kind's probe carries that collector's own `config_model`, so a new collector
needs no change here. A device's `credentials:` (per collector kind) and `platform:` are defaults merged
into each of its probes' `config:`; the probe's own keys win.

Secrets never sit in the file: every secret is `{env: NAME}` or `{file: /path}` (a `SecretSource`), read
when used and never logged. A literal `{value: ...}` is rejected with its line.

`load_inventory(path)` returns the validated inventory or raises `ConfigError`, whose message lists every
problem as `FILE:LINE: dotted.path: message` (the YAML loader records the line of every key and item).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from agent.casefile import PolicyIn, QualificationIn, ServiceIn
from agent.inputs import InputError, KeyPath, dotted, line_of, load_yaml_with_lines, read_text
from collectors import COLLECTORS, config_model
from collectors.base import SecretSource

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
Ident = Annotated[str, Field(pattern=ID_PATTERN, description="letters, digits, `_`, `.`, `-`; used as a series tag")]


class ConfigError(Exception):
    """An inventory that cannot be used; `errors` holds one `FILE:LINE: path: message` line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- probes: one model per registered collector kind -------------------------------------------------------


class ProbeBase(_Strict):
    name: Ident | None = Field(
        default=None,
        description="unique within the service; default `<kind>-<device>`. Its prefix is the probe group "
        "(Mobile: `voice-…` / `data-…`, sla-semantics §5)",
    )
    interval_s: int = Field(default=60, ge=1, le=86400, description="run every interval_s, on a fixed grid")
    jitter_s: float | None = Field(default=None, ge=0, description="random start delay; default min(interval/10, 5 s)")
    timeout_s: float | None = Field(default=None, gt=0, description="hard limit of one run; default 0.9 × interval_s")
    target: str | None = Field(default=None, description="default: the device's address")

    @model_validator(mode="after")
    def _bounds(self) -> ProbeBase:
        if self.jitter_s is not None and self.jitter_s >= self.interval_s / 2:
            raise ValueError(f"jitter_s: {self.jitter_s} must be below half of interval_s ({self.interval_s})")
        if self.timeout_s is not None and self.timeout_s > self.interval_s:
            raise ValueError(f"timeout_s: {self.timeout_s} is longer than interval_s {self.interval_s}")
        return self

    @property
    def effective_jitter_s(self) -> float:
        return self.jitter_s if self.jitter_s is not None else min(self.interval_s / 10, 5.0)

    @property
    def effective_timeout_s(self) -> float:
        return self.timeout_s if self.timeout_s is not None else 0.9 * self.interval_s


def _probe_model(kind: str) -> type[ProbeBase]:
    literal: Any = Literal[kind]
    return create_model(
        f"{kind.title()}Probe",
        __base__=ProbeBase,
        kind=(literal, ...),
        config=(config_model(kind), ...),
    )


# The schemas only (`config_model`): validating a config imports no collector (pysnmp & co. load when a
# probe of their kind first runs).
PROBE_MODELS: dict[str, type[ProbeBase]] = {kind: _probe_model(kind) for kind in COLLECTORS}
if len(PROBE_MODELS) == 1:
    Probe: Any = next(iter(PROBE_MODELS.values()))
else:
    from typing import Union

    Probe = Annotated[Union[tuple(PROBE_MODELS.values())], Field(discriminator="kind")]  # noqa: UP007


# --- the inventory tree ------------------------------------------------------------------------------------


class Device(_Strict):
    name: Ident
    address: str = Field(min_length=1)
    platform: str | None = Field(default=None, description="device profile name, e.g. cisco_ios (device_profiles/)")
    credentials: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per collector kind: config keys merged into each probe of that kind"
    )
    probes: tuple[Probe, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("probes"), list):
            return data
        credentials = data.get("credentials") or {}
        platform = data.get("platform")
        probes = []
        for probe in data["probes"]:
            if isinstance(probe, dict) and probe.get("kind") in COLLECTORS:
                kind = probe["kind"]
                own = probe.get("config") or {}
                if not isinstance(own, dict):
                    probes.append(probe)
                    continue
                merged = dict(credentials.get(kind) or {}) if isinstance(credentials, dict) else {}
                fields = config_model(kind).model_fields
                if platform is not None and "platform" in fields and "platform" not in own:
                    merged["platform"] = platform
                merged.update(own)
                probe = {**probe, "config": merged}
            probes.append(probe)
        return {**data, "probes": probes}

    @field_validator("credentials")
    @classmethod
    def _known_kinds(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for kind in value:
            if kind not in COLLECTORS:
                raise ValueError(f"{kind!r} is not a probe kind; expected one of {' | '.join(COLLECTORS)}")
        return value


class ServiceConfig(ServiceIn):
    """A service instance as billed (the `vigie sla compute` service block) plus how it is measured."""

    policy: PolicyIn = Field(default_factory=PolicyIn)
    qualification: QualificationIn = Field(default_factory=lambda: QualificationIn.model_validate({}))
    devices: tuple[Device, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> ServiceConfig:
        _unique("devices", [d.name for d in self.devices])
        _unique("probe name", [probe_name(d, p) for d in self.devices for p in d.probes])
        return self


class Site(_Strict):
    id: Ident
    name: str | None = None
    agent: Ident | None = Field(default=None, description="the edge agent that polls this site (default: any)")
    services: tuple[ServiceConfig, ...] = Field(min_length=1)


class Client(_Strict):
    id: Ident
    name: str | None = None
    sites: tuple[Site, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_sites(self) -> Client:
        _unique("sites", [s.id for s in self.sites])
        return self


# --- the agent's own settings ------------------------------------------------------------------------------


class Role(StrEnum):
    EDGE = "edge"
    CENTRAL = "central"


class SpoolConfig(_Strict):
    path: Path = Field(default=Path("vigie-spool.db"), description="relative paths are relative to the config file")
    max_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=64 * 1024,
        description="bytes of line protocol kept (as sent, before gzip); when full, old samples are downsampled",
    )


class EmbeddedStoreConfig(_Strict):
    kind: Literal["embedded"] = "embedded"
    path: Path = Path("vigie.db")


class InfluxStoreConfig(_Strict):
    kind: Literal["influxdb"]
    url: str = Field(pattern=r"^https?://", description="InfluxDB v2 write API base URL (1.8+, 2.x, 3.x)")
    token: SecretSource
    org: str = "vigie"
    bucket: str = "vigie"
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    flush_interval_s: float = Field(default=1.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)
    gzip: bool = True
    max_backoff_s: float = Field(default=300.0, ge=1)


StoreConfig = Annotated[EmbeddedStoreConfig | InfluxStoreConfig, Field(discriminator="kind")]


class MetricsConfig(_Strict):
    listen: str | None = Field(default="127.0.0.1:9108", description="host:port of /metrics; null disables it")

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\[?[0-9A-Za-z.:-]*\]?:\d{1,5}", value):
            raise ValueError(f"{value!r} is not host:port")
        return value


class CentralConfig(_Strict):
    heartbeat_timeout_s: int = Field(default=90, ge=1, description="an agent silent this long makes its sites unknown")
    recompute_interval_s: int = Field(default=300, ge=1, description="statements of the current month, every …")
    noc_probes: tuple[str, ...] = Field(
        default=(),
        description="probe kinds the central role also runs itself, from the NOC (a second vantage point), "
        "e.g. [icmp]: tells 'site down' from 'agent down'; the service's quorum decides",
    )
    ledger: Path = Field(
        default=Path("vigie-ledger.sqlite"),  # the `vigie ticket|exclusion|maintenance --ledger` default
        description="the annotation ledger read at each recomputation (tickets, exclusions, maintenance); "
        "relative paths are relative to the config file; a missing file is an empty ledger",
    )

    @field_validator("noc_probes")
    @classmethod
    def _known_kinds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for kind in value:
            if kind not in COLLECTORS:
                raise ValueError(f"{kind!r} is not a probe kind; expected one of {' | '.join(COLLECTORS)}")
        return value


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


class AgentConfig(_Strict):
    id: Ident = Field(description="this agent's name (series tag `agent`)")
    heartbeat_interval_s: int = Field(default=30, ge=1)
    spool: SpoolConfig = Field(default_factory=SpoolConfig)
    store: StoreConfig = Field(default_factory=EmbeddedStoreConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    central: CentralConfig = Field(default_factory=CentralConfig)
    log_format: LogFormat = LogFormat.JSON


# --- notifications: incident notifications, written confirmations, claim reminders (agent/notify_schedule.py)


EMAIL_PATTERN = r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$"
Email = Annotated[str, Field(pattern=EMAIL_PATTERN, description="an e-mail address, e.g. noc@acme.example")]


class SmtpSecurity(StrEnum):
    NONE = "none"  # plain SMTP (a relay on localhost)
    STARTTLS = "starttls"  # submission, port 587
    SSL = "ssl"  # implicit TLS, port 465


class SmtpServerConfig(_Strict):
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    username: str | None = None
    password: SecretSource | None = Field(default=None, description="{env: NAME} or {file: /path}")
    timeout_s: float = Field(default=10.0, gt=0)
    ca_file: Path | None = Field(
        default=None,
        description="CA certificate(s) to trust instead of the system's; relative: to the ledger's directory",
    )

    @model_validator(mode="after")
    def _login_pair(self) -> SmtpServerConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together (SMTP AUTH needs both, or neither)")
        return self


class ClientNotifications(_Strict):
    """Who speaks for a client (VGA 5.7: declarant, contact) and where its messages go."""

    to: tuple[Email, ...] = Field(
        default=("telecom@technicophone.fr",), min_length=1, description="the provider's support address (VGA 5.1)"
    )
    internal: tuple[Email, ...] = Field(
        default=(), description="the client's own people: copied on notifications, recipients of claim reminders"
    )
    declarant: str = Field(min_length=1, description="VGA 5.7 « le nom de l'interlocuteur déclarant »")
    contact: str = Field(min_length=1, description="VGA 5.7 « la personne à contacter » (name, phone)")
    address: str | None = Field(default=None, description="registered office, printed on the claim letter")
    consequences: str = "Absence totale du service sur le site"
    locations: dict[Ident, str] = Field(default_factory=dict, description="site id → postal address of the site")


class ReminderConfig(_Strict):
    days_before: tuple[Annotated[int, Field(ge=0, le=60)], ...] = Field(
        default=(7, 0), description="remind this many days before the claim alert date (0: on the day)"
    )
    months_back: int = Field(default=3, ge=1, le=12, description="closed months looked at")


class NotificationsConfig(_Strict):
    sender: Email = Field(alias="from", description="From: of every message (and its read-receipt address)")
    send: bool = Field(default=False, description="send over SMTP; false: only write drafts")
    smtp: SmtpServerConfig | None = None
    incident_after_min: int = Field(
        default=15, ge=1, le=1440, description="an outage still open after this long gets an incident notification"
    )
    drafts: Path = Field(
        default=Path("vigie-drafts"),
        description="every message is written here (.eml); relative to the directory of agent.central.ledger",
    )
    state: Path = Field(
        default=Path("vigie-notify.sqlite"),
        description="what was drafted and sent, so nothing goes twice; relative to agent.central.ledger's directory",
    )
    clients: dict[Ident, ClientNotifications] = Field(default_factory=dict, description="client id → its settings")
    reminders: ReminderConfig = Field(default_factory=ReminderConfig)

    @model_validator(mode="after")
    def _send_needs_smtp(self) -> NotificationsConfig:
        if self.send and self.smtp is None:
            raise ValueError("send: true needs an smtp: server (or send: false to only write drafts)")
        return self


class Inventory(_Strict):
    version: Literal[1] = 1
    agent: AgentConfig
    clients: tuple[Client, ...] = ()
    notifications: NotificationsConfig | None = None

    @model_validator(mode="after")
    def _unique_ids(self) -> Inventory:
        _unique("clients", [c.id for c in self.clients])
        _unique("service id", [s.id for c in self.clients for site in c.sites for s in site.services])
        return self

    def reference_errors(self) -> Iterator[tuple[KeyPath, str]]:
        """Keys that must name something of the inventory (checked after validation, reported with their line)."""
        if self.notifications is None:
            return
        sites = {c.id: {s.id for s in c.sites} for c in self.clients}
        for client_id, settings in self.notifications.clients.items():
            where: KeyPath = ("notifications", "clients", client_id)
            if client_id not in sites:
                yield where, f"{client_id!r} is not a client of this inventory"
                continue
            for site_id in settings.locations:
                if site_id not in sites[client_id]:
                    yield (*where, "locations", site_id), f"{site_id!r} is not a site of client {client_id!r}"

    def services(self) -> Iterator[tuple[Client, Site, ServiceConfig]]:
        for client in self.clients:
            for site in client.sites:
                for service in site.services:
                    yield client, site, service

    def probes(self, agent: str | None = None) -> Iterator[ProbeSpec]:
        """Every probe, or only those of the sites `agent` polls (sites without `agent:` belong to all)."""
        for client, site, service in self.services():
            if agent is not None and site.agent not in (None, agent):
                continue
            for device in service.devices:
                for probe in device.probes:
                    yield ProbeSpec(client.id, site.id, service, device, probe)


@dataclass(frozen=True)
class ProbeSpec:
    client: str
    site: str
    service: ServiceConfig
    device: Device
    probe: Any  # one of PROBE_MODELS

    @property
    def name(self) -> str:
        return probe_name(self.device, self.probe)

    @property
    def id(self) -> str:
        """Unique in the inventory: the key of this probe's samples."""
        return f"{self.client}/{self.site}/{self.service.id}/{self.name}"

    @property
    def target(self) -> str:
        return str(self.probe.target or self.device.address)


def probe_name(device: Device, probe: Any) -> str:
    return str(probe.name or f"{probe.kind}-{device.name}")


def _unique(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ValueError(f"{what}: {n!r} appears more than once")
        seen.add(n)


# --- YAML with line marks (agent/inputs.py's load_yaml_with_lines, shared with the claims manifest) ---------


def _yaml_path(data: Any, loc: tuple[str | int, ...]) -> KeyPath:
    """Pydantic's error location → the path in the document (dropping union tags and validator names)."""
    path: list[str | int] = []
    cursor = data
    for part in loc:
        in_dict = isinstance(cursor, dict) and part in cursor
        if in_dict or (isinstance(cursor, list) and isinstance(part, int) and 0 <= part < len(cursor)):
            cursor = cursor[part]
            path.append(part)
        elif isinstance(cursor, dict | list):
            continue  # a discriminator tag or a validator name inside pydantic's location
        else:
            break
    # a key the document does not have (a missing required key) still names where it belongs
    tail = [p for p in loc[len(path) :] if isinstance(p, str) and not p.startswith(("function-", "tagged-union"))]
    return (*path, *tail[-1:]) if tail and not isinstance(cursor, str | int | float | Decimal) else tuple(path)


def _literal_secrets(data: Any, path: KeyPath) -> Iterator[KeyPath]:
    """Secret sources written in clear (`{value: ...}`) anywhere in the document."""
    if isinstance(data, dict):
        if "value" in data and set(data) <= {"env", "file", "value"}:
            yield (*path, "value")
            return
        for key, item in data.items():
            yield from _literal_secrets(item, (*path, key))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _literal_secrets(item, (*path, i))


def parse_inventory(text: str, source: str = "<inventory>") -> Inventory:
    try:
        data, lines = load_yaml_with_lines(text, source)
    except InputError as exc:  # one line per problem (every duplicate key)
        raise ConfigError(str(exc).splitlines()) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{source}:1: (top): expected a mapping with `agent:` and `clients:`"])
    errors = [
        f"{source}:{line_of(lines, p)}: {dotted(p)}: a secret in clear in the config; "
        "use {env: VARIABLE} or {file: /path/to/secret}"
        for p in _literal_secrets(data, ())
    ]
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as exc:
        found = exc.errors(include_url=False, include_input=False)
        paths = [_yaml_path(data, tuple(err["loc"])) for err in found]
        for err, path in zip(found, paths, strict=True):
            if err["type"] == "too_short" and any(len(p) > len(path) and p[: len(path)] == path for p in paths):
                continue  # "at least 1 item" only because its items failed: they are reported themselves
            line = line_of(lines, path)
            where = f"{source}:{line}" if line is not None else source
            errors.append(f"{where}: {dotted(path)}: {err['msg']}")
    else:
        errors += [f"{source}:{line_of(lines, p)}: {dotted(p)}: {m}" for p, m in inventory.reference_errors()]
    if errors:
        raise ConfigError(errors)
    return inventory


@dataclass(frozen=True)
class LoadedConfig:
    inventory: Inventory
    source: Path

    def resolve(self, path: Path) -> Path:
        """Relative paths in the config are relative to the config file's directory."""
        return path if path.is_absolute() else (self.source.parent / path).resolve()


def load_inventory(path: Path) -> LoadedConfig:
    try:
        text = read_text(path)
    except InputError as exc:
        raise ConfigError([str(exc)]) from None
    return LoadedConfig(parse_inventory(text, str(path)), path.resolve())
