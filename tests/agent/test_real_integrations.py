"""The agent with the real integration clients (hvac, kubernetes, httpx) and the sandbox gate
against the demo's emulators: the toolbox speaks their real signatures, degradations become
ledger lines, and no secret value reaches an event or the model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.agent.factory import build_agent_for_worker
from bot.demo.stack import TICKET_CHANNEL, Stack, demo_scenario
from bot.model import JobStatus
from bot.settings import Settings
from tests.agent.fakes import FakeContext, RecordingNotifier, make_job

pytestmark = pytest.mark.slow
CANARIES = ("canary-5e1f9a7c3b-acme-db-password", "canary-2b8d6f0e4a-acme-api-token")


@pytest.fixture
def stack() -> Iterator[Stack]:
    s = Stack.start(demo_scenario())
    yield s
    s.stop()


def test_demo_investigation_with_real_clients(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in stack.settings_env(database_url="sqlite://", workdir=tmp_path).items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    notifier = RecordingNotifier()
    agent = build_agent_for_worker(settings, None, notifier=notifier, environ={})
    ctx = FakeContext(
        make_job("instance i-123 for tenant acme is in ERROR", channel=TICKET_CHANNEL)
    )
    try:
        result = agent.run(ctx)
    finally:
        agent.close()
    assert result.status in (JobStatus.ESCALATED, JobStatus.SUCCEEDED)
    results = {e.data["name"]: e.data for e in ctx.of("tool_result")}
    assert "auth-api" in results["k8s_list"]["content"]  # the Kubernetes emulator answered
    assert "password authentication failed" in results["query_logs"]["content"]
    # the allowed kubectl ran in the local runner, through the kubeconfig the demo wrote
    commands = [e.data for e in ctx.of("tool_result") if e.data["name"] == "run_command"]
    kubectl = [c for c in commands if "exit code" in c["content"]]
    assert kubectl, commands
    if "not installed" not in kubectl[0]["content"]:
        assert "auth-api-7c9d8f6b5-x2k9p" in kubectl[0]["content"], kubectl[0]
    [blocked] = ctx.of("tool_blocked")
    assert "rollout restart" in blocked.data["command"] and blocked.data["hint"]
    handoff = notifier.handoffs[-1]
    assert any("rollout restart" in line for line in handoff.could_not_reach)
    for dependency in {e.data["dependency"] for e in ctx.of("degraded")}:
        assert any(line.startswith(dependency) for line in handoff.could_not_reach)
    bodies = [r.body.decode() for r in stack.anthropic.requests]
    for canary in CANARIES:
        assert all(canary not in str(e.data) for e in ctx.events)
        assert all(canary not in body for body in bodies)
