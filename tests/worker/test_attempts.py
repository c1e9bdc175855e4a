"""Acceptance: `attempts` counts lost leases and crashes, not pauses or human answers."""

from __future__ import annotations

import signal

import pytest

from bot.model import JobStatus, OperatorAction, Ticket
from bot.store import Store
from tests.worker.conftest import LEASE_TTL, Workers, wait_until

pytestmark = [pytest.mark.db, pytest.mark.slow]


@pytest.fixture
def max_attempts() -> int:
    return 2


def _running_on(store: Store, job_id: str, worker: str) -> bool:
    job = store.get(job_id)
    return job.status == JobStatus.RUNNING and job.lease_owner == worker


def test_pauses_and_answer_then_one_crash_do_not_exhaust_attempts(
    store: Store, workers: Workers
) -> None:
    job, _ = store.submit(Ticket("steps=400 step_ms=10 ask=1"))
    workers.spawn("w0")
    wait_until(
        lambda: store.get(job.id).status == JobStatus.WAITING_HUMAN, 30, "job asks its question"
    )
    assert store.get(job.id).attempts == 0
    store.human_event(job.id, "human_answer", {"text": "yes", "by": "U1"}, requeue=True)
    for n in range(4):
        wait_until(lambda: _running_on(store, job.id, "w0"), 30, f"running before pause {n}")
        store.operator(job.id, OperatorAction.PAUSE, by="tester", reason=f"pause {n}")
        paused = wait_until(
            lambda: (j := store.get(job.id)).status == JobStatus.PAUSED and j,
            30,
            f"pause {n} applied",
        )
        assert paused.attempts == 0, "a pause used an attempt"
        store.operator(job.id, OperatorAction.RESUME, by="tester", reason=f"resume {n}")
    wait_until(lambda: _running_on(store, job.id, "w0"), 30, "running before the crash")
    wait_until(
        lambda: any(e.kind == "step" for e in store.events(job.id, kinds=["step"])),
        30,
        "a step recorded",
    )
    proc = workers.procs["w0"]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    workers.spawn("w1")
    final = wait_until(
        lambda: (j := store.get(job.id)).status.terminal and j, LEASE_TTL + 60, "job finishes"
    )
    assert final.status == JobStatus.SUCCEEDED, final.last_error
    kinds = [e.kind for e in store.events(job.id)]
    assert kinds.count("interrupted") == 1
    assert final.attempts == 2  # the crashed run and the run that finished
