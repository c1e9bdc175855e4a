"""The agent's cluster identity can only read, and only what the policy inspects."""

from __future__ import annotations

from typing import Any

from tests.helm.conftest import NAMESPACE, VALUE_SETS, Manifest, Render, by_kind, one

ALLOWED_VERBS = {"get", "list", "watch"}
FORBIDDEN = {
    "secrets",
    "nodes/proxy",
    "services/proxy",
    "pods/exec",
    "pods/attach",
    "pods/portforward",
    "pods/proxy",
    "serviceaccounts/token",
    "*",
}
READABLE = {
    ("", "pods"),
    ("", "pods/log"),
    ("", "events"),
    ("", "nodes"),
    ("", "namespaces"),
    ("", "services"),
    ("", "endpoints"),
    ("", "configmaps"),
    ("", "persistentvolumeclaims"),
    ("events.k8s.io", "events"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("networking.k8s.io", "ingresses"),
    ("autoscaling", "horizontalpodautoscalers"),
}


def grants(roles: list[Manifest]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for role in roles:
        for rule in role["rules"]:
            out |= {(g, r) for g in rule["apiGroups"] for r in rule["resources"]}
    return out


def rules_of(docs: list[Manifest]) -> list[dict[str, Any]]:
    return [rule for d in docs if d["kind"] in {"Role", "ClusterRole"} for rule in d["rules"]]


def test_only_read_verbs_and_nothing_forbidden(manifests: list[Manifest]) -> None:
    rules = rules_of(manifests)
    assert rules
    for rule in rules:
        assert set(rule["verbs"]) <= ALLOWED_VERBS, rule
        assert not set(rule["resources"]) & FORBIDDEN, rule
        assert "*" not in rule["apiGroups"], rule
        assert "nonResourceURLs" not in rule, rule
        assert not any(r.endswith("/*") for r in rule["resources"]), rule


def test_no_aggregation_or_escalation_paths(manifests: list[Manifest]) -> None:
    for role in by_kind(manifests, "ClusterRole") + by_kind(manifests, "Role"):
        assert "aggregationRule" not in role
    for binding in by_kind(manifests, "ClusterRoleBinding") + by_kind(manifests, "RoleBinding"):
        # Bound to our own read-only role, never a built-in such as view/edit/cluster-admin.
        assert binding["roleRef"]["name"] == "sf-steadfast-reader"
        assert [s["name"] for s in binding["subjects"]] == ["sf-steadfast-worker"]


def test_cluster_role_reads_exactly_what_the_policy_inspects(render: Render) -> None:
    docs = render(None)
    assert grants(by_kind(docs, "ClusterRole")) == READABLE
    assert not by_kind(docs, "Role")


def test_namespaced_install_has_roles_only_in_the_named_namespaces(render: Render) -> None:
    docs = render(VALUE_SETS["namespaced-rbac"])
    assert not by_kind(docs, "ClusterRole")
    assert not by_kind(docs, "ClusterRoleBinding")
    roles = by_kind(docs, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["checkout", "payments"]
    # nodes and namespaces are cluster-scoped: a Role cannot grant them, so it does not pretend to.
    assert grants(roles) == READABLE - {("", "nodes"), ("", "namespaces")}
    for binding in by_kind(docs, "RoleBinding"):
        assert binding["subjects"][0]["namespace"] == NAMESPACE


def test_namespaced_install_defaults_to_the_release_namespace(render: Render) -> None:
    docs = render({"rbac": {"scope": "namespace"}})
    assert [r["metadata"]["namespace"] for r in by_kind(docs, "Role")] == [NAMESPACE]


def test_bot_has_no_cluster_identity(manifests: list[Manifest]) -> None:
    bot = one(manifests, "Deployment", "sf-steadfast-bot")["spec"]["template"]["spec"]
    assert bot["automountServiceAccountToken"] is False
    assert bot["serviceAccountName"] == "sf-steadfast-bot"
    bound = {
        s["name"]
        for b in by_kind(manifests, "ClusterRoleBinding") + by_kind(manifests, "RoleBinding")
        for s in b["subjects"]
    }
    assert "sf-steadfast-bot" not in bound


def test_rbac_create_false_renders_no_rbac(render: Render) -> None:
    docs = render({"rbac": {"create": False}})
    assert not [d for d in docs if d["apiVersion"].startswith("rbac.authorization.k8s.io")]


# Everything the shipped policy lets the agent read is granted (namespaces and nodes only on a
# cluster-scoped install); nothing is left for the API server to refuse.
KNOWN_UNGRANTED: set[str] = set()


def test_rbac_covers_what_the_shipped_policy_reads(render: Render) -> None:
    import yaml

    from tests.conftest import REPO

    policy = yaml.safe_load((REPO / "helm" / "steadfast" / "files" / "policy.yaml").read_text())
    wanted = set(policy["kubernetes"]["resources"]) | set(policy["kubernetes"]["cluster_resources"])
    granted = {r for _, r in grants(by_kind(render(None), "ClusterRole"))}
    assert wanted - granted == KNOWN_UNGRANTED, (
        "policy and RBAC disagree; update the chart's rules or KNOWN_UNGRANTED"
    )
    assert not wanted & FORBIDDEN
