"""The chart's trace console: the bot's port, env and secret, its Service, the optional Ingress
and the NetworkPolicy rule; refused without the public URL the handoff links need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helm.conftest import VALUE_SETS, Render, by_kind, one, template


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_off_by_default(render: Render) -> None:
    docs = render(None)
    assert not [d for d in docs if d["metadata"]["name"].endswith("-console")]
    bot = one(docs, "Deployment", "sf-steadfast-bot")["spec"]["template"]["spec"]
    assert "STEADFAST_CONSOLE_PORT" not in _env(bot["containers"][0])


def test_enabled_serves_the_console_from_the_bot_only(render: Render) -> None:
    docs = render(VALUE_SETS["console"])
    bot = one(docs, "Deployment", "sf-steadfast-bot")["spec"]["template"]["spec"]["containers"][0]
    env = _env(bot)
    assert env["STEADFAST_CONSOLE_PORT"] == "8090"
    assert env["STEADFAST_CONSOLE_HOST"] == "0.0.0.0"
    assert env["STEADFAST_CONSOLE_PUBLIC_BASE_URL"] == "https://steadfast.corp.test"
    assert env["STEADFAST_CONSOLE_SECRET"] == {
        "secretKeyRef": {"name": "steadfast", "key": "STEADFAST_CONSOLE_SECRET"}
    }
    assert {"name": "console", "containerPort": 8090, "protocol": "TCP"} in bot["ports"]
    worker = one(docs, "Deployment", "sf-steadfast-worker")["spec"]["template"]["spec"]
    for container in worker["containers"]:  # workers never hold the signing key
        assert not any(k.startswith("STEADFAST_CONSOLE") for k in _env(container))

    service = one(docs, "Service", "sf-steadfast-console")
    assert service["spec"]["ports"] == [
        {"name": "console", "port": 80, "targetPort": "console", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "bot"
    ingress = one(docs, "Ingress", "sf-steadfast-console")
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "steadfast.corp.test"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "sf-steadfast-console", "port": {"name": "console"}}
    policy = by_kind(docs, "NetworkPolicy")[0]["spec"]["ingress"]
    console_rule = [r for r in policy if r["ports"][0]["port"] == "console"]
    assert console_rule and console_rule[0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"console": {"enabled": True}}, "console.publicBaseUrl is required"),
        (
            {
                "console": {
                    "enabled": True,
                    "publicBaseUrl": "https://s.test",
                    "ingress": {"enabled": True},
                }
            },
            "console.ingress.host is required",
        ),
        ({"console": {"enabled": True, "publicBaseUrl": "s.test"}}, "publicBaseUrl"),
    ],
    ids=["no public url", "ingress without host", "not a url"],
)
def test_refused(helm: str, tmp_path: Path, values: dict[str, Any], expected: str) -> None:
    proc = template(helm, values, tmp_path)
    assert proc.returncode != 0, f"rendered although {values} is invalid"
    assert expected in proc.stderr, proc.stderr
