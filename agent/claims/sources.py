"""Where claim items come from: SLA case files, grouped per client (the store: agent/claims/store_source.py).

Two layouts:
- a claims manifest (YAML)::

      provider: {name: TECHNICOPHONE, email: telecom@technicophone.fr}   # optional
      clients:
        - id: acme
          name: ACME SAS
          address: "12 rue des Lilas, 69003 Lyon"
          contact: "Jeanne Martin, DSI"
          services:
            - {case: cases/acme-lyon-fibre-2026-11.yaml, site: Lyon, site_id: acme-lyon}

  (case paths are relative to the manifest; `site` is printed, `site_id` — the inventory's and the ledger's
  site id — scopes the ledger records, and defaults to `site`);
- a directory whose sub-directories are clients, each holding that client's case files; the site is the
  case file's name without `.yaml`.

With a ledger, each service instance gets the ledger's tickets and exclusions for its (client, site,
service) and month, and the claim lists the ids of the records used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.casefile import load_case
from agent.claims.build import ClaimError, ClaimItem, ClientInfo, FreezeSpan, ProviderInfo
from agent.inputs import InputError, KeyPath, dotted, line_of, load_yaml_with_lines, read_text
from agent.ledger import Ledger, ServiceRef, fold_all, slice_for, with_ledger
from agent.ledger.convert import LedgerView
from agent.ledger.crosscheck import findings_for
from sla.calendars import Month, epoch
from sla.statement import Case, compute


@dataclass(frozen=True)
class ClientCases:
    client: ClientInfo
    cases: tuple[tuple[str, str, Path], ...]  # (site label, site id in the ledger, case file)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The manifest's schema: every key known, every value text, so a misspelt or misplaced key (`phone:` under
# provider, `notes:` in a service) is refused at its line instead of a TypeError or silence.
Text = Annotated[str, Field(min_length=1)]


class ProviderIn(_Strict):
    name: Text = ProviderInfo.name
    email: Text = ProviderInfo.email
    address: Text | None = None


class ServiceEntry(_Strict):
    case: Text
    site: Text
    site_id: Text | None = None  # default: site


class ClientEntry(_Strict):
    id: Text
    name: Text | None = None  # default: id
    address: Text | None = None
    contact: Text | None = None
    services: list[ServiceEntry] = Field(default_factory=list)


class Manifest(_Strict):
    provider: ProviderIn | None = None
    clients: list[ClientEntry]


def _manifest_errors(exc: ValidationError, lines: dict[KeyPath, int], source: str) -> list[str]:
    """`FILE:LINE: clients[0].services[1].notes: unknown key (value 'x')`: pydantic's location is the key's
    path in the document (the manifest has no unions), whose line the loader recorded."""
    out = []
    for err in exc.errors(include_url=False):
        path: KeyPath = tuple(err["loc"])
        line = line_of(lines, path)  # None: a key missing at the top level
        where = f"{source}{'' if line is None else f':{line}'}: {dotted(path)}"
        value = err.get("input")
        if err["type"] == "missing":
            out.append(f"{where}: required key missing")
        elif err["type"] == "extra_forbidden":
            out.append(f"{where}: unknown key (value {value!r})")
        elif err["type"] == "model_type":
            out.append(f"{where}: {value!r} is not valid: expected a mapping")
        else:
            shown = "a mapping" if isinstance(value, dict) else repr(value)
            out.append(f"{where}: {shown} is not valid: {err['msg']}")
    return out


def read_manifest(path: Path) -> tuple[ProviderInfo, list[ClientCases]]:
    try:
        raw, lines = load_yaml_with_lines(read_text(path), str(path))
    except InputError as exc:
        raise ClaimError("\n".join(f"claims manifest: {line}" for line in str(exc).splitlines())) from None
    if not isinstance(raw, dict):
        raise ClaimError(f"{path}:1: expected a mapping with clients: [...]")
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise ClaimError("\n".join(_manifest_errors(exc, lines, str(path)))) from None
    given = manifest.provider or ProviderIn()
    provider = ProviderInfo(name=given.name, email=given.email, address=given.address)
    out = []
    for c in manifest.clients:
        services = tuple((s.site, s.site_id or s.site, path.parent / s.case) for s in c.services)
        info = ClientInfo(id=c.id, name=c.name or c.id, address=c.address, contact=c.contact)
        out.append(ClientCases(info, services))
    return provider, out


def read_cases_dir(path: Path) -> list[ClientCases]:
    if not path.is_dir():
        raise ClaimError(f"{path}: not a directory")
    out = []
    for client_dir in sorted(p for p in path.iterdir() if p.is_dir()):
        cases = tuple((f.stem, f.stem, f) for f in sorted(client_dir.glob("*.yaml")))
        if cases:
            out.append(ClientCases(ClientInfo(id=client_dir.name, name=client_dir.name), cases))
    return out


def freezes_of(case: Case) -> tuple[FreezeSpan, ...]:
    return tuple(FreezeSpan(t.id, epoch(f.start), epoch(f.end), f.reason) for t in case.tickets for f in t.freezes)


def items_for(
    group: ClientCases,
    month: Month,
    ledger_view: LedgerView | None = None,
    *,
    strict_month: bool = True,
) -> list[ClaimItem]:
    items = []
    for site, site_id, path in group.cases:
        case = load_case(path)
        if case.month != month:
            if strict_month:
                raise ClaimError(f"{path}: month {case.month} is not the month claimed ({month})")
            continue
        ref = ServiceRef(group.client.id, site_id, case.service.id)
        items.append(claim_item(case, ref, site, ledger_view, path.name))
    return items


def claim_item(case: Case, ref: ServiceRef, site_label: str, view: LedgerView | None, source: str) -> ClaimItem:
    """One service's line of a claim: its case with the ledger's tickets and exclusions for `ref` applied."""
    ids: tuple[int, ...] = ()
    provider_refs: tuple[tuple[str, str], ...] = ()
    if view is not None:
        part = slice_for(view, ref, case.month)
        case = with_ledger(case, part)
        ids, provider_refs = part.record_ids, part.provider_refs
    statement = compute(case)
    return ClaimItem(
        client=ref.client,
        site=site_label,
        statement=statement,
        ledger_record_ids=ids,
        freezes=freezes_of(case),
        source=source,
        findings=() if view is None else findings_for(view, ref, statement),
        provider_refs=provider_refs,
    )


def ledger_view(path: Path | None, client: str | None, ledger: Ledger | None = None) -> LedgerView | None:
    if path is None and ledger is None:
        return None
    if ledger is not None:
        return fold_all(ledger.records(client=client))
    from agent.clock import SystemClock

    assert path is not None
    with Ledger(path, SystemClock()) as book:
        return fold_all(book.records(client=client))
