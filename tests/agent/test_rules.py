"""The loop's rules: loop guard, malformed input, layers before escalation, the ledger,
budgets, humans and approvals, drift, output caps."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bot.model import EventKind, JobStatus
from tests.agent.conftest import Kit, make_policy
from tests.agent.fakes import Crash, FakeContext, FakeVault, make_job


def run(kit: Kit, text: str) -> tuple[FakeContext, Any]:
    ctx = FakeContext(make_job(text))
    return ctx, kit.agent().run(ctx)


def results(ctx: FakeContext) -> list[dict[str, Any]]:
    return [e.data for e in ctx.of("tool_result")]


def test_identical_call_already_answered_is_refused_with_a_reason(kit: Kit) -> None:
    ctx, result = run(kit, "scenario:loop-guard")
    assert result.status == JobStatus.SUCCEEDED
    guarded = [r for r in results(ctx) if r.get("guard")]
    assert len(guarded) == 1 and "already made this exact call at step 1" in guarded[0]["content"]
    assert len(kit.kube.calls) == 1  # the integration was called once


def test_malformed_tool_input_gets_an_error_that_explains_the_schema(kit: Kit) -> None:
    ctx, result = run(kit, "scenario:malformed")
    assert result.status == JobStatus.SUCCEEDED
    first = results(ctx)[0]
    assert first["is_error"] and first.get("schema_error")
    assert "does not match its schema" in first["content"] and "namespace" in first["content"]
    # the model saw it as an is_error tool_result and its next, valid call ran
    second = kit.emulator.requests[-2].json()["messages"][-1]["content"][0]
    assert second["is_error"] is True
    assert kit.kube.calls == [("list", ("pods", "shop"))]


def test_blocked_command_goes_back_to_the_model_and_the_run_goes_on(kit: Kit) -> None:
    ctx, result = run(kit, "scenario:ten-step")
    assert result.status == JobStatus.SUCCEEDED
    [blocked] = ctx.of("tool_blocked")
    assert blocked.data["command"] == "kubectl delete pod checkout-1 -n shop"
    request = next(
        r.json()
        for r in kit.emulator.requests
        if r.json()["metadata"]["user_id"] == ctx.job.id and len(r.json()["messages"]) == 9
    )
    block = request["messages"][-1]["content"][0]
    assert block["is_error"] is True
    assert (
        "read-only" in block["content"] and "Hint: inspect with `kubectl get`" in block["content"]
    )


def test_escalation_is_refused_until_every_reachable_layer_was_tried(kit: Kit) -> None:
    ctx, result = run(kit, "scenario:layer-rule")
    assert result.status == JobStatus.ESCALATED
    refused = [r for r in results(ctx) if r.get("layer_rule")]
    assert len(refused) == 1
    assert "logs" in refused[0]["content"] and "credentials" in refused[0]["content"]
    assert "signals" not in refused[0]["content"].split("layers:")[1].split("Try")[0]
    assert len(ctx.of("handoff")) == 1


def test_a_layer_without_any_configured_tool_does_not_block_escalation(make_kit: Any) -> None:
    kit = make_kit(make_policy(), vault=None)
    kit.logs = None  # type: ignore[assignment]
    agent = kit.agent()
    agent.toolbox.clients.logs = None
    agent.toolbox.clients.vault = None
    ctx = FakeContext(make_job("scenario:layer-rule"))
    # logs layer still has k8s_logs (kubernetes is configured): it must be tried
    agent.run(ctx)
    refused = [r for r in results(ctx) if r.get("layer_rule")]
    assert "logs" in refused[0]["content"] and "credentials" not in refused[0]["content"]


def test_could_not_reach_comes_from_events_whatever_the_model_says(make_kit: Any) -> None:
    kit = make_kit(make_policy(), vault=FakeVault(down=True))
    ctx, _ = run(kit, "scenario:ledger")
    [degraded] = ctx.of("degraded")
    assert degraded.data["dependency"] == "vault"
    handoff = kit.notifier.handoffs[-1]
    assert handoff.could_not_reach[0].startswith("vault: connection refused")
    assert any("kubectl delete" in line for line in handoff.could_not_reach)
    # the model's "vault credentials resolve" cites the call that failed: not confirmed
    assert handoff.confirmed == []
    [unverified] = handoff.not_verified
    assert unverified.fact == "vault credentials resolve"
    assert unverified.why == "cited a failed call to vault"
    # every source it tried failed: its "resolved" is refused
    assert (handoff.verdict, handoff.model_verdict) == ("escalated", "resolved")
    assert handoff.verdict_reason == "no source could be read"


def test_budget_of_steps_escalates_with_what_it_has(make_kit: Any) -> None:
    policy = make_policy(budgets={"steps": 3, "wall_seconds": 300, "tokens": 10**6})
    kit = make_kit(policy)
    ctx, result = run(kit, "scenario:endless")
    assert result.status == JobStatus.ESCALATED
    assert len(ctx.of("model_request")) == 3
    handoff = kit.notifier.handoffs[-1]
    assert "steps budget ran out (3 of 3 steps)" in handoff.summary
    assert ctx.of("escalation_score")[-1].data["budget"] == "steps"
    # every successful read so far stays confirmed, linked to its step
    assert [(c.step, c.tool) for f in handoff.confirmed for c in f.evidence] == [
        (1, "k8s_list"),
        (2, "k8s_list"),
        (3, "k8s_list"),
    ]
    assert handoff.confirmed[0].fact.startswith('k8s_list {"namespace": "shop"')


def test_budget_of_tokens_escalates(make_kit: Any) -> None:
    policy = make_policy(budgets={"steps": 40, "wall_seconds": 300, "tokens": 1})
    kit = make_kit(policy)
    ctx, result = run(kit, "scenario:endless")
    assert result.status == JobStatus.ESCALATED
    assert len(ctx.of("model_request")) == 1
    assert "tokens budget ran out" in kit.notifier.handoffs[-1].summary


def test_budget_of_wall_time_counts_running_time(make_kit: Any) -> None:
    policy = make_policy(budgets={"steps": 40, "wall_seconds": 5, "tokens": 10**6})
    kit = make_kit(policy)
    ctx = FakeContext(make_job("scenario:endless"))
    ctx.clock_offset = timedelta(seconds=0)
    agent = kit.agent()
    original = ctx.append

    def slow_append(kind: str, data: dict[str, Any] | None = None) -> Any:
        ctx.clock_offset += timedelta(seconds=1)  # every event one second later
        return original(kind, data)

    ctx.append = slow_append  # type: ignore[method-assign]
    result = agent.run(ctx)
    assert result.status == JobStatus.ESCALATED
    assert "wall_seconds budget ran out" in kit.notifier.handoffs[-1].summary


def test_ask_human_waits_and_the_answer_resumes_the_run(kit: Kit) -> None:
    ctx, result = run(kit, "scenario:ask-human")
    assert result.status == JobStatus.WAITING_HUMAN
    assert kit.notifier.questions == ["Which order id failed?"]
    # claimed again without an answer: still waiting, no second question, no model call
    again = kit.agent().run(ctx.resume())
    assert again.status == JobStatus.WAITING_HUMAN and len(kit.notifier.questions) == 1
    ctx.append(EventKind.HUMAN_ANSWER, {"text": "order 4411", "by": "U2"})
    done = kit.agent().run(ctx.resume())
    assert done.status == JobStatus.SUCCEEDED
    assert (
        "Answer from U2 (a person's reply in the Slack thread, quoted):\n> order 4411"
        in (results(ctx)[-1]["content"])
    )
    assert kit.emulator.job_state(ctx.job.id) == {"requests": 2, "repeated": 0}


def test_answer_after_a_long_wait_asks_the_model_to_recheck(kit: Kit) -> None:
    ctx, _ = run(kit, "scenario:ask-human")
    ctx.clock_offset = timedelta(minutes=5)  # past the policy's 60 s drift threshold
    ctx.append(EventKind.HUMAN_ANSWER, {"text": "order 4411", "by": "U2"})
    kit.agent().run(ctx.resume())
    [drift] = ctx.of("drift_check")
    assert drift.data["waited_seconds"] >= 300
    assert "re-check anything you relied on" in results(ctx)[-1]["content"]


def test_approval_round_trip_runs_the_command_only_after_a_yes(kit: Kit) -> None:
    ctx, result = run(kit, "scenario:approval")
    assert result.status == JobStatus.WAITING_HUMAN
    assert kit.sandbox.executed == []
    assert "steadfast approve" in kit.notifier.questions[0]
    ctx.append(EventKind.APPROVAL, {"approved": True, "by": "oncall"})
    done = kit.agent().run(ctx.resume())
    assert done.status == JobStatus.SUCCEEDED
    assert kit.sandbox.executed == [["kubectl", "logs", "checkout-1", "-n", "shop"]]


def test_denied_approval_becomes_an_error_result(kit: Kit) -> None:
    ctx, _ = run(kit, "scenario:approval")
    ctx.append(EventKind.APPROVAL, {"approved": False, "by": "oncall", "reason": "not now"})
    kit.agent().run(ctx.resume())
    assert kit.sandbox.executed == []
    denied = [r for r in results(ctx) if r.get("denied_by")]
    assert denied and "Denied by oncall (not now)" in denied[0]["content"]


def test_long_output_is_stored_whole_and_sent_truncated(make_kit: Any) -> None:
    kit = make_kit(make_policy())
    kit.http.body = "x" * 10_000
    ctx, _ = run(kit, "scenario:ten-step")
    stored = next(r for r in results(ctx) if r["name"] == "http_get")
    assert len(stored["content"]) > 10_000
    sent = [
        b
        for r in kit.emulator.requests
        if r.json()["metadata"]["user_id"] == ctx.job.id
        for m in r.json()["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_result" and "output truncated" in str(b.get("content"))
    ]
    assert sent and len(sent[0]["content"]) < 2_500


def test_a_text_only_answer_is_nudged_toward_submit_handoff(kit: Kit) -> None:
    ctx, result = run(kit, "scenario:text-only")
    assert result.verdict in ("inconclusive", "escalated")
    second = [
        r.json() for r in kit.emulator.requests if r.json()["metadata"]["user_id"] == ctx.job.id
    ][1]
    assert "submit_handoff" in second["messages"][-1]["content"][0]["text"]


def test_near_the_context_budget_old_turns_are_compacted_keeping_the_ledger(make_kit: Any) -> None:
    kit = make_kit(context_tokens=1, vault=FakeVault(down=True))
    ctx, result = run(kit, "scenario:ten-step")
    assert result.status in (JobStatus.SUCCEEDED, JobStatus.ESCALATED)
    compacted = ctx.of("compacted")
    assert compacted, "a conversation over the budget must be compacted"
    last = compacted[-1].data
    assert "blocked by policy: kubectl delete" in last["summary"]
    assert last["ledger"]["assumptions"] == ["The payment provider had no incident in this window."]
    assert any(x.startswith("vault:") for x in last["ledger"]["could_not_reach"])
    # the model saw a shorter conversation, and still exactly one request per step
    requests = [
        r.json() for r in kit.emulator.requests if r.json()["metadata"]["user_id"] == ctx.job.id
    ]
    assert len(requests[-1]["messages"]) < 19
    assert kit.emulator.job_state(ctx.job.id) == {"requests": 10, "repeated": 0}
    assert len(ctx.of("handoff")) == 1


def test_secrets_in_the_ticket_are_scrubbed_before_the_model_sees_them(kit: Kit) -> None:
    ctx, _ = run(kit, "scenario:loop-guard our db password=hunter2secret leaked")
    bodies = [r.body.decode() for r in kit.emulator.requests if ctx.job.id in r.body.decode()]
    assert bodies and all("hunter2secret" not in b for b in bodies)


def test_resuming_after_a_long_pause_tells_the_model_to_recheck(kit: Kit) -> None:
    ctx = FakeContext(make_job("scenario:ten-step"), crash_at=3)
    with pytest.raises(Crash):
        kit.agent().run(ctx)  # stands in for a pause at a step boundary
    ctx.append(EventKind.STATUS_CHANGED, {"from": "running", "to": "paused"})
    ctx.clock_offset = timedelta(hours=1)
    resumed = ctx.resume()  # claimed an hour after the pause
    result = kit.agent().run(resumed)
    assert result.status == JobStatus.SUCCEEDED
    [drift] = ctx.of("drift_check")
    assert drift.data["reason"] == "paused" and drift.data["waited_seconds"] >= 3600
    mine = [
        r.json() for r in kit.emulator.requests if r.json()["metadata"]["user_id"] == ctx.job.id
    ]
    noted = [i for i, r in enumerate(mine) if "paused for 60 minutes" in json.dumps(r["messages"])]
    # told once, at the first request after the pause, and kept in every later request
    assert noted == list(range(noted[0], len(mine))) and len(noted) < len(mine)
    assert kit.emulator.job_state(ctx.job.id)["repeated"] == 0


def test_an_executor_failure_degrades_instead_of_ending_the_run(kit: Kit) -> None:
    def broken(policy: Any, decision: Any) -> Any:
        raise RuntimeError("bwrap: setting up uid map: Permission denied")

    kit.sandbox.execute = broken  # type: ignore[method-assign]
    ctx, result = run(kit, "scenario:ten-step")
    assert result.status in (JobStatus.SUCCEEDED, JobStatus.ESCALATED)
    assert [e.data["dependency"] for e in ctx.of("degraded")] == ["sandbox"]
    assert any(line.startswith("sandbox:") for line in kit.notifier.handoffs[-1].could_not_reach)
