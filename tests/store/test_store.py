from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bot.errors import IllegalTransition, JobNotFound, LeaseLost, StoreError
from bot.model import Job, JobStatus, OperatorAction, OutboxPost, Ticket
from bot.store import Store
from bot.store.migrate import HEAD_REVISION, script_head
from bot.store.store import utcnow
from bot.store.views import status_record
from tests.conftest import STATUS_RECORD_KEYS

pytestmark = pytest.mark.db


def test_migration_head_constant_matches_alembic() -> None:
    assert script_head() == HEAD_REVISION


def test_upgrade_is_idempotent(store: Store) -> None:
    store.upgrade()
    assert store.revision() == HEAD_REVISION


def test_submit_is_idempotent_on_key(store: Store) -> None:
    first, created = store.submit(Ticket("disk full", channel="C1", ts="1.1"), key="T:C1:1.1")
    again, created_again = store.submit(Ticket("disk full (retried delivery)"), key="T:C1:1.1")
    assert created and not created_again
    assert again.id == first.id
    assert len(store.list_jobs()) == 1
    assert [e.kind for e in store.events(first.id)] == ["ticket_received"]


def test_concurrent_submits_of_one_key_make_one_job(database_url: str, store: Store) -> None:
    results: list[tuple[str, bool]] = []
    barrier = threading.Barrier(6)

    def go() -> None:
        other = Store(database_url)
        try:
            barrier.wait()
            job, created = other.submit(Ticket("same"), key="dup")
            results.append((job.id, created))
        finally:
            other.close()

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({job_id for job_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len(store.list_jobs()) == 1


def test_empty_ticket_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="needs text"):
        store.submit(Ticket("   "))
    assert store.list_jobs() == []


def test_unknown_job(store: Store) -> None:
    with pytest.raises(JobNotFound, match="nope"):
        store.get("nope")
    with pytest.raises(JobNotFound):
        store.operator("nope", OperatorAction.CANCEL, by="a", reason="b")


def test_claim_takes_oldest_and_writes_events(store: Store) -> None:
    a, _ = store.submit(Ticket("a"))
    b, _ = store.submit(Ticket("b"))
    job, lease = store.claim("w1", lease_ttl=5) or pytest.fail("nothing claimed")
    assert job.id == a.id and job.status == JobStatus.RUNNING
    assert (job.attempts, job.fence, job.lease_owner) == (1, 1, "w1")
    assert lease.fence == 1 and lease.expires_at > utcnow()
    assert [e.kind for e in store.events(a.id)] == ["ticket_received", "status_changed", "claimed"]
    job2, _ = store.claim("w2", lease_ttl=5) or pytest.fail("nothing claimed")
    assert job2.id == b.id
    assert store.claim("w3", lease_ttl=5) is None


def test_concurrent_claims_never_share_a_job(database_url: str, store: Store) -> None:
    for i in range(30):
        store.submit(Ticket(f"job {i}"))
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(n: int) -> None:
        s = Store(database_url)
        try:
            while (got := s.claim(f"w{n}", lease_ttl=30)) is not None:
                with lock:
                    claimed.append(got[0].id)
        finally:
            s.close()

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 30 and len(set(claimed)) == 30


def test_append_is_fenced_and_gap_free(store: Store) -> None:
    store.submit(Ticket("x"))
    job, lease = store.claim("w1", lease_ttl=5) or pytest.fail()
    e1 = store.append(lease, "step", {"step": 0})
    store.operator(job.id, OperatorAction.PAUSE, by="op", reason="look")
    e2 = store.append(lease, "step", {"step": 1})
    seqs = [e.seq for e in store.events(job.id)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert e2.seq == e1.seq + 2  # the operator's event sits between
    assert store.control(lease) == "pause"
    assert store.get(job.id).last_event_at == e2.at


def test_stale_lease_gets_lease_lost_and_writes_nothing(store: Store) -> None:
    store.submit(Ticket("x"))
    job, old = store.claim("w1", lease_ttl=0.01) or pytest.fail()
    store.append(old, "step", {"step": 0})
    assert store.reap(now=utcnow() + timedelta(seconds=1)) == [job.id]
    _, new = store.claim("w2", lease_ttl=5) or pytest.fail()
    assert new.fence == old.fence + 1
    before = store.events(job.id)
    with pytest.raises(LeaseLost, match="another worker owns it"):
        store.append(old, "step", {"step": 1})
    with pytest.raises(LeaseLost):
        store.renew(old, lease_ttl=5)
    with pytest.raises(LeaseLost):
        store.finish(old, JobStatus.SUCCEEDED)
    with pytest.raises(LeaseLost):
        store.outbox_put(f"{job.id}:handoff", "chat.postMessage", {}, job_id=job.id, lease=old)
    assert store.events(job.id) == before
    assert store.outbox_get(f"{job.id}:handoff") is None
    kinds = [e.kind for e in before]
    assert kinds.count("interrupted") == 1 and kinds[-1] == "resumed"
    assert store.get(job.id).lease_owner == "w2"


def test_reaper_fails_after_max_attempts_saying_why(store: Store) -> None:
    job, _ = store.submit(Ticket("x"))
    later = utcnow() + timedelta(seconds=60)
    for _ in range(3):
        assert store.claim("w", lease_ttl=0.01) is not None
        assert store.reap(now=later) == [job.id]
    final = store.get(job.id)
    assert final.status == JobStatus.FAILED and final.finished_at is not None
    assert final.last_error is not None and final.last_error.kind == "attempts_exhausted"
    assert "3 of 3 attempts" in final.last_error.message
    assert store.reap(now=later) == []


def test_live_leases_are_not_reaped(store: Store) -> None:
    store.submit(Ticket("x"))
    _, lease = store.claim("w", lease_ttl=30) or pytest.fail()
    assert store.reap() == []
    renewed = store.renew(lease, lease_ttl=60)
    assert renewed.expires_at > lease.expires_at


def test_finish_release_on_shutdown_requeues_without_spending_an_attempt(store: Store) -> None:
    job, _ = store.submit(Ticket("x"))
    _, lease = store.claim("w", lease_ttl=30) or pytest.fail()
    released = store.finish(lease, JobStatus.QUEUED, reason="shutdown")
    assert released.status == JobStatus.QUEUED and released.attempts == 0
    assert released.lease_owner is None
    again, lease2 = store.claim("w2", lease_ttl=30) or pytest.fail()
    assert again.id == job.id and lease2.fence == 2
    assert store.events(job.id)[-1].kind == "resumed"


def test_release_honours_a_pending_operator_cancel(store: Store) -> None:
    job, _ = store.submit(Ticket("x"))
    _, lease = store.claim("w", lease_ttl=30) or pytest.fail()
    store.operator(job.id, OperatorAction.CANCEL, by="op", reason="dup")
    assert store.finish(lease, JobStatus.QUEUED, reason="shutdown").status == JobStatus.CANCELLED


def test_operator_actions_are_audited(store: Store) -> None:
    job, _ = store.submit(Ticket("x"))
    store.operator(job.id, OperatorAction.PAUSE, by="alice", reason="investigating")
    store.operator(job.id, OperatorAction.RESUME, by="bob", reason="go")
    store.operator(job.id, OperatorAction.CANCEL, by="carol", reason="duplicate")
    retried = store.operator(job.id, OperatorAction.RETRY, by="dave", reason="needed after all")
    assert retried.status == JobStatus.QUEUED and retried.finished_at is None
    audit = [e.data for e in store.events(job.id, kinds=["operator_action"])]
    assert [(a["action"], a["by"], a["reason"], a["from"], a["to"]) for a in audit] == [
        ("pause", "alice", "investigating", "queued", "paused"),
        ("resume", "bob", "go", "paused", "queued"),
        ("cancel", "carol", "duplicate", "queued", "cancelled"),
        ("retry", "dave", "needed after all", "cancelled", "queued"),
    ]
    changes = [
        (e.data["from"], e.data["to"]) for e in store.events(job.id, kinds=["status_changed"])
    ]
    assert changes == [
        ("queued", "paused"),
        ("paused", "queued"),
        ("queued", "cancelled"),
        ("cancelled", "queued"),
    ]


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([OperatorAction.CANCEL], OperatorAction.CANCEL),
        ([], OperatorAction.RESUME),
        ([], OperatorAction.RETRY),
        ([OperatorAction.CANCEL], OperatorAction.PAUSE),
    ],
)
def test_illegal_transitions_are_refused_and_write_nothing(
    store: Store, setup: list[OperatorAction], action: OperatorAction
) -> None:
    job, _ = store.submit(Ticket("x"))
    for a in setup:
        store.operator(job.id, a, by="op", reason="setup")
    before = store.events(job.id)
    with pytest.raises(IllegalTransition, match=f"cannot {action.value} job {job.id}"):
        store.operator(job.id, action, by="op", reason="again")
    assert store.events(job.id) == before


