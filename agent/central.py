"""The central role, basics: heartbeat watch and the current month's statements, written back as series.

- Heartbeat watch: an agent whose last heartbeat is older than `heartbeat_timeout_s` (or that never sent
  one) makes every service of its sites `unknown` (cause `agent_silent`) in the NOC view — never `up`. The
  NOC view is the `vigie_state` series with `source=central`: it mirrors the edge's qualified state while
  the agent is alive.
- Statements: every `recompute_interval_s`, for each service, the edge's down intervals of the current
  month (open ones end now) go through `sla.statement.compute`, and the figures are written as one
  `vigie_statement` point (availability so far, measured availability, minutes of budget left before the
  next credit tier, the credit so far).

It reads the embedded store (one SQLite file shared with the edge on the same host). Reading from InfluxDB
(InfluxQL) is the read path's job and plugs in behind the same three reads.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

from agent.clock import Clock
from agent.config import Inventory, ServiceConfig
from agent.metrics import AgentMetrics
from agent.store import schema
from agent.store.schema import FieldValue, Record
from agent.store.sqlite import Interval
from sla.calendars import Month
from sla.model import Outage, Policy, Qualification, Service
from sla.profiles import STD_TIERS, Regime
from sla.statement import Case, Statement, compute

log = logging.getLogger("vigie.central")
PARIS = ZoneInfo("Europe/Paris")


class StoreReader(Protocol):
    def last_heartbeats(self) -> dict[str, int]: ...

    def state_intervals(self, service: str, source: str = "edge", until_ms: int | None = None) -> list[Interval]: ...


class Central:
    def __init__(self, inventory: Inventory, reader: StoreReader, clock: Clock, metrics: AgentMetrics) -> None:
        self.inventory = inventory
        self.reader = reader
        self.clock = clock
        self.metrics = metrics
        self.started = clock.now()
        self._status: dict[str, str] = {}

    def watch(self) -> list[Record]:
        """The NOC view of every service: the edge's state, or unknown when its agent is silent."""
        now = self.clock.now()
        now_ms = schema.ms(now)
        timeout_ms = self.inventory.agent.central.heartbeat_timeout_s * 1000
        beats = self.reader.last_heartbeats()
        silent: set[str] = set()
        out: list[Record] = []
        for client, site, service in self.inventory.services():
            agent = site.agent or self.inventory.agent.id
            last = beats.get(agent)
            ids = {"client": client.id, "site": site.id, "service": service.id, "agent": agent}
            if last is None or now_ms - last > timeout_ms:
                silent.add(agent)
                # before a first heartbeat, silence counts from the central's own start
                since = (last if last is not None else schema.ms(self.started)) + timeout_ms
                if since > now_ms:
                    continue
                state, cause, at = "unknown", "agent_silent", since
            else:
                intervals = self.reader.state_intervals(service.id, "edge")
                if not intervals:
                    continue
                state, cause, at = intervals[-1].state, None, intervals[-1].start_ms
            if self._status.get(service.id) != state:
                self._status[service.id] = state
                out.append(schema.state(ids=ids, state=state, source="central", time_ms=at, cause=cause))
                if cause:
                    log.warning("agent %s silent: service %s unknown", agent, service.id)
        self.metrics.silent_agents.set(len(silent))
        return out

    def statements(self) -> list[Record]:
        now = self.clock.now()
        month = _month_of(now)
        out = []
        for client, site, service in self.inventory.services():
            intervals = self.reader.state_intervals(service.id, "edge", until_ms=schema.ms(now))
            try:
                st = compute(case_for(service, month, intervals, now))
            except ValueError as exc:  # e.g. not in service this month
                log.info("no statement for %s: %s", service.id, exc)
                continue
            ids = {
                "client": client.id,
                "site": site.id,
                "service": service.id,
                "contract": service.contract,
                "month": str(month),
            }
            out.append(schema.statement(ids=ids, fields=statement_fields(st, service), time_ms=schema.ms(now)))
            self.metrics.statements.inc()
        return out


def _month_of(now: datetime) -> Month:
    local = now.astimezone(PARIS)
    return Month(local.year, local.month)


def case_for(service: ServiceConfig, month: Month, intervals: Sequence[Interval], now: datetime) -> Case:
    now_ms = schema.ms(now)
    outages = []
    for i in intervals:
        if i.state != "down":
            continue
        end = min(i.end_ms if i.end_ms is not None else now_ms, now_ms)
        if end > i.start_ms:
            outages.append(
                Outage(
                    start=datetime.fromtimestamp(i.start_ms / 1000, UTC), end=datetime.fromtimestamp(end / 1000, UTC)
                )
            )
    p, q = service.policy, service.qualification
    return Case(
        month=month,
        service=Service(
            id=service.id,
            contract=service.contract,
            monthly_fee_eur=service.monthly_fee_eur,
            in_service_from=service.in_service_from,
            in_service_until=service.in_service_until,
            access_type=service.access_type,
            gtr_option=service.gtr_option,
            probation_until=service.probation_until,
        ),
        policy=Policy(
            window=p.window,
            denominator=p.denominator,
            count_unnotified=p.count_unnotified,
            boundary_99_5=p.boundary_99_5,
            unknown_as=p.unknown_as,
            holidays_subdivision=p.holidays_subdivision,
            extra_closed_days=frozenset(p.extra_closed_days),
        ),
        qualification=Qualification(
            down_after=q.down_after,
            up_after=q.up_after,
            microcut_s=q.microcut_s,
            interval_s=q.interval_s,
            quorum=None if q.quorum == "all" else int(q.quorum),
        ),
        outages=tuple(outages),
    )


def statement_fields(st: Statement, service: ServiceConfig) -> dict[str, FieldValue]:
    fields: dict[str, FieldValue] = {
        "availability_pct": float(st.availability_pct),
        "gross_pct": float(st.gross_availability_pct),
        "unavailable_min": float(st.unavailable_minutes),
        "excluded_min": float(st.excluded_minutes),
        "counted_min": float(st.counted_minutes),
        "unknown_min": float(st.unknown_minutes),
        "tier_pct": float(st.tier_pct),
        "credit_eur": float(st.total_credit_eur),
    }
    if st.shadow is not None:
        fields["measured_pct"] = float(st.shadow["measured_pct"])
    if st.objective_pct is not None:
        fields["objective_pct"] = float(st.objective_pct)
    if st.objective_met is not None:
        fields["objective_met"] = bool(st.objective_met)
    if st.profile.regime is Regime.STD:
        # Minutes of counted downtime left before availability falls below the next tier boundary.
        denominator = (
            st.minutes_in_month if service.policy.denominator.value == "calendar_month" else st.coverage_minutes
        )
        for tier in STD_TIERS:
            if st.availability_pct >= tier.below_pct:
                budget = (st.availability_pct - tier.below_pct) / Decimal(100) * denominator
                fields["budget_min"] = float(budget)
                fields["next_tier_pct"] = float(tier.credit_pct)
                break
    return fields
