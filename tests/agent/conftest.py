from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.agent.loop import AgentConfig, AgentHandler
from bot.agent.model import AnthropicModel
from bot.agent.retry import RetryPolicy
from bot.agent.toolbox import Clients, Toolbox
from core.scrubber import Scrubber
from emulators.anthropic import SCENARIO_DIR, AnthropicEmulator
from emulators.base import load_scenario
from policy.document import Policy
from policy.source import FixedPolicy
from tests.agent.fakes import (
    FakeHttp,
    FakeKubernetes,
    FakeLogs,
    FakeSandbox,
    FakeVault,
    RecordingNotifier,
)

SCENARIO = SCENARIO_DIR / "anthropic_tests.yaml"

POLICY: dict[str, Any] = {
    "http": {"hosts": ["status.internal"], "ports": [80, 443]},
    "kubernetes": {"resources": ["pods", "pods/log", "events", "deployments"]},
    "vault": {"paths": ["secret/{tenant}/*"]},
    "tenants": {
        "acme": {
            "channels": ["C1"],
            "namespaces": ["shop"],
            "hosts": ["status.internal"],
            "vault_paths": ["secret/acme/*"],
        }
    },
    "approvals": {"commands": ["kubectl logs *"]},
    "layers": [
        {"name": "signals", "description": "health and state", "tools": ["k8s_list", "http_get"]},
        {"name": "logs", "description": "what failed", "tools": ["query_logs", "k8s_logs"]},
        {
            "name": "credentials",
            "description": "tenant secrets",
            "tools": ["check_tenant_credentials"],
        },
    ],
    "budgets": {"steps": 20, "wall_seconds": 300, "tokens": 400000, "drift_after_seconds": 60},
    "limits": {"model_output_cap_chars": 2000},
}


def make_policy(**overrides: Any) -> Policy:
    data = {**POLICY, **overrides}
    return Policy.model_validate(data)


@pytest.fixture(scope="module")
def emulator() -> Iterator[AnthropicEmulator]:
    with AnthropicEmulator(load_scenario(SCENARIO)) as emu:
        yield emu  # type: ignore[misc]


class Kit:
    """An agent wired to the emulator (real SDK over HTTP) and fake integrations."""

    def __init__(self, emulator: AnthropicEmulator, policy: Policy, **clients: Any) -> None:
        self.emulator = emulator
        self.policy = policy
        self.sandbox = FakeSandbox()
        self.kube = FakeKubernetes()
        self.http = FakeHttp()
        self.logs = FakeLogs()
        self.vault = clients.pop("vault", FakeVault())
        self.notifier = RecordingNotifier()
        self.scrubber = Scrubber()
        self.scrubber.register("db-password", "hunter2secret")
        self.sleeps: list[float] = []
        self.timeout = clients.pop("timeout", 10.0)
        self.api_key = clients.pop("api_key", "sk-test")
        self.context_tokens = clients.pop("context_tokens", 150_000)
        self.tracing = clients.pop("tracing", None)
        self.agents: list[AgentHandler] = []
        self.model: AnthropicModel | None = None
        self.retry = clients.pop(
            "retry", RetryPolicy(attempts=4, base_seconds=0.01, max_seconds=0.2)
        )

    def agent(self, cls: type[AgentHandler] = AgentHandler) -> AgentHandler:
        clients = Clients(vault=self.vault, kubernetes=self.kube, http=self.http, logs=self.logs)
        model = AnthropicModel(
            api_key=self.api_key, base_url=self.emulator.url, timeout=self.timeout
        )
        agent = cls(
            AgentConfig(
                model="claude-sonnet-5-5",
                max_tokens=1024,
                retry=self.retry,
                context_tokens=self.context_tokens,
            ),
            model,
            Toolbox(clients, self.sandbox, self.scrubber, tracing=self.tracing),
            FixedPolicy(self.policy) if isinstance(self.policy, Policy) else self.policy,
            self.notifier,
            sleep=self._sleep,
            tracing=self.tracing,
        )
        self.agents.append(agent)
        return agent

    def close(self) -> None:
        if self.model is not None:
            self.model.close()

    def _sleep(self, seconds: float) -> None:
        import time

        self.sleeps.append(seconds)
        time.sleep(min(seconds, 0.05))


@pytest.fixture
def kit(emulator: AnthropicEmulator) -> Iterator[Kit]:
    k = Kit(emulator, make_policy())
    yield k
    k.close()


@pytest.fixture
def make_kit(emulator: AnthropicEmulator) -> Iterator[Any]:
    """Kits with non-default policy or clients, closed at teardown."""
    made: list[Kit] = []

    def make(policy: Policy | None = None, emu: AnthropicEmulator | None = None, **kw: Any) -> Kit:
        k = Kit(emu or emulator, policy or make_policy(), **kw)
        made.append(k)
        return k

    yield make
    for k in made:
        k.close()


def scenario_path() -> Path:
    return SCENARIO
