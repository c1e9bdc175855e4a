"""Values that would produce an unsafe or broken deployment are refused with a clear reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helm.conftest import template

CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "grace shorter than a model call",
        {"worker": {"terminationGracePeriodSeconds": 60}},
        "must be longer than worker.modelTimeoutSeconds",
    ),
    (
        "ingress in socket mode",
        {"ingress": {"enabled": True}},
        "ingress.enabled needs bot.mode=http",
    ),
    (
        "privilege escalation",
        {"securityContext": {"allowPrivilegeEscalation": True}},
        "allowPrivilegeEscalation",
    ),
    (
        "writable root",
        {"securityContext": {"readOnlyRootFilesystem": False}},
        "readOnlyRootFilesystem",
    ),
    ("added capability", {"securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}, "add"),
    ("root pod", {"podSecurityContext": {"runAsNonRoot": False}}, "runAsNonRoot"),
    (
        "ingress without hosts",
        {"bot": {"mode": "http"}, "ingress": {"enabled": True, "hosts": []}},
        "ingress/hosts",
    ),
    ("unknown bot mode", {"bot": {"mode": "https"}}, "bot/mode"),
    (
        "worker egress open to anywhere",
        {"networkPolicy": {"workerEgress": [{"to": [], "ports": [{"port": 80}]}]}},
        "workerEgress/0/to",
    ),
    ("unknown rbac scope", {"rbac": {"scope": "all"}}, "rbac/scope"),
    ("typo in a top-level key", {"workers": {"replicas": 3}}, "workers"),
    (
        "network policy without the API server",
        {"networkPolicy": {"enabled": True, "postgres": {"cidrs": ["10.1.0.0/16"]}}},
        "networkPolicy.kubernetesApi.cidrs is required",
    ),
    (
        "network policy without the database",
        {"networkPolicy": {"enabled": True, "kubernetesApi": {"cidrs": ["10.0.0.1/32"]}}},
        "networkPolicy.postgres.cidrs or .peers is required",
    ),
    ("vault without an address", {"vault": {"enabled": True}}, "vault.address is required"),
    ("policy that is not YAML", {"policy": {"content": "rules: [unclosed\n"}}, "policy.content"),
    ("no secret to read", {"secrets": {"existingSecret": ""}}, "existingSecret"),
    ("unknown model provider", {"model": {"provider": "azure"}}, "model/provider"),
    (
        "bedrock without a model id",
        {"model": {"provider": "bedrock", "bedrock": {"region": "us-east-1"}}},
        "model.bedrock.model is required",
    ),
    (
        "vertex fallback without a project",
        {
            "model": {
                "fallback": {"provider": "vertex"},
                "vertex": {"model": "claude-x@1", "region": "us-east5"},
            }
        },
        "model.vertex.project is required",
    ),
]


@pytest.mark.parametrize(("values", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused(helm: str, tmp_path: Path, values: dict[str, Any], expected: str) -> None:
    proc = template(helm, values, tmp_path)
    assert proc.returncode != 0, f"rendered although {values} is invalid"
    assert expected in proc.stderr, proc.stderr
