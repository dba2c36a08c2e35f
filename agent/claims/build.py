"""From statements to a client's monthly claim: the annex data (what the PDF, CSV and JSON all show) and
its digest. Pure: statements in, data out; the date of today is an argument.

The builder takes `ClaimItem`s: a `Statement` (sla.statement.compute) with where it belongs (client, site),
the ids of the ledger records it used and, for the timeline chart, the tickets' freezes. Case files feed it
today (agent/claims/sources.py); the store-backed central role will feed it the same objects.

Statuses (sla-semantics §2 claim deadline, STD x.1 "Toute demande de pénalités effectuée après ce délai sera
automatiquement nulle et non avenue"):
- a service line is `void` when today is after its `claim_deadline` (VGA has none: "une fois par an");
- the claim is `open` while the month is not over (refused unless drafting), `void` when every line that
  would earn money is void, `nothing_to_claim` when no line earns money, else `claim`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from agent.ledger.crosscheck import Finding
from sla.calendars import Month, epoch
from sla.statement import (
    SIXTY,
    Statement,
    exclusion_json,
    iso,
    minutes_text,
    ticket_json,
    to_json,
)

FORMAT = "vigie-claim/1"


class ClaimError(ValueError):
    """A claim that cannot be built (open month without --draft, mixed months, …)."""


@dataclass(frozen=True)
class ClientInfo:
    id: str
    name: str
    address: str | None = None
    contact: str | None = None  # the designated contact (CGV 4.3)


@dataclass(frozen=True)
class ProviderInfo:
    name: str = "TECHNICOPHONE"
    email: str = "telecom@technicophone.fr"  # VGA 5.1 / STD support paragraph
    address: str | None = None


@dataclass(frozen=True)
class FreezeSpan:
    ticket: str
    start: int
    end: int
    reason: str | None = None


@dataclass(frozen=True)
class ClaimItem:
    client: str
    site: str
    statement: Statement
    ledger_record_ids: tuple[int, ...] = ()
    freezes: tuple[FreezeSpan, ...] = ()
    source: str | None = None  # where the inputs came from (a case file path, "store")
    # what the ledger records and the measurements disagree on (agent.ledger.crosscheck.findings_for)
    findings: tuple[Finding, ...] = ()
    # (ticket reference, the provider's reference attached to it in the ledger; VGA 5.7)
    provider_refs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Claim:
    client: ClientInfo
    provider: ProviderInfo
    month: Month
    today: date
    draft: bool
    status: str  # claim | nothing_to_claim | void | open (draft only)
    annex: dict[str, Any]
    digest: str
    items: tuple[ClaimItem, ...] = field(repr=False)

    @property
    def total_eur(self) -> Decimal:
        return Decimal(self.annex["total_claimed_eur"])


def canonical_json(data: Any) -> bytes:
    """The bytes the digest is computed on: sorted keys, no spaces, UTF-8 (docs/claims.md)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def annex_digest(annex: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(annex)).hexdigest()


def month_is_over(month: Month, today: date) -> bool:
    return today > month.last_day


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _service_row(item: ClaimItem, today: date) -> dict[str, Any]:
    s = item.statement
    j = to_json(s)
    void = s.claim_deadline is not None and today > s.claim_deadline
    amount = Decimal("0.00") if void else s.total_credit_eur
    return {
        "client": item.client,
        "site": item.site,
        "service_id": s.service.id,
        "contract": s.service.contract,
        "contract_title": s.profile.title,
        "contract_version": s.profile.version,
        "article": s.profile.article() or None,
        "monthly_fee_eur": str(s.service.monthly_fee_eur),
        "availability_pct": j["availability_pct"],
        "gross_availability_pct": j["gross_availability_pct"],
        "shadow": j["shadow"],
        "objective_pct": j["objective_pct"],
        "objective_met": j["objective_met"],
        "minutes_in_month": j["minutes_in_month"],
        "unavailable_minutes": j["unavailable_minutes"],
        "excluded_minutes": j["excluded_minutes"],
        "counted_minutes": j["counted_minutes"],
        "tier_pct": j["tier_pct"],
        "gtr_penalty_pct": j["gtr_penalty_pct"],
        "total_credit_pct": j["total_credit_pct"],
        "cap_applied": j["cap_applied"],
        "computed_credit_eur": j["total_credit_eur"],
        "claimed_eur": str(amount),
        "claim_deadline": j["claim_deadline"],
        "claim_alert_date": j["claim_alert_date"],
        "void": void,
        "flags": list(s.flags),
        "policy": j["policy"],
        "ledger_records": list(item.ledger_record_ids),
        "source": item.source,
        # sla-semantics §5: how much of the month the measurements knew (the `incomplete_data` flag's figures)
        "unknown_minutes": j["unknown_minutes"],
        "data_completeness_pct": j["data_completeness_pct"],
    }


