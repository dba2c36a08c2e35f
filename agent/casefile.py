"""The SLA case file of `vigie sla compute` (sla-semantics §7): YAML (+ optional samples CSV) → `sla.Case`.

Every error names the key, the value and what was expected (`outages[2].end: 2026-10-14T09:00:00+02:00 is
before start 2026-10-14T10:00:00+02:00`); a case file either loads whole or not at all.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agent.inputs import YEARS, InputError, load_yaml, read_text, year_problem
from sla.calendars import Month, check_subdivision
from sla.model import (
    AccessType,
    Cause,
    Channel,
    Denominator,
    Exclusion,
    Freeze,
    GtrOption,
    Outage,
    Policy,
    Qualification,
    Service,
    Ticket,
    TicketKind,
    UnknownAs,
    Window,
)
from sla.profiles import CONTRACTS
from sla.statement import Case, ProbeSamples


class CaseFileError(Exception):
    """A case file that cannot be evaluated; the message lists every problem, one per line."""


# --- schema ----------------------------------------------------------------------------------------------


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    return value


# A fee is bounded so every figure derived from it fits Decimal's 28 digits (a 41-digit fee was an
# InvalidOperation traceback in the credit computation); no monthly fee comes near a trillion euros.
Money = Annotated[Decimal, BeforeValidator(_no_float), Field(ge=0, lt=10**12)]


def _in_years(value: date) -> date:
    problem = year_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# Every date and time of a case file (and of an inventory's services): a year like 9999 is refused here, naming
# its key, rather than overflowing in the statement (one day or one month past it).
Day = Annotated[date, AfterValidator(_in_years)]
Time = Annotated[AwareDatetime, AfterValidator(_in_years)]

# The service keys that only some contracts have (sla-semantics §7: "VGA only", "Hosted only"): given on
# another contract they would be ignored without a word, so a wrong `contract:` would pass unnoticed.
CONTRACT_KEYS = {"access_type": "vga", "gtr_option": "vga", "probation_until": "hosted"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Span(_Strict):
    start: Time
    end: Time

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and end <= start:
            raise ValueError(f"{end.isoformat()} is not after start {start.isoformat()}")
        return end


class ServiceIn(_Strict):
    id: str = Field(min_length=1)
    contract: str
    monthly_fee_eur: Money
    in_service_from: Day | None = None
    in_service_until: Day | None = None
    access_type: AccessType | None = None
    gtr_option: GtrOption | None = None
    probation_until: Day | None = None

    @field_validator("contract")
    @classmethod
    def _known_contract(cls, contract: str) -> str:
        if contract not in CONTRACTS:
            raise ValueError(f"{contract!r} is not a contract; expected one of {' | '.join(CONTRACTS)}")
        return contract

    @model_validator(mode="after")
    def _vga_fields(self) -> ServiceIn:
        for name, contract in CONTRACT_KEYS.items():
            value = getattr(self, name)
            if value is not None and self.contract != contract:
                shown = value.value if isinstance(value, AccessType | GtrOption) else str(value)
                raise ValueError(
                    f"{name}: {shown!r} applies to contract {contract} only, not {self.contract}; remove it "
                    "(or correct contract:)"
                )
        if self.contract == "vga":
            for name in ("access_type", "gtr_option"):
                if getattr(self, name) is None:
                    raise ValueError(f"{name} is required for contract vga")
            if self.access_type is AccessType.ISDN_T0 and self.gtr_option is GtrOption.BUSINESS_6H:
                raise ValueError(
                    "gtr_option: '6h_business' is not offered on access_type 'isdn_t0' "
                    "(VGA 5.2); expected standard | 6h_24x7"
                )
        if (
            self.in_service_from is not None
            and self.in_service_until is not None
            and self.in_service_until < self.in_service_from
        ):
            raise ValueError(f"in_service_until: {self.in_service_until} is before in_service_from")
        return self

    def to_sla(self) -> Service:
        return Service(
            id=self.id,
            contract=self.contract,
            monthly_fee_eur=self.monthly_fee_eur,
            in_service_from=self.in_service_from,
            in_service_until=self.in_service_until,
            access_type=self.access_type,
            gtr_option=self.gtr_option,
            probation_until=self.probation_until,
        )


class PolicyIn(_Strict):
    window: Window = Window.COVERAGE
    denominator: Denominator = Denominator.CALENDAR_MONTH
    count_unnotified: bool = False
    boundary_99_5: Literal[3, 5] = 3
    unknown_as: UnknownAs = UnknownAs.AVAILABLE
    holidays_subdivision: str | None = None
    extra_closed_days: list[Day] = Field(default_factory=list)

    @field_validator("holidays_subdivision")
    @classmethod
    def _known_subdivision(cls, value: str | None) -> str | None:
        if value is not None:
            check_subdivision(str(value))
        return value

    def to_sla(self) -> Policy:
        return Policy(
            window=self.window,
            denominator=self.denominator,
            count_unnotified=self.count_unnotified,
            boundary_99_5=self.boundary_99_5,
            unknown_as=self.unknown_as,
            holidays_subdivision=self.holidays_subdivision,
            extra_closed_days=frozenset(self.extra_closed_days),
        )


class QualificationIn(_Strict):
    down_after: int = Field(3, ge=1)
    up_after: int = Field(2, ge=1)
    microcut_s: int = Field(60, ge=0)
    interval_s: int | None = Field(None, ge=1)
    quorum: Literal["all"] | Annotated[int, Field(ge=1)] = "all"

    def to_sla(self) -> Qualification:
        return Qualification(
            down_after=self.down_after,
            up_after=self.up_after,
            microcut_s=self.microcut_s,
            interval_s=self.interval_s,
            quorum=None if self.quorum == "all" else int(self.quorum),
        )


class OutageIn(_Span):
    notified_at: Time | None = None


class ExclusionIn(_Span):
    cause: Cause
    announced_at: Time | None = None
    note: str | None = None
    evidence: str | None = None
    author: str | None = None


class FreezeIn(_Span):
    reason: str | None = None


class TicketIn(_Strict):
    id: str = Field(min_length=1)
    kind: TicketKind = TicketKind.REPAIR
    channel: Channel = Channel.EMAIL
    opened_at: Time
    confirmed_in_writing_at: Time | None = None
    restored_at: Time | None = None
    cause: Cause | None = None
    freezes: list[FreezeIn] = Field(default_factory=list)

    @field_validator("restored_at", "confirmed_in_writing_at")
    @classmethod
    def _after_opening(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        opened = info.data.get("opened_at")
        if value is not None and opened is not None and value < opened:
            raise ValueError(f"{value.isoformat()} is before opened_at {opened.isoformat()}")
        return value

    @field_validator("freezes")
    @classmethod
    def _inside_life(cls, freezes: list[FreezeIn], info: ValidationInfo) -> list[FreezeIn]:
        opened, restored = info.data.get("opened_at"), info.data.get("restored_at")
        for i, f in enumerate(freezes):
            if opened is not None and f.start < opened:
                raise ValueError(f"[{i}].start: {f.start.isoformat()} is before the ticket was opened")
            if restored is not None and f.end > restored:
                raise ValueError(f"[{i}].end: {f.end.isoformat()} is after the ticket was restored")
        return freezes


class CaseIn(_Strict):
    month: str
    service: ServiceIn
    policy: PolicyIn = Field(default_factory=PolicyIn)
    outages: list[OutageIn] = Field(default_factory=list)
    samples: str | None = None
    qualification: QualificationIn = Field(default_factory=QualificationIn)
    exclusions: list[ExclusionIn] = Field(default_factory=list)
    tickets: list[TicketIn] = Field(default_factory=list)

    @field_validator("month")
    @classmethod
    def _month(cls, value: str) -> str:
        return check_month(value)

    @model_validator(mode="after")
    def _one_source(self) -> CaseIn:
        if self.samples is not None and self.outages:
            raise ValueError("give either outages: or samples:, not both")
        ids = [t.id for t in self.tickets]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"tickets: id {duplicates[0]!r} appears more than once")
        return self


def check_month(text: str) -> str:
    """`text` if it is a month YYYY-MM of the years Vigie handles (9999-12 has no month after it)."""
    month = Month.parse(text)
    if year_problem(month.first_day) is not None:
        raise ValueError(f"{text!r} is outside the {YEARS}")
    return text


# --- error formatting ----------------------------------------------------------------------------------

_EXPECTED = {
    "timezone_aware": "expected an ISO 8601 time with a UTC offset, e.g. 2026-10-14T10:00:00+02:00",
    "datetime_from_date_parsing": "expected an ISO 8601 time with a UTC offset, e.g. 2026-10-14T10:00:00+02:00",
    "datetime_parsing": "expected an ISO 8601 time with a UTC offset, e.g. 2026-10-14T10:00:00+02:00",
    "datetime_type": "expected an ISO 8601 time with a UTC offset, e.g. 2026-10-14T10:00:00+02:00",
    "date_from_datetime_parsing": "expected a date YYYY-MM-DD",
    "date_parsing": "expected a date YYYY-MM-DD",
    "decimal_parsing": 'expected a decimal number, e.g. "450.00"',
    "extra_forbidden": "unknown key",
    "missing": "required key missing",
    "string_type": 'expected text (quote a number or a date: "12345")',
}


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "literal[", "int", "str", "union[")) or part in ("lax-or-strict",):
            continue
        else:
            out += f".{part}" if out else part
    return out


def format_errors(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        path = _path(err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        expected = _EXPECTED.get(err["type"])
        value = err.get("input")
        if err["type"] == "missing":
            lines.append(f"{path}: required key missing")
        elif err["type"] == "extra_forbidden":
            lines.append(f"{path}: unknown key (value {value!r})")
        elif err["type"] == "value_error":
            if message.startswith("[") and "]." in message:  # nested index reported by a list validator
                index, rest = message.split(": ", 1)
                lines.append(f"{path}{index}: {rest}")
            else:
                lines.append(f"{path}: {message}" if path else message)
        else:
            shown = value if not isinstance(value, dict) else "{...}"
            lines.append(f"{path}: {shown!s} is not valid; {expected or message}")
    return lines


# --- samples CSV ---------------------------------------------------------------------------------------

_TRUE, _FALSE = {"1", "true", "yes", "up", "ok"}, {"0", "false", "no", "down", "fail"}


def load_samples(path: Path) -> tuple[ProbeSamples, ...]:
    """CSV with header time,probe,ok (sla-semantics §7). Errors name the file, the line and the value."""
    times: dict[str, list[int]] = defaultdict(list)
    oks: dict[str, list[bool]] = defaultdict(list)
    errors: list[str] = []
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise CaseFileError(f"samples: cannot read {path}: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header] != ["time", "probe", "ok"]:
            raise CaseFileError(f"{path} line 1: header {header!r} is not valid; expected time,probe,ok")
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != 3:
                errors.append(f"{path} line {line}: {len(row)} columns; expected 3 (time,probe,ok)")
                continue
            text, probe, ok = (cell.strip() for cell in row)
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                errors.append(f"{path} line {line}: time {text!r} is not an ISO 8601 time")
                continue
            if moment.tzinfo is None:
                errors.append(f"{path} line {line}: time {text!r} has no UTC offset")
                continue
            if not probe:
                errors.append(f"{path} line {line}: probe name is empty")
                continue
            flag = ok.lower()
            if flag not in _TRUE | _FALSE:
                errors.append(f"{path} line {line}: ok {ok!r} is not valid; expected 1/0 or true/false")
                continue
            times[probe].append(int(moment.timestamp()))
            oks[probe].append(flag in _TRUE)
            if len(errors) > 20:
                break
    if errors:
        raise CaseFileError("\n".join(errors))
    if not times:
        raise CaseFileError(f"{path}: no samples")
    import numpy as np  # here, not at the top: the edge agent imports this module (config) but never numpy

    out = []
    for probe in sorted(times):
        t = np.asarray(times[probe], dtype=np.int64)
        order = np.argsort(t, kind="stable")
        out.append(ProbeSamples(probe=probe, times=t[order], ok=np.asarray(oks[probe], dtype=np.bool_)[order]))
    return tuple(out)


# --- case ----------------------------------------------------------------------------------------------


def parse_policy_overrides(items: list[str]) -> dict[str, Any]:
    """`--policy key=value` (values read as YAML scalars: 5, true, "57")."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CaseFileError(f"--policy {item!r}: expected key=value, e.g. --policy boundary_99_5=5")
        parsed = load_yaml(value, f"--policy {key}")
        if key.strip() == "holidays_subdivision" and parsed is not None:
            parsed = str(parsed)
        if key.strip() == "extra_closed_days" and isinstance(parsed, str):
            parsed = [d.strip() for d in parsed.split(",") if d.strip()]
        out[key.strip()] = parsed
    return out


