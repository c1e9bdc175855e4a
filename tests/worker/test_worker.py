"""The worker in-process (threads), against real databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from bot.handler import HandlerResult, JobContext
from bot.metrics import Metrics
from bot.model import EventKind, JobStatus, OperatorAction, Ticket
from bot.settings import Settings
from bot.store import Store
from bot.worker import Worker, build_handler
from bot.worker.scripted import ScriptedHandler
from tests.worker.conftest import HANG, wait_until

pytestmark = pytest.mark.db


def _worker(store: Store, handler: object | None = None, **kw: object) -> Worker:
    opts: dict[str, object] = {
        "concurrency": 2,
        "lease_ttl": 2.0,
        "poll": 0.02,
        "reap_interval": 0.1,
    }
    opts.update(kw)
    return Worker(store, handler or ScriptedHandler(), name="t1", **opts)  # type: ignore[arg-type]


@pytest.fixture
def background(store: Store) -> Iterator[Worker]:
    worker = _worker(store, metrics=Metrics())
    thread = threading.Thread(target=worker.run)
    thread.start()
    yield worker
    worker.stop()
    thread.join(10)
    assert not thread.is_alive()


def _steps(store: Store, job_id: str) -> list[int]:
    return [e.data["step"] for e in store.events(job_id, kinds=["step"])]


def test_runs_jobs_to_completion(store: Store) -> None:
    ids = [store.submit(Ticket(f"steps=3 step_ms=1 n={i}"))[0].id for i in range(5)]
    worker = _worker(store, metrics=Metrics())
    worker.run(until_idle=True)
    for job_id in ids:
        job = store.get(job_id)
        assert job.status == JobStatus.SUCCEEDED and job.verdict == "resolved"
        assert _steps(store, job_id) == [0, 1, 2]
        assert job.lease_owner is None and job.finished_at is not None
    assert worker.metrics is not None and worker.metrics.claims._value.get() == 5


def test_scripted_outcomes_and_bad_scripts(store: Store) -> None:
    esc, _ = store.submit(Ticket("steps=1 step_ms=1 outcome=escalated"))
    bad, _ = store.submit(Ticket("steps=lots"))
    _worker(store).run(until_idle=True)
    assert store.get(esc.id).status == JobStatus.ESCALATED
    failed = store.get(bad.id)
    assert failed.status == JobStatus.FAILED
    assert failed.last_error is not None and "must be numbers" in failed.last_error.message


def test_pause_and_cancel_take_effect_at_next_step_boundary(
    store: Store, background: Worker
) -> None:
    job, _ = store.submit(Ticket("steps=200 step_ms=20"))
    wait_until(lambda: len(_steps(store, job.id)) >= 2, HANG, "two steps done")
    store.operator(job.id, OperatorAction.PAUSE, by="alice", reason="checking")
    paused = wait_until(
        lambda: (j := store.get(job.id)).status == JobStatus.PAUSED and j, 5, "job paused"
    )
    assert paused.lease_owner is None
    done_at_pause = len(_steps(store, job.id))
    assert done_at_pause < 200
    store.operator(job.id, OperatorAction.RESUME, by="alice", reason="carry on")
    wait_until(lambda: len(_steps(store, job.id)) > done_at_pause + 1, HANG, "resumed work")
    store.operator(job.id, OperatorAction.CANCEL, by="bob", reason="duplicate ticket")
    wait_until(lambda: store.get(job.id).status == JobStatus.CANCELLED, HANG, "job cancelled")
    steps = _steps(store, job.id)
    assert steps == list(range(len(steps)))  # no step ran twice across pause/resume
    assert len(steps) < 200


def test_waiting_human_then_answer_requeues(store: Store, background: Worker) -> None:
    job, _ = store.submit(Ticket("steps=2 step_ms=1 ask=1"))
    wait_until(lambda: store.get(job.id).status == JobStatus.WAITING_HUMAN, HANG, "question asked")
    store.human_event(job.id, "human_answer", {"text": "yes"}, requeue=True)
    wait_until(lambda: store.get(job.id).status == JobStatus.SUCCEEDED, HANG, "job finished")
    assert _steps(store, job.id) == [0, 1]


class Exploding:
    def run(self, ctx: JobContext) -> HandlerResult:
        ctx.append(EventKind.STEP, {"step": 0})
        raise RuntimeError("handler bug")


def test_handler_crash_fails_the_job_with_a_reason(store: Store) -> None:
    job, _ = store.submit(Ticket("x"))
    _worker(store, Exploding()).run(until_idle=True)
    failed = store.get(job.id)
    assert failed.status == JobStatus.FAILED
    assert failed.last_error is not None and failed.last_error.kind == "RuntimeError"
    assert [e.kind for e in store.events(job.id)][-2:] == ["error", "status_changed"]


def test_stop_releases_running_jobs_to_the_queue(store: Store) -> None:
    job, _ = store.submit(Ticket("steps=100 step_ms=20"))
    worker = _worker(store)
    thread = threading.Thread(target=worker.run)
    thread.start()
    wait_until(lambda: _steps(store, job.id), HANG, "first step")
    worker.stop()
    thread.join(10)
    released = store.get(job.id)
    assert released.status == JobStatus.QUEUED and released.lease_owner is None
    assert released.attempts == 0  # a graceful release is not a failed attempt
    last = store.events(job.id)[-1]
    assert last.kind == "status_changed" and last.data["reason"] == "shutdown"


def test_build_handler_rejects_unknown_names(store: Store) -> None:
    from bot.errors import ConfigError

    assert isinstance(build_handler("scripted", Settings(), store, environ={}), ScriptedHandler)
    with pytest.raises(ConfigError, match="unknown handler 'nope'"):
        build_handler("nope", Settings(), store, environ={})