def _outage_rows(item: ClaimItem) -> list[dict[str, Any]]:
    s = item.statement
    rows = []
    for o in s.outages:
        touching = [
            x for x in s.exclusions if _overlap((o.start, o.end), (epoch(x.exclusion.start), epoch(x.exclusion.end)))
        ]
        rows.append(
            {
                "site": item.site,
                "service_id": s.service.id,
                "start": iso(o.start),
                "end": iso(o.end),
                "duration_minutes": minutes_text(Decimal(o.end - o.start) / SIXTY),
                "minutes_in_window": minutes_text(Decimal(o.window_s) / SIXTY),
                "excluded_minutes": minutes_text(Decimal(o.excluded_s) / SIXTY),
                "notified": o.notified,
                "counted": o.counted,
                "cause": " + ".join(sorted({x.exclusion.cause.value for x in touching if x.applied})) or None,
                "evidence": " ; ".join(x.exclusion.evidence for x in touching if x.exclusion.evidence) or None,
            }
        )
    return rows


def _ticket_rows(item: ClaimItem) -> list[dict[str, Any]]:
    provider_refs = dict(item.provider_refs)
    return [
        {
            "site": item.site,
            "service_id": item.statement.service.id,
            **ticket_json(t),
            "provider_ref": provider_refs.get(t.id),
        }
        for t in item.statement.tickets
    ]


def _exclusion_rows(item: ClaimItem) -> list[dict[str, Any]]:
    return [
        {"site": item.site, "service_id": item.statement.service.id, **exclusion_json(line)}
        for line in item.statement.exclusions
    ]


def _finding_rows(item: ClaimItem) -> list[dict[str, Any]]:
    return [
        {
            "site": item.site,
            "service_id": item.statement.service.id,
            "kind": f.kind.value,
            "subject": f.subject,
            "records": list(f.record_ids),
            "record_start": iso(epoch(f.record_start)),
            "record_end": None if f.record_end is None else iso(epoch(f.record_end)),
            "outage_start": None if f.outage is None else iso(epoch(f.outage[0])),
            "outage_end": None if f.outage is None else iso(epoch(f.outage[1])),
            "message": f.message,
        }
        for f in item.findings
    ]


def build_claim(
    client: ClientInfo,
    items: Sequence[ClaimItem],
    *,
    today: date,
    draft: bool = False,
    provider: ProviderInfo | None = None,
) -> Claim:
    if not items:
        raise ClaimError(f"client {client.id!r}: no service statement to claim on")
    months = {it.statement.month for it in items}
    if len(months) != 1:
        raise ClaimError(f"client {client.id!r}: statements of several months: {', '.join(sorted(map(str, months)))}")
    (month,) = months
    if not month_is_over(month, today) and not draft:
        raise ClaimError(
            f"client {client.id!r}: month {month} is still open on {today} (it ends {month.last_day}); "
            "claims are built from a closed month, or marked DRAFT with --draft"
        )
    services = [_service_row(it, today) for it in items]
    total = sum((Decimal(r["claimed_eur"]) for r in services), Decimal("0.00"))
    deadlines = [date.fromisoformat(r["claim_deadline"]) for r in services if r["claim_deadline"]]
    alerts = [date.fromisoformat(r["claim_alert_date"]) for r in services if r["claim_alert_date"]]
    earning = [r for r in services if Decimal(r["computed_credit_eur"]) > 0]
    if not month_is_over(month, today):
        status = "open"
    elif earning and all(r["void"] for r in earning):
        status = "void"
    elif total > 0:
        status = "claim"
    else:
        status = "nothing_to_claim"
    annex = {
        "format": FORMAT,
        "client": {"id": client.id, "name": client.name},
        "month": str(month),
        "currency": "EUR",
        "total_claimed_eur": str(total),
        "total_void_eur": str(sum((Decimal(r["computed_credit_eur"]) for r in services if r["void"]), Decimal("0.00"))),
        "claim_deadline": min(deadlines).isoformat() if deadlines else None,
        "claim_alert_date": min(alerts).isoformat() if alerts else None,
        "services": services,
        "tickets": [row for it in items for row in _ticket_rows(it)],
        "outages": [row for it in items for row in _outage_rows(it)],
        "microcuts": [
            {"site": it.site, "service_id": it.statement.service.id, "start": iso(a), "end": iso(b), "seconds": b - a}
            for it in items
            for a, b in it.statement.microcuts
        ],
        "exclusions": [row for it in items for row in _exclusion_rows(it)],
        "findings": [row for it in items for row in _finding_rows(it)],
    }
    return Claim(
        client=client,
        provider=provider or ProviderInfo(),
        month=month,
        today=today,
        draft=draft,
        status=status,
        annex=annex,
        digest=annex_digest(annex),
        items=tuple(items),
    )


def claim_document(claim: Claim) -> dict[str, Any]:
    """The JSON file: the annex, its digest, and what is not part of the digested data."""
    return {
        "annex": claim.annex,
        "annex_sha256": claim.digest,
        "status": claim.status,
        "draft": claim.draft,
        "generated_on": claim.today.isoformat(),
    }
