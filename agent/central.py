"""The central role, basics: heartbeat watch and the current month's statements, written back as series.

- Heartbeat watch: an agent whose heartbeat has not changed for `heartbeat_timeout_s` (timed on this host's
  monotonic clock, so an NTP step or skew between hosts changes nothing), or that never sent one, makes
  every service of its sites `unknown` in the NOC view — never `up` (see `decide`: with NOC probes it
  tells `agent_down` from a site the NOC cannot reach either). The NOC view is the `vigie_state` series
  with `source=central`: it mirrors the edge's qualified state while the agent is alive.
- Statements: every `recompute_interval_s`, for each service, the edge's down intervals of the current
  month (open ones end now), with the annotation ledger's tickets and exclusions (`agent.central.ledger`,
  read again at each recomputation; the same `slice_for` + `with_ledger` as `vigie claims build`, so the
  NOC's figures are the claim's), go through `sla.statement.compute`, and the figures are written as one
  `vigie_statement` point (availability so far, measured availability, minutes of budget left before the
  next credit tier, the credit so far).
- GTR clocks: each ticket of the ledger that is open, or was restored less than `GTR_KEEP_S` ago, gets its
  clock evaluated at now by `sla.gtr.evaluate_ticket` (its freezes, its calendar) and written as a
  `vigie_gtr` point: running / frozen (and why) / stopped, elapsed, target, remaining, frozen.
- Exclusion windows: every version of the ledger's exclusions and maintenance notices is written as
  `vigie_exclusion` points (the current one `current=true`), only those that changed since the last pass.

It reads the embedded store (one SQLite file shared with the edge on the same host). Reading from InfluxDB
(InfluxQL) is the read path's job and plugs in behind the same three reads.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from agent import notify_schedule
from agent.clock import Clock
from agent.config import Inventory, ServiceConfig
from agent.ledger import Ledger, LedgerError, ServiceRef, fold_all, slice_for, windows_of, with_ledger
from agent.ledger import Record as LedgerRecord
from agent.metrics import AgentMetrics
from agent.store import schema
from agent.store.schema import FieldValue, Record
from agent.store.sqlite import Interval
from sla.calendars import HolidayCalendar, Month, epoch, from_epoch
from sla.gtr import TicketResult, evaluate_ticket, target_for
from sla.model import Outage
from sla.profiles import STD_TIERS, Regime
from sla.statement import Case, Statement, compute

log = logging.getLogger("vigie.central")
PARIS = ZoneInfo("Europe/Paris")
GTR_KEEP_S = 86_400  # a restored ticket's clock stays on the GTR board for a day


class StoreReader(Protocol):
    def last_heartbeats(self) -> dict[str, int]: ...

    def state_intervals(self, service: str, source: str = "edge", until_ms: int | None = None) -> list[Interval]: ...


class Central:
    def __init__(
        self,
        inventory: Inventory,
        reader: StoreReader,
        clock: Clock,
        metrics: AgentMetrics,
        ledger_path: Path | None = None,
    ) -> None:
        """`ledger_path`: the annotation ledger (None: `agent.central.ledger` as given, i.e. relative to the
        working directory; the runtime resolves it against the config file)."""
        self.inventory = inventory
        self.reader = reader
        self.clock = clock
        self.metrics = metrics
        self.ledger_path = ledger_path if ledger_path is not None else inventory.agent.central.ledger
        self._windows_written: dict[str, Record] = {}  # vigie_exclusion point key → the point last written
        self.started = clock.now()
        self._status: dict[str, tuple[str, str | None, int]] = {}
        self._started_mono = clock.monotonic()
        self._beat_seen: dict[str, tuple[int, float]] = {}  # agent → (last heartbeat ms, monotonic when it changed)

    def watch(self) -> list[Record]:
        """The NOC view of every service, from its vantage points (see `decide`)."""
        now = self.clock.now()
        now_ms = schema.ms(now)
        timeout_ms = self.inventory.agent.central.heartbeat_timeout_s * 1000
        noc_kinds = set(self.inventory.agent.central.noc_probes)
        beats = self.reader.last_heartbeats()
        mono = self.clock.monotonic()
        for agent_id, last_ms in beats.items():  # silence is timed on this host's monotonic clock
            seen = self._beat_seen.get(agent_id)
            if seen is None:
                # First sight (e.g. the central role just started): the heartbeat's age is the only clue to
                # how long the agent has been silent, so it is read once from the wall clocks; from then on
                # silence is timed on the monotonic clock. A long-dead agent never looks alive after a restart.
                age_s = max(0, now_ms - last_ms) / 1000
                self._beat_seen[agent_id] = (last_ms, mono - age_s)
            elif seen[0] != last_ms:
                self._beat_seen[agent_id] = (last_ms, mono)
        silent: set[str] = set()
        out: list[Record] = []
        for client, site, service in self.inventory.services():
            agent = site.agent or self.inventory.agent.id
            last = beats.get(agent)
            ids = {"client": client.id, "site": site.id, "service": service.id, "agent": agent}
            edge: Vote | None
            # Silence = monotonic time since this host last saw the agent's heartbeat change (before a first
            # heartbeat: since the central's own start; at first sight: the heartbeat's age). After first sight
            # never a difference of wall clocks: an NTP step here must not make an agent look silent or alive.
            changed_at = self._beat_seen[agent][1] if last is not None else self._started_mono
            silence_ms = int((mono - changed_at) * 1000)
            agent_silent = silence_ms > timeout_ms
            if agent_silent:
                silent.add(agent)
                edge = Vote("unknown", now_ms - (silence_ms - timeout_ms))
            else:
                intervals = self.reader.state_intervals(service.id, "edge")
                edge = Vote(intervals[-1].state, intervals[-1].start_ms) if intervals else None
            noc: Vote | None = None
            if noc_kinds and any(p.kind in noc_kinds for d in service.devices for p in d.probes):
                intervals = self.reader.state_intervals(service.id, "noc")
                noc = Vote(intervals[-1].state, intervals[-1].start_ms) if intervals else None
            quorum = None if service.qualification.quorum == "all" else int(service.qualification.quorum)
            decided = decide(edge, noc, agent_silent=agent_silent, quorum=quorum)
            if decided is None:
                continue
            state, cause, at = decided
            previous = self._status.get(service.id)
            if previous is None or previous[:2] != (state, cause):
                at = max(at, previous[2] + 1) if previous is not None else at
                self._status[service.id] = (state, cause, at)
                out.append(schema.state(ids=ids, state=state, source="central", time_ms=at, cause=cause))
                if agent_silent:
                    log.warning("agent %s silent: service %s %s (%s)", agent, service.id, state, cause)
        self.metrics.silent_agents.set(len(silent))
        return out

    def statements(self) -> list[Record]:
        """One recomputation: each service's statement and GTR clocks, then the ledger's windows."""
        now = self.clock.now()
        month = _month_of(now)
        notify_schedule.run(self.inventory, self.reader, self.clock, self.ledger_path)  # may add tickets: first
        try:
            records = self._ledger_records()
            view = fold_all(records)
        except (LedgerError, sqlite3.Error) as exc:
            # Figures without the ledger would contradict the claim: write none until the ledger reads again.
            log.error("ledger %s unreadable, no statements this time: %s", self.ledger_path, exc)
            return []
        out = []
        beats = self.reader.last_heartbeats()
        timeout_ms = self.inventory.agent.central.heartbeat_timeout_s * 1000
        for client, site, service in self.inventory.services():
            ids = {"client": client.id, "site": site.id, "service": service.id}
            intervals = self.reader.state_intervals(service.id, "edge", until_ms=schema.ms(now))
            agent = site.agent or self.inventory.agent.id
            last_beat = beats.get(agent)
            silent = last_beat is not None and self._silence_ms(agent, last_beat, now) > timeout_ms
            silent_since = last_beat if silent else None  # as `silent_since` (below) does, on the monotonic clock
            part = slice_for(view, ServiceRef(client.id, site.id, service.id), month)
            case = with_ledger(case_for(service, month, intervals, now, silent_since), part)
            try:
                st = compute(case)
            except ValueError as exc:  # e.g. not in service this month
                log.info("no statement for %s: %s", service.id, exc)
                continue
            statement_ids = {**ids, "contract": service.contract, "month": str(month)}
            out.append(
                schema.statement(ids=statement_ids, fields=statement_fields(st, service), time_ms=schema.ms(now))
            )
            self.metrics.statements.inc()
            out.extend(gtr_points(case, st, ids, now))
        out.extend(self._changed_windows(records))
        return out

    def _silence_ms(self, agent: str, last_beat_ms: int, now: datetime) -> int:
        """How long the agent has been silent: on this host's monotonic clock since `watch` saw its heartbeat
        change (an NTP step must not make it look silent), else from the wall clocks."""
        seen = self._beat_seen.get(agent)
        if seen is not None and seen[0] == last_beat_ms:
            return int((self.clock.monotonic() - seen[1]) * 1000)
        return schema.ms(now) - last_beat_ms

    def _ledger_records(self) -> list[LedgerRecord]:
        if not self.ledger_path.exists():
            return []  # no ledger yet: no tickets, no exclusions
        with Ledger(self.ledger_path, self.clock) as book:
            return book.records()

    def _changed_windows(self, records: Sequence[LedgerRecord]) -> list[Record]:
        """The `vigie_exclusion` points that differ from what this process last wrote (all of them at first)."""
        points = {p.key: p for p in exclusion_points(records)}  # a subject's current version comes last: it wins
        changed = [p for key, p in points.items() if self._windows_written.get(key) != p]
        self._windows_written = points
        return changed


@dataclass(frozen=True)
class Vote:
    """One vantage point's view of a service: its qualified state and since when (epoch ms)."""

    state: str
    since_ms: int


