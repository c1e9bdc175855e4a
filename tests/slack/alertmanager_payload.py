"""Alertmanager webhook bodies for the tests, in the layout of Alertmanager's documented
`webhook_config` payload (version "4"): receiver, status, alerts[] (status, labels,
annotations, startsAt, endsAt, generatorURL, fingerprint), groupLabels, commonLabels,
commonAnnotations, externalURL, version, groupKey, truncatedAlerts."""

from __future__ import annotations

import base64
import copy
from typing import Any

import httpx

ZERO = "0001-01-01T00:00:00Z"


def alert(
    name: str = "KubePodCrashLooping",
    *,
    fingerprint: str = "1a30ba71cca2921f",
    starts_at: str = "2026-12-02T09:52:26.739266876Z",
    status: str = "firing",
    ends_at: str = ZERO,
    **labels: str,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {
            "alertname": name,
            "namespace": "payments-prod",
            "pod": "checkout-7d9f8b6c5-x2x4z",
            "severity": "critical",
            **labels,
        },
        "annotations": {
            "summary": f"{name}: checkout-7d9f8b6c5-x2x4z is restarting",
            "description": "Pod payments-prod/checkout-7d9f8b6c5-x2x4z restarted 5 times in 10m.",
        },
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=kube_pod_restarts",
        "fingerprint": fingerprint,
    }


def notification(*alerts: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    common = alerts[0]["labels"] if alerts else {}
    return {
        "receiver": "steadfast",
        "status": status
        or ("firing" if any(a["status"] == "firing" for a in alerts) else "resolved"),
        "alerts": list(alerts),
        "groupLabels": {"alertname": common.get("alertname", "")},
        "commonLabels": dict(common),
        "commonAnnotations": dict(alerts[0]["annotations"]) if alerts else {},
        "externalURL": "http://alertmanager.example.org:9093",
        "version": "4",
        "groupKey": '{}/{severity="critical"}:{alertname="KubePodCrashLooping"}',
        "truncatedAlerts": 0,
    }


def resolved(body: dict[str, Any], ends_at: str = "2026-12-02T10:20:00Z") -> dict[str, Any]:
    """The same group once its alerts resolved, as Alertmanager sends it."""
    out = copy.deepcopy(body)
    out["status"] = "resolved"
    for a in out["alerts"]:
        a["status"] = "resolved"
        a["endsAt"] = ends_at
    return out


def post(
    url: str,
    body: Any,
    *,
    token: str | None = None,
    basic: tuple[str, str] | None = None,
    raw: bytes | None = None,
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if basic is not None:
        pair = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {pair}"
    if raw is not None:
        return httpx.post(url, content=raw, headers=headers, timeout=30)
    return httpx.post(url, json=body, headers=headers, timeout=30)
