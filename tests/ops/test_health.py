"""HealthServer over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.errors import ConfigError, StoreError
from bot.metrics import Metrics
from bot.ops import HealthServer, describe_failure


class Switch:
    """A check whose outcome the test flips."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def __call__(self) -> None:
        if self.reason is not None:
            raise StoreError(self.reason)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def switch() -> Switch:
    return Switch()


@pytest.fixture
def server(metrics: Metrics, switch: Switch) -> Iterator[HealthServer]:
    with HealthServer(
        0, metrics, {"database": switch, "policy": lambda: None}, host="127.0.0.1"
    ) as s:
        yield s


def get(server: HealthServer, path: str, **kw: object) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{server.port}{path}", timeout=5, **kw)  # type: ignore[arg-type]


def test_healthz_answers_while_alive(server: HealthServer) -> None:
    r = get(server, "/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "alive"}


def test_readyz_flips_with_a_failing_check(server: HealthServer, switch: Switch) -> None:
    r = get(server, "/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "policy": "ok"}}

    switch.reason = "database at db.internal:5432 refused the connection"
    r = get(server, "/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "not ready"
    assert body["checks"]["policy"] == "ok"
    assert body["checks"]["database"] == (
        "StoreError: database at db.internal:5432 refused the connection"
    )

    switch.reason = None
    assert get(server, "/readyz").status_code == 200


def test_healthz_stays_up_when_not_ready(server: HealthServer, switch: Switch) -> None:
    # A database outage must not make the kubelet restart the pod.
    switch.reason = "down"
    assert get(server, "/readyz").status_code == 503
    assert get(server, "/healthz").status_code == 200


def test_readyz_reason_never_shows_url_credentials(metrics: Metrics) -> None:
    def leaky() -> None:
        raise RuntimeError(
            "could not connect to postgresql+psycopg://steadfast:hunter2@db:5432/prod\nDETAIL: x"
        )

    with HealthServer(0, metrics, {"database": leaky}, host="127.0.0.1") as s:
        r = get(s, "/readyz")
    assert r.status_code == 503
    assert "hunter2" not in r.text
    assert "postgresql+psycopg://***@db:5432/prod" in r.json()["checks"]["database"]
    assert "DETAIL" not in r.text


def test_a_hung_check_times_out_instead_of_hanging_the_probe(metrics: Metrics) -> None:
    release = threading.Event()
    with HealthServer(
        0,
        metrics,
        {"vault": lambda: release.wait(10) and None},
        host="127.0.0.1",
        check_timeout=0.2,
    ) as s:
        try:
            r = get(s, "/readyz")
        finally:
            release.set()
    assert r.status_code == 503
    assert r.json()["checks"]["vault"] == "no answer within 0.2s"


def test_no_checks_means_ready(metrics: Metrics) -> None:
    with HealthServer(0, metrics, {}, host="127.0.0.1") as s:
        assert get(s, "/readyz").json() == {"status": "ready", "checks": {}}


def test_metrics_exposition_has_every_steadfast_metric(
    server: HealthServer, metrics: Metrics
) -> None:
    metrics.blocked.inc()
    metrics.model_tokens.labels(direction="input").inc(1200)
    metrics.step_latency.labels(kind="model").observe(1.5)
    metrics.retries.labels(dependency="vault").inc()
    metrics.dependency_up.labels(dependency="vault").set(1)

    r = get(server, "/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    for name in (
        "steadfast_jobs",
        "steadfast_queue_depth",
        "steadfast_oldest_queued_age_seconds",
        "steadfast_step_seconds",
        "steadfast_model_tokens",
        "steadfast_retries",
        "steadfast_blocked_commands",
        "steadfast_dependency_up",
    ):
        assert name in families, name
    blocked = families["steadfast_blocked_commands"].samples
    assert [s.value for s in blocked if s.name == "steadfast_blocked_commands_total"] == [1.0]
    tokens = families["steadfast_model_tokens"].samples
    assert any(s.labels == {"direction": "input"} and s.value == 1200 for s in tokens)


def test_metrics_speaks_openmetrics_when_asked(server: HealthServer) -> None:
    r = get(server, "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.rstrip().endswith("# EOF")


def test_unknown_path_is_404(server: HealthServer) -> None:
    r = get(server, "/admin")
    assert r.status_code == 404
    assert "/readyz" in r.json()["error"]


def test_stop_releases_the_port(metrics: Metrics) -> None:
    s = HealthServer(0, metrics, {}, host="127.0.0.1").start()
    port = s.port
    s.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    # The same port can be served again right away (SO_REUSEADDR).
    again = HealthServer(port, metrics, {}, host="127.0.0.1").start()
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    finally:
        again.stop()


def test_port_in_use_is_a_config_error(server: HealthServer, metrics: Metrics) -> None:
    with pytest.raises(ConfigError, match="STEADFAST_HEALTH_PORT"):
        HealthServer(server.port, metrics, {}, host="127.0.0.1").start()


def test_bad_port_is_a_config_error(metrics: Metrics) -> None:
    with pytest.raises(ConfigError, match="out of range"):
        HealthServer(70000, metrics, {})


def test_describe_failure_masks_keyword_credentials() -> None:
    reason = describe_failure(
        RuntimeError("connection failed: host=db user=sf password='s3 cr3t' token=abc123 dbname=x")
    )
    assert "s3 cr3t" not in reason and "abc123" not in reason
    assert "password=***" in reason and "host=db" in reason


def test_known_secret_values_are_scrubbed_from_reasons(metrics: Metrics) -> None:
    from core.scrubber import Scrubber

    scrubber = Scrubber()
    scrubber.register("vault token", "hvs.CAESIJ-not-a-real-token")

    def vault() -> None:
        raise PermissionError("token hvs.CAESIJ-not-a-real-token is expired")

    with HealthServer(0, metrics, {"vault": vault}, host="127.0.0.1", scrub=scrubber.scrub) as s:
        r = get(s, "/readyz")
    assert r.status_code == 503
    assert "hvs.CAESIJ" not in r.text
    assert r.json()["checks"]["vault"].startswith("PermissionError: token ")


def test_describe_failure_is_short_and_single_line() -> None:
    reason = describe_failure(ValueError("x" * 1000 + "\nsecond line"))
    assert len(reason) <= 300
    assert "\n" not in reason
    assert describe_failure(TimeoutError()) == "TimeoutError"
    assert json.dumps(reason)