def decide(
    edge: Vote | None, noc: Vote | None, *, agent_silent: bool, quorum: int | None
) -> tuple[str, str | None, int] | None:
    """The NOC's status of a service from its vantage points: (state, cause, since_ms), or None (no data yet).

    The edge agent on site is one vantage point (`unknown` when it is silent); the central role's own probes
    from the NOC, when configured (`agent.central.noc_probes`), are the second. The service's quorum rule
    decides, over the vantage points that have a view: `quorum: all` needs every one of them to see the
    service down, `quorum: N` needs N (at most the number of views). Otherwise a vantage point that is
    `unknown` makes the service unknown — a silent agent never leaves its sites `up` — with a cause that
    tells the two cases apart:

    - `agent_silent`: the agent is silent and there is no NOC view;
    - `agent_down`: the agent is silent but the NOC still reaches the site (the site is up, the agent is not);
    - `agent_silent_site_unreachable`: the agent is silent and the NOC cannot reach the site either (a site
      down — counted as down only when the quorum allows one vantage point to decide, e.g. `quorum: 1`);
    - `site_down`: down, confirmed by the NOC while the agent is silent (quorum met by the NOC alone).
    """
    votes = [v for v in (edge, noc) if v is not None]
    if not votes:
        return None
    needed = len(votes) if quorum is None else min(quorum, len(votes))
    downs = [v for v in votes if v.state == "down"]
    if len(downs) >= needed:
        at = sorted(v.since_ms for v in downs)[needed - 1]  # when the quorum was reached
        return "down", ("site_down" if agent_silent else None), at
    unknowns = [v for v in votes if v.state == "unknown"]
    if unknowns:
        cause: str | None
        if agent_silent and noc is not None:
            cause = "agent_down" if noc.state == "up" else "agent_silent_site_unreachable"
        else:
            cause = "agent_silent" if agent_silent else None
        return "unknown", cause, max(v.since_ms for v in unknowns)
    return "up", None, max(v.since_ms for v in votes)


