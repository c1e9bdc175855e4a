"""Findings of the gate's second red-team round: tenant DNS names, sizes, and usability."""

from __future__ import annotations

import time

import pytest

from sandbox.gate import Gate
from sandbox.shell import MAX_COMMAND_CHARS, MAX_STAGES

OTHER_TENANTS = [
    "prometheus-k8s-0.prometheus-operated.monitoring.svc",
    "redis-0.redis-headless.other-tenant.svc",
    "es-0.es-headless.logging.svc.cluster.local",
    "kube-system.svc",
    "kube-system.svc.cluster.local",
    "api.acme-prod.svc.kube-system.svc",
    "svc.cluster.local",
    "x.cluster.local",
    "10-0-0-1.kube-system.pod.cluster.local",
]


@pytest.mark.parametrize("host", OTHER_TENANTS)
def test_in_cluster_names_outside_the_tenant_are_refused(gate: Gate, host: str) -> None:
    for check in (
        gate.check_command(f"curl -s http://{host}:9090/api/v1/status", "acme"),
        gate.check_http("GET", f"http://{host}:9090/api/v1/status", "acme"),
    ):
        assert not check.allowed, check
        assert check.rule == "http.tenant" or check.rule.startswith("http."), check


@pytest.mark.parametrize(
    "host",
    [
        "api.acme-prod.svc",
        "api-0.api-headless.acme-prod.svc",
        "api-0.api-headless.acme-prod.svc.cluster.local",
        "acme-prod.svc",
    ],
)
def test_in_cluster_names_in_the_tenant_are_allowed(gate: Gate, host: str) -> None:
    assert gate.check_http("GET", f"http://{host}/health", "acme").allowed
    assert gate.check_command(f"curl -s http://{host}/health", "acme").allowed


def test_a_megabyte_command_is_refused_fast_with_a_reason(gate: Gate) -> None:
    command = "kubectl get pods -l " + "'" + "a" * 1_000_000 + "'"
    started = time.monotonic()
    decision = gate.check_command(command, "acme")
    assert time.monotonic() - started < 1.0
    assert not decision.allowed and decision.rule == "shell.too_long"
    assert f"{MAX_COMMAND_CHARS:,}" in decision.reason and decision.hint


@pytest.mark.parametrize("stages", [MAX_STAGES + 1, 201, 1001])
def test_too_many_pipeline_stages_are_refused(gate: Gate, stages: int) -> None:
    command = "kubectl get pods" + "|wc" * (stages - 1)
    decision = gate.check_command(command, "acme")
    assert not decision.allowed and decision.rule == "shell.too_many_stages"
    assert decision.hint


def test_the_longest_allowed_pipeline_still_runs(gate: Gate) -> None:
    command = "kubectl get pods" + " | grep a" * (MAX_STAGES - 1)
    assert len(gate.check_command(command, "acme").argv) == MAX_STAGES


@pytest.mark.parametrize(
    "command",
    [
        "curl -s 'http://prometheus.acme-prod.svc:9090/api/v1/query?query=up{job=\"api\"}'",
        "curl -s 'http://prometheus.acme-prod.svc:9090/api/v1/query?query="
        'rate(http_requests_total{code=~"5.."}[5m])\'',
        'curl -s \'http://loki.acme-prod.svc:3100/loki/api/v1/query?query={app="api"}|="error"\'',
        "kubectl logs api-0 --since=1h30m",
        "kubectl logs api-0 --since 2h",
        "kubectl logs api-0 | grep -e timeout -e refused",
        "kubectl logs api-0 | grep -i -e 'connection reset' --regexp=EOF",
    ],
)
def test_read_only_forms_that_were_refused_are_allowed(gate: Gate, command: str) -> None:
    decision = gate.check_command(command, "acme")
    assert decision.allowed, decision


def test_curl_always_runs_with_globoff(gate: Gate) -> None:
    decision = gate.check_command("curl -s 'http://api.acme-prod.svc/q?x={a,b}[1-2]'", "acme")
    assert decision.allowed and "--globoff" in decision.argv[0]


@pytest.mark.parametrize(
    "command",
    [
        "kubectl logs api-0 | grep -e a /etc/passwd",
        "kubectl logs api-0 | grep -e",
        "curl -s 'http://evil{.acme-prod.svc/'",
        "curl -s 'http://api.acme-prod.svc[/x'",
        "curl -s 'http://api.acme-prod.svc/a b'",
        "kubectl logs api-0 --since=1h30",
    ],
)
def test_the_loosened_forms_stay_tight(gate: Gate, command: str) -> None:
    assert not gate.check_command(command, "acme").allowed


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("kubectl get pods | sort -o /tmp/x", ["sort", "-o"]),
        ("kubectl get pods | wc --files0-from /tmp/x", ["wc"]),
        ("kubectl get pods | date -r /etc/passwd", ["-d"]),
        ("kubectl get pods | date -f /tmp/dates", ["-d"]),
        ("kubectl get pods | sort -T /tmp", ["-T"]),
        ("kubectl get pods -o json | jq --rawfile a /etc/passwd .", ["jq"]),
    ],
)
def test_hints_fit_the_command(gate: Gate, command: str, words: list[str]) -> None:
    decision = gate.check_command(command, "acme")
    assert not decision.allowed
    assert "grep -E" not in decision.hint, decision
    for word in words:
        assert word in decision.reason + " " + decision.hint, decision
