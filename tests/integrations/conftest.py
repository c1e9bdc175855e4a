"""Fixtures: the demo scenario's emulators on ephemeral ports, a policy naming them, and
Settings pointing at them."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from core.scrubber import Scrubber
from emulators.base import load_scenario
from emulators.kubernetes import KubernetesEmulator
from emulators.logs import ElasticsearchEmulator, LokiEmulator
from emulators.platform import PlatformEmulator
from emulators.vault import VaultEmulator
from integrations.breaker import CircuitBreaker
from integrations.retry import RetryPolicy
from policy.document import Policy
from policy.source import FixedPolicy
from sandbox.gate import GateJudge

CANARY = "canary-5e1f9a7c3b-acme-db-password"
FAST_RETRY = RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=0.05, max_retry_after=0.2)


@pytest.fixture(scope="session")
def scenario() -> dict[str, Any]:
    data = copy.deepcopy(load_scenario())
    data["vault"]["timeout_paths"] = []  # the demo's Vault timeout is switched on per test
    return data


@pytest.fixture
def vault_emulator(scenario: dict[str, Any]) -> Iterator[VaultEmulator]:
    with VaultEmulator(copy.deepcopy(scenario)) as emulator:
        yield emulator  # type: ignore[misc]


@pytest.fixture
def kube_emulator(scenario: dict[str, Any]) -> Iterator[KubernetesEmulator]:
    with KubernetesEmulator(copy.deepcopy(scenario)) as emulator:
        yield emulator  # type: ignore[misc]


@pytest.fixture
def platform_emulator(scenario: dict[str, Any]) -> Iterator[PlatformEmulator]:
    with PlatformEmulator(copy.deepcopy(scenario)) as emulator:
        yield emulator  # type: ignore[misc]


@pytest.fixture
def loki_emulator(scenario: dict[str, Any]) -> Iterator[LokiEmulator]:
    with LokiEmulator(copy.deepcopy(scenario)) as emulator:
        yield emulator  # type: ignore[misc]


@pytest.fixture
def es_emulator(scenario: dict[str, Any]) -> Iterator[ElasticsearchEmulator]:
    with ElasticsearchEmulator(copy.deepcopy(scenario)) as emulator:
        yield emulator  # type: ignore[misc]


def make_policy(ports: list[int] | None = None) -> Policy:
    return Policy.model_validate(
        {
            "http": {"hosts": ["127.0.0.1"], "ports": ports or [80, 443]},
            "vault": {"paths": []},
            "kubernetes": {
                "resources": [
                    "pods",
                    "pods/log",
                    "deployments",
                    "replicasets",
                    "events",
                    "services",
                    "endpoints",
                    "configmaps",
                    "nodes",
                    "namespaces",
                ]
            },
            "tenants": {
                "acme": {
                    "channels": ["C-ACME"],
                    "namespaces": ["acme-prod"],
                    "vault_paths": ["secret/tenants/{tenant}/*"],
                },
                "globex": {"channels": ["C-GLOBEX"], "namespaces": ["globex-prod"]},
            },
        }
    )


@pytest.fixture
def scrubber() -> Scrubber:
    return Scrubber()


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "sa-token"
    path.write_text("steadfast-demo-sa-token\n")
    return path


def settings_for(**kwargs: Any) -> Settings:
    base: dict[str, Any] = {"vault_timeout_seconds": 1.0, "kube_timeout_seconds": 1.0}
    base["http_timeout_seconds"] = 1.0
    return Settings(**{**base, **kwargs})


def fast_breaker(name: str, threshold: int = 50) -> CircuitBreaker:
    return CircuitBreaker(name, failure_threshold=threshold, reset_seconds=60)


@pytest.fixture
def closing() -> Iterator[list[Any]]:
    """Append clients here; they are closed at teardown (no leaked sockets)."""
    clients: list[Any] = []
    yield clients
    for c in clients:
        c.close()


def make_judge(ports: list[int] | None = None, policy: Policy | None = None) -> GateJudge:
    """The judge every adapter is given: the gate on `policy` (default: `make_policy`)."""
    return GateJudge(FixedPolicy(policy or make_policy(ports)))