def _month_of(now: datetime) -> Month:
    local = now.astimezone(PARIS)
    return Month(local.year, local.month)


def case_for(
    service: ServiceConfig, month: Month, intervals: Sequence[Interval], now: datetime, silent_since: int | None = None
) -> Case:
    """The month's case of a service from its edge state intervals, up to `now`: its down intervals are the
    outages; where no interval says up or down (before its first state, an `unknown` one: the edge agent
    stopped, its probes silent) the state is unknown (sla-semantics §5: `unknown_minutes`, data
    completeness, `unknown_as`), never up. The rest of the month has not happened yet: not a gap.

    `silent_since` (epoch ms): the edge agent's last heartbeat, when it has been silent longer than the
    heartbeat timeout. Its last state holds only until then (or until that state began, if later): from
    there to `now` nothing is known yet — the agent may be dead, or cut from the store with its spool
    filling, and the next recomputations see what it ships (issue #4: a silent agent's sites are unknown,
    never up)."""
    now_ms = schema.ms(now)
    known_until = now_ms
    if silent_since is not None and intervals:
        known_until = min(now_ms, max(silent_since, intervals[-1].start_ms))
    outages, known = [], [(now, max(now, from_epoch(month.end)))]
    for i in intervals:
        end = min(i.end_ms if i.end_ms is not None else now_ms, known_until)
        if end <= i.start_ms or i.state not in ("up", "down"):
            continue
        span = (datetime.fromtimestamp(i.start_ms / 1000, UTC), datetime.fromtimestamp(end / 1000, UTC))
        known.append(span)
        if i.state == "down":
            outages.append(Outage(start=span[0], end=span[1]))
    return Case(
        month=month,
        service=service.to_sla(),
        policy=service.policy.to_sla(),
        qualification=service.qualification.to_sla(),
        outages=tuple(outages),
        known=tuple(known),
    )