def load_case(path: Path, policy_overrides: dict[str, Any] | None = None) -> Case:
    try:
        raw = load_yaml(read_text(path), str(path))
    except InputError as exc:
        raise CaseFileError(str(exc)) from None
    if not isinstance(raw, dict):
        raise CaseFileError(f"{path}: expected a mapping with month:, service:, … at the top level")
    if policy_overrides:
        policy = raw.get("policy") or {}
        if not isinstance(policy, dict):
            raise CaseFileError(f"{path}: policy: expected a mapping")
        raw = {**raw, "policy": {**policy, **policy_overrides}}
    try:
        case = CaseIn.model_validate(raw)
    except ValidationError as exc:
        raise CaseFileError("\n".join(f"{path}: {line}" for line in format_errors(exc))) from None
    samples = load_samples(path.parent / case.samples) if case.samples is not None else None
    return to_case(case, samples)


def to_case(c: CaseIn, samples: tuple[ProbeSamples, ...] | None) -> Case:
    return Case(
        month=Month.parse(c.month),
        service=c.service.to_sla(),
        policy=c.policy.to_sla(),
        qualification=c.qualification.to_sla(),
        outages=tuple(Outage(start=o.start, end=o.end, notified_at=o.notified_at) for o in c.outages),
        samples=samples,
        exclusions=tuple(
            Exclusion(
                cause=x.cause,
                start=x.start,
                end=x.end,
                announced_at=x.announced_at,
                note=x.note,
                evidence=x.evidence,
                author=x.author,
            )
            for x in c.exclusions
        ),
        tickets=tuple(
            Ticket(
                id=t.id,
                kind=t.kind,
                channel=t.channel,
                opened_at=t.opened_at,
                confirmed_in_writing_at=t.confirmed_in_writing_at,
                restored_at=t.restored_at,
                cause=t.cause,
                freezes=tuple(Freeze(start=f.start, end=f.end, reason=f.reason) for f in t.freezes),
            )
            for t in c.tickets
        ),
    )