def test_running_job_pause_is_a_pending_request(store: Store) -> None:
    job, _ = store.submit(Ticket("x"))
    _, lease = store.claim("w", lease_ttl=30) or pytest.fail()
    pending = store.operator(job.id, OperatorAction.PAUSE, by="op", reason="wait")
    assert pending.status == JobStatus.RUNNING and pending.control == "pause"
    with pytest.raises(IllegalTransition, match="already requested"):
        store.operator(job.id, OperatorAction.CANCEL, by="op", reason="x")
    store.operator(job.id, OperatorAction.RESUME, by="op", reason="never mind")
    assert store.control(lease) is None


def test_retry_resets_attempts_and_keeps_history(store: Store) -> None:
    job, _ = store.submit(Ticket("x"))
    _, lease = store.claim("w", lease_ttl=30) or pytest.fail()
    store.append(lease, "step", {"step": 0})
    store.finish(lease, JobStatus.FAILED, error={"kind": "boom", "message": "m", "retryable": True})
    failed = store.get(job.id)
    assert failed.last_error is not None and failed.last_error.retryable
    retried = store.operator(job.id, OperatorAction.RETRY, by="op", reason="fixed")
    assert retried.attempts == 0 and retried.last_error is None
    assert any(e.kind == "step" for e in store.events(job.id))


