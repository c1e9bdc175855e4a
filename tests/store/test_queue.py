"""The queue's hot path: batch claims, finish-and-claim, and what each writes, on SQLite and
PostgreSQL. On PostgreSQL each of these is one statement (one round trip): the row change and
its events commit together or not at all."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bot.errors import LeaseLost, StoreError
from bot.model import Job, JobStatus, OutboxPost, Ticket
from bot.store import Store
from bot.store.schema import job_events
from bot.store.store import utcnow

pytestmark = pytest.mark.db


def _gap_free(store: Store, job_id: str) -> list[str]:
    events = store.events(job_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert store.get(job_id).event_count == len(events)
    return [e.kind for e in events]


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements `store` sends meanwhile (BEGIN/COMMIT are not statements here)."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        sent.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)


def test_batch_claim_takes_the_oldest_each_with_its_events_and_log(store: Store) -> None:
    ids = [store.submit(Ticket(f"job {i}"))[0].id for i in range(5)]
    claimed = store.claim_batch("w1", lease_ttl=30, limit=3)
    assert [job.id for job, _, _ in claimed] == ids[:3]
    for job, lease, history in claimed:
        assert job.status == JobStatus.RUNNING and (job.fence, job.attempts) == (1, 1)
        assert (lease.job_id, lease.fence, lease.owner) == (job.id, 1, "w1")
        assert history == store.events(job.id)
        assert _gap_free(store, job.id) == ["ticket_received", "status_changed", "claimed"]
        change, claim = history[1].data, history[2].data
        assert change == {"from": "queued", "to": "running", "by": "w1"}
        assert claim == {
            "worker": "w1",
            "fence": 1,
            "attempt": 1,
            "lease_expires_at": lease.expires_at.isoformat(),
        }
    rest = store.claim_batch("w2", lease_ttl=30, limit=10)
    assert [job.id for job, _, _ in rest] == ids[3:]
    assert store.claim_batch("w3", lease_ttl=30, limit=4) == []


def test_a_claim_and_its_events_commit_together_or_not_at_all(store: Store) -> None:
    """An event row the claim cannot write (its seq is taken) undoes the whole claim."""
    job, _ = store.submit(Ticket("x"))
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(job_events).values(
                job_id=job.id, seq=2, at=job.created_at, kind="planted", data={}
            )
        )
    with pytest.raises(StoreError):
        store.claim_batch("w1", lease_ttl=30, limit=1)
    after = store.get(job.id)
    assert after.status == JobStatus.QUEUED
    assert (after.fence, after.attempts, after.lease_owner, after.event_count) == (0, 0, None, 1)
    assert [e.kind for e in store.events(job.id)] == ["ticket_received", "planted"]


def test_concurrent_batch_claims_never_share_a_job(database_url: str, store: Store) -> None:
    ids = {store.submit(Ticket(f"job {i}"))[0].id for i in range(40)}
    claimed: list[tuple[str, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def claimer(n: int) -> None:
        s = Store(database_url)
        try:
            barrier.wait()
            while got := s.claim_batch(f"w{n}", lease_ttl=30, limit=3):
                with lock:
                    claimed.extend((job.id, lease.owner) for job, lease, _ in got)
        finally:
            s.close()

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(job_id for job_id, _ in claimed) == sorted(ids)
    for job_id, owner in claimed:
        job = store.get(job_id)
        assert (job.fence, job.lease_owner) == (1, owner)
        assert _gap_free(store, job_id).count("claimed") == 1


def test_finish_and_claim_ends_one_run_and_starts_the_next(store: Store) -> None:
    a, _ = store.submit(Ticket("a"))
    b, _ = store.submit(Ticket("b"))
    _, lease = store.claim("w1", lease_ttl=30) or pytest.fail("nothing claimed")
    done, claimed = store.finish_and_claim(
        lease, JobStatus.SUCCEEDED, verdict="resolved", lease_ttl=30
    )
    assert done.id == a.id and done.status == JobStatus.SUCCEEDED and done.verdict == "resolved"
    assert done.lease_owner is None and done.finished_at is not None and done.attempts == 1
    assert _gap_free(store, a.id)[-1] == "status_changed"
    assert store.events(a.id)[-1].data == {
        "from": "running",
        "to": "succeeded",
        "by": "w1",
        "verdict": "resolved",
    }
    [(job, lease_b, history)] = claimed
    assert job.id == b.id and lease_b.owner == "w1" and history == store.events(b.id)
    done_b, none = store.finish_and_claim(
        lease_b,
        JobStatus.FAILED,
        error={"kind": "boom", "message": "it broke", "retryable": False},
        lease_ttl=30,
    )
    assert none == [] and done_b.status == JobStatus.FAILED
    assert done_b.last_error is not None and done_b.last_error.kind == "boom"
    assert done_b.last_error.message == "it broke" and not done_b.last_error.retryable


def test_finish_and_claim_with_a_lost_lease_writes_and_claims_nothing(store: Store) -> None:
    job, _ = store.submit(Ticket("a"))
    waiting, _ = store.submit(Ticket("b"))
    _, old = store.claim("old", lease_ttl=0.01) or pytest.fail("nothing claimed")
    assert store.reap(now=utcnow() + timedelta(seconds=5)) == [job.id]
    before = store.events(job.id)
    with pytest.raises(LeaseLost):
        store.finish_and_claim(old, JobStatus.SUCCEEDED, lease_ttl=30)
    assert store.events(job.id) == before
    assert store.get(waiting.id).status == JobStatus.QUEUED
    assert store.get(job.id).status == JobStatus.QUEUED


def test_finish_and_claim_gives_back_the_attempt_of_a_clean_stop(store: Store) -> None:
    store.submit(Ticket("a"))
    _, lease = store.claim("w", lease_ttl=30) or pytest.fail("nothing claimed")
    done, _ = store.finish_and_claim(lease, JobStatus.WAITING_HUMAN, lease_ttl=30)
    assert (done.status, done.attempts, done.finished_at) == (JobStatus.WAITING_HUMAN, 0, None)
    with pytest.raises(ValueError, match="finish"):
        store.finish_and_claim(lease, JobStatus.QUEUED, lease_ttl=30)


def test_chained_finish_and_claim_runs_every_job_once(database_url: str, store: Store) -> None:
    ids = {store.submit(Ticket(f"job {i}"))[0].id for i in range(30)}
    finished: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        s = Store(database_url)
        try:
            claimed = s.claim_batch(f"w{n}", lease_ttl=30, limit=1)
            while claimed:
                _, lease, _ = claimed[0]
                done, claimed = s.finish_and_claim(lease, JobStatus.SUCCEEDED, lease_ttl=30)
                with lock:
                    finished.append(done.id)
        finally:
            s.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(finished) == sorted(ids)
    for job_id in ids:
        kinds = _gap_free(store, job_id)
        assert kinds == ["ticket_received", "status_changed", "claimed", "status_changed"]
        assert store.get(job_id).status == JobStatus.SUCCEEDED


def test_postgres_hot_path_is_one_statement_each(postgres_url: str) -> None:
    """What makes the queue fast on PostgreSQL: a claim (with its events and the job's log),
    a finish, a finish-and-claim and a submit (with its event and outbox rows) each cost one
    statement, sent in autocommit: one round trip."""
    store = Store(postgres_url)
    store.upgrade()
    try:

        def eyes(job: Job) -> list[OutboxPost]:
            return [OutboxPost(f"{job.id}:eyes", "reactions.add", {"name": "eyes"}, "eyes")]

        with statements(store) as sent:
            store.submit(Ticket("a"), key="k-a", posts=eyes)
        assert len(sent) == 1
        store.submit(Ticket("b"))
        with statements(store) as sent:
            [(_, lease, _)] = store.claim_batch("w", lease_ttl=30, limit=1)
        assert len(sent) == 1
        with statements(store) as sent:
            _, [(_, lease, _)] = store.finish_and_claim(lease, JobStatus.SUCCEEDED, lease_ttl=30)
        assert len(sent) == 1
        with statements(store) as sent:
            store.finish(lease, JobStatus.ESCALATED, verdict="escalated")
        assert len(sent) == 1
    finally:
        store.close()
