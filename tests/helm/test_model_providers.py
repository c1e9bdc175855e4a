"""The chart's model provider values: Bedrock and Vertex settings reach the worker, their
credentials reach the worker container only (never the runner), and the Claude API key is
asked for only when the Claude API is used."""

from __future__ import annotations

from typing import Any

from tests.helm.conftest import Render, one
from tests.helm.test_runner import WORKER, container, mounts, pod

CLOUDS: dict[str, Any] = {
    "model": {
        "provider": "bedrock",
        "bedrock": {
            "model": "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "region": "eu-central-1",
            "credentialsSecret": "aws-keys",
        },
        "vertex": {
            "model": "claude-sonnet-4-5@20250929",
            "region": "europe-west1",
            "project": "acme-ml",
            "credentialsSecret": "gcp-key",
        },
        "fallback": {"provider": "vertex"},
    }
}


def env(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in c.get("env", [])}


def test_default_is_the_claude_api_with_its_key(render: Render) -> None:
    worker = env(container(pod(render(None)), "worker"))
    assert worker["STEADFAST_MODEL_PROVIDER"]["value"] == "anthropic"
    assert "ANTHROPIC_API_KEY" in worker
    assert not {"STEADFAST_BEDROCK_MODEL", "STEADFAST_VERTEX_MODEL"} & set(worker)


def test_bedrock_with_a_vertex_fallback_reaches_the_worker_and_not_the_runner(
    render: Render,
) -> None:
    spec = pod(render(CLOUDS))
    worker = container(spec, "worker")
    found = env(worker)
    assert found["STEADFAST_MODEL_PROVIDER"]["value"] == "bedrock"
    assert found["STEADFAST_BEDROCK_MODEL"]["value"] == "anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert found["STEADFAST_BEDROCK_REGION"]["value"] == "eu-central-1"
    assert found["STEADFAST_VERTEX_PROJECT"]["value"] == "acme-ml"
    assert found["STEADFAST_MODEL_FALLBACK_PROVIDER"]["value"] == "vertex"
    assert found["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "aws-keys"
    assert "ANTHROPIC_API_KEY" not in found  # no Claude API: no key asked for
    credentials = found["GOOGLE_APPLICATION_CREDENTIALS"]["value"]
    mount = mounts(worker)["google-credentials"]
    assert credentials.startswith(mount["mountPath"]) and mount["readOnly"] is True
    runner = container(spec, "runner")
    assert not [n for n in env(runner) if n.startswith(("AWS_", "GOOGLE_", "STEADFAST_BEDROCK"))]
    assert "google-credentials" not in mounts(runner)


def test_irsa_never_reaches_the_runner(render: Render) -> None:
    docs = render(CLOUDS)

    annotations = one(docs, "Deployment", WORKER)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["eks.amazonaws.com/skip-containers"] == "runner"
