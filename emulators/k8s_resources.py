"""The resource types the Kubernetes emulator serves, and their discovery documents.

Each type is one `Kind`; `key` is unique (the plural alone is not: `pods` is both a core
resource and a `metrics.k8s.io` one). The set follows what Steadfast's policy and its read-only
ClusterRole name, so kubectl knows every type an investigation may ask for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kind:
    key: str
    plural: str
    group: str
    version: str
    kind: str
    namespaced: bool
    short: tuple[str, ...] = ()
    # a type the emulated service account may not read: discovery lists it (as on a real
    # server) but get/list/watch answer 403 Forbidden
    forbidden: bool = False
    watchable: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else "/api/v1"


KINDS: tuple[Kind, ...] = (
    Kind("pods", "pods", "", "v1", "Pod", True, ("po",)),
    Kind("services", "services", "", "v1", "Service", True, ("svc",)),
    Kind("endpoints", "endpoints", "", "v1", "Endpoints", True, ("ep",)),
    Kind("configmaps", "configmaps", "", "v1", "ConfigMap", True, ("cm",)),
    Kind("secrets", "secrets", "", "v1", "Secret", True, (), forbidden=True),
    Kind("events", "events", "", "v1", "Event", True, ("ev",)),
    Kind("nodes", "nodes", "", "v1", "Node", False, ("no",)),
    Kind("namespaces", "namespaces", "", "v1", "Namespace", False, ("ns",)),
    Kind(
        "persistentvolumeclaims", "persistentvolumeclaims", "", "v1",
        "PersistentVolumeClaim", True, ("pvc",),
    ),
    Kind("persistentvolumes", "persistentvolumes", "", "v1", "PersistentVolume", False, ("pv",)),
    Kind("deployments", "deployments", "apps", "v1", "Deployment", True, ("deploy",)),
    Kind("replicasets", "replicasets", "apps", "v1", "ReplicaSet", True, ("rs",)),
    Kind("statefulsets", "statefulsets", "apps", "v1", "StatefulSet", True, ("sts",)),
    Kind("daemonsets", "daemonsets", "apps", "v1", "DaemonSet", True, ("ds",)),
    Kind("jobs", "jobs", "batch", "v1", "Job", True),
    Kind("cronjobs", "cronjobs", "batch", "v1", "CronJob", True, ("cj",)),
    Kind("ingresses", "ingresses", "networking.k8s.io", "v1", "Ingress", True, ("ing",)),
    Kind(
        "horizontalpodautoscalers", "horizontalpodautoscalers", "autoscaling", "v2",
        "HorizontalPodAutoscaler", True, ("hpa",),
    ),
    # what metrics-server serves (`kubectl top`); it has no watch
    Kind("podmetrics", "pods", "metrics.k8s.io", "v1beta1", "PodMetrics", True, watchable=False),
    Kind("nodemetrics", "nodes", "metrics.k8s.io", "v1beta1", "NodeMetrics", False, watchable=False),
)  # fmt: skip
BY_KEY = {k.key: k for k in KINDS}
BY_KIND = {(k.api_version, k.kind): k for k in KINDS}
GROUPS: dict[str, str] = {k.group: k.version for k in KINDS if k.group}


def lookup(group: str, version: str, plural: str) -> Kind | None:
    for k in KINDS:
        if (k.group, k.version, k.plural) == (group, version, plural):
            return k
    return None


def api_group(group: str) -> dict[str, Any]:
    gv = {"groupVersion": f"{group}/{GROUPS[group]}", "version": GROUPS[group]}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


def resource_list(group: str, version: str) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for k in KINDS:
        if (k.group, k.version) != (group, version):
            continue
        verbs = ["get", "list", "watch"] if k.watchable else ["get", "list"]
        resources.append(
            {
                "name": k.plural,
                "singularName": k.kind.lower(),
                "namespaced": k.namespaced,
                "kind": k.kind,
                "verbs": verbs,
                "shortNames": list(k.short),
            }
        )
        if k.key == "pods":
            resources.append(
                {
                    "name": "pods/log",
                    "singularName": "",
                    "namespaced": True,
                    "kind": "Pod",
                    "verbs": ["get"],
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }
