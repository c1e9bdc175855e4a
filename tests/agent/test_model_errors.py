"""Each class of model API error, through the real SDK against the emulator's faults."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.agent.model import AnthropicModel, ModelRequest
from bot.agent.retry import RetryPolicy
from bot.model import JobStatus
from emulators.anthropic import AnthropicEmulator
from emulators.base import load_scenario
from tests.agent.conftest import SCENARIO, Kit, make_policy
from tests.agent.fakes import FakeContext, make_job


def run(kit: Kit, text: str) -> tuple[FakeContext, object]:
    ctx = FakeContext(make_job(text))
    return ctx, kit.agent().run(ctx)


def test_429_and_529_are_retried_as_events_honouring_retry_after(kit: Kit) -> None:
    ctx, result = run(kit, "scenario:retry")
    assert result.status == JobStatus.SUCCEEDED
    retries = ctx.of("retry")
    assert [r.data["kind"] for r in retries] == ["rate_limited", "rate_limited", "overloaded"]
    assert [r.data["status"] for r in retries] == [429, 429, 529]
    # the server said retry-after 0.05 s: no wait is shorter than that
    assert all(r.data["wait_seconds"] >= 0.05 for r in retries[:2])
    assert len(kit.sleeps) == 3
    # each retry event was committed before the retried request's response
    first_response = ctx.of("model_response")[0].seq
    assert retries[0].seq < retries[1].seq < first_response
    assert any(
        "rate-limiting; retry is safe; backing off" in t for t in kit.notifier.progress_texts
    )
    # a retried request is the same conversation, never answered before: nothing repeated
    assert kit.emulator.job_state(ctx.job.id) == {"requests": 5, "repeated": 0}


def test_500_is_retried(kit: Kit) -> None:
    ctx, result = run(kit, "scenario:server-error")
    assert result.status == JobStatus.SUCCEEDED
    assert [r.data["status"] for r in ctx.of("retry")] == [500]


def test_timeout_is_retried(make_kit: Any) -> None:
    kit = make_kit(make_policy(), timeout=0.3)
    ctx, result = run(kit, "scenario:timeout")
    assert result.status == JobStatus.SUCCEEDED
    assert [r.data["kind"] for r in ctx.of("retry")] == ["unreachable"]
    assert "timed out" in ctx.of("retry")[0].data["reason"]


def test_retry_budget_spent_escalates_with_the_model_as_unreachable(make_kit: Any) -> None:
    kit = make_kit(retry=RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=0.02))
    ctx, result = run(kit, "scenario:always-overloaded")
    assert result.status == JobStatus.ESCALATED
    assert len(ctx.of("retry")) == 2
    handoff = kit.notifier.handoffs[-1]
    assert handoff.verdict == "escalated"
    assert any(line.startswith("model:") for line in handoff.could_not_reach)
    assert "model API stayed unavailable" in handoff.summary


def test_400_is_not_retried_and_fails_with_the_api_message(kit: Kit) -> None:
    ctx, result = run(kit, "scenario:bad-request")
    assert result.status == JobStatus.FAILED
    assert result.error_kind == "model_rejected"
    assert "messages.0.content: invalid" in (result.error_message or "")
    assert ctx.of("retry") == []
    assert kit.emulator.job_state(ctx.job.id)["requests"] == 1


def test_context_too_large_compacts_and_tries_once_more(kit: Kit) -> None:
    ctx, result = run(kit, "scenario:too-long")
    assert result.status == JobStatus.SUCCEEDED
    compacted = ctx.of("compacted")
    assert len(compacted) == 1 and "too long" in compacted[0].data["reason"]
    last = kit.emulator.requests[-1].json()
    first_text = last["messages"][0]["content"][0]["text"]
    assert "[compacted through step 1]" in first_text and "k8s_list" in first_text
    assert ctx.of("retry") == []


def test_401_fails_the_job_with_an_error_an_admin_can_act_on(make_kit: Any) -> None:
    scenario = load_scenario(SCENARIO)
    scenario["anthropic"]["api_key"] = "sk-right"
    with AnthropicEmulator(scenario) as emulator:
        kit = make_kit(emu=emulator, api_key="sk-wrong")
        ctx, result = run(kit, "scenario:retry")
    assert result.status == JobStatus.FAILED
    assert result.error_kind == "model_auth"
    assert "ANTHROPIC_API_KEY" in (result.error_message or "")
    assert ctx.of("retry") == [] and ctx.of("error")[0].data["status"] == 401
    assert all("sk-wrong" not in str(e.data) for e in ctx.events)


@pytest.mark.parametrize(
    ("fault", "status", "error_kind", "retried"),
    [
        ("403", JobStatus.FAILED, "model_auth", []),
        ("422", JobStatus.FAILED, "model_rejected", []),
        ("502", JobStatus.SUCCEEDED, None, [502, 500]),
        ("503", JobStatus.SUCCEEDED, None, [503, 500]),
        ("down", JobStatus.SUCCEEDED, None, [None, 500]),  # connection closed, no answer
    ],
)
def test_other_status_classes(
    kit: Kit, fault: str, status: JobStatus, error_kind: str | None, retried: list[int | None]
) -> None:
    # The first request meets `fault`; the scenario's own step then answers 500 once.
    kit.emulator.faults.set(fault, count=1)
    ctx, result = run(kit, "scenario:server-error")
    assert result.status == status
    assert result.error_kind == error_kind
    assert [r.data.get("status") for r in ctx.of("retry")] == retried


def test_a_tool_input_beyond_64_bit_integers_still_goes_out(emulator: AnthropicEmulator) -> None:
    """The model's own answer is sent back in the next request; an integer no 64-bit encoder
    takes must not fail the step there."""
    model = AnthropicModel(api_key="sk-test", base_url=emulator.url)
    first: dict[str, Any] = {
        "role": "user",
        "content": [{"type": "text", "text": "scenario:loop-guard"}],
    }
    request = ModelRequest("claude-sonnet-5-5", 100, [], [], [first], job_id="big-int")
    [use] = [b for b in model.create(request)["content"] if b["type"] == "tool_use"]
    use["input"]["limit"] = 10**30
    answered = {"type": "tool_result", "tool_use_id": use["id"], "content": "no pods"}
    messages = [
        first,
        {"role": "assistant", "content": [use]},
        {"role": "user", "content": [answered]},
    ]
    answer = model.create(replace(request, messages=messages))
    assert answer["content"]
    assert '"limit":1000000000000000000000000000000' in emulator.requests[-1].body.decode()
