"""Self-metrics of the agent on a Prometheus `/metrics` endpoint (one registry per agent, not the global one)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class AgentMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.probe_runs = Counter("vigie_probe_runs", "Probe runs", ["kind", "outcome"], registry=r)
        self.probe_latency = Histogram(
            "vigie_probe_duration_seconds",
            "Duration of one probe run",
            ["kind"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.probe_errors = Counter(
            "vigie_probe_internal_errors", "Probe runs that raised (recorded as failed samples)", ["kind"], registry=r
        )
        self.probes_running = Gauge("vigie_probes_running", "Probe runs in progress", registry=r)
        self.probes_configured = Gauge("vigie_probes_configured", "Probes scheduled", registry=r)
        self.state_changes = Counter("vigie_state_changes", "Qualified state changes", ["state"], registry=r)
        self.spool_records = Gauge("vigie_spool_records", "Records waiting in the spool (queue depth)", registry=r)
        self.spool_bytes = Gauge("vigie_spool_bytes", "Payload bytes in the spool", registry=r)
        self.spool_max_bytes = Gauge("vigie_spool_max_bytes", "Configured spool limit", registry=r)
        self.spool_events = Gauge(
            "vigie_spool_events", "Spool counters (accepted, rejected, downsampled, ...)", ["event"], registry=r
        )
        self.shipped = Counter("vigie_ship_points", "Points acknowledged by the store", registry=r)
        self.rejected = Counter("vigie_ship_rejected_points", "Points the store rejected (4xx)", ["status"], registry=r)
        self.ship_errors = Counter("vigie_ship_errors", "Failed write attempts", ["status"], registry=r)
        self.ship_retries = Counter("vigie_ship_retries", "Write attempts retried", registry=r)
        self.auth_failed = Gauge("vigie_ship_auth_failed", "1 while the store answers 401/403 (alert)", registry=r)
        self.last_ship = Gauge("vigie_ship_last_success_monotonic", "Monotonic time of the last ack", registry=r)
        self.config_reloads = Counter("vigie_config_reloads", "SIGHUP reloads", ["outcome"], registry=r)
        self.heartbeats = Counter("vigie_heartbeats", "Heartbeats emitted", registry=r)
        self.statements = Counter("vigie_statements_computed", "Statements computed (central)", registry=r)
        self.silent_agents = Gauge("vigie_silent_agents", "Agents without a heartbeat (central)", registry=r)

    def observe_spool(self, spool: Any) -> None:
        self.spool_records.set(spool.pending())
        self.spool_bytes.set(spool.size_bytes())
        self.spool_max_bytes.set(spool.max_bytes)
        for name, value in vars(spool.stats).items():
            self.spool_events.labels(name).set(value)

    def serve(self, listen: str) -> Any:
        host, _, port = listen.rpartition(":")
        server, _thread = start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1", registry=self.registry)
        return server
