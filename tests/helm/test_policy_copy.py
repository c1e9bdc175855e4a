"""The chart ships the same default policy as the repository."""

from __future__ import annotations

from tests.conftest import REPO


def test_chart_policy_is_a_copy_of_the_default_policy() -> None:
    shipped = (REPO / "helm" / "steadfast" / "files" / "policy.yaml").read_bytes()
    source = (REPO / "policies" / "default.yaml").read_bytes()
    assert shipped == source, (
        "helm/steadfast/files/policy.yaml drifted from policies/default.yaml; "
        "copy it: cp policies/default.yaml helm/steadfast/files/policy.yaml"
    )


def test_chart_policy_is_valid() -> None:
    from policy.loader import load_policy

    policy = load_policy(REPO / "helm" / "steadfast" / "files" / "policy.yaml")
    assert policy.kubernetes.resources, "the shipped policy should let the agent read the cluster"
