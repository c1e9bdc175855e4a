"""The chart's optional alerts and dashboard, and the log and metrics settings it gives pods.

The PrometheusRule CRD cannot be validated offline, so its shape is checked here instead, and
every metric an alert or panel names must be one the processes actually export."""

from __future__ import annotations

import json
import re
from typing import Any

from prometheus_client import generate_latest

from bot.metrics import Metrics
from tests.helm.conftest import Render, by_kind, one

ON = {"metrics": {"prometheusRule": {"enabled": True}, "grafanaDashboard": {"enabled": True}}}
ALERTS = {
    "SteadfastJobsStuck",
    "SteadfastHumanWaitLong",
    "SteadfastOutboxBacklog",
    "SteadfastDependencyDown",
    "SteadfastErrorRate",
}


def _exported() -> set[str]:
    metrics = Metrics()
    # labelled series appear once touched; name every family the code defines
    text = generate_latest(metrics.registry).decode()
    names = set(re.findall(r"^# TYPE (\w+)", text, re.M))
    counters = {n for n in names if re.search(rf"^# TYPE {n} counter", text, re.M)}
    return names | {f"{n}_total" for n in counters} | {f"{n}_bucket" for n in names}


def _named(expr: str) -> set[str]:
    return set(re.findall(r"\bsteadfast_\w+", expr))


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def test_alerts_and_dashboard_are_off_by_default(render: Render) -> None:
    docs = render({})
    assert not by_kind(docs, "PrometheusRule")
    assert not [
        d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")
    ]


def test_prometheus_rule_has_the_five_alerts_on_exported_metrics(render: Render) -> None:
    rule = one(render(ON), "PrometheusRule", "sf-steadfast")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    (group,) = rule["spec"]["groups"]
    rules = group["rules"]
    assert {r["alert"] for r in rules} == ALERTS
    exported = _exported()
    for r in rules:
        assert set(r) == {"alert", "expr", "for", "labels", "annotations"}, r
        assert re.fullmatch(r"\d+[smh]", r["for"])
        assert r["labels"]["severity"] == "warning"
        assert r["annotations"]["summary"] and r["annotations"]["description"]
        assert 'namespace="support"' in r["expr"]
        named = _named(r["expr"])
        assert named and named <= exported, named - exported
    down = next(r for r in rules if r["alert"] == "SteadfastDependencyDown")
    assert "{{ $labels.dependency }}" in down["annotations"]["summary"]  # left for Prometheus


def test_thresholds_come_from_values(render: Render) -> None:
    values = {"metrics": {"prometheusRule": {"enabled": True, "humanWaitSeconds": 600}}}
    rule = one(render(values), "PrometheusRule", "sf-steadfast")
    wait = next(r for r in rule["spec"]["groups"][0]["rules"] if "Human" in r["alert"])
    assert wait["expr"].endswith("> 600")


def test_dashboard_configmap_is_grafana_json_on_exported_metrics(render: Render) -> None:
    cm = one(render(ON), "ConfigMap", "sf-steadfast-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(cm["data"]["steadfast.json"])
    assert dashboard["uid"] == "steadfast" and dashboard["panels"]
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    named = set().union(*map(_named, exprs))
    assert "steadfast_model_cost_usd_total" in named
    assert named <= _exported(), named - _exported()


def test_json_logs_and_one_exporter_of_deployment_gauges(render: Render) -> None:
    docs = render({})
    bot = one(docs, "Deployment", "sf-steadfast-bot")["spec"]["template"]["spec"]["containers"]
    worker = one(docs, "Deployment", "sf-steadfast-worker")["spec"]["template"]["spec"]
    bot_env = _env(bot[0])
    worker_env = _env(next(c for c in worker["containers"] if c["name"] == "worker"))
    assert bot_env["STEADFAST_LOG_FORMAT"] == worker_env["STEADFAST_LOG_FORMAT"] == "json"
    assert "STEADFAST_DB_METRICS" not in bot_env  # the default: on
    assert worker_env["STEADFAST_DB_METRICS"] == "false"
