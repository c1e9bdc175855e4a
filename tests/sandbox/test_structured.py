"""Structured tools (HTTP, Vault, Kubernetes API) pass the same policy as commands."""

from __future__ import annotations

import ipaddress

import pytest

from sandbox.gate import Gate
from sandbox.netcheck import normalise_host


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("[::ffff:a9fe:a9fe]", "169.254.169.254"),
        ("169.254.169.254.", "169.254.169.254"),
    ],
)
def test_literal_address_forms_normalise(host: str, address: str) -> None:
    assert normalise_host(host) == ipaddress.ip_address(address)


def test_names_stay_names() -> None:
    assert normalise_host("API.acme-prod.SVC.") == "api.acme-prod.svc"
    assert normalise_host("1.2.3.4.nip.io") == "1.2.3.4.nip.io"


@pytest.mark.parametrize(
    ("method", "url", "tenant", "allowed"),
    [
        ("GET", "http://api.acme-prod.svc/health", "acme", True),
        ("head", "https://api.acme-prod.svc.cluster.local/", "acme", True),
        ("GET", "http://api.acme-prod.svc:8080/metrics", None, True),
        ("POST", "http://api.acme-prod.svc/health", "acme", False),
        ("DELETE", "http://api.acme-prod.svc/x", None, False),
        ("GET", "http://api.other.svc/health", "acme", False),
        ("GET", "http://169.254.169.254/latest", None, False),
        ("GET", "http://0xa9fea9fe/latest", None, False),
        ("GET", "http://localhost/", None, False),
        ("GET", "file:///etc/passwd", None, False),
        ("GET", "http://api.acme-prod.svc:6379/", None, False),
        ("GET", "http://example.com/", None, False),
        ("GET", "http://api.acme-prod.svc/", "ghost", False),
    ],
)
def test_check_http(gate: Gate, method: str, url: str, tenant: str | None, allowed: bool) -> None:
    decision = gate.check_http(method, url, tenant)
    assert decision.allowed is allowed, decision
    assert decision.reason


@pytest.mark.parametrize(
    ("path", "tenant", "allowed"),
    [
        ("secret/acme/db", "acme", True),
        ("secret/acme", "acme", True),
        ("/secret/acme/app/config/", "acme", True),
        ("secret/acme/db", None, False),  # {tenant} paths need a tenant
        ("secret/other/db", "acme", False),
        ("secret/acme/../other/db", "acme", False),
        ("database/creds/readonly", "acme", False),
        ("sys/policy", "acme", False),
        ("auth/token/lookup-self", "acme", False),
        ("cubbyhole/x", "acme", False),
        ("aws/sts/deploy", "acme", False),
        ("secret/acme/db%2f..", "acme", False),
        ("", "acme", False),
    ],
)
def test_check_vault_path(gate: Gate, path: str, tenant: str | None, allowed: bool) -> None:
    decision = gate.check_vault_path(path, tenant)
    assert decision.allowed is allowed, decision
    assert decision.reason


@pytest.mark.parametrize(
    ("resource", "namespace", "tenant", "allowed"),
    [
        ("pods", "acme-prod", "acme", True),
        ("pods/log", "acme-prod", "acme", True),
        ("nodes", None, "acme", True),
        ("pods", None, None, False),  # structured reads need a tenant: fail closed
        ("nodes", None, None, True),
        ("pods", None, "acme", False),
        ("pods", "kube-system", "acme", False),
        ("secrets", "acme-prod", "acme", False),
        ("Secrets", "acme-prod", None, False),
        ("pods/exec", "acme-prod", "acme", False),
        ("clusterrolebindings", None, None, False),
    ],
)
def test_check_kubernetes(
    gate: Gate, resource: str, namespace: str | None, tenant: str | None, allowed: bool
) -> None:
    decision = gate.check_kubernetes(resource, namespace, tenant)
    assert decision.allowed is allowed, decision
    assert decision.reason


def test_a_glob_tenant_means_the_same_for_commands_and_structured_reads(shipped) -> None:
    """Issue 13: one meaning of `acme-*` for every tool, and never a glob as a namespace."""
    from policy.document import Tenant
    from policy.judge import CommandRun, KubernetesRead

    tenants = {"acme": Tenant(channels=["C1"], namespaces=["acme-*"])}
    gate = Gate(shipped.model_copy(update={"tenants": tenants}))
    assert gate.judge(KubernetesRead("pods", "acme-prod"), "acme").allowed
    assert not gate.judge(KubernetesRead("pods", "kube-system"), "acme").allowed
    assert gate.judge(CommandRun("kubectl get pods -n acme-prod"), "acme").allowed
    assert not gate.judge(CommandRun("kubectl get pods -n kube-system"), "acme").allowed
    bare = gate.judge(CommandRun("kubectl get pods"), "acme")
    assert not bare.allowed and "acme-*" in bare.hint
