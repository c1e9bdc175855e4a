"""A worker that stalls past its lease must not ask the model again for a step another worker
has since asked and recorded. Its writes are fenced by the store; its model request is not a
write, so the loop renews the lease right before every attempt (`JobContext.hold_lease`).

Real store (SQLite and PostgreSQL), real `LeasedContext`, real SDK against the emulator. The
stall is the old worker's retry backoff: while it sleeps, the reaper requeues the job and a
new worker claims it and records the step's response."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bot.errors import LeaseLost
from bot.model import EventKind, Ticket
from bot.store import Store
from bot.store.store import utcnow
from bot.worker.context import LeasedContext, Run
from tests.agent.conftest import Kit


def test_a_worker_that_lost_its_lease_during_backoff_does_not_ask_again(
    store: Store, kit: Kit
) -> None:
    job, _ = store.submit(Ticket("scenario:retry"))  # the emulator answers it 429 first
    claimed = store.claim_with_history("old", lease_ttl=60)
    assert claimed is not None
    _, old_lease, history = claimed
    run = Run(job, old_lease, history)
    ctx = LeasedContext(
        store, run, history, worker_name="old", shutdown=threading.Event(), lease_ttl=60
    )
    took_over: list[int] = []

    def stalled(_seconds: float) -> None:
        # the old worker is descheduled through its backoff and beyond its lease
        store.reap(now=utcnow() + timedelta(minutes=10))
        new = store.claim_with_history("new", lease_ttl=60)
        assert new is not None
        _, lease, _ = new
        store.append(lease, EventKind.MODEL_REQUEST, {"step": 1})
        store.append(lease, EventKind.MODEL_RESPONSE, {"step": 1, "content": []})
        took_over.append(lease.fence)

    agent = kit.agent()
    agent.sleep = stalled
    with pytest.raises(LeaseLost):
        agent.run(ctx)
    assert took_over == [old_lease.fence + 1]
    # the 429'd request only: the old worker never sent its retry
    assert kit.emulator.job_state(job.id)["requests"] == 1
    assert run.lost
    responses = [e for e in store.events(job.id) if e.kind == "model_response"]
    assert len(responses) == 1
