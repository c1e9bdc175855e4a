"""Job gauges are read from the store at scrape time."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot import __version__
from bot.errors import StoreError
from bot.metrics import Metrics
from bot.model import JobStatus, OutboxState, Ticket, outbox_key
from bot.ops import HealthServer, StoreCollector, start_health
from bot.settings import Settings


class FakeStore:
    def __init__(self) -> None:
        self.counts: dict[JobStatus, int] = {}
        self.oldest: float | None = None
        self.queries = 0
        self.down = False
        self.waiting: float | None = None
        self.backlog: tuple[int, float | None] = (0, None)

    def counts_by_status(self) -> dict[JobStatus, int]:
        self.queries += 1
        if self.down:
            raise StoreError("database unreachable")
        return dict(self.counts)

    def oldest_queued_age_seconds(self) -> float | None:
        return self.oldest

    def oldest_waiting_human_seconds(self) -> float | None:
        return self.waiting

    def outbox_backlog(self) -> tuple[int, float | None]:
        return self.backlog

    def ping(self) -> None:
        if self.down:
            raise StoreError("database unreachable")


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def test_each_scrape_reads_the_store() -> None:
    metrics, store = Metrics(), FakeStore()
    StoreCollector(metrics, store, min_interval=0).register()

    store.counts = {JobStatus.QUEUED: 3, JobStatus.RUNNING: 2}
    store.oldest = 42.5
    s = samples(metrics)
    assert s[("steadfast_queue_depth", ())] == 3
    assert s[("steadfast_oldest_queued_age_seconds", ())] == 42.5
    assert s[("steadfast_jobs", (("status", "running"),))] == 2
    # Every status has a series, so a drop to zero is visible rather than a vanished line.
    assert s[("steadfast_jobs", (("status", "failed"),))] == 0

    store.counts = {}
    store.oldest = None
    s = samples(metrics)
    assert s[("steadfast_queue_depth", ())] == 0
    assert s[("steadfast_oldest_queued_age_seconds", ())] == 0


def test_store_outage_keeps_last_values_and_marks_database_down() -> None:
    metrics, store = Metrics(), FakeStore()
    StoreCollector(metrics, store, min_interval=0).register()
    store.counts = {JobStatus.QUEUED: 5}
    assert samples(metrics)[("steadfast_dependency_up", (("dependency", "database"),))] == 1

    store.down = True
    s = samples(metrics)
    assert s[("steadfast_queue_depth", ())] == 5
    assert s[("steadfast_dependency_up", (("dependency", "database"),))] == 0


def test_queries_are_rate_limited_across_scrapers() -> None:
    now = [100.0]
    metrics, store = Metrics(), FakeStore()
    StoreCollector(metrics, store, min_interval=5, clock=lambda: now[0]).register()
    samples(metrics)
    samples(metrics)
    assert store.queries == 1
    now[0] += 5
    samples(metrics)
    assert store.queries == 2


def test_register_is_idempotent_and_reversible() -> None:
    metrics, store = Metrics(), FakeStore()
    collector = StoreCollector(metrics, store, min_interval=0).register().register()
    collector.unregister()
    store.counts = {JobStatus.QUEUED: 9}
    # Back to plain gauges: nothing queries the store any more.
    assert samples(metrics)[("steadfast_queue_depth", ())] == 0
    assert store.queries == 0


def test_start_health_wires_database_and_policy_checks() -> None:
    metrics, store = Metrics(), FakeStore()
    policy_error: list[str] = []

    def policy_loaded() -> None:
        if policy_error:
            raise RuntimeError(policy_error[0])

    assert start_health(Settings(), metrics, store, policy_loaded=policy_loaded) is None

    settings = Settings(health_port=0)
    server = start_health(settings, metrics, store, policy_loaded=policy_loaded, host="127.0.0.1")
    assert isinstance(server, HealthServer)
    try:
        url = f"http://127.0.0.1:{server.port}"
        store.counts = {JobStatus.QUEUED: 4}
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
        assert "steadfast_queue_depth 4.0" in httpx.get(f"{url}/metrics", timeout=5).text

        policy_error.append("no policy loaded: /etc/steadfast/policy.yaml line 3: bad")
        store.down = True
        body = httpx.get(f"{url}/readyz", timeout=5).json()
        assert body["status"] == "not ready"
        assert set(body["checks"]) == {"database", "policy"}
        assert "line 3" in body["checks"]["policy"]
        assert "unreachable" in body["checks"]["database"]
    finally:
        server.stop()


@pytest.mark.db
def test_gauges_follow_a_real_store(database_url: str) -> None:
    from bot.store.store import Store

    try:
        store = Store(database_url)
    except NotImplementedError:
        pytest.skip("Store is not implemented yet")
    try:
        store.upgrade()
        metrics = Metrics()
        StoreCollector(metrics, store, min_interval=0).register()
        assert samples(metrics)[("steadfast_queue_depth", ())] == 0
        store.submit(Ticket(text="pods crashlooping in payments"), key="k1")
        store.submit(Ticket(text="vault token expired"), key="k2")
        s = samples(metrics)
        assert s[("steadfast_queue_depth", ())] == 2
        assert s[("steadfast_jobs", (("status", "queued"),))] == 2
        assert s[("steadfast_oldest_queued_age_seconds", ())] >= 0
        assert store.claim("w1", lease_ttl=30) is not None
        s = samples(metrics)
        assert s[("steadfast_queue_depth", ())] == 1
        assert s[("steadfast_jobs", (("status", "running"),))] == 1
    finally:
        store.close()


def test_outbox_backlog_and_human_waits_come_from_the_store() -> None:
    metrics, store = Metrics(), FakeStore()
    StoreCollector(metrics, store, min_interval=0).register()
    store.backlog = (4, 95.0)
    store.waiting = 7200.0
    s = samples(metrics)
    assert s[("steadfast_outbox_backlog", ())] == 4
    assert s[("steadfast_outbox_oldest_age_seconds", ())] == 95.0
    assert s[("steadfast_waiting_human_oldest_seconds", ())] == 7200.0


def test_latency_buckets_reach_two_minutes_and_jobs_an_hour_and_build_info_is_set() -> None:
    metrics = Metrics()
    s = samples(metrics)
    assert s[("steadfast_build_info", (("version", __version__),))] == 1
    metrics.step_latency.labels(kind="model").observe(118)
    metrics.model_latency.observe(118)
    metrics.job_duration.labels(status="succeeded").observe(3500)
    s = samples(metrics)
    # a 118 s call lands in a finite bucket, not only +Inf
    assert s[("steadfast_step_seconds_bucket", (("kind", "model"), ("le", "120.0")))] == 1
    assert s[("steadfast_model_call_seconds_bucket", (("le", "120.0"),))] == 1
    assert s[("steadfast_job_run_seconds_bucket", (("le", "3600.0"), ("status", "succeeded")))] == 1


@pytest.mark.db
def test_outbox_and_waiting_gauges_follow_a_real_store(database_url: str) -> None:
    from bot.store.store import Store

    store = Store(database_url)
    try:
        store.upgrade()
        metrics = Metrics()
        StoreCollector(metrics, store, min_interval=0).register()
        store.submit(Ticket(text="a"), key="k1")
        claimed = store.claim("w1", lease_ttl=30)
        assert claimed is not None
        job, lease = claimed
        store.outbox_put(
            outbox_key(job.id, "progress"),
            "chat.postMessage",
            {"channel": "C1", "text": "working"},
            job_id=job.id,
            purpose="progress",
            lease=lease,
        )
        store.finish(lease, JobStatus.WAITING_HUMAN)
        s = samples(metrics)
        assert s[("steadfast_outbox_backlog", ())] == 1
        assert s[("steadfast_outbox_oldest_age_seconds", ())] >= 0
        assert s[("steadfast_jobs", (("status", "waiting_human"),))] == 1
        assert s[("steadfast_waiting_human_oldest_seconds", ())] >= 0
        store.outbox_mark(outbox_key(job.id, "progress"), OutboxState.SENT)
        assert samples(metrics)[("steadfast_outbox_backlog", ())] == 0
    finally:
        store.close()


def test_db_metrics_off_exports_no_deployment_gauges() -> None:
    metrics, store = Metrics(), FakeStore()
    server = start_health(
        Settings(health_port=0, db_metrics=False),
        metrics,
        store,
        policy_loaded=lambda: None,
        host="127.0.0.1",
    )
    assert server is not None
    try:
        store.counts = {JobStatus.QUEUED: 3}
        assert store.queries == 0 and ("steadfast_queue_depth", ()) in samples(metrics)
        assert samples(metrics)[("steadfast_queue_depth", ())] == 0  # never filled here
        assert store.queries == 0
    finally:
        server.stop()
