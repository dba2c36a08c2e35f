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
from typing import Any

from agent.casefile import load_case
from agent.claims.build import ClaimError, ClaimItem, ClientInfo, FreezeSpan, ProviderInfo
from agent.inputs import InputError, UniqueKeyLoader, load_yaml, read_text
from agent.ledger import Ledger, ServiceRef, fold_all, slice_for, with_ledger
from agent.ledger.convert import LedgerView
from agent.ledger.crosscheck import findings_for
from sla.calendars import Month, epoch
from sla.statement import Case, compute


@dataclass(frozen=True)
class ClientCases:
    client: ClientInfo
    cases: tuple[tuple[str, str, Path], ...]  # (site label, site id in the ledger, case file)


def read_manifest(path: Path) -> tuple[ProviderInfo, list[ClientCases]]:
    try:
        raw: Any = load_yaml(read_text(path), str(path), UniqueKeyLoader)
    except InputError as exc:
        raise ClaimError(f"claims manifest: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("clients"), list):
        raise ClaimError(f"{path}: expected a mapping with clients: [...]")
    provider = ProviderInfo(**(raw.get("provider") or {}))
    out = []
    for i, c in enumerate(raw["clients"]):
        where = f"{path}: clients[{i}]"
        if not isinstance(c, dict) or not c.get("id"):
            raise ClaimError(f"{where}: id: required")
        services = []
        for j, s in enumerate(c.get("services") or []):
            if not isinstance(s, dict) or not s.get("case") or not s.get("site"):
                raise ClaimError(f"{where}.services[{j}]: case and site are required")
            services.append((str(s["site"]), str(s.get("site_id") or s["site"]), path.parent / str(s["case"])))
        info = ClientInfo(
            id=str(c["id"]), name=str(c.get("name") or c["id"]), address=c.get("address"), contact=c.get("contact")
        )
        out.append(ClientCases(info, tuple(services)))
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
