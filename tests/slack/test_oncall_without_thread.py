"""An escalation reaches on-call even when the ticket has no Slack thread (`steadfast submit`)."""

from __future__ import annotations

from typing import Any

from bot.handoff.model import Citation, Fact, Handoff
from bot.slack.notifier import SlackNotifier
from policy.source import FixedPolicy
from tests.agent.fakes import FakeContext, make_job
from tests.slack.conftest import ONCALL, make_policy


class OutboxContext(FakeContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.posts: list[tuple[str, str, dict[str, Any]]] = []

    def outbox(self, purpose: str, method: str, payload: dict[str, Any]) -> None:
        self.posts.append((purpose, method, payload))


def test_a_budget_escalation_of_a_cli_job_opens_the_on_call_thread() -> None:
    policy = make_policy()
    job = make_job("checkout is slow", channel="")
    ctx = OutboxContext(job)
    handoff = Handoff(
        job_id=job.id,
        verdict="escalated",
        summary="Stopped before finishing: the steps budget ran out.",
        confirmed=[
            Fact(
                fact="k8s_list answered: checkout 0/3 ready",
                evidence=[Citation(tool_use_id="toolu_1", step=2, tool="k8s_list")],
            )
        ],
    )
    SlackNotifier(FixedPolicy(policy)).handoff(ctx, handoff)
    [(purpose, method, payload)] = ctx.posts
    assert (purpose, method, payload["channel"]) == ("escalation", "chat.postMessage", ONCALL)
    text = " ".join(b["text"]["text"] for b in payload["blocks"] if b["type"] == "section")
    assert f"job `{job.id}`, submitted outside Slack" in text
    assert "checkout 0/3 ready · step 2, k8s_list" in text
    assert "_permalink" not in payload  # no ticket thread to link