def silent_since(beats: dict[str, int], agent: str, until: datetime, timeout_s: int) -> int | None:
    """The last heartbeat (epoch ms) of an edge agent silent at `until` for longer than `timeout_s`, else None:
    `case_for`'s limit on its last state. For a month read from the store afterwards (a claim): an agent that
    died during the month and never came back. One that came back wrote its own gap as `unknown`."""
    last = beats.get(agent)
    return last if last is not None and schema.ms(until) - last > timeout_s * 1000 else None


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


def gtr_points(case: Case, st: Statement, ids: dict[str, str], now: datetime) -> Iterator[Record]:
    """A `vigie_gtr` point per ticket of `case` open at `now` or restored less than `GTR_KEEP_S` before it."""
    if st.profile.regime is Regime.NONE:
        return
    now_s = epoch(now)
    calendar = HolidayCalendar(case.policy.holidays_subdivision, case.policy.extra_closed_days)
    service = case.service
    for t in case.tickets:
        if t.opened_at > now or (t.restored_at is not None and epoch(t.restored_at) + GTR_KEEP_S <= now_s):
            continue
        if t.restored_at is not None and t.restored_at > now:
            t = replace(t, restored_at=None)  # a restoration recorded ahead of now has not happened yet
        target = target_for(
            st.profile.regime,
            t,
            None if service.access_type is None else service.access_type.value,
            None if service.gtr_option is None else service.gtr_option.value,
        )
        result = evaluate_ticket(
            t, regime=st.profile.regime, target=target, month_end=now_s, calendar=calendar, exclusions=case.exclusions
        )
        freeze = next((f for f in t.freezes if f.start <= now < f.end), None)
        status = "stopped" if t.restored_at is not None else "frozen" if freeze is not None else "running"
        yield gtr_point(result, ids, status, None if freeze is None else freeze.reason, now)


def gtr_point(result: TicketResult, ids: dict[str, str], status: str, reason: str | None, now: datetime) -> Record:
    hour = Decimal(3600)
    return schema.gtr(
        ids=ids,
        ticket=result.id,
        clock=result.clock.value,
        status=status,
        freeze_reason=reason,
        elapsed_s=float(result.elapsed_hours * hour),
        target_s=float(result.target_hours * hour),
        frozen_s=float(result.frozen_hours * hour),
        time_ms=schema.ms(now),
    )


def exclusion_points(records: Sequence[LedgerRecord]) -> Iterator[Record]:
    """Every version of the ledger's exclusion and maintenance windows as `vigie_exclusion` points."""
    for w in windows_of(records):
        yield schema.exclusion(
            scope={"client": w.client, "site": w.site, "service": w.service},
            ref=w.ref,
            kind=w.kind,
            cause=w.cause,
            state=w.state,
            start_ms=schema.ms(w.start),
            end_ms=schema.ms(w.end),
            current=w.current,
        )
