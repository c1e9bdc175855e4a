"""The loop against the Anthropic emulator (real SDK over HTTP) with fake integrations."""

from __future__ import annotations

from typing import Any

import pytest

from bot.model import EventKind, JobStatus
from emulators.anthropic import AnthropicEmulator
from tests.agent.conftest import Kit, make_policy
from tests.agent.fakes import Crash, FakeContext, make_job


def run(kit: Kit, text: str, job_id: str | None = None) -> tuple[FakeContext, Any]:
    ctx = FakeContext(make_job(text, job_id=job_id))
    result = kit.agent().run(ctx)
    return ctx, result


def test_ten_step_investigation_ends_in_a_handoff_built_from_events(kit: Kit) -> None:
    ctx, result = run(kit, "checkout is down scenario:ten-step")
    assert result.status == JobStatus.SUCCEEDED
    assert len(ctx.of("model_request")) == 10 == len(ctx.of("model_response"))
    assert kit.emulator.job_state(ctx.job.id) == {"requests": 10, "repeated": 0}
    # the blocked delete reached the model as an error with the gate's reason and hint
    blocked = ctx.of("tool_blocked")
    assert len(blocked) == 1 and "read-only" in blocked[0].data["reason"]
    assert kit.sandbox.executed == [["kubectl", "get", "pods", "-n", "shop"]]
    handoff = kit.notifier.handoffs[-1]
    assert handoff.verdict in ("resolved", "escalated")
    assert any("kubectl delete" in line for line in handoff.could_not_reach)
    assert handoff.assumptions == ["The payment provider had no incident in this window."]
    assert handoff.score is not None and ctx.of("escalation_score")
    assert ctx.of("handoff")[-1].data == handoff.model_dump()
    # every tool call was announced before its result
    seqs = {e.data["tool_use_id"]: e.seq for e in ctx.of("tool_call")}
    for e in ctx.of("tool_result") + blocked:
        assert seqs[e.data["tool_use_id"]] < e.seq


def test_secrets_in_tool_output_never_reach_events_or_the_model(kit: Kit) -> None:
    ctx, _ = run(kit, "scenario:ten-step")
    assert all("hunter2secret" not in str(e.data) for e in ctx.events)
    bodies = [r.body.decode() for r in kit.emulator.requests if ctx.job.id in r.body.decode()]
    assert all("hunter2secret" not in b for b in bodies)
    assert any("[redacted:" in b for b in bodies)


