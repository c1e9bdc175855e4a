"""Real kubectl v1.35 against the Kubernetes emulator: the commands an investigation runs, with
the answers the API server documents.

References:
- https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables
  (Table, `includeObject=Object|Metadata|None`)
- https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
  (watch: WatchEvent objects `{"type", "object"}`, from a resourceVersion, ending on timeout)
- https://kubernetes.io/docs/tasks/debug/debug-cluster/resource-metrics-pipeline/
  (metrics.k8s.io/v1beta1 PodMetrics, NodeMetrics; `kubectl top`)
- https://kubernetes.io/docs/concepts/overview/kubernetes-api/#openapi-v3 (`/openapi/v3`)
- https://kubernetes.io/docs/reference/access-authn-authz/rbac/ and
  https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/
  (403 Status, reason Forbidden)
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulators.base import load_scenario
from emulators.kubernetes import KubernetesEmulator
from tests.emulators.kubectl_cli import Kubectl, kubectl_binary

pytestmark = pytest.mark.slow
CRASHING = "auth-api-7c9d8f6b5-x2k9p"
WORKER = "billing-worker-5b8f9d7c6-q7h2m"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def _extra_types() -> dict[str, list[dict[str, Any]]]:
    """One object of each type the policy's read-only role covers beyond the demo's."""
    ns = "acme-prod"
    return {
        "ingresses": [{"metadata": {"name": "acme-web", "namespace": ns},
                       "spec": {"rules": [{"host": "acme.example.com"}]}}],
        "horizontalpodautoscalers": [{"metadata": {"name": "auth-api", "namespace": ns},
                                      "spec": {"scaleTargetRef": {"kind": "Deployment",
                                                                  "name": "auth-api"},
                                               "minReplicas": 1, "maxReplicas": 4}}],
        "statefulsets": [{"metadata": {"name": "acme-db", "namespace": ns},
                          "spec": {"replicas": 1}, "status": {"readyReplicas": 1}}],
        "daemonsets": [{"metadata": {"name": "node-agent", "namespace": "kube-system"}}],
        "jobs": [{"metadata": {"name": "nightly-report-29", "namespace": ns},
                  "status": {"succeeded": 1}}],
        "cronjobs": [{"metadata": {"name": "nightly-report", "namespace": ns},
                      "spec": {"schedule": "0 3 * * *"}}],
        "persistentvolumeclaims": [{"metadata": {"name": "acme-db-data", "namespace": ns},
                                    "status": {"phase": "Bound"}}],
        "persistentvolumes": [{"metadata": {"name": "pv-acme-db-data"}}],
    }  # fmt: skip


@pytest.fixture(scope="module")
def emulator() -> Iterator[KubernetesEmulator]:
    scenario = copy.deepcopy(load_scenario())
    # kubectl refuses to send a bearer token over plain HTTP, so this one runs without auth
    scenario["cluster"]["tokens"] = []
    scenario["cluster"].update(_extra_types())
    with KubernetesEmulator(scenario) as emu:
        yield emu


@pytest.fixture(scope="module")
def kubectl(emulator, tmp_path_factory) -> Kubectl:
    return Kubectl(kubectl_binary(), emulator.url, tmp_path_factory.mktemp("kubectl-home"))


def rows(stdout: str) -> list[list[str]]:
    return [line.split() for line in stdout.splitlines()[1:] if line.strip()]


# --- tables ----------------------------------------------------------------------------------
def test_sort_by_gets_full_objects_in_the_table(kubectl):
    # api-concepts "Receiving resources as Tables": kubectl --sort-by asks includeObject=Object
    # and sorts on a field of each row's object
    by_restarts = kubectl(
        "get", "pods", "-A", "--sort-by=.status.containerStatuses[0].restartCount"
    )
    assert by_restarts.returncode == 0, by_restarts.stderr
    names = [r[1] for r in rows(by_restarts.stdout)]
    assert len(names) == 3 and names[-1] == CRASHING  # 17 restarts, the most
    by_name = kubectl("get", "pods", "-n", "acme-prod", "--sort-by=.metadata.name")
    assert [r[0] for r in rows(by_name.stdout)] == [CRASHING, WORKER]


def test_events_sorted_by_last_timestamp(kubectl):
    result = kubectl("get", "events", "-n", "acme-prod", "--sort-by=.lastTimestamp")
    assert result.returncode == 0, result.stderr
    assert "No resources found" not in result.stdout + result.stderr
    reasons = [r[2] for r in rows(result.stdout)]
    assert reasons and reasons[-1] == "BackOff"  # the newest event last


def test_include_object_chooses_what_each_row_carries(emulator):
    # includeObject: Object (the whole object), Metadata (default: PartialObjectMetadata), None
    url = f"{emulator.url}/api/v1/namespaces/acme-prod/pods"
    with httpx.Client(headers={"Accept": TABLE}) as http:
        full = http.get(url, params={"includeObject": "Object"}).json()
        default = http.get(url).json()
        bare = http.get(url, params={"includeObject": "None"}).json()
    assert full["kind"] == "Table" and full["apiVersion"] == "meta.k8s.io/v1"
    assert {r["object"]["kind"] for r in full["rows"]} == {"Pod"}
    assert all("spec" in r["object"] for r in full["rows"])
    assert {r["object"]["kind"] for r in default["rows"]} == {"PartialObjectMetadata"}
    assert all("object" not in r for r in bare["rows"])


# --- watch -----------------------------------------------------------------------------------
def test_get_pods_watch_prints_changes_and_ends_with_the_stream(emulator, kubectl):
    # watch: kubectl lists, then watches from the list's resourceVersion with a Table Accept;
    # each change arrives as a WatchEvent wrapping a one-row Table
    watcher = kubectl.popen("get", "pods", "-n", "acme-prod", "-w")
    try:
        assert watcher.stdout is not None
        header = watcher.stdout.readline().split()
        assert header[:3] == ["NAME", "READY", "STATUS"]
        listed = {watcher.stdout.readline().split()[0] for _ in range(2)}
        assert listed == {CRASHING, WORKER}
        pod = copy.deepcopy(emulator._find("pods", "acme-prod", WORKER))
        assert pod is not None
        pod["status"]["containerStatuses"][0]["state"] = {"terminated": {"reason": "OOMKilled"}}
        pod["status"]["containerStatuses"][0]["restartCount"] = 1
        emulator.apply("pods", pod)  # replayed even if the watch connects after this
        changed = watcher.stdout.readline().split()
        assert changed[0] == WORKER and changed[2:4] == ["OOMKilled", "1"]
        emulator.watches.end_all()
        _, err = watcher.communicate(timeout=20)
        assert watcher.returncode == 0, err
    finally:
        if watcher.poll() is None:
            watcher.kill()
        watcher.communicate()  # reaps it and closes its pipes
    # put the world back for the other tests in this module
    pod["status"]["containerStatuses"][0]["state"] = {"running": {}}
    pod["status"]["containerStatuses"][0]["restartCount"] = 0
    emulator.apply("pods", pod)


def test_watch_stream_is_watch_events_and_ends_on_timeout(emulator):
    # watch without a resourceVersion: ADDED for every current object, then changes; the
    # server closes the stream when timeoutSeconds pass
    url = f"{emulator.url}/api/v1/namespaces/acme-prod/pods"
    params = {"watch": "true", "timeoutSeconds": "1"}
    with httpx.Client(timeout=10) as http, http.stream("GET", url, params=params) as response:
        assert response.status_code == 200
        events = [json.loads(line) for line in response.iter_lines() if line]
    assert {e["type"] for e in events} == {"ADDED"}
    assert {e["object"]["metadata"]["name"] for e in events} == {CRASHING, WORKER}
    assert {e["object"]["kind"] for e in events} == {"Pod"}


# --- metrics ---------------------------------------------------------------------------------
def test_top_pods_and_nodes(kubectl):
    # resource metrics pipeline: kubectl top reads metrics.k8s.io/v1beta1 PodMetrics/NodeMetrics
    pods = kubectl("top", "pods", "-n", "acme-prod")
    assert pods.returncode == 0, pods.stderr
    assert pods.stdout.split()[:3] == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    top = {r[0]: r for r in rows(pods.stdout)}
    assert set(top) == {CRASHING, WORKER}
    assert top[WORKER][1].endswith("m") and top[WORKER][2].endswith("Mi")
    nodes = kubectl("top", "nodes")
    assert nodes.returncode == 0, nodes.stderr
    (node,) = rows(nodes.stdout)
    assert node[2].endswith("%") and node[4].endswith("%")  # against allocatable


# --- more types ------------------------------------------------------------------------------
def test_every_type_the_role_covers_is_known(kubectl):
    result = kubectl(
        "get", "ingress,hpa,statefulsets,daemonsets,jobs,cronjobs,pvc,pv", "-A", "-o", "name"
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {
        "ingress.networking.k8s.io/acme-web",
        "horizontalpodautoscaler.autoscaling/auth-api",
        "statefulset.apps/acme-db",
        "daemonset.apps/node-agent",
        "job.batch/nightly-report-29",
        "cronjob.batch/nightly-report",
        "persistentvolumeclaim/acme-db-data",
        "persistentvolume/pv-acme-db-data",
    }
    table = kubectl("get", "hpa", "-n", "acme-prod")
    assert "Deployment/auth-api" in table.stdout


def test_secrets_are_forbidden_not_unknown(kubectl, emulator):
    # RBAC: a role without secrets access gets 403 with a Status of reason Forbidden
    listing = kubectl("get", "secrets", "-n", "acme-prod")
    assert listing.returncode == 1
    assert "Error from server (Forbidden)" in listing.stderr
    assert 'cannot list resource "secrets" in API group "" in the namespace "acme-prod"' in (
        listing.stderr
    )
    one = httpx.get(f"{emulator.url}/api/v1/namespaces/acme-prod/secrets/auth-api-db")
    assert one.status_code == 403
    body = one.json()
    assert body["kind"] == "Status" and body["reason"] == "Forbidden" and body["code"] == 403
    assert body["details"] == {"name": "auth-api-db", "kind": "secrets"}


# --- explain ---------------------------------------------------------------------------------
def test_explain_pods_and_a_field(kubectl):
    # OpenAPI v3: /openapi/v3 lists group-versions; kubectl explain reads api/v1's document
    pods = kubectl("explain", "pods")
    assert pods.returncode == 0, pods.stderr
    assert "KIND:       Pod" in pods.stdout and "VERSION:    v1" in pods.stdout
    assert "spec\t<PodSpec>" in pods.stdout
    containers = kubectl("explain", "pods.spec.containers")
    assert containers.returncode == 0, containers.stderr
    assert "FIELD: containers <[]Container>" in containers.stdout
    assert "image\t<string>" in containers.stdout
    deployments = kubectl("explain", "deployments")
    assert deployments.returncode == 0 and "GROUP:      apps" in deployments.stdout
