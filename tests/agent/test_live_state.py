"""The loop's in-memory state is the state the log gives: a real investigation (the SDK against
the Anthropic emulator, the worker's own `LeasedContext` on the store: SQLite, and PostgreSQL
when the suite has one, whose JSONB hands events back with their keys reordered) keeps a
`History` that, wherever it is compared, equals `History.parse` of the stored events."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.agent.history import History
from bot.agent.loop import AgentHandler
from bot.handler import JobContext
from bot.model import JobStatus, Ticket
from bot.store import Store
from bot.worker.context import LeasedContext, Run
from tests.agent.conftest import Kit


class Crash(BaseException):
    """The worker dies here (a BaseException, like the kill it stands for: nothing catches it)."""


class CrashingContext(LeasedContext):
    """The worker's context, killed at its `crash_at`-th checkpoint."""

    def __init__(self, *args: Any, crash_at: int | None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.crash_at = crash_at
        self.checkpoints = 0

    def checkpoint(self) -> None:
        self.checkpoints += 1
        if self.crash_at is not None and self.checkpoints >= self.crash_at:
            raise Crash(f"killed at checkpoint {self.checkpoints}")
        super().checkpoint()


class Observed(AgentHandler):
    """The agent, keeping a reference to each run's state: the same object the loop mutates."""

    states: list[History]

    def rebuild(self, ctx: JobContext) -> History:
        history = super().rebuild(ctx)
        self.states.append(history)
        return history


def claim(store: Store, crash_at: int | None = None, lease_ttl: float = 60) -> CrashingContext:
    claimed = store.claim_with_history("w1", lease_ttl=lease_ttl)
    assert claimed is not None
    job, lease, events = claimed
    return CrashingContext(
        store,
        Run(job=job, lease=lease, history=events),
        events,
        worker_name="w1",
        shutdown=threading.Event(),
        lease_ttl=lease_ttl,
        crash_at=crash_at,
    )


def observed(kit: Kit) -> Observed:
    agent = kit.agent(Observed)
    assert isinstance(agent, Observed)
    agent.states = []
    return agent


def test_live_state_equals_the_state_parsed_from_the_stored_log(kit: Kit, store: Store) -> None:
    job, _ = store.submit(Ticket(text="checkout is down scenario:ten-step", channel="C1"))
    agent = observed(kit)
    result = agent.run(claim(store))
    assert result.status == JobStatus.SUCCEEDED
    [live] = agent.states
    stored = store.events(job.id)
    assert live == History.parse(stored)
    # it followed the whole run, not a prefix: the handoff and every step are in it
    assert live.handoff is not None and live.steps == 10
    assert live.last_seq == stored[-1].seq


@pytest.mark.parametrize("crash_at", [1, 4, 9])
def test_after_a_crash_and_resume_the_live_state_still_equals_the_stored_log(
    kit: Kit, store: Store, crash_at: int
) -> None:
    job, _ = store.submit(Ticket(text="checkout is down scenario:ten-step", channel="C1"))
    agent = observed(kit)
    ctx = claim(store, crash_at=crash_at, lease_ttl=1)
    with pytest.raises(Crash):
        agent.run(ctx)
    [dead] = agent.states
    assert dead == History.parse(store.events(job.id))  # in step with the log when it died
    # its lease runs out (the reaper is told the time just past it rather than waiting); the
    # job is requeued and the next worker resumes it
    expired = ctx._run.lease.expires_at + timedelta(milliseconds=1)
    assert store.reap(now=max(expired, datetime.now(UTC))) == [job.id]
    result = agent.run(claim(store))
    assert result.status in (JobStatus.SUCCEEDED, JobStatus.ESCALATED)  # the handoff's verdict
    resumed = agent.states[-1]
    stored = store.events(job.id)
    assert resumed == History.parse(stored)
    assert resumed.handoff is not None and resumed.steps == 10
    assert kit.emulator.job_state(job.id)["repeated"] == 0
