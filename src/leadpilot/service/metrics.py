"""Prometheus metrics of one service instance (its own registry, so apps never collide)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["ServiceMetrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass
class ServiceMetrics:
    """Counters and histograms exposed at ``/metrics``."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.decisions = Counter(
            "leadpilot_decisions",
            "Routing decisions recorded, by trigger and outcome",
            ["trigger", "outcome"],
            registry=self.registry,
        )
        self.intake_latency = Histogram(
            "leadpilot_intake_seconds",
            "Time to route and store one lead (POST /v1/leads)",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.lock_wait = Histogram(
            "leadpilot_routing_lock_wait_seconds",
            "Time to take the routing lock (PostgreSQL): per-pool (intakes), all (exclusive), "
            "or turns (an intake queued in its process for its pools before the database lock)",
            ["scope"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.lock_retries = Counter(
            "leadpilot_routing_lock_retries",
            "Intakes rolled back to retry with wider routing locks, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.sla_breaches = Counter(
            "leadpilot_sla_breaches", "SLA timers that expired", ["kind"], registry=self.registry
        )
        self.requests = Counter(
            "leadpilot_http_requests",
            "HTTP requests served, by method, route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "leadpilot_duplicate_leads", "Intakes recognised as duplicates", registry=self.registry
        )
        self.webhook_failures = Counter(
            "leadpilot_webhook_failures", "Failed webhook attempts", registry=self.registry
        )
