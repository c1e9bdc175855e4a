"""Prometheus metrics. One `Metrics` per process, built at the entry point and passed down."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bot import __version__

# Steps run to the model's 120 s timeout and beyond (a retried call); jobs to an hour and more.
STEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
JOB_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


class Metrics:
    """Per-process series, plus the database-derived gauges (`steadfast_jobs`, queue, outbox,
    human waits) that `bot.ops.collector.StoreCollector` fills on scrape in the one process
    configured to export them (`STEADFAST_DB_METRICS`; in the chart, the bot)."""

    def __init__(self, registry: CollectorRegistry | None = None, version: str = "") -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.build_info = Gauge(
            "steadfast_build_info", "Always 1; the running version", ["version"], registry=r
        )
        self.build_info.labels(version=version or __version__).set(1)
        self.job_outcomes = Counter(
            "steadfast_job_outcomes_total",
            "Job runs ended by this process, by the status they ended in",
            ["status"],
            registry=r,
        )
        self.job_duration = Histogram(
            "steadfast_job_run_seconds",
            "Wall time of one job run (claim to finish or release), by status",
            ["status"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.model_latency = Histogram(
            "steadfast_model_call_seconds",
            "One model call, retries included",
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.model_errors = Counter(
            "steadfast_model_errors_total",
            "Failed model calls (each retry counts) by error class",
            ["kind"],
            registry=r,
        )
        self.slack_errors = Counter(
            "steadfast_slack_errors_total",
            "Failed Slack API calls by error class (Slack's error code or the exception)",
            ["kind"],
            registry=r,
        )
        self.pages = Counter(
            "steadfast_pages_total",
            "Pages sent to pagers by the outbox sender, by service, action and outcome "
            "(sent, deferred, refused, unauthorized, unconfigured)",
            ["service", "action", "outcome"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "steadfast_outbox_backlog", "Outbox posts not yet sent (pending or sending)", registry=r
        )
        self.outbox_oldest_age = Gauge(
            "steadfast_outbox_oldest_age_seconds",
            "Age of the oldest unsent outbox post",
            registry=r,
        )
        self.human_wait_oldest = Gauge(
            "steadfast_waiting_human_oldest_seconds",
            "How long the longest-waiting job has waited for a human",
            registry=r,
        )
        self.alerts_received = Counter(
            "steadfast_alerts_received_total",
            "Alerts in Alertmanager notifications, by their status (firing, resolved)",
            ["status"],
            registry=r,
        )
        self.alerts_deduplicated = Counter(
            "steadfast_alerts_deduplicated_total",
            "Firing alerts that already had a job (a resend): no second investigation",
            registry=r,
        )
        self.alerts_unrouted = Counter(
            "steadfast_alerts_unrouted_total",
            "Firing alerts no `alert_routes` entry matched: not investigated",
            registry=r,
        )
        self.alerts_over_cap = Counter(
            "steadfast_alerts_over_cap_total",
            "Firing alerts past their route's max_alerts_per_group: listed, not investigated",
            registry=r,
        )
        self.alert_requests = Counter(
            "steadfast_alert_requests_total",
            "Requests to the alert endpoint by HTTP status answered",
            ["code"],
            registry=r,
        )
        self.jobs = Gauge("steadfast_jobs", "Jobs by status", ["status"], registry=r)
        self.queue_depth = Gauge("steadfast_queue_depth", "Queued jobs", registry=r)
        self.oldest_queued_age = Gauge(
            "steadfast_oldest_queued_age_seconds", "Age of the oldest queued job", registry=r
        )
        self.step_latency = Histogram(
            "steadfast_step_seconds",
            "Time of one job step",
            ["kind"],
            buckets=STEP_BUCKETS,
            registry=r,
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
