"""Fixtures for the Slack tests: the Slack emulator, a migrated store, a policy, the real Bolt
app in HTTP mode on 127.0.0.1 and a worker running a tiny handler that reports through the
real `SlackNotifier`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.handler import HandlerResult, JobContext
from bot.handoff.model import Handoff, Score
from bot.model import EventKind, JobStatus
from bot.notify import Progress
from bot.settings import Settings
from bot.slack.app import SlackBot, build_bot
from bot.slack.notifier import SlackNotifier
from bot.slack.serve import HttpBot
from bot.store.store import Store
from bot.worker.worker import Worker
from emulators.slack import SlackEmulator
from emulators.slack_socket import wait_until
from policy.document import Escalation, OperatorGrant, Operators, Policy, Route, Tenant
from policy.source import FixedPolicy

SECRET = "test-signing-secret"
TEAM = "T0STEADY"
PAY = "C0PAY"
ONCALL = "C0ONCALL"
OPERATOR = "U0OP"  # named in the policy
GROUP_OPERATOR = "U0GROUP"  # an operator through the S0OPS user group
STRANGER = "U0NOBODY"
ASKER = "U0ASKER"

__all__ = ["wait_until"]


def make_policy() -> Policy:
    return Policy(
        tenants={"payments": Tenant(channels=[PAY])},
        operators=Operators(grants=[OperatorGrant(users=[OPERATOR], usergroups=["S0OPS"])]),
        escalation=Escalation(routes=[Route(channel=ONCALL, usergroup="S0ONCALL")]),
    )


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    scenario = {
        "slack": {
            "team_id": TEAM,
            "users": {u: {"name": u.lower()} for u in (OPERATOR, GROUP_OPERATOR, STRANGER, ASKER)},
            "usergroups": {"S0OPS": [GROUP_OPERATOR], "S0ONCALL": ["U0ONCALL"]},
        }
    }
    with SlackEmulator(scenario) as emulator:
        yield emulator


@pytest.fixture
def policy() -> Policy:
    return make_policy()


@pytest.fixture
def settings(slack: SlackEmulator, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        slack_bot_token="xoxb-test",
        slack_app_token="xapp-test",
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
    )


@pytest.fixture
def bot(settings: Settings, store: Store, policy: Policy) -> Iterator[SlackBot]:
    b = build_bot(settings, store, FixedPolicy(policy), http=True, update_interval=0.05)
    b.dispatcher.poll_interval = 0.05
    b.start_dispatcher()
    yield b
    b.stop()


@pytest.fixture
def http_bot(bot: SlackBot) -> Iterator[HttpBot]:
    server = HttpBot(bot, host="127.0.0.1", port=0).start()
    yield server
    server.stop()


class ReportingHandler:
    """What the agent does, minus the model: progress, an optional question, a handoff through
    the notifier. `ask` in the ticket text waits for a human answer first; `escalate` escalates."""

    def __init__(self, notifier: SlackNotifier, steps: int = 3) -> None:
        self.notifier = notifier
        self.steps = steps

    def run(self, ctx: JobContext) -> HandlerResult:
        text = ctx.job.ticket.text
        answers = [e for e in ctx.events if e.kind == EventKind.HUMAN_ANSWER]
        if "ask" in text and not answers:
            if not any(e.kind == EventKind.HUMAN_QUESTION for e in ctx.events):
                ctx.append(EventKind.HUMAN_QUESTION, {"question": "Which region?"})
                self.notifier.question(ctx, "Which region?")
            return HandlerResult(JobStatus.WAITING_HUMAN)
        for step in range(self.steps):
            ctx.checkpoint()
            self.notifier.progress(
                ctx, Progress(step=step + 1, layer="kubernetes", degraded=["vault"] if step else [])
            )
        verdict = "escalated" if "escalate" in text else "resolved"
        handoff = Handoff(
            job_id=ctx.job.id,
            verdict=verdict,
            summary=f"Looked into: {text}"
            + (f" (answer: {answers[0].data['text']})" if answers else ""),
            confirmed=["pods are running"],
            could_not_reach=["vault: timeout"],
            score=Score(
                total=0.7, uncertainty=0.8, novelty=0.5, intervention_benefit=0.7, threshold=0.6
            ),
            tenant=ctx.job.ticket.tenant,
        )
        ctx.append(EventKind.HANDOFF, handoff.model_dump())
        self.notifier.handoff(ctx, handoff)
        status = JobStatus.ESCALATED if verdict == "escalated" else JobStatus.SUCCEEDED
        return HandlerResult(status, verdict=verdict)


@pytest.fixture
def worker(store: Store, policy: Policy) -> Iterator[Worker]:
    handler = ReportingHandler(SlackNotifier(FixedPolicy(policy)))
    w = Worker(store, handler, name="test-worker", concurrency=2, lease_ttl=5, poll=0.05)
    thread = threading.Thread(target=w.run, daemon=True)
    thread.start()
    yield w
    w.stop()
    thread.join(10)


def thread_messages(slack: SlackEmulator, channel: str, ts: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel, ts) if m["ts"] != ts]


def until(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    assert wait_until(predicate, timeout), "condition not met before the deadline"
