"""The twelve services of the contract as versioned contract profiles: data, not `if service ==` branches.

The contract may be changed unilaterally (CGV art. 1, "Le Client est automatiquement soumis aux nouvelles
dispositions"), so each profile carries the version it implements and the date from which it applies;
`profile_for` picks the one in force on the first day of the evaluated month. The only version in the
file is the page footer "Version 01.07.2023".

Article numbers are quoted as printed; the STD block sits under a different number in each service part.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sla.calendars import Clock


class Regime(enum.StrEnum):
    STD = "std"  # services III–XII: 99.85 % per month, 3/5/10 % credits (the "standard SLA block")
    VGA = "vga"  # service I: penalised GTR, GTD 99.8 % over six months, no availability tier
    NONE = "none"  # service II Présélection: no commitment, no compensation


@dataclass(frozen=True)
class Tier:
    """Availability strictly below `below_pct` earns `credit_pct` (unless a lower tier applies)."""

    below_pct: Decimal
    credit_pct: Decimal


@dataclass(frozen=True)
class ContractProfile:
    contract: str
    title: str
    regime: Regime
    version: str
    effective_from: date
    std_article: str | None  # the article number of the STD block ("4.1", "5.1", "12.1", "3.1")
    objective_pct: Decimal | None
    cap_pct: Decimal
    claim_deadline_jours_ouvres: int | None
    claim_alert_calendar_days: int | None
    # Probe groups that must all be down for "absence totale" (Mobile: "Voix + Data"); () = all probes.
    unavailability_groups: tuple[str, ...] = ()
    probation: bool = False  # Hosted 3.2: SLA not applicable during the Phase Probatoire

    def article(self, sub: str = "") -> str:
        """E.g. article("2") → "4.1.2" for Internet, "12.1.2" for Mobile."""
        if self.std_article is None:
            return ""
        return f"{self.std_article}.{sub}" if sub else self.std_article


# STD 4.1.3: "De 99,85 à 99,5 %" → 3 %, "De 99,5 à 97 %" → 5 %, "Moins de 97 %" → 10 %.
# The 99.5 boundary itself belongs to the 3 % row by default (policy boundary_99_5, applied in tiers.py).
STD_TIERS: tuple[Tier, ...] = (
    Tier(Decimal("99.85"), Decimal("3")),
    Tier(Decimal("99.5"), Decimal("5")),
    Tier(Decimal("97"), Decimal("10")),
)

# VGA 5.2: penalty brackets on TR, in hours of the ticket's clock: 6 < TR ≤ 8 → 2 %, 8 < TR ≤ 12 → 5 %,
# TR > 12 → 10 % (upper bounds inclusive, "< ou =").
VGA_BRACKETS: tuple[tuple[Decimal, Decimal], ...] = (
    (Decimal("12"), Decimal("10")),
    (Decimal("8"), Decimal("5")),
    (Decimal("6"), Decimal("2")),
)


@dataclass(frozen=True)
class GtrTarget:
    clock: Clock
    hours: Decimal
    penalised: bool


# VGA 5.2 table: target by access type and GTR option; None where the combination is not sold.
VGA_TARGETS: dict[tuple[str, str], GtrTarget | None] = {
    ("analog", "standard"): GtrTarget(Clock.BUSINESS_HOURS, Decimal("72"), penalised=False),
    ("analog", "6h_business"): GtrTarget(Clock.BUSINESS_HOURS, Decimal("6"), penalised=True),
    ("analog", "6h_24x7"): GtrTarget(Clock.WALL_CLOCK, Decimal("6"), penalised=True),
    ("isdn_t0", "standard"): GtrTarget(Clock.BUSINESS_HOURS, Decimal("6"), penalised=True),
    ("isdn_t0", "6h_business"): None,
    ("isdn_t0", "6h_24x7"): GtrTarget(Clock.WALL_CLOCK, Decimal("6"), penalised=True),
}

# STD art. x.1 (b): repair within 6 HO of the Notification de Défaillance, equipment replaced within 72 HO
# of the provider's finding; "Aucune pénalité ni quelconque compensation ne sera due".
STD_TARGETS: dict[str, GtrTarget] = {
    "repair": GtrTarget(Clock.BUSINESS_HOURS, Decimal("6"), penalised=False),
    "equipment_replacement": GtrTarget(Clock.BUSINESS_HOURS, Decimal("72"), penalised=False),
}

_V2023 = ("01.07.2023", date(2023, 7, 1))


def _std(contract: str, title: str, article: str, **extra: object) -> ContractProfile:
    return ContractProfile(
        contract=contract,
        title=title,
        regime=Regime.STD,
        version=_V2023[0],
        effective_from=_V2023[1],
        std_article=article,
        objective_pct=Decimal("99.85"),  # STD x.1.1 "au moins 99,85 % du temps"
        cap_pct=Decimal("10"),  # STD x.1 "plafonnée à 10 % des sommes mensuellement dues"
        claim_deadline_jours_ouvres=30,  # STD x.1 "dans un délai de trente (30) Jours" (CGV 2: jour ouvré)
        claim_alert_calendar_days=30,
        **extra,  # type: ignore[arg-type]
    )


PROFILES: tuple[ContractProfile, ...] = (
    ContractProfile(
        contract="vga",
        title="I. VGA (téléphonie sur lignes analogiques / Numéris)",
        regime=Regime.VGA,
        version=_V2023[0],
        effective_from=_V2023[1],
        std_article=None,
        objective_pct=Decimal("99.8"),  # VGA 5.3 GTD, six months, informational
        cap_pct=Decimal("10"),  # VGA 5.4 per site and month
        claim_deadline_jours_ouvres=None,  # VGA 5.6: "une fois par an", no deadline
        claim_alert_calendar_days=None,
    ),
    ContractProfile(
        contract="preselection",
        title="II. Présélection",
        regime=Regime.NONE,
        version=_V2023[0],
        effective_from=_V2023[1],
        std_article=None,
        objective_pct=None,  # 3.2 "dans les meilleurs délais": no commitment
        cap_pct=Decimal("0"),
        claim_deadline_jours_ouvres=None,
        claim_alert_calendar_days=None,
    ),
    _std("internet", "III. Connectivité Internet", "4.1"),
    _std("trunk_sip", "IV. Trunk SIP", "5.1"),  # formula printed with two denominators: same formula
    _std("centrex", "V. Téléphonie Hébergée (Centrex)", "5.1"),
    _std("messaging", "VI. Messagerie Hébergée", "4.1"),
    _std("vpn_firewall", "VII. VPN, Sécurité et Firewall", "4.1"),
    _std("office365", "VIII. Office 365", "4.1"),
    # IX 12.1.2: "absence totale du service mobile (Voix + Data)".
    _std("mobile", "IX. Téléphonie Mobile", "12.1", unavailability_groups=("voice", "data")),
    _std("contact_experience", "X. Contact Expérience", "5.1"),
    # XI 3.2: "durant la Phase Probatoire … les SLA ne sont pas applicables".
    _std("hosted", "XI. Services Hébergés", "4.1", probation=True),
    _std("sva", "XII. SVA", "3.1"),  # denominator printed without "(ouvrées et non ouvrées)": same formula
)

CONTRACTS: tuple[str, ...] = tuple(dict.fromkeys(p.contract for p in PROFILES))


def profile_for(contract: str, on: date, profiles: tuple[ContractProfile, ...] = PROFILES) -> ContractProfile:
    """The profile of `contract` in force on `on` (latest `effective_from` not after it)."""
    candidates = [p for p in profiles if p.contract == contract]
    if not candidates:
        raise ValueError(f"unknown contract {contract!r}; expected one of {' | '.join(CONTRACTS)}")
    in_force = [p for p in candidates if p.effective_from <= on]
    if not in_force:
        first = min(p.effective_from for p in candidates)
        raise ValueError(f"no {contract} contract profile in force on {on}; the first applies from {first}")
    return max(in_force, key=lambda p: p.effective_from)