def test_human_event_requeues_waiting_job(store: Store) -> None:
    job, _ = store.submit(Ticket("x"))
    _, lease = store.claim("w", lease_ttl=30) or pytest.fail()
    store.finish(lease, JobStatus.WAITING_HUMAN)
    assert store.get(job.id).lease_owner is None
    event = store.human_event(job.id, "human_answer", {"text": "yes", "by": "U1"}, requeue=True)
    assert event.kind == "human_answer" and event.data["text"] == "yes"
    assert store.get(job.id).status == JobStatus.QUEUED


def test_find_by_thread_and_counts(store: Store) -> None:
    a, _ = store.submit(Ticket("a", channel="C1", ts="1.0"))
    b, _ = store.submit(Ticket("b", channel="C1", ts="2.0", thread_ts="1.0"))
    store.submit(Ticket("c", channel="C2", ts="1.0"))
    assert [j.id for j in store.find_by_thread("C1", "1.0")] == [b.id, a.id]
    assert store.counts_by_status()[JobStatus.QUEUED] == 3
    age = store.oldest_queued_age_seconds()
    assert age is not None and 0 <= age < 60


def test_outbox_once_per_key(store: Store) -> None:
    job, _ = store.submit(Ticket("x"))
    key = f"{job.id}:status"
    assert store.outbox_put(
        key, "chat.postMessage", {"text": "hi"}, job_id=job.id, purpose="status"
    )
    assert not store.outbox_put(key, "chat.postMessage", {"text": "again"}, job_id=job.id)
    assert [m.key for m in store.outbox_due()] == [key]
    store.outbox_mark(key, "sending")
    store.outbox_mark(key, "sent", ts="123.4", channel="C1")
    msg = store.outbox_get(key)
    assert msg is not None and (msg.state, msg.ts, msg.attempts) == ("sent", "123.4", 1)
    assert msg.payload == {"text": "hi"}
    assert store.outbox_due() == []
    later = utcnow() + timedelta(seconds=30)
    store.outbox_put("k2", "chat.postMessage", {})
    store.outbox_mark("k2", "pending", not_before=later)
    assert store.outbox_due() == []
    assert [m.key for m in store.outbox_due(now=later)] == ["k2"]


