"""`metrics.k8s.io/v1beta1` objects for the Kubernetes emulator (what `kubectl top` reads).

A scenario or a cluster dump may carry `podmetrics` / `nodemetrics` (PodMetrics / NodeMetrics
objects, e.g. from `kubectl get --raw /apis/metrics.k8s.io/v1beta1/pods`). Without them the
emulator derives steady numbers from the pods: like metrics-server, only running pods have
metrics, and a node's usage is the sum of its pods' plus a fixed system share.
"""

from __future__ import annotations

import zlib
from typing import Any

_SYSTEM_CPU_M = 120
_SYSTEM_MEMORY_MI = 900


def _usage(seed: str) -> tuple[int, int]:
    """A stable cpu (millicores) and memory (MiB) figure per container, so repeated
    `kubectl top` calls agree with each other."""
    h = zlib.crc32(seed.encode())
    return 2 + h % 60, 24 + (h >> 8) % 230


def derived_pod_metrics(pods: list[dict[str, Any]], timestamp: str) -> list[dict[str, Any]]:
    out = []
    for pod in pods:
        if (pod.get("status") or {}).get("phase") != "Running":
            continue
        meta = pod["metadata"]
        containers = []
        for c in (pod.get("spec") or {}).get("containers") or []:
            cpu, mem = _usage(f"{meta.get('namespace')}/{meta['name']}/{c['name']}")
            containers.append(
                {"name": c["name"], "usage": {"cpu": f"{cpu}m", "memory": f"{mem}Mi"}}
            )
        out.append(
            {
                "metadata": {
                    "name": meta["name"],
                    "namespace": meta.get("namespace"),
                    "labels": meta.get("labels") or {},
                    "creationTimestamp": timestamp,
                },
                "timestamp": timestamp,
                "window": "30s",
                "containers": containers,
            }
        )
    return out


def _quantity(value: str, unit: str) -> int:
    """Millicores for cpu ("250m", "1"), MiB for memory ("64Mi", "1Gi", "123456Ki")."""
    if unit == "cpu":
        return int(value[:-1]) if value.endswith("m") else int(float(value) * 1000)
    for suffix, factor in (("Ki", 1 / 1024), ("Mi", 1), ("Gi", 1024)):
        if value.endswith(suffix):
            return int(float(value[: -len(suffix)]) * factor)
    return int(value) // (1024 * 1024)


def derived_node_metrics(
    nodes: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    pod_metrics: list[dict[str, Any]],
    timestamp: str,
) -> list[dict[str, Any]]:
    node_of = {
        (p["metadata"].get("namespace"), p["metadata"]["name"]): (p.get("spec") or {}).get(
            "nodeName"
        )
        for p in pods
    }
    out = []
    for node in nodes:
        name = node["metadata"]["name"]
        cpu, mem = _SYSTEM_CPU_M, _SYSTEM_MEMORY_MI
        for pm in pod_metrics:
            if node_of.get((pm["metadata"].get("namespace"), pm["metadata"]["name"])) != name:
                continue
            for c in pm.get("containers") or []:
                cpu += _quantity(str(c["usage"]["cpu"]), "cpu")
                mem += _quantity(str(c["usage"]["memory"]), "memory")
        out.append(
            {
                "metadata": {
                    "name": name,
                    "labels": node["metadata"].get("labels") or {},
                    "creationTimestamp": timestamp,
                },
                "timestamp": timestamp,
                "window": "30s",
                "usage": {"cpu": f"{cpu}m", "memory": f"{mem}Mi"},
            }
        )
    return out
