"""SlackNotifier: what a job writes to the outbox (unit level, on a recording context)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.handoff.model import Handoff
from bot.model import Event, Job, Ticket
from bot.notify import Progress
from bot.slack.notifier import SlackNotifier
from policy.document import Escalation, Policy
from policy.source import FixedPolicy
from tests.agent.fakes import make_job


class RecordingContext:
    def __init__(self, ticket: Ticket, events: list[Event] | None = None) -> None:
        self._job = replace(make_job(ticket.text, job_id="job1"), ticket=ticket)
        self._events = events or []
        self.rows: dict[str, tuple[str, dict[str, Any]]] = {}

    @property
    def job(self) -> Job:
        return self._job

    @property
    def events(self) -> list[Event]:
        return self._events

    @property
    def worker_name(self) -> str:
        return "w"

    def append(self, kind: str, data: dict[str, Any] | None = None) -> Event:
        raise NotImplementedError

    def append_many(self, items: list[tuple[str, dict[str, Any]]]) -> list[Event]:
        raise NotImplementedError

    def checkpoint(self) -> None:
        pass

    def outbox(self, purpose: str, method: str, payload: dict[str, Any]) -> None:
        self.rows.setdefault(purpose, (method, payload))  # once per purpose, like the store

    def hold_lease(self) -> None:
        pass


SLACK_TICKET = Ticket(text="x", channel="C1", ts="10.1", thread_ts="10.1", user="U1")


def test_progress_only_ever_edits_the_status_message() -> None:
    ctx = RecordingContext(SLACK_TICKET)
    notifier = SlackNotifier(FixedPolicy(Policy()))
    notifier.progress(ctx, Progress(step=1, layer="k8s", retries=2, degraded=["vault"]))
    notifier.progress(ctx, Progress(step=1, layer="k8s", retries=2, degraded=["vault"]))  # resumed
    notifier.progress(ctx, Progress(step=2))
    posts = [p for p, (m, _) in ctx.rows.items() if m == "chat.postMessage"]
    edits = [payload for m, payload in ctx.rows.values() if m == "chat.update"]
    assert posts == ["status"]
    assert len(edits) == 2  # the repeated step wrote the same row again
    assert all(e["_update_of"] == "job1:status" and e["_coalesce"] == "job1:status" for e in edits)
    assert "2 retries" in edits[0]["blocks"][0]["text"]["text"]
    assert "degraded: vault" in edits[0]["blocks"][0]["text"]["text"]


def test_cli_jobs_write_nothing() -> None:
    ctx = RecordingContext(Ticket(text="x"))
    notifier = SlackNotifier(FixedPolicy(Policy()))
    notifier.progress(ctx, Progress(step=1))
    notifier.question(ctx, "?")
    notifier.handoff(ctx, Handoff(job_id="job1", verdict="escalated", summary="s"))
    assert ctx.rows == {}


def test_approval_questions_carry_approve_and_deny() -> None:
    now = datetime.now(UTC)
    ctx = RecordingContext(
        SLACK_TICKET, [Event("job1", 1, now, "approval_requested", {"tool": "x"})]
    )
    SlackNotifier(FixedPolicy(Policy())).question(ctx, "May I run `kubectl logs`?")
    [(method, payload)] = list(ctx.rows.values())
    assert method == "chat.postMessage" and payload["thread_ts"] == "10.1"
    actions = next(b for b in payload["blocks"] if b["type"] == "actions")["elements"]
    assert [a["action_id"] for a in actions] == ["steadfast_approve", "steadfast_deny"]


def test_escalation_without_a_route_says_so_in_the_thread() -> None:
    ctx = RecordingContext(SLACK_TICKET)
    SlackNotifier(FixedPolicy(Policy(escalation=Escalation(routes=[])))).handoff(
        ctx, Handoff(job_id="job1", verdict="escalated", summary="s")
    )
    assert "escalation" not in ctx.rows
    assert "no on-call channel" in ctx.rows["escalation_note"][1]["text"]
