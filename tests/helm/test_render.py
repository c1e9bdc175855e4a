"""helm lint and strict schema validation of every rendered manifest."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from tests.helm.conftest import CHART, KUBE_VERSION, VALUE_SETS, Manifest, Render, run_helm

# Custom resources have no schema in kubernetes-validate; these are the only ones we render.
# Their shape is checked in tests/helm/test_operations.py and test_observability.py.
KNOWN_CRDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
}


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint_passes(helm: str, tmp_path: Path, name: str) -> None:
    proc = run_helm(helm, "lint", "--strict", str(CHART), values=VALUE_SETS[name], tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


def test_every_manifest_passes_strict_validation(manifests: list[Manifest]) -> None:
    for doc in manifests:
        if (doc["apiVersion"], doc["kind"]) in KNOWN_CRDS:
            continue
        # Raises with the failing path on an unknown field or wrong type.
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_strict_validation_catches_a_typo() -> None:
    # Guards the guard: an unknown field must fail, or the test above proves nothing.
    bad = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x"},
        "data": {},
        "dta": {},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBE_VERSION, strict=True)


def test_default_render_has_the_expected_objects(render: Render) -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in render(None))
    assert kinds == [
        ("ClusterRole", "sf-steadfast-reader"),
        ("ClusterRoleBinding", "sf-steadfast-reader"),
        ("ConfigMap", "sf-steadfast-policy"),
        ("ConfigMap", "sf-steadfast-runner-kubeconfig"),
        ("Deployment", "sf-steadfast-bot"),
        ("Deployment", "sf-steadfast-worker"),
        ("Job", "sf-steadfast-migrate"),
        ("Pod", "sf-steadfast-test-doctor"),
        ("PodDisruptionBudget", "sf-steadfast-worker"),
        ("ServiceAccount", "sf-steadfast-bot"),
        ("ServiceAccount", "sf-steadfast-worker"),
    ]


def test_values_schema_is_offline_safe() -> None:
    # helm must not need the network to validate values (CI and air-gapped clusters).
    import json

    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"].startswith("http://json-schema.org/draft-07")
    assert "$ref" not in json.dumps(schema)
