"""The demo's alert: the demo ticket as Alertmanager would deliver it (webhook body version 4,
the field layout of Alertmanager's `webhook_config` documentation)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def demo_alert(now: datetime | None = None) -> dict[str, Any]:
    starts = (now or datetime.now(UTC)).replace(hour=2, minute=10, second=0, microsecond=0)
    labels = {
        "alertname": "InstanceInError",
        "instance": "i-123",
        "namespace": "acme-prod",
        "severity": "critical",
        "tenant": "acme",
    }
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {
            "summary": "Instance i-123 for tenant acme has been in ERROR since 02:10",
            "description": "Customers of acme cannot log in since the instance went to ERROR.",
        },
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.demo:9090/graph?g0.expr=instance_state%7Bstate%3D%22ERROR%22%7D",
        "fingerprint": "d3m0a1e27f1c0de5",
    }
    return {
        "receiver": "steadfast",
        "status": "firing",
        "alerts": [alert],
        "groupLabels": {"alertname": "InstanceInError"},
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.demo:9093",
        "version": "4",
        "groupKey": '{}:{alertname="InstanceInError"}',
        "truncatedAlerts": 0,
    }
