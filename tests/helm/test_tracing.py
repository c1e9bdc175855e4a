"""Traces: `tracing.otlpEndpoint` reaches the bot and the worker (never the secret-free runner)
as OpenTelemetry's own variable; empty, tracing stays off."""

from __future__ import annotations

from typing import Any

from tests.helm.conftest import Render, by_kind


def _env_by_container(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for deploy in by_kind(docs, "Deployment"):
        spec = deploy["spec"]["template"]["spec"]
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            found[container["name"]] = {e["name"]: e.get("value") for e in container.get("env", [])}
    return found


def test_an_endpoint_reaches_bot_and_worker_but_not_the_runner(render: Render) -> None:
    envs = _env_by_container(render({"tracing": {"otlpEndpoint": "http://otel:4318"}}))
    assert envs["bot"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel:4318"
    assert envs["worker"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel:4318"
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in envs["runner"]


def test_no_endpoint_no_tracing(render: Render) -> None:
    for env in _env_by_container(render(None)).values():
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env
