"""Gate + executor running real kubectl and curl against the emulators on 127.0.0.1."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

import pytest

from emulators.base import load_scenario
from emulators.kubernetes import KubernetesEmulator
from emulators.platform import PlatformEmulator
from policy.document import Limits
from sandbox.executor import Executor
from sandbox.gate import Decision, Gate
from tests.conftest import REPO

CACHED_TOOLS = REPO / ".cache" / "tools" / "bin"
POD = "auth-api-7c9d8f6b5-x2k9p"
LIMITS = Limits(command_timeout_seconds=30, output_cap_bytes=1 << 20)


@pytest.fixture(scope="module")
def scenario() -> dict[str, object]:
    return copy.deepcopy(load_scenario())


@pytest.fixture
def executor() -> Iterator[Executor]:
    with Executor(LIMITS, bin_dir=CACHED_TOOLS if CACHED_TOOLS.is_dir() else None) as ex:
        if ex.find("kubectl") is None:
            pytest.skip("kubectl is not installed")
        yield ex


@pytest.fixture
def kube(scenario: dict[str, object]) -> Iterator[KubernetesEmulator]:
    data = copy.deepcopy(scenario)
    data["cluster"]["tokens"] = []  # type: ignore[index]  # kubectl sends no token over http
    with KubernetesEmulator(data) as emulator:
        yield emulator  # type: ignore[misc]


def kubeconfig(server: str) -> bytes:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    return json.dumps(config).encode()


def run_kubectl(
    gate: Gate, executor: Executor, kube: KubernetesEmulator, command: str
) -> tuple[Decision, str]:
    decision = gate.check_command(command, "acme")
    assert decision.allowed, decision
    result = executor.run(
        decision,
        env={"KUBECONFIG": "{workdir}/kubeconfig"},
        files={"kubeconfig": kubeconfig(kube.url)},
    )
    assert result.exit_code == 0, result.stderr
    return decision, result.stdout


@pytest.mark.slow
def test_real_kubectl_runs_the_normalised_argv(
    gate: Gate, executor: Executor, kube: KubernetesEmulator
) -> None:
    _, names = run_kubectl(gate, executor, kube, "kubectl get po -o name")
    assert f"pod/{POD}" in names.split()
    assert "coredns" not in names  # the tenant's namespace was added: kube-system stays out

    _, listed = run_kubectl(
        gate,
        executor,
        kube,
        "kubectl get pods -o json | jq -r '.items[].metadata.name' | sort | head -n 1",
    )
    assert listed.strip() == POD

    _, jsonpath = run_kubectl(
        gate, executor, kube, "kubectl get pods -o jsonpath='{.items[*].metadata.name}'"
    )
    assert POD in jsonpath.split()

    decision, _ = run_kubectl(gate, executor, kube, f"kubectl logs -p {POD} --tail 5")
    assert "--previous" in decision.argv[0] and "--tail=5" in decision.argv[0]

    _, health = run_kubectl(gate, executor, kube, "kubectl get --raw /healthz")
    assert health.strip() == "ok"

    assert {r.method for r in kube.requests} == {"GET"}
    assert all("kube-system" not in r.path for r in kube.requests)


@pytest.mark.slow
def test_real_curl_accepts_the_normalised_flags(
    gate: Gate, executor: Executor, scenario: dict[str, object]
) -> None:
    if executor.find("curl") is None:
        pytest.skip("curl is not installed")
    decision = gate.check_command(
        "curl -sS -o /dev/null -w '%{http_code}' -G --data-urlencode 'q=a b' "
        "http://status.acme-prod.svc/status",
        "acme",
    )
    assert decision.allowed, decision
    with PlatformEmulator(copy.deepcopy(scenario)) as platform:
        # the policy never allows loopback, so point the judged argv at the emulator by hand
        stage = [*decision.argv[0][:-1], f"{platform.url}/status"]
        result = executor.run(Decision(True, decision.rule, decision.reason, argv=[stage]))
        assert result.exit_code == 0, result.stderr
        assert result.stdout.isdigit()
        (request,) = platform.requests
        assert request.method == "GET"
        assert request.query == {"q": ["a b"]}
