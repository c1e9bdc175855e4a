"""Pod security, probes, secrets by reference, the policy mount and the processes' arguments."""

from __future__ import annotations

from typing import Any

from tests.helm.conftest import CHART, VALUE_SETS, Manifest, Render, by_kind, one, pod_specs

SECRET_ENV = {
    "STEADFAST_DATABASE_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "ANTHROPIC_API_KEY",
}


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def containers(spec: Manifest) -> list[dict[str, Any]]:
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def test_every_container_is_locked_down(manifests: list[Manifest]) -> None:
    specs = pod_specs(manifests)
    assert len(specs) >= 3
    for where, spec in specs:
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True, where
        assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec.get("hostNetwork") is not True and spec.get("hostPID") is not True, where
        for c in containers(spec):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True, where
            assert sc["runAsUser"] != 0, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc.get("privileged") is not True, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert not sc["capabilities"].get("add"), where
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", where
            assert c["resources"]["requests"] and c["resources"]["limits"]["memory"], where
            tmp = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert tmp, f"{where}: a read-only root needs a writable /tmp"
            vol = next(v for v in spec["volumes"] if v["name"] == tmp[0]["name"])
            assert "emptyDir" in vol, where


def test_long_running_containers_have_probes_on_the_health_port(manifests: list[Manifest]) -> None:
    for deploy in by_kind(manifests, "Deployment"):
        for c in deploy["spec"]["template"]["spec"]["containers"]:
            port = next(p for p in c["ports"] if p["name"] == "health")["containerPort"]
            assert env_of(c)["STEADFAST_HEALTH_PORT"]["value"] == str(port)
            assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
            assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}


def test_secrets_only_by_reference(manifests: list[Manifest]) -> None:
    for where, spec in pod_specs(manifests):
        for c in containers(spec):
            for name, e in env_of(c).items():
                if name in SECRET_ENV:
                    assert "value" not in e, f"{where}: {name} given inline"
                    assert e["valueFrom"]["secretKeyRef"]["name"], where


def test_each_process_gets_only_the_secrets_it_uses(render: Render) -> None:
    docs = render(None)
    bot = one(docs, "Deployment", "sf-steadfast-bot")["spec"]["template"]["spec"]["containers"][0]
    worker = one(docs, "Deployment", "sf-steadfast-worker")["spec"]["template"]["spec"]
    migrate = one(docs, "Job", "sf-steadfast-migrate")["spec"]["template"]["spec"]["containers"][0]
    assert set(env_of(bot)) & SECRET_ENV == {
        "STEADFAST_DATABASE_URL",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
    }
    # No Slack token: the worker writes outbox rows and the bot sends them.
    assert set(env_of(worker["containers"][0])) & SECRET_ENV == {
        "STEADFAST_DATABASE_URL",
        "ANTHROPIC_API_KEY",
    }
    assert set(env_of(migrate)) & SECRET_ENV == {"STEADFAST_DATABASE_URL"}


