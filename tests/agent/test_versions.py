"""Every model request records what it ran under; a policy change mid-job is an event."""

from __future__ import annotations

from bot.agent.prompt import system_blocks
from bot.agent.tools import tool_definitions
from bot.agent.versions import request_versions
from bot.store.views import versions_seen
from policy.document import Policy
from tests.agent.conftest import Kit, make_policy
from tests.agent.fakes import FakeContext, make_job


def test_hashes_change_with_the_prompt_the_tools_or_the_policy() -> None:
    policy = make_policy()
    tools = tool_definitions()
    base = request_versions("m", system_blocks(policy), tools, policy)
    assert base["model"] == "m" and all(len(base[k]) == 64 for k in ("system_prompt", "policy"))
    assert request_versions("m", system_blocks(policy), tools, policy) == base

    other_prompt = [{**system_blocks(policy)[0], "text": "You are someone else."}]
    changed = request_versions("m", other_prompt, tools, policy)
    assert changed["system_prompt"] != base["system_prompt"]
    assert changed["policy"] == base["policy"] and changed["tools"] == base["tools"]

    changed = request_versions("m", system_blocks(policy), tools[:-1], policy)
    assert changed["tools"] != base["tools"]

    stricter = make_policy(approvals={"commands": ["kubectl *"]})  # not in the prompt
    changed = request_versions("m", system_blocks(stricter), tools, stricter)
    assert changed["policy"] != base["policy"]
    assert changed["system_prompt"] == base["system_prompt"]


def test_a_policy_reload_mid_job_is_an_event_and_later_requests_carry_its_hash(
    make_kit: object,
) -> None:
    first = make_policy()
    second = make_policy(approvals={"commands": []}, budgets={"steps": 30})
    served: list[Policy] = []

    class Reloading:
        def current(self) -> Policy:
            # the run reads the policy once at start and once before each request: reload
            # after the third request
            served.append(first if len(served) < 4 else second)
            return served[-1]

    kit: Kit = make_kit()  # type: ignore[operator]
    kit.policy = Reloading()  # type: ignore[assignment]
    ctx = FakeContext(make_job("checkout is down scenario:ten-step"))
    kit.agent().run(ctx)

    requests = ctx.of("model_request")
    assert all(r.data["versions"]["model"] == "claude-sonnet-5-5" for r in requests)
    hashes = [r.data["versions"]["policy"] for r in requests]
    assert hashes[:3] == [hashes[0]] * 3 and hashes[3:] == [hashes[3]] * (len(hashes) - 3)
    assert hashes[0] != hashes[3]
    changed = ctx.of("policy_changed")
    assert len(changed) == 1
    assert changed[0].data["from"] == hashes[0] and changed[0].data["to"] == hashes[3]
    assert changed[0].seq < requests[3].seq
    # the budget is part of the system prompt, so its hash moved too
    seen = versions_seen(ctx.events)
    assert [v["from_step"] for v in seen] == [1, 4]
    assert seen[0]["system_prompt"] != seen[1]["system_prompt"]
