"""The NOC dashboards, as code: `python grafana/generate.py` writes grafana/dashboards/*.json.

Every panel reads the series of agent/store/schema.py in **InfluxQL** (the one query language InfluxDB
1.8+, 2.x and 3.x answer; on 2.x run `vigie influx setup` once for the DBRP mapping) through the data
source chosen in the `datasource` variable (provisioned as uid `vigie-influxdb`). Uids are fixed, so
links and provisioning never break. The committed JSON is checked against this generator by
tests/grafana/test_dashboards.py, which also runs every panel query against a real InfluxDB 1.6.7.

Dashboards: fleet overview, site detail, SLA month, GTR board, agent health.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import common, dashboard, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.runtime import UnknownDataquery
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    ValueMap,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
DS = DataSourceRef(type_val="influxdb", uid="${datasource}")
DATASOURCE_UID = "vigie-influxdb"  # grafana/provisioning/datasources/vigie.yaml

# measurements (agent/store/schema.py; grafana/ does not import the product, the test checks the names)
PROBE, STATE, OUTAGE, HEARTBEAT, STATEMENT, GTR, EXCLUSION, INTERFACE, VM = (
    "vigie_probe",
    "vigie_state",
    "vigie_outage",
    "vigie_heartbeat",
    "vigie_statement",
    "vigie_gtr",
    "vigie_exclusion",
    "vigie_interface",
    "vigie_vm",
)


class InfluxQL(Builder[UnknownDataquery]):
    """A raw InfluxQL target (the SDK has no InfluxDB query builder)."""

    def __init__(self, ref_id: str, query: str, fmt: str = "time_series", alias: str | None = None) -> None:
        self._q: dict[str, Any] = {
            "refId": ref_id,
            "datasource": {"type": "influxdb", "uid": "${datasource}"},
            "rawQuery": True,
            "query": query,
            "resultFormat": fmt,
        }
        if alias:
            self._q["alias"] = alias

    def build(self) -> UnknownDataquery:
        return UnknownDataquery(self._q)


def _re(var: str) -> str:
    """A tag filter on a multi-value template variable."""
    return f'"{var}" =~ /^${var}$/'


STATE_MAP = [
    ValueMap(
        options={
            "1": ValueMappingResult(text="up", color="green", index=0),
            "0": ValueMappingResult(text="down", color="red", index=1),
            "-1": ValueMappingResult(text="unknown", color="gray", index=2),
        }
    )
]
POWER_MAP = [
    ValueMap(
        options={
            "1": ValueMappingResult(text="on", color="green", index=0),
            "0": ValueMappingResult(text="off", color="red", index=1),
        }
    )
]


def _datasource_var() -> dashboard.DatasourceVariable:
    return (
        dashboard.DatasourceVariable("datasource")
        .label("InfluxDB (InfluxQL)")
        .type("influxdb")
        .current(VariableOption(text="Vigie InfluxDB", value=DATASOURCE_UID))
    )


def _tag_var(name: str, measurement: str, depends: tuple[str, ...] = (), label: str | None = None) -> Any:
    cond = (" WHERE " + " AND ".join(_re(d) for d in depends)) if depends else ""
    return (
        dashboard.QueryVariable(name)
        .label(label or name)
        .datasource(DS)
        .query(f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "{name}"{cond}')
        .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(VariableOption(text="All", value="$__all"))
    )


def _month_var() -> Any:
    return (
        dashboard.QueryVariable("month")
        .label("month")
        .datasource(DS)
        .query(f'SHOW TAG VALUES FROM "{STATEMENT}" WITH KEY = "month"')
        .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(VariableSort.ALPHABETICAL_DESC)
        .multi(False)
        .include_all(False)
    )


def _base(uid: str, title: str, description: str, time_from: str = "now-24h") -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["vigie"])
        .refresh("1m")
        .time(time_from, "now")
        .timezone("browser")
        .editable()
        .with_variable(_datasource_var())
    )


def fleet() -> dashboard.Dashboard:
    noc = f"\"source\" = 'central' AND {_re('client')}"
    return (
        _base("vigie-fleet", "Vigie — fleet overview", "Every service's state in the NOC view, the month's worst.")
        .with_variable(_tag_var("client", STATE))
        .with_panel(
            stat.Panel()
            .title("Services down now")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT count("last") FROM (SELECT last("code") FROM "{STATE}" WHERE {noc} '
                    'GROUP BY "client", "site", "service") WHERE "last" = 0',
                )
            )
            .span(6)
            .height(5)
        )
        .with_panel(
            stat.Panel()
            .title("Services unknown (agent silent)")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT count("last") FROM (SELECT last("code") FROM "{STATE}" WHERE {noc} '
                    'GROUP BY "client", "site", "service") WHERE "last" = -1',
                )
            )
            .span(6)
            .height(5)
        )
        .with_panel(
            stat.Panel()
            .title("Credits at stake this month (EUR)")
            .datasource(DS)
            .unit("currencyEUR")
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT sum("credit_eur") FROM (SELECT last("credit_eur") AS "credit_eur" FROM "{STATEMENT}" '
                    f"WHERE {_re('client')} AND \"month\" = '${{__to:date:YYYY-MM}}' "
                    'GROUP BY "client", "site", "service")',
                )
            )
            .span(12)
            .height(5)
        )
        .with_panel(
            table.Panel()
            .title("Sites by state (NOC view)")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT last("code") AS "state" FROM "{STATE}" WHERE {noc} GROUP BY "client", "site", "service"',
                    fmt="table",
                )
            )
            .mappings(STATE_MAP)
            .span(12)
            .height(12)
        )
        .with_panel(
            table.Panel()
            .title("Worst availability this month")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT last("availability_pct") AS "availability_pct", last("tier_pct") AS "tier_pct", '
                    f'last("budget_min") AS "budget_min" FROM "{STATEMENT}" '
                    f"WHERE {_re('client')} AND \"month\" = '${{__to:date:YYYY-MM}}' "
                    'GROUP BY "client", "site", "service"',
                    fmt="table",
                )
            )
            .sort_by([common.TableSortByFieldState().display_name("availability_pct").desc(False)])
            .span(12)
            .height(12)
        )
    )


def site() -> dashboard.Dashboard:
    scope = f"{_re('client')} AND {_re('site')} AND {_re('service')}"
    return (
        _base(
            "vigie-site",
            "Vigie — site detail",
            "Probe states, RTT, loss, failures, outages, exclusions, interfaces and VMs of one site.",
        )
        .with_variable(_tag_var("client", STATE))
        .with_variable(_tag_var("site", STATE, ("client",)))
        .with_variable(_tag_var("service", STATE, ("client", "site")))
        .with_panel(
            statetimeline.Panel()
            .title("Service state (edge qualification)")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT last("code") FROM "{STATE}" WHERE {scope} AND "source" = \'edge\' AND $timeFilter '
                    'GROUP BY time($__interval), "service" fill(previous)',
                    alias="$tag_service",
                )
            )
            .mappings(STATE_MAP)
            .span(24)
            .height(6)
        )
        .with_panel(
            timeseries.Panel()
            .title("RTT (ms)")
            .datasource(DS)
            .unit("ms")
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT mean("rtt_avg_ms") FROM "{PROBE}" WHERE {scope} AND $timeFilter '
                    'GROUP BY time($__interval), "probe" fill(null)',
                    alias="$tag_probe",
                )
            )
            .span(12)
            .height(8)
        )
        .with_panel(
            timeseries.Panel()
            .title("Loss")
            .datasource(DS)
            .unit("percentunit")
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT mean("loss_ratio") FROM "{PROBE}" WHERE {scope} AND $timeFilter '
                    'GROUP BY time($__interval), "probe" fill(null)',
                    alias="$tag_probe",
                )
            )
            .span(12)
            .height(8)
        )
        .with_panel(
            timeseries.Panel()
            .title("Failed probe runs")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT count("duration_s") FROM "{PROBE}" WHERE {scope} AND "ok" = false AND $timeFilter '
                    'GROUP BY time($__interval), "probe", "reason" fill(0)',
                    alias="$tag_probe $tag_reason",
                )
            )
            .span(12)
            .height(8)
        )
        .with_panel(
            table.Panel()
            .title("Outages and microcuts")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT "duration_s", "end_s" FROM "{OUTAGE}" WHERE {scope} AND $timeFilter '
                    'GROUP BY "service", "class"',
                    fmt="table",
                )
            )
            .span(12)
            .height(8)
        )
        .with_panel(
            table.Panel()
            .title("Exclusions and maintenance windows (ledger)")
            .description("Current versions only; client-wide and site-wide windows show on every service.")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT "duration_s", "end_s" FROM "{EXCLUSION}" WHERE {_re("client")} '
                    f"AND ({_re('site')} OR \"site\" = '') AND ({_re('service')} OR \"service\" = '') "
                    'AND "current" = true AND $timeFilter GROUP BY "site", "service", "ref", "kind", "cause", "state"',
                    fmt="table",
                )
            )
            .span(24)
            .height(8)
        )
        .with_panel(
            statetimeline.Panel()
            .title("Interface status (oper)")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT last("oper_up") FROM "{INTERFACE}" WHERE {scope} AND $timeFilter '
                    'GROUP BY time($__interval), "device", "ifname" fill(previous)',
                    alias="$tag_device $tag_ifname",
                )
            )
            .mappings(STATE_MAP)
            .span(24)
            .height(8)
        )
        .with_panel(
            timeseries.Panel()
            .title("Interface throughput")
            .datasource(DS)
            .unit("bps")
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT mean("in_bps") AS "in", mean("out_bps") AS "out" FROM "{INTERFACE}" '
                    f"WHERE {scope} AND $timeFilter "
                    'GROUP BY time($__interval), "device", "ifname" fill(null)',
                    alias="$tag_device $tag_ifname $col",
                )
            )
            .span(12)
            .height(8)
        )
        .with_panel(
            timeseries.Panel()
            .title("Interface errors and discards (per second)")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    'SELECT mean("in_errors_ps") AS "in_errors", mean("out_errors_ps") AS "out_errors", '
                    'mean("in_discards_ps") AS "in_discards", mean("out_discards_ps") AS "out_discards" '
                    f'FROM "{INTERFACE}" WHERE {scope} AND $timeFilter '
                    'GROUP BY time($__interval), "device", "ifname" fill(null)',
                    alias="$tag_device $tag_ifname $col",
                )
            )
            .span(12)
            .height(8)
        )
        .with_panel(
            table.Panel()
            .title("Interfaces now (oper down first)")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    'SELECT last("oper_up") AS "oper_up", last("admin_up") AS "admin_up", '
                    'last("speed_bps") AS "speed_bps", last("in_bps") AS "in_bps", last("out_bps") AS "out_bps" '
                    f'FROM "{INTERFACE}" WHERE {scope} AND $timeFilter GROUP BY "device", "ifname"',
                    fmt="table",
                )
            )
            .sort_by([common.TableSortByFieldState().display_name("oper_up").desc(False)])
            .span(24)
            .height(8)
        )
        .with_panel(
            statetimeline.Panel()
            .title("VM power state")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT last("power_on") FROM "{VM}" WHERE {scope} AND $timeFilter '
                    'GROUP BY time($__interval), "device", "vm", "vmid" fill(previous)',
                    alias="$tag_device $tag_vm ($tag_vmid)",
                )
            )
            .mappings(POWER_MAP)
            .span(12)
            .height(8)
        )
        .with_panel(
            table.Panel()
            .title("VMs now")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    'SELECT last("power_on") AS "power_on", last("guest_running") AS "guest_running", '
                    'last("vcpus") AS "vcpus", last("mem_bytes") AS "mem_bytes" '
                    f'FROM "{VM}" WHERE {scope} AND $timeFilter GROUP BY "device", "vm", "vmid"',
                    fmt="table",
                )
            )
            .sort_by([common.TableSortByFieldState().display_name("power_on").desc(False)])
            .span(12)
            .height(8)
        )
    )


def sla_month() -> dashboard.Dashboard:
    scope = f"{_re('client')} AND {_re('service')} AND \"month\" = '$month'"
    return (
        _base(
            "vigie-sla-month",
            "Vigie — SLA month",
            "The central role's statements: the same figures as `vigie sla compute` / the claim for the month.",
            time_from="now-31d",
        )
        .with_variable(_tag_var("client", STATEMENT))
        .with_variable(_tag_var("service", STATEMENT, ("client",)))
        .with_variable(_month_var())
        .with_panel(
            table.Panel()
            .title("Availability, tier and credits per service")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    'SELECT last("availability_pct") AS "availability_net_pct", last("gross_pct") AS '
                    '"availability_gross_pct", last("tier_pct") AS "tier_pct", last("budget_min") AS '
                    '"minutes_left_before_next_tier", last("next_tier_pct") AS "next_tier_pct", '
                    f'last("credit_eur") AS "credit_eur" FROM "{STATEMENT}" WHERE {scope} '
                    'GROUP BY "client", "site", "service", "contract"',
                    fmt="table",
                )
            )
            .span(24)
            .height(10)
        )
        .with_panel(
            stat.Panel()
            .title("Credits at stake (EUR)")
            .datasource(DS)
            .unit("currencyEUR")
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT sum("credit_eur") FROM (SELECT last("credit_eur") AS "credit_eur" FROM "{STATEMENT}" '
                    f'WHERE {scope} GROUP BY "client", "site", "service")',
                )
            )
            .span(6)
            .height(6)
        )
        .with_panel(
            stat.Panel()
            .title("Least budget left before the next tier (min)")
            .datasource(DS)
            .unit("m")
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT min("budget_min") FROM (SELECT last("budget_min") AS "budget_min" FROM "{STATEMENT}" '
                    f'WHERE {scope} GROUP BY "client", "site", "service")',
                )
            )
            .span(6)
            .height(6)
        )
        .with_panel(
            timeseries.Panel()
            .title("Availability so far (net)")
            .datasource(DS)
            .unit("percent")
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT last("availability_pct") FROM "{STATEMENT}" WHERE {scope} AND $timeFilter '
                    'GROUP BY time($__interval), "service" fill(previous)',
                    alias="$tag_service",
                )
            )
            .span(12)
            .height(6)
        )
    )


def gtr_board() -> dashboard.Dashboard:
    scope = f"{_re('client')} AND {_re('service')}"
    last = (
        'SELECT last("remaining_s") AS "time_to_breach_s", last("elapsed_s") AS "elapsed_s", '
        f'last("target_s") AS "target_s", last("frozen_s") AS "frozen_s" FROM "{GTR}" '
    )
    return (
        _base("vigie-gtr", "Vigie — GTR board", "Running GTR clocks, time to breach, frozen clocks and why.")
        .with_variable(_tag_var("client", GTR))
        .with_variable(_tag_var("service", GTR, ("client",)))
        .with_panel(
            table.Panel()
            .title("Running clocks — time to breach")
            .datasource(DS)
            .unit("s")
            .with_target(
                InfluxQL(
                    "A",
                    last + f"WHERE {scope} AND \"status\" = 'running' AND time > ${{__to}}ms - 10m "
                    'GROUP BY "client", "site", "service", "ticket", "clock"',
                    fmt="table",
                )
            )
            .sort_by([common.TableSortByFieldState().display_name("time_to_breach_s").desc(False)])
            .span(24)
            .height(10)
        )
        .with_panel(
            table.Panel()
            .title("Frozen clocks and why")
            .datasource(DS)
            .unit("s")
            .with_target(
                InfluxQL(
                    "A",
                    last + f"WHERE {scope} AND \"status\" = 'frozen' AND time > ${{__to}}ms - 10m "
                    'GROUP BY "client", "site", "service", "ticket", "clock", "freeze_reason"',
                    fmt="table",
                )
            )
            .span(24)
            .height(8)
        )
        .with_panel(
            stat.Panel()
            .title("Breached this month")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT count("b") FROM (SELECT last("elapsed_s") AS "e", last("breached") AS "b" FROM "{GTR}" '
                    f'WHERE {scope} AND $timeFilter GROUP BY "ticket") WHERE "b" = true',
                )
            )
            .span(6)
            .height(5)
        )
    )


def agents() -> dashboard.Dashboard:
    scope = _re("agent")
    return (
        _base("vigie-agents", "Vigie — agent health", "Heartbeats, spool depth and shipping errors of the agents.")
        .with_variable(_tag_var("agent", HEARTBEAT))
        .with_panel(
            table.Panel()
            .title("Last heartbeat per agent")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    'SELECT last("seq") AS "seq", last("uptime_s") AS "uptime_s", last("spool_records") AS '
                    f'"spool_records" FROM "{HEARTBEAT}" WHERE {scope} GROUP BY "agent", "role"',
                    fmt="table",
                )
            )
            .span(24)
            .height(8)
        )
        .with_panel(
            timeseries.Panel()
            .title("Heartbeats received")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT count("seq") FROM "{HEARTBEAT}" WHERE {scope} AND $timeFilter '
                    'GROUP BY time($__interval), "agent" fill(0)',
                    alias="$tag_agent",
                )
            )
            .span(12)
            .height(8)
        )
        .with_panel(
            timeseries.Panel()
            .title("Spool depth (records waiting)")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    f'SELECT max("spool_records") FROM "{HEARTBEAT}" WHERE {scope} AND $timeFilter '
                    'GROUP BY time($__interval), "agent" fill(previous)',
                    alias="$tag_agent",
                )
            )
            .span(12)
            .height(8)
        )
        .with_panel(
            timeseries.Panel()
            .title("Shipping errors and rejected points (since agent start)")
            .datasource(DS)
            .with_target(
                InfluxQL(
                    "A",
                    'SELECT max("ship_errors") AS "errors", max("ship_rejected") AS "rejected" '
                    f'FROM "{HEARTBEAT}" WHERE {scope} AND $timeFilter '
                    'GROUP BY time($__interval), "agent" fill(previous)',
                    alias="$tag_agent $col",
                )
            )
            .span(24)
            .height(8)
        )
    )


DASHBOARDS = {"fleet": fleet, "site": site, "sla-month": sla_month, "gtr": gtr_board, "agents": agents}


def render() -> dict[str, str]:
    """file name → JSON text of every dashboard."""
    out = {}
    for name, make in DASHBOARDS.items():
        text = json.dumps(make().build(), cls=JSONEncoder, indent=2, sort_keys=True)
        out[f"vigie-{name}.json"] = text + "\n"
    return out


def main(argv: list[str]) -> int:
    target = Path(argv[1]) if len(argv) > 1 else OUT
    target.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (target / name).write_text(text, encoding="utf-8")
        print(f"wrote {target / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
