"""A real kubectl v1.35 against the Kubernetes emulator: get, describe, logs, and a refused
delete. Skipped only when no kubectl binary is present (`make tools` caches one); with
STEADFAST_REQUIRE_TOOLS=1 (CI) a missing binary fails the test instead."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Iterator

import pytest

from emulators.base import load_scenario
from emulators.kubernetes import KubernetesEmulator
from tests.emulators.kubectl_cli import kubectl_binary

POD = "auth-api-7c9d8f6b5-x2k9p"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory) -> Iterator:
    binary = kubectl_binary()
    scenario = copy.deepcopy(load_scenario())
    # kubectl refuses to send a bearer token over plain HTTP, so this emulator runs without
    # auth; token handling is covered by the Python client's tests
    scenario["cluster"]["tokens"] = []
    home = tmp_path_factory.mktemp("kubectl-home")
    with KubernetesEmulator(scenario) as emulator:

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(binary), "--server", emulator.url, *args],
                capture_output=True,
                text=True,
                timeout=60,
                env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
            )

        yield run


def test_kubectl_version_is_1_35(kubectl):
    result = kubectl("version", "--client")
    assert result.returncode == 0 and "v1.35" in result.stdout


def test_get_pods_all_namespaces(kubectl):
    result = kubectl("get", "pods", "-A")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    row = next(line.split() for line in lines if POD in line)
    assert row[:5] == ["acme-prod", POD, "0/1", "CrashLoopBackOff", "17"]
    assert any(line.startswith("kube-system") for line in lines)


def test_describe_pod_shows_state_and_events(kubectl):
    result = kubectl("describe", "pod", "-n", "acme-prod", POD)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Reason:       CrashLoopBackOff" in out
    assert "Restart Count:  17" in out
    assert "Back-off restarting failed container" in out  # events found by uid


def test_logs_current_previous_and_tail(kubectl):
    current = kubectl("logs", "-n", "acme-prod", POD)
    assert current.returncode == 0, current.stderr
    assert "password authentication failed" in current.stdout
    previous = kubectl("logs", "-n", "acme-prod", POD, "--previous", "--tail", "1")
    assert previous.returncode == 0, previous.stderr
    assert previous.stdout.strip().splitlines() == [
        "2026-11-22T02:04:46Z ERROR startup failed: cannot open database connection: "
        "credentials rejected"
    ]


def test_get_with_selectors_and_other_resources(kubectl):
    labelled = kubectl("get", "pods", "-n", "acme-prod", "-l", "app=auth-api", "-o", "name")
    assert labelled.stdout.split() == [f"pod/{POD}"]
    deploy = kubectl("get", "deploy", "-n", "acme-prod", "auth-api")
    assert deploy.returncode == 0 and "0/1" in deploy.stdout
    assert "Ready" in kubectl("get", "nodes").stdout


def test_mutations_are_forbidden(kubectl):
    result = kubectl("delete", "pod", "-n", "acme-prod", POD)
    assert result.returncode != 0
    assert "Forbidden" in result.stderr and "cannot delete" in result.stderr
    assert POD in kubectl("get", "pods", "-n", "acme-prod").stdout
