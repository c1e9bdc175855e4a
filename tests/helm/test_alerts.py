"""`alerts.enabled`: the bot serves Alertmanager's endpoint on its own port, with the token from
a Secret, a Service for Alertmanager and (with a NetworkPolicy) only `alertsFrom` let in."""

from __future__ import annotations

import copy
from typing import Any

from tests.helm.conftest import VALUE_SETS, Render, by_kind, one


def _bot_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    bot = one(docs, "Deployment", "sf-steadfast-bot")
    return next(c for c in bot["spec"]["template"]["spec"]["containers"] if c["name"] == "bot")


def test_off_by_default(render: Render) -> None:
    docs = render(None)
    env = {e["name"] for e in _bot_container(docs)["env"]}
    assert "STEADFAST_ALERTS_TOKEN" not in env
    assert not [s for s in by_kind(docs, "Service") if s["metadata"]["name"].endswith("-alerts")]


def test_enabled_wires_port_secret_and_service(render: Render) -> None:
    docs = render({"alerts": {"enabled": True}, "secrets": {"alertsToken": {"name": "am"}}})
    container = _bot_container(docs)
    env = {e["name"]: e for e in container["env"]}
    assert env["STEADFAST_ALERTS_PORT"]["value"] == "9103"
    assert env["STEADFAST_ALERTS_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "am",
        "key": "STEADFAST_ALERTS_TOKEN",
    }
    assert {"name": "alerts", "containerPort": 9103, "protocol": "TCP"} in container["ports"]
    service = one(docs, "Service", "sf-steadfast-alerts")
    assert service["spec"]["ports"][0]["targetPort"] == "alerts"


def test_network_policy_lets_only_alerts_from_in(render: Render) -> None:
    values = copy.deepcopy(VALUE_SETS["network-policy"])
    values["alerts"] = {"enabled": True}
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    values["networkPolicy"]["alertsFrom"] = [peer]
    base = one(render(values), "NetworkPolicy", "sf-steadfast")
    [rule] = [r for r in base["spec"]["ingress"] if r["ports"][0]["port"] == "alerts"]
    assert rule["from"] == [peer]
