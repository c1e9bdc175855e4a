"""A platform API configured with `auth: env:VAR` gets its token in a real worker, not only in
`steadfast doctor` (issue 13: the worker built its integrations without the environment)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.model import JobStatus, Ticket
from bot.store import Store
from emulators.anthropic import AnthropicEmulator
from emulators.base import load_scenario
from emulators.platform import PlatformEmulator
from tests.agent.acceptance import Procs, env, write_policy

pytestmark = pytest.mark.slow

HANDOFF = {
    "verdict": "inconclusive",
    "summary": "Read the instance from the platform API.",
    "confirmed": [],
    "could_not_reach": [],
    "assumptions": [],
    "recommended_actions": [],
    "confidence": 0.5,
}
SCRIPT = {
    "anthropic": {
        "scripts": [
            {
                "name": "platform-token",
                "match": "platform-token",
                "steps": [
                    {"tool": "http_get", "input": {"url": "platform:/v1/instances/i-123"}},
                    {"tool": "submit_handoff", "input": HANDOFF},
                ],
            }
        ]
    }
}


@pytest.fixture
def platform() -> Iterator[PlatformEmulator]:
    scenario = load_scenario()
    assert scenario["platform"]["token"] == "platform-demo-token"  # the emulator demands it
    with PlatformEmulator(scenario) as emulator:
        yield emulator  # type: ignore[misc]


@pytest.fixture
def model() -> Iterator[AnthropicEmulator]:
    with AnthropicEmulator(SCRIPT) as emulator:
        yield emulator  # type: ignore[misc]


def test_env_token_reaches_the_platform_api_from_a_real_worker(
    store: Store,
    database_url: str,
    platform: PlatformEmulator,
    model: AnthropicEmulator,
    tmp_path: Path,
) -> None:
    policy = write_policy(tmp_path, http={"hosts": ["127.0.0.1"], "ports": [80, 443]})
    procs = Procs(
        tmp_path,
        env(
            database_url,
            model.url,
            policy,
            STEADFAST_PLATFORM_APIS=json.dumps({"platform": platform.url}),
            STEADFAST_PLATFORM_API_AUTH=json.dumps({"platform": "env:PLATFORM_TOKEN"}),
            PLATFORM_TOKEN="platform-demo-token",
        ),
    )
    try:
        job, _ = store.submit(Ticket(text="instance i-123 down platform-token", channel="C1"))
        worker = procs.worker("w1", "--until-idle")
        assert worker.wait(timeout=60) == 0, procs.log("w1")
    finally:
        procs.kill_all()
    assert store.get(job.id).status == JobStatus.SUCCEEDED, procs.log("w1")
    calls = [r for r in platform.requests if r.path == "/v1/instances/i-123"]
    assert calls, "the worker never called the platform API"
    assert all(r.headers.get("authorization") == "Bearer platform-demo-token" for r in calls)
    results = json.dumps([e.data for e in store.events(job.id, kinds=["tool_result"])])
    assert "i-123" in results and "401" not in results, results
    assert "platform-demo-token" not in results  # used, never shown