def test_secret_names_and_keys_come_from_values(render: Render) -> None:
    docs = render(VALUE_SETS["scaled-monitored"])
    worker = one(docs, "Deployment", "sf-steadfast-worker")["spec"]["template"]["spec"]
    ref = env_of(worker["containers"][0])["STEADFAST_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "pg-app", "key": "uri"}
    anthropic = env_of(worker["containers"][0])["ANTHROPIC_API_KEY"]["valueFrom"]["secretKeyRef"]
    assert anthropic == {"name": "steadfast", "key": "ANTHROPIC_API_KEY"}


def test_policy_is_a_hot_reloadable_file(manifests: list[Manifest]) -> None:
    for where, spec in pod_specs(manifests):
        for c in containers(spec):
            assert all("subPath" not in m for m in c.get("volumeMounts", [])), where
    for deploy in by_kind(manifests, "Deployment"):
        spec = deploy["spec"]["template"]["spec"]
        c = spec["containers"][0]
        mount = next(m for m in c["volumeMounts"] if m["name"] == "policy")
        assert env_of(c)["STEADFAST_POLICY"]["value"] == mount["mountPath"] + "/policy.yaml"
        volume = next(v for v in spec["volumes"] if v["name"] == "policy")
        assert volume["configMap"]["items"] == [{"key": "policy.yaml", "path": "policy.yaml"}]
        # A checksum annotation would restart pods on every policy edit; reload is in-process.
        annotations = deploy["spec"]["template"]["metadata"].get("annotations", {})
        assert not any("checksum" in k for k in annotations)


def test_default_policy_ships_in_the_configmap(render: Render) -> None:
    cm = one(render(None), "ConfigMap", "sf-steadfast-policy")
    assert (
        cm["data"]["policy.yaml"].strip() == (CHART / "files" / "policy.yaml").read_text().strip()
    )


def test_inline_and_existing_policy(render: Render) -> None:
    inline = "commands: []\n"
    cm = one(render({"policy": {"content": inline}}), "ConfigMap", "sf-steadfast-policy")
    assert cm["data"]["policy.yaml"] == inline

    docs = render({"policy": {"existingConfigMap": "team-policy", "key": "steadfast.yaml"}})
    # no policy ConfigMap of ours (the runner's kubeconfig is not a policy)
    assert not [d for d in by_kind(docs, "ConfigMap") if "policy" in d["metadata"]["name"]]
    for _, spec in pod_specs(docs):
        for v in spec["volumes"]:
            if v["name"] == "policy":
                assert v["configMap"]["name"] == "team-policy"
                assert v["configMap"]["items"] == [{"key": "steadfast.yaml", "path": "policy.yaml"}]


def test_worker_command_and_shutdown_budget(render: Render) -> None:
    docs = render({"worker": {"concurrency": 8, "replicas": 5}})
    deploy = one(docs, "Deployment", "sf-steadfast-worker")
    spec = deploy["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert deploy["spec"]["replicas"] == 5
    assert c["args"] == ["worker", "--concurrency", "8", "--name", "$(POD_NAME)"]
    assert env_of(c)["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    timeout = float(env_of(c)["STEADFAST_MODEL_TIMEOUT_SECONDS"]["value"])
    assert spec["terminationGracePeriodSeconds"] > timeout >= 120


def test_bot_socket_mode_needs_no_service(render: Render) -> None:
    docs = render(None)
    c = one(docs, "Deployment", "sf-steadfast-bot")["spec"]["template"]["spec"]["containers"][0]
    assert c["args"] == ["bot"]
    assert not by_kind(docs, "Service") and not by_kind(docs, "Ingress")


def test_bot_http_mode_with_ingress(render: Render) -> None:
    docs = render(VALUE_SETS["http-ingress"])
    c = one(docs, "Deployment", "sf-steadfast-bot")["spec"]["template"]["spec"]["containers"][0]
    assert c["args"] == ["bot", "--mode", "http", "--port", "3000"]
    assert "SLACK_SIGNING_SECRET" in env_of(c) and "SLACK_APP_TOKEN" not in env_of(c)
    assert {"name": "http", "containerPort": 3000, "protocol": "TCP"} in c["ports"]
    svc = one(docs, "Service", "sf-steadfast-bot")
    assert svc["spec"]["ports"][0]["targetPort"] == "http"
    assert svc["spec"]["selector"]["app.kubernetes.io/component"] == "bot"
    ing = one(docs, "Ingress", "sf-steadfast-bot")
    path = ing["spec"]["rules"][0]["http"]["paths"][0]
    assert path["path"] == "/slack"
    assert path["backend"]["service"] == {"name": "sf-steadfast-bot", "port": {"name": "http"}}
    assert ing["spec"]["ingressClassName"] == "nginx"


def test_migration_job_is_a_pre_install_and_pre_upgrade_hook(manifests: list[Manifest]) -> None:
    job = one(manifests, "Job", "sf-steadfast-migrate")
    hooks = set(job["metadata"]["annotations"]["helm.sh/hook"].split(","))
    assert hooks == {"pre-install", "pre-upgrade"}
    spec = job["spec"]["template"]["spec"]
    assert spec["containers"][0]["args"] == ["db", "upgrade"]
    assert spec["restartPolicy"] == "Never"
    # Pre-install runs before the chart's ServiceAccounts exist; it must not depend on them.
    assert "serviceAccountName" not in spec and spec["automountServiceAccountToken"] is False


def test_autoscaling_and_monitoring(render: Render) -> None:
    docs = render(VALUE_SETS["scaled-monitored"])
    assert "replicas" not in one(docs, "Deployment", "sf-steadfast-worker")["spec"]
    hpa = one(docs, "HorizontalPodAutoscaler", "sf-steadfast-worker")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    assert hpa["spec"]["scaleTargetRef"]["name"] == "sf-steadfast-worker"
    sm = one(docs, "ServiceMonitor", "sf-steadfast")
    assert sm["metadata"]["labels"]["release"] == "prom"
    assert sm["spec"]["endpoints"][0]["path"] == "/metrics"
    selected = [
        s
        for s in by_kind(docs, "Service")
        if all(
            s["metadata"]["labels"].get(k) == v
            for k, v in sm["spec"]["selector"]["matchLabels"].items()
        )
    ]
    assert sorted(s["metadata"]["name"] for s in selected) == [
        "sf-steadfast-bot-metrics",
        "sf-steadfast-worker-metrics",
    ]
    assert all(s["spec"]["ports"][0]["name"] == "metrics" for s in selected)
    image = one(docs, "Deployment", "sf-steadfast-bot")["spec"]["template"]["spec"]["containers"][0]
    assert image["image"] == "ghcr.io/steadfast/steadfast@sha256:" + "a" * 64


def test_pdb_covers_the_workers(render: Render) -> None:
    pdb = one(render(None), "PodDisruptionBudget", "sf-steadfast-worker")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"


def test_vault_kubernetes_auth(render: Render) -> None:
    docs = render(VALUE_SETS["network-policy"])
    worker = one(docs, "Deployment", "sf-steadfast-worker")["spec"]["template"]["spec"]
    env = env_of(worker["containers"][0])
    assert env["VAULT_ADDR"]["value"] == "https://vault.corp.test:8200"
    assert env["STEADFAST_VAULT_AUTH"]["value"] == "kubernetes"
    assert env["STEADFAST_VAULT_KUBERNETES_ROLE"]["value"] == "steadfast-readonly"
    assert worker["automountServiceAccountToken"] is True
