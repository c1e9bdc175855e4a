"""The fencing token against the worst interleavings of a stale worker's write with the reaper
and a new claim, played out on two real connections of one database (SQLite and PostgreSQL).

A thread is stopped inside its open transaction (right after its fenced UPDATE, before commit)
by an SQLAlchemy cursor event, while another thread runs the competing transaction. The
guarantee checked: a stale worker's append either commits before the job is taken from it, and
then the next claim's history holds it, or it writes nothing and raises LeaseLost."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from bot.errors import LeaseLost
from bot.model import Event, EventKind, Job, Lease, Ticket
from bot.store import Store
from bot.store.store import utcnow

WAIT = 30.0  # seconds; only reached when the test is broken (a thread never arrives)


class Pause:
    """Stops the thread named `thread` right after its first statement starting with `prefix`
    ("": its first statement after BEGIN, whatever it is) with its transaction still open and
    its row locks held, until `go` is set."""

    def __init__(self, thread: str, prefix: str) -> None:
        self.thread, self.prefix = thread, prefix
        self.reached, self.go = threading.Event(), threading.Event()

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if threading.current_thread().name != self.thread or self.reached.is_set():
            return
        text = statement.lstrip().upper()
        if text.startswith(self.prefix) and not text.startswith("BEGIN"):
            self.reached.set()
            assert self.go.wait(WAIT), "the test never released the paused transaction"


@contextmanager
def paused(store: Store, thread: str, prefix: str) -> Iterator[Pause]:
    pause = Pause(thread, prefix)
    traced: list[Any] = []

    def trace(dbapi_conn: Any, *_: Any) -> None:
        # SQLite's append runs on the driver's cursor, out of SQLAlchemy's sight; the driver's
        # trace hook stops it too (before the statement, with BEGIN IMMEDIATE's lock held).
        # Appends keep the connection of their first checkout: these tests make the store's
        # first append inside `paused`.
        dbapi_conn.set_trace_callback(lambda statement: pause(None, None, statement))
        traced.append(dbapi_conn)

    sa.event.listen(store.engine, "after_cursor_execute", pause)
    if not store.is_postgres:
        sa.event.listen(store.engine, "checkout", trace)
    try:
        yield pause
    finally:
        pause.go.set()
        sa.event.remove(store.engine, "after_cursor_execute", pause)
        if not store.is_postgres:
            sa.event.remove(store.engine, "checkout", trace)
        for dbapi_conn in traced:
            dbapi_conn.set_trace_callback(None)


class Outcome:
    """What a thread's call returned or raised."""

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None


def start(name: str, fn: Callable[[], Any]) -> tuple[threading.Thread, Outcome]:
    out = Outcome()

    def body() -> None:
        try:
            out.value = fn()
        except BaseException as exc:  # handed to the test's assertions
            out.error = exc

    thread = threading.Thread(target=body, name=name, daemon=True)
    thread.start()
    return thread, out


def claimed_job(store: Store) -> tuple[Job, Lease]:
    store.submit(Ticket("disk full on db-1"))
    claimed = store.claim("old", lease_ttl=60)
    assert claimed is not None
    return claimed


def later() -> Any:
    return utcnow() + timedelta(minutes=10)  # every lease has expired by then


def take_over(store: Store) -> tuple[Job, Lease, list[Event]] | None:
    store.reap(now=later())
    return store.claim_with_history("new", lease_ttl=60)


def test_stale_append_held_open_is_seen_by_the_next_claim_or_refused(store: Store) -> None:
    """The old worker runs its fence check (the append's first statement) and stops before
    committing; the reaper and a new claim run meanwhile. PostgreSQL: the reaper skips the row the append has locked, so the
    takeover waits for the append's commit. SQLite: the one writer serializes them."""
    job, old = claimed_job(store)
    with paused(store, "old-append", "") as pause:
        appender, appended = start(
            "old-append", lambda: store.append(old, EventKind.MODEL_RESPONSE, {"step": 1})
        )
        assert pause.reached.wait(WAIT)
        taker, took = start("new-claim", lambda: take_over(store))
        if store.is_postgres:
            # the worst order, played out in full: takeover done while the append is open
            taker.join(WAIT)
            assert not taker.is_alive() and took.error is None
        pause.go.set()
        appender.join(WAIT)
        taker.join(WAIT)
    assert not appender.is_alive() and not taker.is_alive()
    assert took.error is None, took.error
    claimed = took.value or take_over(store)  # the row was locked: the next pass takes it
    assert claimed is not None
    new_job, new, history = claimed
    assert new.fence == old.fence + 1
    responses = [e for e in history if e.kind == "model_response"]
    if appended.error is None:
        # committed while the job was still the old worker's: the new claim must see it
        assert [e.seq for e in responses] == [appended.value.seq]
    else:
        assert isinstance(appended.error, LeaseLost)
        assert responses == []
    assert [e.seq for e in store.events(job.id)] == list(range(1, new_job.event_count + 1))


def test_append_racing_the_reaper_waits_for_it_and_is_refused(store: Store) -> None:
    """The reaper has requeued the job but not committed; the old worker's append runs its
    fenced UPDATE now. It must wait for the reaper's row lock and then fail its check against
    the committed row, not pass against the snapshot it started with."""
    job, old = claimed_job(store)
    with paused(store, "reaper", "UPDATE JOBS") as pause:
        reaper, reaped = start("reaper", lambda: store.reap(now=later()))
        assert pause.reached.wait(WAIT)
        appender, appended = start(
            "old-append", lambda: store.append(old, EventKind.MODEL_RESPONSE, {"step": 1})
        )
        pause.go.set()
        reaper.join(WAIT)
        appender.join(WAIT)
    assert not reaper.is_alive() and not appender.is_alive()
    assert reaped.error is None and reaped.value == [job.id]
    assert isinstance(appended.error, LeaseLost)
    claimed = store.claim_with_history("new", lease_ttl=60)
    assert claimed is not None
    assert [e for e in claimed[2] if e.kind == "model_response"] == []


def test_renewal_after_the_reaper_is_refused(store: Store) -> None:
    """A heartbeat held up past the reaper cannot revive the lease it lost."""
    job, old = claimed_job(store)
    with paused(store, "reaper", "UPDATE JOBS") as pause:
        reaper, _ = start("reaper", lambda: store.reap(now=later()))
        assert pause.reached.wait(WAIT)
        beat, renewed = start("heartbeat", lambda: store.renew(old, lease_ttl=60))
        pause.go.set()
        reaper.join(WAIT)
        beat.join(WAIT)
    assert isinstance(renewed.error, LeaseLost)
    assert store.get(job.id).lease_owner is None
