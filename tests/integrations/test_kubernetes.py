"""KubernetesClient (official client) against the Kubernetes emulator."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.wiring import kubernetes_config
from integrations.breaker import BreakerState, CircuitBreaker
from integrations.kubernetes import KubernetesClient
from integrations.outcome import Degraded, Ok
from integrations.retry import RetryPolicy
from policy.judge import KubernetesRead
from tests.integrations.conftest import (
    FAST_RETRY,
    fast_breaker,
    make_judge,
    make_policy,
    settings_for,
)

POD = "auth-api-7c9d8f6b5-x2k9p"


@pytest.fixture
def kube(kube_emulator, scrubber, token_file, closing):
    def build(**kwargs):
        settings = settings_for(
            kube_api_server=kube_emulator.url,
            kube_token_path=token_file,
            **{k: v for k, v in kwargs.items() if k.startswith("kube")},
        )
        extra = {k: v for k, v in kwargs.items() if not k.startswith("kube")}
        extra.setdefault("retry", FAST_RETRY)
        extra.setdefault("breaker", fast_breaker("kubernetes"))
        extra.setdefault("sleep", lambda s: None)
        client = KubernetesClient(kubernetes_config(settings), make_judge(), scrubber, **extra)
        closing.append(client)
        return client

    return build


def names(outcome):
    assert isinstance(outcome, Ok), outcome
    return [item["metadata"]["name"] for item in outcome.value]


def test_lists_pods_with_their_state(kube):
    outcome = kube().list("pods", "acme-prod", "acme")
    assert isinstance(outcome, Ok)
    pod = next(p for p in outcome.value if p["metadata"]["name"] == POD)
    assert pod["kind"] == "Pod"
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "CrashLoopBackOff"


def test_listing_without_namespace_covers_only_the_tenants_namespaces(kube):
    listed = names(kube().list("pods", None, "acme"))
    assert POD in listed and not any(n.startswith("coredns") for n in listed)


def test_namespaces_outside_the_tenant_are_refused_without_a_request(kube, kube_emulator):
    client = kube()
    before = len(kube_emulator.requests)
    for ns, tenant in [("kube-system", "acme"), ("acme-prod", "globex"), ("acme-prod", None)]:
        outcome = client.list("pods", ns, tenant)
        assert isinstance(outcome, Degraded) and not outcome.retryable, (ns, tenant)
        assert outcome.dependency == "kubernetes"
    logs = client.logs("coredns-6d4b75cb6d-7xkqz", "kube-system", "acme")
    assert isinstance(logs, Degraded)
    assert isinstance(client.list("secrets", "acme-prod", "acme"), Degraded)
    assert len(kube_emulator.requests) == before


def test_label_and_field_selectors(kube):
    client = kube()
    assert names(client.list("po", "acme-prod", "acme", label_selector="app=auth-api")) == [POD]
    assert names(client.list("pods", "acme-prod", "acme", label_selector="app in (nope)")) == []
    events = client.list(
        "events", "acme-prod", "acme", field_selector=f"involvedObject.name={POD},type=Warning"
    )
    assert isinstance(events, Ok)
    assert [e["reason"] for e in events.value] == ["BackOff"]
    bad = client.list("pods", "acme-prod", "acme", field_selector="???")
    assert isinstance(bad, Degraded) and "invalid field selector" in bad.reason


def test_get_and_not_found(kube):
    client = kube()
    deploy = client.get("deployments", "auth-api", "acme-prod", "acme")
    assert isinstance(deploy, Ok) and deploy.value["kind"] == "Deployment"
    missing = client.get("pods", "nope", "acme-prod", "acme")
    assert isinstance(missing, Degraded) and "not found" in missing.reason
    assert not missing.retryable
    nodes = client.list("nodes", None, "acme")
    assert isinstance(nodes, Ok) and len(nodes.value) == 1


def test_pod_logs_tail_previous_and_container(kube):
    client = kube()
    current = client.logs(POD, "acme-prod", "acme", tail_lines=1)
    assert isinstance(current, Ok)
    assert current.value.strip().endswith("credentials rejected")
    assert len(current.value.strip().splitlines()) == 1
    previous = client.logs(POD, "acme-prod", "acme", container="auth-api", previous=True)
    assert isinstance(previous, Ok) and "02:04:46Z" in previous.value
    wrong = client.logs(POD, "acme-prod", "acme", container="sidecar")
    assert isinstance(wrong, Degraded) and "not valid" in wrong.reason


def test_configmap_credentials_are_scrubbed(kube):
    outcome = kube().get("configmaps", "auth-api-config", "acme-prod", "acme")
    assert isinstance(outcome, Ok)
    assert "old-password-123" not in str(outcome.value)
    assert outcome.value["data"]["DB_USER"] == "auth_api"


def test_rollout_status_explains_an_unavailable_deployment(kube):
    outcome = kube().rollout_status("auth-api", "acme-prod", "acme")
    assert isinstance(outcome, Ok)
    assert outcome.value["complete"] is False
    assert outcome.value["message"] == "0 of 1 updated replicas are available"
    healthy = kube().rollout_status("billing-worker", "acme-prod", "acme")
    assert isinstance(healthy, Ok) and healthy.value["complete"] is True


def test_rotated_service_account_token_is_reread_on_401(kube, kube_emulator, token_file):
    client = kube()
    assert isinstance(client.list("pods", "acme-prod", "acme"), Ok)
    httpx.post(f"{kube_emulator.url}/_control/rotate-token", json={"token": "rotated-token-2"})
    token_file.write_text("rotated-token-2\n")  # the kubelet writes the new projected token
    assert isinstance(client.list("pods", "acme-prod", "acme"), Ok)
    # and a token nobody accepts is a clear, non-crashing answer
    httpx.post(f"{kube_emulator.url}/_control/rotate-token", json={"token": "rotated-token-3"})
    outcome = client.list("pods", "acme-prod", "acme")
    assert isinstance(outcome, Degraded) and "401" in outcome.reason
    assert "rotated-token-2" not in outcome.reason


@pytest.mark.parametrize(
    ("mode", "expect"),
    [
        ("500", "answered 500"),
        ("503", "answered 503"),
        ("429", "answered 429"),
        ("down", "cannot reach"),
        ("reset", "cannot reach"),
    ],
)
def test_fault_modes_degrade(kube, kube_emulator, mode, expect):
    client = kube()
    kube_emulator.faults.set(mode, retry_after=0.01)
    outcome = client.list("pods", "acme-prod", "acme")
    assert isinstance(outcome, Degraded) and outcome.retryable
    assert expect in outcome.reason and "listing pods in acme-prod" in outcome.reason


def test_slow_api_times_out(kube, kube_emulator):
    client = kube(kube_timeout_seconds=0.3, retry=RetryPolicy(attempts=2))
    kube_emulator.faults.set("slow", delay_ms=1500)
    outcome = client.list("pods", "acme-prod", "acme")
    assert isinstance(outcome, Degraded) and "did not answer within 0.3s" in outcome.reason


def test_429_is_retried_honouring_retry_after(kube, kube_emulator):
    slept: list[float] = []
    client = kube(sleep=slept.append)
    kube_emulator.faults.set("429", retry_after=0.12, count=2)
    assert isinstance(client.list("pods", "acme-prod", "acme"), Ok)
    assert slept == [0.12, 0.12]


def test_circuit_breaker_opens_then_half_opens(kube, kube_emulator):
    now = [0.0]
    breaker = CircuitBreaker(
        "kubernetes", failure_threshold=2, reset_seconds=30, clock=lambda: now[0]
    )
    client = kube(breaker=breaker, retry=RetryPolicy(attempts=1))
    kube_emulator.faults.set("503")
    for _ in range(2):
        assert isinstance(client.list("pods", "acme-prod", "acme"), Degraded)
    assert breaker.state is BreakerState.OPEN
    sent = len(kube_emulator.requests)
    fast = client.list("pods", "acme-prod", "acme")
    assert isinstance(fast, Degraded) and "circuit open" in fast.reason
    assert len(kube_emulator.requests) == sent  # no request while open
    now[0] += 31
    assert breaker.state is BreakerState.HALF_OPEN
    assert isinstance(client.list("pods", "acme-prod", "acme"), Degraded)  # trial fails
    assert breaker.state is BreakerState.OPEN
    now[0] += 31
    kube_emulator.faults.clear()
    assert isinstance(client.list("pods", "acme-prod", "acme"), Ok)  # trial succeeds
    assert breaker.state is BreakerState.CLOSED


def test_kubeconfig_mode(kube_emulator, scrubber, tmp_path: Path, closing):
    config = tmp_path / "kubeconfig"
    config.write_text(
        f"""apiVersion: v1
