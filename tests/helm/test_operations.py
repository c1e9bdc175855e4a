"""Chart conventions a platform team expects: extra volumes/env, spread and priority,
scheduling of the migration Job, KEDA on queue depth, the prune CronJob and `helm test`."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate

from tests.helm.conftest import (
    KUBE_VERSION,
    VALUE_SETS,
    Manifest,
    Render,
    by_kind,
    one,
    template,
)

OPS = VALUE_SETS["operations"]
SELECTOR = {"app.kubernetes.io/name": "steadfast", "app.kubernetes.io/instance": "sf"}


def _spec(doc: Manifest) -> Manifest:
    return doc["spec"]["template"]["spec"]


def test_extra_volumes_mounts_and_env_from_reach_bot_and_worker_but_not_the_runner(
    render: Render,
) -> None:
    docs = render(OPS)
    for name in ("sf-steadfast-bot", "sf-steadfast-worker"):
        spec = _spec(one(docs, "Deployment", name))
        assert {"name": "corp-ca", "configMap": {"name": "corp-ca"}} in spec["volumes"], name
        main = spec["containers"][0]
        assert OPS["extraVolumeMounts"][0] in main["volumeMounts"], name
        assert main["envFrom"] == OPS["extraEnvFrom"], name
    runner = _spec(one(docs, "Deployment", "sf-steadfast-worker"))["initContainers"][0]
    assert runner["name"] == "runner"
    assert "envFrom" not in runner
    assert all(m["name"] != "corp-ca" for m in runner["volumeMounts"])
    # Off by default: no envFrom key at all.
    bot = _spec(one(render(None), "Deployment", "sf-steadfast-bot"))["containers"][0]
    assert "envFrom" not in bot


def test_spread_constraints_get_the_component_selector_and_priority(render: Render) -> None:
    docs = render(OPS)
    for component in ("bot", "worker"):
        spec = _spec(one(docs, "Deployment", f"sf-steadfast-{component}"))
        assert spec["priorityClassName"] == "steadfast-high"
        [constraint] = spec["topologySpreadConstraints"]
        wanted = OPS[component]["topologySpreadConstraints"][0]
        assert {k: constraint[k] for k in wanted} == wanted
        assert constraint["labelSelector"]["matchLabels"] == {
            **SELECTOR,
            "app.kubernetes.io/component": component,
        }
    explicit = {
        "maxSkew": 2,
        "topologyKey": "zone",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
    }
    spec = _spec(
        one(
            render({"worker": {"topologySpreadConstraints": [explicit]}}),
            "Deployment",
            "sf-steadfast-worker",
        )
    )
    assert spec["topologySpreadConstraints"] == [explicit]
    assert "priorityClassName" not in spec


def test_migration_job_takes_scheduling_fields(render: Render) -> None:
    spec = _spec(one(render(OPS), "Job", "sf-steadfast-migrate"))
    for key in ("nodeSelector", "tolerations", "affinity", "priorityClassName"):
        assert spec[key] == OPS["migrations"][key], key


def test_worker_has_no_slack_token_the_bot_does(render: Render) -> None:
    docs = render(None)
    env = {
        name: {e["name"] for e in _spec(one(docs, "Deployment", name))["containers"][0]["env"]}
        for name in ("sf-steadfast-bot", "sf-steadfast-worker")
    }
    assert "SLACK_BOT_TOKEN" in env["sf-steadfast-bot"]
    assert "SLACK_BOT_TOKEN" not in env["sf-steadfast-worker"]


def test_keda_scales_workers_on_queue_depth(render: Render) -> None:
    docs = render(OPS)
    assert not by_kind(docs, "HorizontalPodAutoscaler")
    assert "replicas" not in one(docs, "Deployment", "sf-steadfast-worker")["spec"]
    scaled = one(docs, "ScaledObject", "sf-steadfast-worker")
    auth = one(docs, "TriggerAuthentication", "sf-steadfast-queue")
    assert scaled["apiVersion"] == auth["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "sf-steadfast-worker",
    }
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    [trigger] = spec["triggers"]
    assert trigger["type"] == "postgresql"
    assert trigger["authenticationRef"] == {"name": "sf-steadfast-queue"}
    meta = trigger["metadata"]
    # KEDA reads every metadata value as a string.
    assert all(isinstance(v, str) for v in meta.values())
    assert meta["query"] == "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')"
    assert meta["targetQueryValue"] == "4"  # the worker's concurrency
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "connection", "name": "pg-keda", "key": "KEDA_POSTGRES_CONNECTION"}
    ]
    with_schema = render({"worker": {"keda": {**OPS["worker"]["keda"], "schema": "steadfast"}}})
    query = one(with_schema, "ScaledObject", "sf-steadfast-worker")["spec"]["triggers"][0]
    assert "FROM steadfast.jobs " in query["metadata"]["query"]


def test_keda_refuses_a_second_autoscaler_and_a_missing_secret(helm: str, tmp_path: Path) -> None:
    both = {"worker": {"autoscaling": {"enabled": True}, "keda": OPS["worker"]["keda"]}}
    proc = template(helm, both, tmp_path)
    assert proc.returncode != 0 and "enable one" in proc.stderr
    proc = template(helm, {"worker": {"keda": {"enabled": True}}}, tmp_path)
    assert proc.returncode != 0 and "worker.keda.connectionSecret.name is required" in proc.stderr
    proc = template(helm, {"worker": {"keda": {**OPS["worker"]["keda"], "schema": "x;"}}}, tmp_path)
    assert proc.returncode != 0 and "schema" in proc.stderr


def test_prune_cronjob_runs_an_audited_prune_with_only_the_database(render: Render) -> None:
    assert not by_kind(render(None), "CronJob")
    cron = one(render(OPS), "CronJob", "sf-steadfast-prune")
    kubernetes_validate.validate(cron, KUBE_VERSION, strict=True)
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["timeZone"] == "Etc/UTC"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    [c] = pod["containers"]
    assert c["args"] == [
        "db",
        "prune",
        "--older-than",
        "30d",
        "--yes",
        "--by",
        "cronjob:support/sf-steadfast-prune",
    ]
    assert {e["name"] for e in c["env"]} == {
        "HOME",
        "STEADFAST_LOG_LEVEL",
        "STEADFAST_DATABASE_URL",
    }


def test_prune_age_is_checked_by_the_schema(helm: str, tmp_path: Path) -> None:
    proc = template(helm, {"retention": {"enabled": True, "olderThan": "90 days"}}, tmp_path)
    assert proc.returncode != 0 and "olderThan" in proc.stderr


def test_helm_test_pod_runs_doctor_as_the_worker(render: Render) -> None:
    docs = render(None)
    pod = one(docs, "Pod", "sf-steadfast-test-doctor")
    kubernetes_validate.validate(pod, KUBE_VERSION, strict=True)
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["serviceAccountName"] == "sf-steadfast-worker"
    [c] = pod["spec"]["containers"]
    assert c["args"] == ["doctor"]
    assert {"STEADFAST_DATABASE_URL", "ANTHROPIC_API_KEY", "STEADFAST_POLICY"} <= {
        e["name"] for e in c["env"]
    }
    assert not by_kind(render({"tests": {"enabled": False}}), "Pod")
