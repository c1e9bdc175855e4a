"""Prometheus metrics. One `Metrics` per process, built at the entry point and passed down."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.jobs = Gauge("steadfast_jobs", "Jobs by status", ["status"], registry=r)
        self.queue_depth = Gauge("steadfast_queue_depth", "Queued jobs", registry=r)
        self.oldest_queued_age = Gauge(
            "steadfast_oldest_queued_age_seconds", "Age of the oldest queued job", registry=r
        )
        self.step_latency = Histogram(
            "steadfast_step_seconds", "Time of one job step", ["kind"], registry=r
        )
        self.cost_usd = Counter(
            "steadfast_model_cost_usd_total",
            "Model spend in US dollars (settings' price table) by tenant",
            ["tenant"],
            registry=r,
        )
        self.model_tokens = Counter(
            "steadfast_model_tokens_total", "Model tokens", ["direction"], registry=r
        )
        self.retries = Counter("steadfast_retries_total", "Retries", ["dependency"], registry=r)
        self.blocked = Counter(
            "steadfast_blocked_commands_total", "Commands the gate refused", registry=r
        )
        self.dependency_up = Gauge(
            "steadfast_dependency_up",
            "1 when the dependency answered its last call",
            ["dependency"],
            registry=r,
        )
        self.claims = Counter("steadfast_claims_total", "Jobs claimed by this process", registry=r)
        self.interrupted = Counter(
            "steadfast_interrupted_total", "Expired leases reaped", registry=r
        )
