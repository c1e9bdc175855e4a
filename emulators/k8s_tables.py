"""Server-side printing for the Kubernetes emulator: `meta.k8s.io/v1 Table` answers, which is
what `kubectl get` asks for (Accept: ...;as=Table).

`includeObject` chooses what each row's `object` holds, as on the API server: `Metadata` (the
default) a PartialObjectMetadata, `Object` the whole object (kubectl asks for it with
`--sort-by`, which sorts on a field of the object), `None` nothing."""

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


def _ages(obj: dict[str, Any]) -> str:
    return age(obj["metadata"].get("creationTimestamp"))


def _pvc(obj: dict[str, Any]) -> list[Any]:
    spec, st = obj.get("spec", {}), obj.get("status", {})
    return [
        st.get("phase", "Pending"),
        spec.get("volumeName", ""),
        (st.get("capacity") or {}).get("storage", ""),
        ",".join(st.get("accessModes") or spec.get("accessModes") or []),
        spec.get("storageClassName", "<unset>"),
        _ages(obj),
    ]


def _ingress(obj: dict[str, Any]) -> list[Any]:
    spec = obj.get("spec", {})
    hosts = ",".join(r.get("host", "*") for r in spec.get("rules") or []) or "*"
    lbs = (obj.get("status", {}).get("loadBalancer") or {}).get("ingress") or []
    address = ",".join(i.get("ip") or i.get("hostname", "") for i in lbs)
    return [spec.get("ingressClassName", "<none>"), hosts, address, "80", _ages(obj)]


def _hpa(obj: dict[str, Any]) -> list[Any]:
    spec, st = obj.get("spec", {}), obj.get("status", {})
    ref = spec.get("scaleTargetRef") or {}
    return [
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        spec.get("minReplicas", 1),
        spec.get("maxReplicas", 0),
        st.get("currentReplicas", 0),
        _ages(obj),
    ]


def _statefulset(obj: dict[str, Any]) -> list[Any]:
    st, spec = obj.get("status", {}), obj.get("spec", {})
    return [f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", _ages(obj)]


def _daemonset(obj: dict[str, Any]) -> list[Any]:
    st = obj.get("status", {})
    return [
        st.get("desiredNumberScheduled", 0),
        st.get("currentNumberScheduled", 0),
        st.get("numberReady", 0),
        st.get("updatedNumberScheduled", 0),
        st.get("numberAvailable", 0),
        _ages(obj),
    ]


def _job(obj: dict[str, Any]) -> list[Any]:
    st, spec = obj.get("status", {}), obj.get("spec", {})
    done = "Complete" if st.get("succeeded") else "Failed" if st.get("failed") else "Running"
    return [done, f"{st.get('succeeded', 0)}/{spec.get('completions', 1)}", _ages(obj)]


def _cronjob(obj: dict[str, Any]) -> list[Any]:
    spec, st = obj.get("spec", {}), obj.get("status", {})
    return [
        spec.get("schedule", ""),
        spec.get("suspend", False),
        len(st.get("active") or []),
        age(st.get("lastScheduleTime")) if st.get("lastScheduleTime") else "<none>",
        _ages(obj),
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
    "persistentvolumeclaims": (
        [
            _col("Status"),
            _col("Volume"),
            _col("Capacity"),
            _col("Access Modes"),
            _col("StorageClass"),
            _col("Age"),
        ],
        _pvc,
    ),
    "ingresses": (
        [_col("Class"), _col("Hosts"), _col("Address"), _col("Ports"), _col("Age")],
        _ingress,
    ),
    "horizontalpodautoscalers": (
        [
            _col("Reference"),
            _col("MinPods", "integer"),
            _col("MaxPods", "integer"),
            _col("Replicas", "integer"),
            _col("Age"),
        ],
        _hpa,
    ),
    "statefulsets": ([_col("Ready"), _col("Age")], _statefulset),
    "daemonsets": (
        [
            _col("Desired", "integer"),
            _col("Current", "integer"),
            _col("Ready", "integer"),
            _col("Up-to-date", "integer"),
            _col("Available", "integer"),
            _col("Age"),
        ],
        _daemonset,
    ),
    "jobs": ([_col("Status"), _col("Completions"), _col("Age")], _job),
    "cronjobs": (
        [
            _col("Schedule"),
            _col("Suspend", "boolean"),
            _col("Active", "integer"),
            _col("Last Schedule"),
            _col("Age"),
        ],
        _cronjob,
    ),
}


def _row_object(obj: dict[str, Any], include: str) -> dict[str, Any] | None:
    if include == "Object":
        return obj
    if include == "None":
        return None
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(
    resource: str,
    objects: list[dict[str, Any]],
    resource_version: str,
    include: str = "Metadata",
) -> dict[str, Any]:
    """`include` is the request's `includeObject` (Object | Metadata | None)."""
    columns, cells = _TABLES.get(resource, ([_col("Age")], lambda o: [_ages(o)]))
    # the API server prints an event's name last and only with -o wide; every other type's first
    name_last = resource == "events"
    rows = []
    for obj in objects:
        name = obj["metadata"]["name"]
        row_cells = [*cells(obj), name] if name_last else [name, *cells(obj)]
        row: dict[str, Any] = {"cells": row_cells}
        if (inner := _row_object(obj, include)) is not None:
            row["object"] = inner
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": (
            [*columns, _col("Name", priority=1)] if name_last else [_col("Name"), *columns]
        ),
        "rows": rows,
    }
