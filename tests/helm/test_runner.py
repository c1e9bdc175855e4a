"""The runner in the chart: a second container of the worker pod that shares only the socket's
emptyDir, holds no secret, and reads the cluster through a kubeconfig built from the pod's
projected service-account token."""

from __future__ import annotations

from typing import Any

import yaml

from tests.helm.conftest import Manifest, Render, one

WORKER = "sf-steadfast-worker"


def pod(docs: list[Manifest]) -> Manifest:
    spec: Manifest = one(docs, "Deployment", WORKER)["spec"]["template"]["spec"]
    return spec


def container(spec: Manifest, name: str) -> dict[str, Any]:
    every = list(spec.get("initContainers", [])) + list(spec["containers"])
    [found] = [c for c in every if c["name"] == name]
    return found


def mounts(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in c.get("volumeMounts", [])}


def test_the_worker_pod_has_a_runner_sidecar(render: Render) -> None:
    spec = pod(render(None))
    runner = container(spec, "runner")
    assert runner["restartPolicy"] == "Always"  # native sidecar: up before the worker
    assert runner["args"] == ["runner"]
    assert runner["startupProbe"]["exec"]["command"] == ["steadfast", "runner", "--probe"]
    worker = container(spec, "worker")
    socket_env = {e["name"]: e.get("value") for e in worker["env"]}["STEADFAST_RUNNER_SOCKET"]
    runner_env = {e["name"]: e.get("value") for e in runner["env"]}
    assert socket_env == runner_env["STEADFAST_RUNNER_SOCKET"] == "/run/steadfast/runner.sock"


def test_the_runner_holds_no_secret(render: Render) -> None:
    for values in (None, {"vault": {"enabled": True, "address": "https://v:8200"}}):
        runner = container(pod(render(values)), "runner")
        assert "envFrom" not in runner
        assert all("valueFrom" not in e for e in runner["env"]), runner["env"]
        assert {e["name"] for e in runner["env"]} == {
            "HOME",
            "STEADFAST_POLICY",
            "STEADFAST_LOG_LEVEL",
            "STEADFAST_RUNNER_SOCKET",
            "STEADFAST_RUNNER_KUBECONFIG",
            "STEADFAST_RUNNER_SANDBOX",
        }


def test_only_the_socket_emptydir_is_shared(render: Render) -> None:
    spec = pod(render(None))
    volumes = {v["name"]: v for v in spec["volumes"]}
    runner, worker = mounts(container(spec, "runner")), mounts(container(spec, "worker"))
    shared = set(runner) & set(worker)
    # the policy is a read-only ConfigMap both judge by; the socket's emptyDir is the only
    # writable thing they have in common (the worker's /tmp is not the runner's)
    assert shared == {"runner-socket", "policy"}
    assert "emptyDir" in volumes["runner-socket"]
    assert "configMap" in volumes["policy"] and runner["policy"]["readOnly"] is True
    assert runner["runner-tmp"]["mountPath"] == "/tmp" and worker["tmp"]["mountPath"] == "/tmp"
    assert "runner-credentials" not in worker and "runner-kubeconfig" not in worker


def test_the_runner_kubeconfig_uses_the_pods_projected_token(render: Render) -> None:
    docs = render(None)
    spec = pod(docs)
    volumes = {v["name"]: v for v in spec["volumes"]}
    runner = container(spec, "runner")
    kube_mount = mounts(runner)["runner-kubeconfig"]
    cred_mount = mounts(runner)["runner-credentials"]
    assert kube_mount["readOnly"] is True and cred_mount["readOnly"] is True
    configmap = one(docs, "ConfigMap", "sf-steadfast-runner-kubeconfig")
    config = yaml.safe_load(configmap["data"]["kubeconfig"])
    path = {e["name"]: e.get("value") for e in runner["env"]}["STEADFAST_RUNNER_KUBECONFIG"]
    assert path == f"{kube_mount['mountPath']}/kubeconfig"
    [cluster] = config["clusters"]
    [user] = config["users"]
    assert cluster["cluster"]["server"] == "https://kubernetes.default.svc"
    assert user["user"] == {"tokenFile": f"{cred_mount['mountPath']}/token"}
    assert cluster["cluster"]["certificate-authority"] == f"{cred_mount['mountPath']}/ca.crt"
    sources = volumes["runner-credentials"]["projected"]["sources"]
    token = next(s["serviceAccountToken"] for s in sources if "serviceAccountToken" in s)
    assert token["path"] == "token" and token["expirationSeconds"] >= 600
    # the token is the pod's own identity: the worker's read-only (get/list/watch) account
    assert spec["serviceAccountName"] == WORKER
    binding = one(docs, "ClusterRoleBinding", "sf-steadfast-reader")
    assert binding["subjects"][0]["name"] == WORKER
    role = one(docs, "ClusterRole", "sf-steadfast-reader")
    assert {v for rule in role["rules"] for v in rule["verbs"]} <= {"get", "list", "watch"}


def test_the_runner_has_its_own_user_and_locked_down_context(render: Render) -> None:
    spec = pod(render(None))
    runner, worker = container(spec, "runner"), container(spec, "worker")
    assert runner["securityContext"]["runAsUser"] != worker["securityContext"]["runAsUser"]
    assert runner["securityContext"]["readOnlyRootFilesystem"] is True
    assert runner["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert runner["resources"]["limits"]["memory"]