def test_prompt_caching_marks_system_and_tools_and_records_cache_usage(kit: Kit) -> None:
    ctx, _ = run(kit, "scenario:ten-step")
    mine = [
        r.json() for r in kit.emulator.requests if r.json()["metadata"]["user_id"] == ctx.job.id
    ]
    first = mine[0]
    assert first["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert first["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    usages = [e.data["usage"] for e in ctx.of("model_response")]
    # the emulator caches per prefix across jobs, like the API: written once, then read
    assert all(u["cache_read_input_tokens"] + u["cache_creation_input_tokens"] > 0 for u in usages)
    assert all(u["cache_read_input_tokens"] > 0 for u in usages[1:])
    # system prompt and tools are byte-identical across calls
    assert len({(r["system"][0]["text"], str(r["tools"])) for r in mine}) == 1


@pytest.fixture(scope="module")
def baseline(emulator: AnthropicEmulator) -> FakeContext:
    kit = Kit(emulator, make_policy())
    ctx, _ = run(kit, "scenario:ten-step")
    kit.close()
    return ctx


@pytest.mark.parametrize("crash_at", range(1, 20))
def test_resume_after_a_crash_at_any_boundary_repeats_nothing_recorded(
    kit: Kit, baseline: FakeContext, crash_at: int
) -> None:
    baseline_ctx = baseline
    ctx = FakeContext(make_job("scenario:ten-step"), crash_at=crash_at)
    with pytest.raises(Crash):
        kit.agent().run(ctx)
    responses_before = len(ctx.of("model_response"))
    result = kit.agent().run(ctx.resume())
    assert result.status == JobStatus.SUCCEEDED
    state = kit.emulator.job_state(ctx.job.id)
    assert state == {"requests": 10, "repeated": 0}, (crash_at, responses_before)
    # one result per tool call id, and a handoff equal to the uninterrupted run's
    ids = [e.data["tool_use_id"] for e in ctx.of("tool_result") + ctx.of("tool_blocked")]
    assert len(ids) == len(set(ids)) == 9
    assert _comparable(ctx.of("handoff")[-1].data) == _comparable(
        baseline_ctx.of("handoff")[-1].data
    )


def _comparable(handoff: dict[str, Any]) -> dict[str, Any]:
    """A handoff without what differs between two jobs: ids (tool_use ids derive from the job
    id), the score (the other job is history to it) and the cost (the emulator's prompt cache is
    shared, so whichever job ran first paid for the cache writes)."""
    facts = [
        {**f, "evidence": [{**c, "tool_use_id": None} for c in f["evidence"]]}
        for f in handoff["confirmed"]
    ]
    return handoff | dict.fromkeys({"job_id", "replay", "score", "cost_usd"}) | {"confirmed": facts}


def test_a_step_in_flight_at_the_crash_is_the_only_repeat(kit: Kit) -> None:
    ctx = FakeContext(make_job("scenario:ten-step"))
    agent = kit.agent()
    # simulate a worker that died after writing model_request 1 but before the response
    ctx.append(EventKind.MODEL_REQUEST, {"step": 1, "model": "m"})
    result = agent.run(ctx.resume())
    assert result.status == JobStatus.SUCCEEDED
    assert len(ctx.of("model_request")) == 10
    assert kit.emulator.job_state(ctx.job.id)["requests"] == 10


def test_a_tool_call_in_flight_at_the_crash_is_run_again_once(kit: Kit) -> None:
    ctx = FakeContext(make_job("scenario:ten-step"), crash_at=1)  # dies after model step 1
    with pytest.raises(Crash):
        kit.agent().run(ctx)
    [response] = ctx.of("model_response")
    use = next(b for b in response.data["content"] if b["type"] == "tool_use")
    # the dead worker had announced the call and was running it
    ctx.append(EventKind.TOOL_CALL, {"tool_use_id": use["id"], "name": use["name"], "input": use["input"]})
    result = kit.agent().run(ctx.resume())
    assert result.status == JobStatus.SUCCEEDED
    calls = [e for e in ctx.of("tool_call") if e.data["tool_use_id"] == use["id"]]
    assert len(calls) == 2 and calls[1].data.get("rerun") is True
    assert len([e for e in ctx.of("tool_result") if e.data["tool_use_id"] == use["id"]]) == 1
    assert (
        kit.kube.calls.count(("list", ("pods", "shop"))) == 1
    )  # run once: the dead one never finished
    assert kit.emulator.job_state(ctx.job.id) == {"requests": 10, "repeated": 0}


def test_an_unexpected_error_leaves_the_loop_scrubbed(kit: Kit) -> None:
    """A bug anywhere in the loop reaches the worker (which logs it and stores it as the job's
    last error) only after the scrubber has seen it."""
    from bot.agent.errors import AgentCrashed
    from tests.agent.fakes import RecordingNotifier

    class Exploding(RecordingNotifier):
        def progress(self, ctx: Any, progress: Any) -> None:
            raise RuntimeError("upstream said: password hunter2secret rejected")

    kit.notifier = Exploding()
    with pytest.raises(AgentCrashed) as info:
        run(kit, "scenario:ten-step")
    assert "hunter2secret" not in str(info.value)
    assert "[redacted:" in str(info.value) and "RuntimeError" in str(info.value)
    assert info.value.__suppress_context__  # the unscrubbed original is not chained
