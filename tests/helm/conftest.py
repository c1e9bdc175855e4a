"""Render the chart with the real helm binary.

helm comes from STEADFAST_HELM or `make tools` (.cache/tools/bin/helm). Without it these tests
skip, unless STEADFAST_REQUIRE_TOOLS=1 (CI), where a missing helm is a failure.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

CHART = REPO / "helm" / "steadfast"
KUBE_VERSION = "1.35.0"
NAMESPACE = "support"
RELEASE = "sf"

Manifest = dict[str, Any]

# Value sets every structural test runs against (beyond the defaults).
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "http-ingress": {
        "bot": {"mode": "http"},
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "hosts": [
                {"host": "steadfast.corp.test", "paths": [{"path": "/slack", "pathType": "Prefix"}]}
            ],
            "tls": [{"secretName": "steadfast-tls", "hosts": ["steadfast.corp.test"]}],
        },
    },
    "several-bots": {"bot": {"mode": "http", "replicas": 3}},
    "namespaced-rbac": {"rbac": {"scope": "namespace", "namespaces": ["payments", "checkout"]}},
    "network-policy": {
        "networkPolicy": {
            "enabled": True,
            "postgres": {"cidrs": ["10.20.0.0/16"]},
            "kubernetesApi": {"cidrs": ["10.0.0.1/32"]},
            "vault": {"cidrs": ["10.30.0.10/32"]},
        },
        "vault": {"enabled": True, "address": "https://vault.corp.test:8200"},
    },
    "scaled-monitored": {
        "worker": {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 12}},
        "metrics": {
            "serviceMonitor": {"enabled": True, "labels": {"release": "prom"}},
            "prometheusRule": {"enabled": True, "labels": {"release": "prom"}},
            "grafanaDashboard": {"enabled": True},
        },
        "image": {"digest": "sha256:" + "a" * 64},
        "secrets": {"databaseUrl": {"name": "pg-app", "key": "uri"}},
    },
    "operations": {
        "extraEnvFrom": [{"configMapRef": {"name": "corp-proxy"}}],
        "extraVolumes": [{"name": "corp-ca", "configMap": {"name": "corp-ca"}}],
        "extraVolumeMounts": [{"name": "corp-ca", "mountPath": "/etc/ssl/corp", "readOnly": True}],
        "bot": {
            "priorityClassName": "steadfast-high",
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway",
                }
            ],
        },
        "worker": {
            "priorityClassName": "steadfast-high",
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "DoNotSchedule",
                }
            ],
            "keda": {"enabled": True, "connectionSecret": {"name": "pg-keda"}},
        },
        "migrations": {
            "priorityClassName": "steadfast-high",
            "nodeSelector": {"pool": "system"},
            "tolerations": [
                {"key": "dedicated", "operator": "Equal", "value": "system", "effect": "NoSchedule"}
            ],
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "pool", "operator": "In", "values": ["system"]}
                                ]
                            }
                        ]
                    }
                }
            },
        },
        "retention": {"enabled": True, "olderThan": "30d", "timeZone": "Etc/UTC"},
    },
    "console": {
        "console": {
            "enabled": True,
            "publicBaseUrl": "https://steadfast.corp.test",
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "host": "steadfast.corp.test",
                "tls": [{"secretName": "steadfast-tls", "hosts": ["steadfast.corp.test"]}],
            },
        },
        "networkPolicy": {
            "enabled": True,
            "postgres": {"cidrs": ["10.20.0.0/16"]},
            "kubernetesApi": {"cidrs": ["10.0.0.1/32"]},
            "consoleFrom": [{"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}],
        },
    },
}


def _find_helm() -> str | None:
    explicit = os.environ.get("STEADFAST_HELM")
    candidate = Path(explicit) if explicit else REPO / ".cache" / "tools" / "bin" / "helm"
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


@pytest.fixture(scope="session")
def helm() -> str:
    found = _find_helm()
    if found is None:
        message = "helm not found: run `make tools` or set STEADFAST_HELM"
        if os.environ.get("STEADFAST_REQUIRE_TOOLS") == "1":
            pytest.fail(message + " (STEADFAST_REQUIRE_TOOLS=1)", pytrace=False)
        pytest.skip(message)
    return found


def run_helm(
    helm: str, *args: str, values: dict[str, Any] | None, tmp: Path
) -> subprocess.CompletedProcess[str]:
    cmd = [helm, *args]
    if values:
        f = tmp / f"values-{len(list(tmp.iterdir()))}.yaml"
        f.write_text(yaml.safe_dump(values))
        cmd += ["-f", str(f)]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp),
        "HELM_CACHE_HOME": str(tmp / "c"),
        "HELM_CONFIG_HOME": str(tmp / "cfg"),
        "HELM_DATA_HOME": str(tmp / "d"),
    }
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, check=False)


Render = Callable[[dict[str, Any] | None], list[Manifest]]


@pytest.fixture(scope="session")
def render(helm: str, tmp_path_factory: pytest.TempPathFactory) -> Render:
    tmp = tmp_path_factory.mktemp("helm")
    cache: dict[str, list[Manifest]] = {}

    def _render(values: dict[str, Any] | None = None) -> list[Manifest]:
        key = yaml.safe_dump(values or {})
        if key not in cache:
            proc = template(helm, values, tmp)
            assert proc.returncode == 0, proc.stderr
            cache[key] = [d for d in yaml.safe_load_all(proc.stdout) if d]
        return cache[key]

    return _render


def template(
    helm: str, values: dict[str, Any] | None, tmp: Path
) -> subprocess.CompletedProcess[str]:
    return run_helm(
        helm,
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
        values=values,
        tmp=tmp,
    )


@pytest.fixture(params=sorted(VALUE_SETS))
def manifests(request: pytest.FixtureRequest, render: Render) -> list[Manifest]:
    return render(VALUE_SETS[request.param])


def by_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[Manifest], kind: str, name: str) -> Manifest:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def pod_specs(docs: list[Manifest]) -> list[tuple[str, Manifest]]:
    """Every pod the chart can start: workloads, CronJobs' pods and bare (helm test) Pods."""
    specs = []
    for d in docs:
        where = f"{d['kind']}/{d['metadata']['name']}"
        if d["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}:
            specs.append((where, d["spec"]["template"]["spec"]))
        elif d["kind"] == "CronJob":
            specs.append((where, d["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
        elif d["kind"] == "Pod":
            specs.append((where, d["spec"]))
    return specs