kind: Config
clusters: [{{name: emu, cluster: {{server: "{kube_emulator.url}"}}}}]
users: [{{name: sa, user: {{token: steadfast-demo-sa-token}}}}]
contexts: [{{name: emu, context: {{cluster: emu, user: sa}}}}]
current-context: emu
"""
    )
    client = KubernetesClient(
        kubernetes_config(settings_for(kubeconfig=config)), make_judge(), scrubber
    )
    closing.append(client)
    assert POD in names(client.list("pods", "acme-prod", "acme"))
    health = client.health()
    assert health.healthy and "kubeconfig" in health.auth and "v1.35" in health.detail


def test_unconfigured_and_unhealthy(kube, kube_emulator, scrubber, closing):
    client = KubernetesClient(kubernetes_config(settings_for()), make_judge(), scrubber)
    closing.append(client)
    assert isinstance(client.list("pods", "acme-prod", "acme"), Degraded)
    assert not client.health().healthy
    kube_emulator.faults.set("down")
    assert not kube(retry=RetryPolicy(attempts=1)).health().healthy


def test_expired_token_fault_rereads_the_token_once(kube, kube_emulator):
    client = kube()
    kube_emulator.faults.set("expired_token", count=1)
    assert isinstance(client.list("pods", "acme-prod", "acme"), Ok)
    kube_emulator.faults.set("expired_token")
    outcome = client.list("pods", "acme-prod", "acme")
    assert isinstance(outcome, Degraded) and "even after re-reading it" in outcome.reason


def test_one_client_shared_by_many_threads(kube):
    from concurrent.futures import ThreadPoolExecutor

    client = kube()

    def work(i: int) -> bool:
        if i % 2:
            return isinstance(client.list("pods", "acme-prod", "acme"), Ok)
        return isinstance(client.logs(POD, "acme-prod", "acme", tail_lines=2), Ok)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(work, range(80)))


def test_token_re_read_is_told_to_the_refresh_observer(kube, kube_emulator, token_file):
    heard: list[tuple[str, str]] = []
    client = kube(on_refresh=lambda d, w: heard.append((d, w)))
    assert isinstance(client.list("pods", "acme-prod", "acme"), Ok)
    assert heard == []
    httpx.post(f"{kube_emulator.url}/_control/rotate-token", json={"token": "rotated-token-2"})
    token_file.write_text("rotated-token-2\n")
    assert isinstance(client.list("pods", "acme-prod", "acme"), Ok)
    assert [d for d, _ in heard] == ["kubernetes"] and "re-read after 401" in heard[0][1]
    assert "rotated-token-2" not in heard[0][1]
def test_tenant_namespace_globs_mean_the_same_to_the_gate_and_the_cluster_call(
    kube_emulator, scrubber, token_file, closing
):
    """Issue 13: with namespaces ["acme-*"] the gate allowed pods in acme-prod while the
    integration refused them, and a namespace-less list sent the literal `acme-*` to the
    cluster. One judge now decides, and globs are expanded against the cluster."""
    policy = make_policy().model_copy(deep=True)
    tenants = dict(policy.tenants)
    tenants["acme"] = tenants["acme"].model_copy(update={"namespaces": ["acme-*"]})
    policy = policy.model_copy(update={"tenants": tenants})
    judge = make_judge(policy=policy)
    assert judge.judge(KubernetesRead("pods", "acme-prod"), "acme").allowed
    assert not judge.judge(KubernetesRead("pods", "kube-system"), "acme").allowed
    settings = settings_for(kube_api_server=kube_emulator.url, kube_token_path=token_file)
    client = KubernetesClient(
        kubernetes_config(settings), judge, scrubber, retry=FAST_RETRY, sleep=lambda s: None
    )
    closing.append(client)

    assert POD in names(client.list("pods", "acme-prod", "acme"))
    listed = names(client.list("pods", None, "acme"))
    assert POD in listed and not any(n.startswith("coredns") for n in listed)
    namespaces = names(client.list("namespaces", None, "acme"))
    assert namespaces and all(n.startswith("acme-") for n in namespaces)
    paths = [r.path for r in kube_emulator.requests]
    assert any("/namespaces/acme-prod/pods" in p for p in paths)
    assert not any("acme-*" in p or "acme-%2A" in p for p in paths), paths