def test_status_record_fields(store: Store) -> None:
    job, _ = store.submit(Ticket("x", channel="C1", thread_ts="9.9", tenant="acme"))
    _, lease = store.claim("w", lease_ttl=30) or pytest.fail()
    store.append(lease, "degraded", {"dependency": "vault", "reason": "timeout"})
    store.append(lease, "degraded", {"dependency": "loki", "reason": "503"})
    store.append(lease, "degraded", {"dependency": "vault", "reason": "again"})
    record = status_record(store, store.get(job.id))
    for key in ("id", "status", *STATUS_RECORD_KEYS):
        assert key in record
    assert record["degraded"] == ["vault", "loki"]
    assert record["lease_owner"] == "w" and record["last_error"] is None
    assert record["tenant"] == "acme" and record["thread_ts"] == "9.9"


def test_event_data_must_be_json(store: Store) -> None:
    store.submit(Ticket("x"))
    job, lease = store.claim("w", lease_ttl=30) or pytest.fail()
    with pytest.raises(StoreError):
        store.append(lease, "step", {"bad": object()})
    assert [e.kind for e in store.events(job.id)][-1] == "claimed"


def test_wait_for_work_wakes_on_submit(database_url: str, store: Store) -> None:
    """PostgreSQL: NOTIFY from another process' store; SQLite: in-process wake-up only (other
    processes are found by polling)."""
    store.wait_for_work(0.01)  # PostgreSQL: starts listening
    other = Store(database_url)
    submitter = other if store.is_postgres else store
    try:
        woke = threading.Event()

        def waiter() -> None:
            store.wait_for_work(10)
            woke.set()

        t = threading.Thread(target=waiter)
        t.start()
        submitter.submit(Ticket("wake up"))
        assert woke.wait(5)
        t.join()
    finally:
        other.close()


def test_claim_with_history_returns_the_whole_log(store: Store) -> None:
    job, _ = store.submit(Ticket("x"))
    _, lease = store.claim("w1", lease_ttl=30) or pytest.fail()
    store.append(lease, "step", {"step": 0})
    store.finish(lease, JobStatus.QUEUED, reason="shutdown")
    claimed = store.claim_with_history("w2", lease_ttl=30)
    assert claimed is not None
    again, lease2, history = claimed
    assert again.id == job.id and lease2.fence == 2
    assert history == store.events(job.id)
    assert [e.kind for e in history][-3:] == ["status_changed", "claimed", "resumed"]
    assert store.claim_with_history("w3", lease_ttl=30) is None


def test_concurrent_first_starts_on_an_empty_sqlite_file_migrate_once(sqlite_url: str) -> None:
    from bot.settings import Settings
    from bot.store import open_store

    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        try:
            open_store(Settings(database_url=sqlite_url), pool_size=1).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    s = Store(sqlite_url)
    try:
        assert s.revision() == HEAD_REVISION
    finally:
        s.close()


def test_submit_commits_the_jobs_first_posts_with_it_or_nothing(store: Store) -> None:
    def eyes(job: Job) -> list[OutboxPost]:
        return [OutboxPost(f"{job.id}:eyes", "reactions.add", {"name": "eyes"}, "eyes")]

    job, created = store.submit(Ticket("x"), key="k1", posts=eyes)
    post = store.outbox_get(f"{job.id}:eyes")
    assert created and post is not None and post.job_id == job.id
    # A redelivery writes none of the posts it would have made (PostgreSQL builds them before
    # its one statement finds the key taken).
    again, created = store.submit(
        Ticket("x"), key="k1", posts=lambda j: [OutboxPost(f"{j.id}:eyes", "m", {}, "eyes")]
    )
    assert (again.id, created) == (job.id, False)
    assert [p.key for p in store.outbox_due()] == [f"{job.id}:eyes"]

    def broken(job: Job) -> list[OutboxPost]:
        raise RuntimeError("cannot build the status message")

    with pytest.raises(RuntimeError):
        store.submit(Ticket("y"), key="k2", posts=broken)
    assert store.find_by_key("k2") is None  # no job without its posts
