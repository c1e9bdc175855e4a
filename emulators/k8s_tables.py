"""Server-side printing for the Kubernetes emulator: `meta.k8s.io/v1 Table` answers, which is
what `kubectl get` asks for (Accept: ...;as=Table)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def age(timestamp: str | None, now: datetime | None = None) -> str:
    if not timestamp:
        return "<unknown>"
    then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * 2 or (unit == "m" and seconds >= 60):
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def pod_status(pod: dict[str, Any]) -> str:
    for cs in pod.get("status", {}).get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            return str(state["waiting"]["reason"])
        if "terminated" in state and state["terminated"].get("reason"):
            return str(state["terminated"]["reason"])
    return str(pod.get("status", {}).get("phase", "Unknown"))


def _col(name: str, type_: str = "string", priority: int = 0) -> dict[str, Any]:
    fmt = "name" if name == "Name" else ""
    return {"name": name, "type": type_, "format": fmt, "description": name, "priority": priority}


def _pod(obj: dict[str, Any]) -> list[Any]:
    statuses = obj.get("status", {}).get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    total = len(obj.get("spec", {}).get("containers") or statuses)
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    return [
        f"{ready}/{total}",
        pod_status(obj),
        restarts,
        age(obj["metadata"].get("creationTimestamp")),
        obj.get("status", {}).get("podIP", "<none>"),
        obj.get("spec", {}).get("nodeName", "<none>"),
    ]


def _deployment(obj: dict[str, Any]) -> list[Any]:
    st, spec = obj.get("status", {}), obj.get("spec", {})
    return [
        f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        st.get("updatedReplicas", 0),
        st.get("availableReplicas", 0),
        age(obj["metadata"].get("creationTimestamp")),
    ]


def _event(obj: dict[str, Any]) -> list[Any]:
    involved = obj.get("involvedObject", {})
    return [
        age(obj.get("lastTimestamp") or obj["metadata"].get("creationTimestamp")),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        obj.get("message", ""),
    ]


def _node(obj: dict[str, Any]) -> list[Any]:
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in obj.get("status", {}).get("conditions") or []
    )
    return [
        "Ready" if ready else "NotReady",
        "<none>",
        age(obj["metadata"].get("creationTimestamp")),
        obj.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", ""),
    ]


def _service(obj: dict[str, Any]) -> list[Any]:
    spec = obj.get("spec", {})
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    return [
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP", "<none>"),
        ports or "<none>",
        age(obj["metadata"].get("creationTimestamp")),
    ]


_TABLES: dict[str, tuple[list[dict[str, Any]], Any]] = {
    "pods": (
        [
            _col("Ready"),
            _col("Status"),
            _col("Restarts", "integer"),
            _col("Age"),
            _col("IP", priority=1),
            _col("Node", priority=1),
        ],
        _pod,
    ),
    "deployments": (
        [_col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"), _col("Age")],
        _deployment,
    ),
    "events": (
        [_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")],
        _event,
    ),
    "nodes": ([_col("Status"), _col("Roles"), _col("Age"), _col("Version")], _node),
    "services": ([_col("Type"), _col("Cluster-IP"), _col("Port(s)"), _col("Age")], _service),
}


def table(resource: str, objects: list[dict[str, Any]], resource_version: str) -> dict[str, Any]:
    columns, cells = _TABLES.get(
        resource, ([_col("Age")], lambda o: [age(o["metadata"].get("creationTimestamp"))])
    )
    rows = []
    for obj in objects:
        meta = obj["metadata"]
        rows.append(
            {
                "cells": [meta["name"], *cells(obj)],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                },
            }
        )
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [_col("Name"), *columns],
        "rows": rows,
    }
