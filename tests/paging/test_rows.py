"""The page rows the notifier queues: keyed per job, pager and action (and run), carrying the
key's name only, and the same rows again when a resumed job delivers its handoff again."""

from __future__ import annotations

from bot.handoff.model import Handoff
from bot.model import Event, EventKind
from bot.slack.notifier import SlackNotifier
from policy.document import Escalation, PageTarget, Policy, Route
from policy.source import FixedPolicy
from tests.agent.fakes import make_job
from tests.slack.test_oncall_without_thread import OutboxContext


def _policy() -> Policy:
    pages = [PageTarget(service="pagerduty", key="oncall-pd")]
    return Policy(escalation=Escalation(routes=[Route(channel="C0ONCALL", pages=pages)]))


def _pages(ctx: OutboxContext) -> list[tuple[str, str]]:
    return [(purpose, method) for purpose, method, _ in ctx.posts if purpose.startswith("page:")]


def test_an_escalation_queues_one_trigger_per_pager_after_the_on_call_thread() -> None:
    job = make_job("checkout is slow", channel="C0PAY")
    ctx = OutboxContext(job)
    handoff = Handoff(job_id=job.id, verdict="escalated", summary="pods crash-loop")
    notifier = SlackNotifier(FixedPolicy(_policy()))
    notifier.handoff(ctx, handoff)
    assert _pages(ctx) == [("page:pagerduty:oncall-pd:trigger", "page.trigger")]
    purposes = [p for p, _, _ in ctx.posts]
    assert purposes.index("escalation") < purposes.index("page:pagerduty:oncall-pd:trigger")
    [payload] = [p for purpose, _, p in ctx.posts if purpose.startswith("page:")]
    assert payload["dedup_key"] == job.id and payload["key_name"] == "oncall-pd"
    assert payload["event"]["payload"]["custom_details"]["summary"] == "pods crash-loop"
    # no ticket thread (the job has no message ts): the on-call thread is the one link
    assert payload["_links"] == [{"text": "On-call thread", "of": f"{job.id}:escalation"}]
    notifier.handoff(ctx, handoff)  # a resumed job delivers again: the very same keys
    assert _pages(ctx) == [("page:pagerduty:oncall-pd:trigger", "page.trigger")] * 2


def test_a_retried_run_that_succeeds_queues_resolves_and_a_first_run_does_not() -> None:
    job = make_job("checkout is slow", channel="C0PAY")
    notifier = SlackNotifier(FixedPolicy(_policy()))
    resolved = Handoff(job_id=job.id, verdict="resolved", summary="fixed")
    first = OutboxContext(job)
    notifier.handoff(first, resolved)
    assert _pages(first) == []
    retried = OutboxContext(job)
    retried.events.append(
        Event(job.id, 9, job.created_at, EventKind.OPERATOR_ACTION, {"action": "retry"})
    )
    notifier.handoff(retried, resolved)
    assert _pages(retried) == [("page:pagerduty:oncall-pd:resolve@1", "page.resolve")]
