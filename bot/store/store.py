"""All SQL lives in this package. One `Store` over SQLite (WAL) or PostgreSQL.

CONTRACT (other parts code against these signatures):
- Every status change writes a `status_changed` event in the same transaction.
- Every write made on behalf of a worker takes a `Lease` and checks `jobs.fence` and
  `jobs.lease_owner` in the same transaction; a mismatch raises `LeaseLost` and writes nothing.
- Event `seq` is allocated from `jobs.event_seq` under the job's row lock, so worker appends
  and operator appends never collide; sequences are gap-free per job.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.errors import JobNotFound, LeadershipLost, LeaseLost, StoreError
from bot.model import (
    TERMINAL,
    Appended,
    Event,
    EventKind,
    Job,
    JobStatus,
    Lease,
    OperatorAction,
    OutboxMessage,
    OutboxPost,
    Ticket,
)
from bot.store import (
    leases,
    migrate,
    one_trip,
    outbox_ops,
    reads,
    replay,
    retention,
    statements,
    transitions,
)
from bot.store.engine import READ_ONLY, make_engine
from bot.store.leases import LeaderLease
from bot.store.rows import (
    event_from_row,
    job_from_mapping,
    job_from_row,
    new_job_values,
    outbox_from_row,
    ticket_event_data,
)
from bot.store.schema import job_events, jobs
from bot.store.sqlite_append import SqliteAppend
from bot.store.wakeup import Wakeup, notify_sql

Q, R = JobStatus.QUEUED.value, JobStatus.RUNNING.value


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_job_id() -> str:
    return secrets.token_hex(6)


class Store:
    def __init__(self, url: str, *, max_attempts: int = 5, pool_size: int = 10) -> None:
        self.url = url
        self.max_attempts = max_attempts
        self.engine = make_engine(url, pool_size=pool_size)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._wakeup = Wakeup(self.engine)
        # PostgreSQL: hot-path transactions that are one statement (`one_trip`) run in
        # autocommit, saving the BEGIN and COMMIT round trips; same pool.
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # SQLite has one writer at a time, and a connection that finds the write lock taken
        # sleeps in growing steps (up to 100 ms) before trying again. Threads of this process
        # queue here instead and get the lock the moment it is free; other processes still
        # meet the busy timeout.
        self._writer: AbstractContextManager[Any] = (
            nullcontext() if self.is_postgres else threading.RLock()
        )
        self._sqlite_append = None if self.is_postgres else SqliteAppend(self.engine)

    # --- lifecycle of the store itself ------------------------------------------------------
    def upgrade(self) -> None:
        """Run Alembic migrations to head."""
        migrate.upgrade(self.engine)

    def revision(self) -> str | None:
        """The schema revision the database is at (None: empty)."""
        with self._errors():
            return migrate.current_revision(self.engine)

    def ping(self) -> None:
        """Raise StoreError when the database is unreachable."""
        with self._read() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self._wakeup.close()
        if self._sqlite_append is not None:
            self._sqlite_append.close()
        self.engine.dispose()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (sa.exc.SQLAlchemyError, sqlite3.Error) as exc:
            # sqlite3's own errors come from the append path, which runs on the driver's cursor
            detail = getattr(exc, "orig", None) or exc
            raise StoreError(
                f"database error ({self.engine.url.render_as_string()}): "
                f"{type(detail).__name__}: {str(detail).splitlines()[0] if str(detail) else ''}"
            ) from exc

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self._errors(), self._writer, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _one_statement(self) -> Iterator[sa.Connection]:
        """PostgreSQL only: a connection on which each statement is its own transaction."""
        with self._errors(), self._autocommit.connect() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        # PostgreSQL: autocommit, no BEGIN/ROLLBACK round trips. Under READ COMMITTED (ours)
        # each statement takes its own snapshot inside a transaction too, so reads see the same.
        engine = self._autocommit if self.is_postgres else self.engine
        with self._errors(), engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            yield conn

    def _lock(self, conn: sa.Connection, job_id: str) -> sa.Row[Any]:
        """The job's row, locked for the rest of the transaction (SQLite: already, by BEGIN
        IMMEDIATE)."""
        row = conn.execute(
            sa.select(jobs).where(jobs.c.id == job_id).with_for_update()
        ).one_or_none()
        if row is None:
            raise JobNotFound(job_id)
        return row

    def _notify(self, conn: sa.Connection) -> None:
        if self.is_postgres:
            conn.execute(notify_sql())

    # --- submission and reads ---------------------------------------------------------------
    def submit(
        self,
        ticket: Ticket,
        *,
        key: str | None = None,
        posts: Callable[[Job], Sequence[OutboxPost]] | None = None,
    ) -> tuple[Job, bool]:
        """Create a queued job with a `ticket_received` event; idempotent on `key`.
        `posts` names the job's first outbox rows, committed with it (it may be called for a
        key that turns out to be taken; nothing it names is then written). Returns
        (job, created)."""
        if not ticket.text.strip():
            raise StoreError("a ticket needs text: say what is wrong")
        # No look-up first: a new key is the common case, and the unique index settles a
        # redelivery (below) in the same round trip.
        now = utcnow()
        job_id = new_job_id()
        values = new_job_values(ticket, job_id, key, self.max_attempts, now)
        if self.is_postgres:
            created = self._submit_one_statement(ticket, key, values, posts)
        else:
            created = self._submit_transaction(ticket, key, values, posts)
        if created is None:
            # The key exists (a redelivery, or a concurrent submit won the race): that is the job.
            if key is not None and (existing := self.find_by_key(key)) is not None:
                return existing, False
            raise StoreError(f"submit of {key!r} wrote nothing and found no job with that key")
        self._wakeup.poke()
        return created, True

    def _submit_one_statement(
        self,
        ticket: Ticket,
        key: str | None,
        values: dict[str, Any],
        posts: Callable[[Job], Sequence[OutboxPost]] | None,
    ) -> Job | None:
        """PostgreSQL: job, event, outbox rows and the wake-up in one round trip. None: the
        key was taken, nothing written."""
        # The first posts are built from the job before it exists (its row is all known here),
        # so they travel in the same statement; a failure to build them writes nothing.
        job = job_from_mapping({c.name: None for c in jobs.c} | values)
        rows = [
            {"key": p.key, "method": p.method, "payload": p.payload, "purpose": p.purpose}
            for p in (posts(job) if posts else ())
        ]
        previous = None
        if ticket.parent_job_id:
            with self._read() as conn:
                previous = self._last_handoff(conn, ticket)
        params = {f"j_{c}": values[c] for c in one_trip.NEW_JOB_COLUMNS}
        params["b_data"] = ticket_event_data(ticket, key, previous)
        params["b_posts"] = rows
        with self._one_statement() as conn:
            row = conn.execute(one_trip.SUBMIT, params).one_or_none()
        return None if row is None else job_from_row(row)

    def _submit_transaction(
        self,
        ticket: Ticket,
        key: str | None,
        values: dict[str, Any],
        posts: Callable[[Job], Sequence[OutboxPost]] | None,
    ) -> Job | None:
        job_id, now = values["id"], values["created_at"]
        try:
            with self._write() as conn:
                row = conn.execute(statements.INSERT_JOB, values).one()
                data = ticket_event_data(ticket, key, self._last_handoff(conn, ticket))
                first = {"job_id": job_id, "seq": 1, "at": now, "kind": "ticket_received"}
                conn.execute(statements.INSERT_EVENT, first | {"data": data})
                for post in posts(job_from_row(row)) if posts else ():
                    outbox_ops.put(conn, post.key, post.method, post.payload, job_id, post.purpose)
                self._notify(conn)
        except StoreError as exc:
            if key is not None and isinstance(exc.__cause__, sa.exc.IntegrityError):
                return None
            raise
        return job_from_row(row)

    def _last_handoff(self, conn: sa.Connection, ticket: Ticket) -> dict[str, Any] | None:
        if not ticket.parent_job_id:
            return None
        found = reads.events(conn, ticket.parent_job_id, 0, ["handoff"])
        return dict(found[-1].data) if found else None

    def get(self, job_id: str) -> Job:
        """Raises JobNotFound."""
        with self._read() as conn:
            row = reads.job(conn, job_id)
        if row is None:
            raise JobNotFound(job_id)
        return job_from_row(row)

    def find_by_key(self, key: str) -> Job | None:
        with self._read() as conn:
            row = reads.job_by_key(conn, key)
        return None if row is None else job_from_row(row)

    def attach_thread(self, job_id: str, thread_ts: str) -> bool:
        """Record the Slack thread of a job that started without one (an alert's job: its
        thread is the bot's own first post). Only ever set once; True if this call set it."""
        with self._write() as conn:
            changed = conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == job_id, jobs.c.thread_ts.is_(None))
                .values(thread_ts=thread_ts)
            ).rowcount
        return bool(changed)

    def find_by_thread(self, channel: str, thread_ts: str) -> list[Job]:
        """Jobs whose ticket lives in that Slack thread, newest first."""
        with self._read() as conn:
            return [job_from_row(r) for r in reads.jobs_in_thread(conn, channel, thread_ts)]

    def list_jobs(
        self,
        *,
        status: JobStatus | None = None,
        limit: int = 100,
        tenant: str | None = None,
        verdict: str | None = None,
        text_contains: str | None = None,
    ) -> list[Job]:
        """Newest first; `text_contains` matches the ticket text, case-insensitively."""
        with self._read() as conn:
            rows = reads.recent_jobs(
                conn, status, limit, tenant, verdict=verdict, text_contains=text_contains
            )
            return [job_from_row(r) for r in rows]

    def jobs_changed_since(self, since: datetime, statuses: tuple[JobStatus, ...]) -> list[Job]:
        """Jobs now in one of `statuses` whose row changed after `since`, oldest change first;
        a job that holds nothing but its ticket is not among them."""
        with self._read() as conn:
            return [job_from_row(r) for r in reads.changed_since(conn, since, statuses)]

    def events(
        self, job_id: str, *, after_seq: int = 0, kinds: list[str] | None = None
    ) -> list[Event]:
        with self._read() as conn:
            return [event_from_row(r) for r in reads.events(conn, job_id, after_seq, kinds)]

    def tenant_model_responses(self, tenant: str, since: datetime) -> list[Event]:
        """The tenant's model responses since `since`, every job (`bot.agent.spend`)."""
        with self._read() as conn:
            return [event_from_row(r) for r in reads.tenant_model_responses(conn, tenant, since)]

    def counts_by_status(self) -> dict[JobStatus, int]:
        with self._read() as conn:
            return reads.counts_by_status(conn)

    def oldest_queued_age_seconds(self) -> float | None:
        with self._read() as conn:
            oldest = reads.oldest_queued(conn)
        return None if oldest is None else max(0.0, (utcnow() - oldest).total_seconds())

    def oldest_waiting_human_seconds(self) -> float | None:
        with self._read() as conn:
            oldest = reads.oldest_waiting_human(conn)
        return None if oldest is None else max(0.0, (utcnow() - oldest).total_seconds())

    def outbox_backlog(self) -> tuple[int, float | None]:
        """Unsent outbox posts and the oldest one's age in seconds."""
        with self._read() as conn:
            count, oldest = reads.outbox_backlog(conn)
        age = None if oldest is None else max(0.0, (utcnow() - oldest).total_seconds())
        return count, age

    # --- workers ----------------------------------------------------------------------------
    def claim(self, owner: str, *, lease_ttl: float) -> tuple[Job, Lease] | None:
        """Take the oldest queued job: status running, attempts+1, fence+1, lease set,
        `claimed` event (and `resumed` when the job was claimed before). SKIP LOCKED on
        PostgreSQL; on SQLite the transaction holds the only write lock."""
        claimed = self.claim_batch(owner, lease_ttl=lease_ttl, limit=1)
        return (claimed[0][0], claimed[0][1]) if claimed else None

    def claim_with_history(
        self, owner: str, *, lease_ttl: float
    ) -> tuple[Job, Lease, list[Event]] | None:
        """`claim`, plus the job's whole event log read in the same transaction (what a worker
        hands its handler), saving a round trip per job."""
        claimed = self.claim_batch(owner, lease_ttl=lease_ttl, limit=1)
        return claimed[0] if claimed else None

    def claim_batch(
        self, owner: str, *, lease_ttl: float, limit: int
    ) -> list[tuple[Job, Lease, list[Event]]]:
        """Claim up to `limit` of the oldest queued jobs at once (a worker with that many idle
        slots), each as `claim_with_history`, oldest first; [] when none is queued.

        PostgreSQL: one statement, one round trip: each job's claim, its events and its log
        read back (`one_trip.CLAIM`); rows another claimer holds are skipped, never shared.
        SQLite: one write transaction, a claim and a log read per job."""
        if limit < 1:
            return []
        if self.is_postgres:
            return self._claim_one_statement(owner, lease_ttl, limit)
        with self._write() as conn:
            return self._claim_sqlite(conn, owner, lease_ttl, limit)

    def _claim_sqlite(
        self, conn: sa.Connection, owner: str, lease_ttl: float, limit: int
    ) -> list[tuple[Job, Lease, list[Event]]]:
        out: list[tuple[Job, Lease, list[Event]]] = []
        for _ in range(limit):
            claimed = self._claim(conn, owner, lease_ttl)
            if claimed is None:
                break
            job, lease = claimed
            rows = conn.execute(
                sa.select(job_events)
                .where(job_events.c.job_id == job.id)
                .order_by(job_events.c.seq)
            )
            out.append((job, lease, [event_from_row(r) for r in rows]))
        return out

    def _claim_one_statement(
        self, owner: str, lease_ttl: float, limit: int
    ) -> list[tuple[Job, Lease, list[Event]]]:
        now = utcnow()
        expires = now + timedelta(seconds=lease_ttl)
        with self._one_statement() as conn:
            rows = conn.execute(
                one_trip.CLAIM, one_trip.claim_params(owner, limit, now, expires)
            ).all()
        return one_trip.split_rows(list(rows), owner, expires)[1]

    def _claim(self, conn: sa.Connection, owner: str, lease_ttl: float) -> tuple[Job, Lease] | None:
        now = utcnow()
        expires = now + timedelta(seconds=lease_ttl)
        row = conn.execute(
            statements.CLAIM, {"b_owner": owner, "b_exp": expires, "b_now": now}
        ).one_or_none()
        if row is None:
            return None
        job = job_from_row(row)
        claimed = {
            "worker": owner,
            "fence": job.fence,
            "attempt": job.attempts,
            "lease_expires_at": expires.isoformat(),
        }
        kinds: list[tuple[str, dict[str, Any]]] = [
            ("status_changed", {"from": Q, "to": R, "by": owner}),
            ("claimed", claimed),
        ]
        if job.fence > 1:
            kinds.append(
                ("resumed", {"worker": owner, "fence": job.fence, "attempt": job.attempts})
            )
        first = job.event_count - len(kinds) + 1
        conn.execute(
            sa.insert(job_events),
            [
                {"job_id": job.id, "seq": first + i, "at": now, "kind": k, "data": d}
                for i, (k, d) in enumerate(kinds)
            ],
        )
        return job, Lease(job_id=job.id, fence=job.fence, owner=owner, expires_at=expires)

    def _fenced(self, lease: Lease) -> sa.ColumnElement[bool]:
        return sa.and_(
            jobs.c.id == lease.job_id,
            jobs.c.fence == lease.fence,
            jobs.c.lease_owner == lease.owner,
            jobs.c.status == R,
        )

    def renew(self, lease: Lease, *, lease_ttl: float) -> Lease:
        """Extend the lease. Raises LeaseLost."""
        expires = utcnow() + timedelta(seconds=lease_ttl)
        with self._write() as conn:
            n = conn.execute(
                sa.update(jobs).where(self._fenced(lease)).values(lease_expires_at=expires)
            ).rowcount
        if n != 1:
            raise LeaseLost(lease.job_id, lease.fence)
        return Lease(job_id=lease.job_id, fence=lease.fence, owner=lease.owner, expires_at=expires)

    def append(self, lease: Lease, kind: EventKind, data: dict[str, Any] | None = None) -> Event:
        """Fenced append, committed on return. Raises LeaseLost."""
        return self.append_batch(lease, [(kind, {} if data is None else data)]).events[0]

    def append_batch(
        self,
        lease: Lease,
        items: Sequence[tuple[EventKind, dict[str, Any]]],
        *,
        lease_ttl: float | None = None,
    ) -> Appended:
        """Fenced append of `items` in one commit, in order. With `lease_ttl` the same statement
        holds the lease for that long from now; either way it reads the operator's pending
        request, as `control` would. Raises LeaseLost."""
        now = utcnow()
        expires = now + timedelta(seconds=lease_ttl) if lease_ttl is not None else None
        bump = {
            "b_id": lease.job_id,
            "b_fence": lease.fence,
            "b_owner": lease.owner,
            "b_now": now,
            "b_n": len(items),
            "b_exp": expires,
        }
        row: Any  # (last seq, control), None when the fence no longer holds
        if self.is_postgres:
            rows = [{"ord": i + 1, "kind": k, "data": d} for i, (k, d) in enumerate(items)]
            with self._one_statement() as conn:
                row = conn.execute(one_trip.APPEND, {**bump, "b_events": rows}).one_or_none()
        else:
            assert self._sqlite_append is not None
            new = [{"job_id": lease.job_id, "at": now, "kind": k, "data": d} for k, d in items]
            with self._errors(), self._writer:
                row = self._sqlite_append(bump, new)
        if row is None:
            raise LeaseLost(lease.job_id, lease.fence)
        last, control = row
        first = last - len(items) + 1
        events = [
            Event(job_id=lease.job_id, seq=first + i, at=now, kind=k, data=d)
            for i, (k, d) in enumerate(items)
        ]
        held = lease if expires is None else replace(lease, expires_at=expires)
        return Appended(events=events, control=control, lease=held)

    def control(self, lease: Lease) -> str | None:
        """The pending operator request ('pause' | 'cancel') for a running job, or None.
        Raises LeaseLost."""
        with self._read() as conn:
            row = conn.execute(sa.select(jobs.c.control).where(self._fenced(lease))).one_or_none()
        if row is None:
            raise LeaseLost(lease.job_id, lease.fence)
        return row[0]  # type: ignore[no-any-return]

    def finish(
        self,
        lease: Lease,
        status: JobStatus,
        *,
        verdict: str | None = None,
        error: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> Job:
        """Leave `running` for succeeded | escalated | failed | cancelled | waiting_human |
        paused | queued (release on shutdown), clearing the lease. Fenced.

        A release to queued while an operator's pause/cancel is pending honours the operator.
        `attempts` counts lost leases and crashes only: leaving running cleanly for queued,
        paused or waiting_human gives back the attempt the claim took, so pauses, answers and
        approvals never bring a job closer to "its workers kept dying"."""
        status = JobStatus(status)
        if status == JobStatus.RUNNING:
            raise ValueError("finish() leaves running; pass the status the job moves to")
        now = utcnow()
        data = self._finish_event(lease, status, verdict, error, reason)
        if status != JobStatus.QUEUED:
            if self.is_postgres:
                params = one_trip.leave_params(lease, status, verdict, error, data, now)
                with self._one_statement() as conn:
                    rows = conn.execute(one_trip.LEAVE_RUNNING, params).all()
                finished, _ = one_trip.split_rows(list(rows), lease.owner, now)
            else:
                with self._write() as conn:
                    finished = self._leave_running(conn, lease, status, verdict, error, data, now)
            if finished is None:
                raise LeaseLost(lease.job_id, lease.fence)
            return finished
        try:
            with self._write() as conn:
                row = conn.execute(
                    sa.select(jobs.c.control, jobs.c.attempts)
                    .where(self._fenced(lease))
                    .with_for_update()
                ).one_or_none()
                if row is None:
                    raise LeaseLost(lease.job_id, lease.fence)
                pending, attempts = row
                if pending:
                    status = transitions.CONTROL_TARGET[pending]
                    data["to"] = status.value
                    data["reason"] = f"{reason or 'released'}; operator {pending} was pending"
                values = transitions.leave_running_values(status, verdict, error)
                values["attempts"] = max(0, attempts - 1)
                if status == JobStatus.QUEUED:
                    self._notify(conn)
                new, _ = transitions.write_status(conn, lease.job_id, values, now, [data])
        except LeaseLost:
            raise LeaseLost(lease.job_id, lease.fence) from None
        if status == JobStatus.QUEUED:
            self._wakeup.poke()
        return new

    def finish_and_claim(
        self,
        lease: Lease,
        status: JobStatus,
        *,
        verdict: str | None = None,
        error: dict[str, Any] | None = None,
        reason: str | None = None,
        lease_ttl: float,
        limit: int = 1,
    ) -> tuple[Job, list[tuple[Job, Lease, list[Event]]]]:
        """`finish` (to any status but queued), then `claim_batch` for the same owner, in one
        transaction (on PostgreSQL one statement, one round trip): a worker thread whose job
        just ended takes its next one at once. Raises LeaseLost, and then claims nothing."""
        status = JobStatus(status)
        if status in (JobStatus.RUNNING, JobStatus.QUEUED):
            raise ValueError("finish_and_claim() ends a run; release to queued with finish()")
        now = utcnow()
        expires = now + timedelta(seconds=lease_ttl)
        data = self._finish_event(lease, status, verdict, error, reason)
        if self.is_postgres:
            params = one_trip.leave_params(lease, status, verdict, error, data, now)
            params |= one_trip.claim_params(lease.owner, limit, now, expires)
            with self._one_statement() as conn:
                rows = conn.execute(one_trip.FINISH_AND_CLAIM, params).all()
            finished, claimed = one_trip.split_rows(list(rows), lease.owner, expires)
        else:
            with self._write() as conn:
                finished = self._leave_running(conn, lease, status, verdict, error, data, now)
                claimed = (
                    []
                    if finished is None
                    else self._claim_sqlite(conn, lease.owner, lease_ttl, limit)
                )
        if finished is None:
            raise LeaseLost(lease.job_id, lease.fence)
        return finished, claimed

    @staticmethod
    def _finish_event(
        lease: Lease,
        status: JobStatus,
        verdict: str | None,
        error: dict[str, Any] | None,
        reason: str | None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"from": R, "to": status.value, "by": lease.owner}
        for k, v in (("reason", reason), ("verdict", verdict), ("error", error)):
            if v is not None:
                data[k] = v
        return data

    def _leave_running(
        self,
        conn: sa.Connection,
        lease: Lease,
        status: JobStatus,
        verdict: str | None,
        error: dict[str, Any] | None,
        data: dict[str, Any],
        now: datetime,
    ) -> Job | None:
        """SQLite: one fenced UPDATE ... RETURNING plus the event insert. None: lease lost."""
        values = transitions.leave_running_values(status, verdict, error)
        if status in transitions.GIVES_BACK_ATTEMPT:
            values["attempts"] = jobs.c.attempts - 1  # running: at least 1
        try:
            new, _ = transitions.write_status(
                conn, lease.job_id, values, now, [data], guard=self._fenced(lease)
            )
        except LeaseLost:
            return None
        return new

    def reap(self, *, now: datetime | None = None) -> list[str]:
        """Expired leases → `interrupted` event, then queued, or failed after max_attempts.
        Returns the affected job ids."""
        now = now or utcnow()
        requeued = False
        reaped: list[str] = []
        with self._write() as conn:
            rows = conn.execute(
                sa.select(jobs)
                .where(jobs.c.status == R, jobs.c.lease_expires_at < now)
                .order_by(jobs.c.lease_expires_at)
                .limit(100)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                job = job_from_row(row)
                status, values, data = transitions.reap_outcome(job)
                requeued |= status == JobStatus.QUEUED
                interrupted = {
                    "worker": job.lease_owner,
                    "fence": job.fence,
                    "attempt": job.attempts,
                    "lease_expired_at": job.lease_expires_at.isoformat()
                    if job.lease_expires_at
                    else None,
                }
                transitions.write_status(
                    conn, job.id, values, now, [data], first=("interrupted", interrupted)
                )
                reaped.append(job.id)
            if requeued:
                self._notify(conn)
        if requeued:
            self._wakeup.poke()
        return reaped

    def wait_for_work(self, timeout: float) -> None:
        """Block until a job may be available (LISTEN/NOTIFY on PostgreSQL) or timeout."""
        self._wakeup.wait(timeout)

    # --- humans -----------------------------------------------------------------------------
    def operator(
        self,
        job_id: str,
        action: OperatorAction,
        *,
        by: str,
        reason: str,
        from_start: bool = False,
    ) -> Job:
        """Audited operator action. Running jobs: pause/cancel set `control` and take effect at
        the next step boundary. `from_start` (retry only): the new run discards the old steps.
        Raises JobNotFound, IllegalTransition."""
        action = OperatorAction(action)
        with self._write() as conn:
            job = job_from_row(self._lock(conn, job_id))
            values, audit, change = transitions.operator_plan(
                job, action, by=by, reason=reason, from_start=from_start
            )
            new, _ = transitions.write_status(
                conn,
                job_id,
                values,
                utcnow(),
                [change] if change else [],
                first=("operator_action", audit),
            )
            if new.status == JobStatus.QUEUED:
                self._notify(conn)
        if new.status == JobStatus.QUEUED:
            self._wakeup.poke()
        return new

    def human_event(self, job_id: str, kind: str, data: dict[str, Any], *, requeue: bool) -> Event:
        """Append an event on behalf of a human (answer, approval, feedback, refusal audit);
        with `requeue`, move a waiting_human job back to queued in the same transaction."""
        with self._write() as conn:
            job = job_from_row(self._lock(conn, job_id))
            changes: list[dict[str, Any]] = []
            values: dict[str, Any] = {}
            if requeue and job.status == JobStatus.WAITING_HUMAN:
                values = {"status": Q}
                changes.append({"from": job.status.value, "to": Q, "reason": kind})
            _, written = transitions.write_status(
                conn, job_id, values, utcnow(), changes, first=(kind, data)
            )
            if changes:
                self._notify(conn)
        if changes:
            self._wakeup.poke()
        return written[0]

    def record(self, job_id: str, kind: str, data: dict[str, Any]) -> Event:
        """Append an event about the job from outside its run (the outbox sender's `paged`)
        without touching `updated_at`: watchers keyed on it (bot/slack/stopped.py) must not
        take the note for a change of the job."""
        with self._write() as conn:
            now = utcnow()
            seq = conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == job_id)
                .values(event_seq=jobs.c.event_seq + 1, last_event_at=now)
                .returning(jobs.c.event_seq)
            ).scalar_one_or_none()
            if seq is None:
                raise JobNotFound(job_id)
            conn.execute(
                sa.insert(job_events).values(job_id=job_id, seq=seq, at=now, kind=kind, data=data)
            )
        return Event(job_id=job_id, seq=int(seq), at=now, kind=kind, data=data)

    # --- outbox -----------------------------------------------------------------------------
    def outbox_put(
        self,
        key: str,
        method: str,
        payload: dict[str, Any],
        *,
        job_id: str | None = None,
        purpose: str = "",
        lease: Lease | None = None,
    ) -> bool:
        """Insert once per key (fenced when a lease is given). Returns False if it existed."""
        with self._write() as conn:
            if lease is not None:
                held = conn.execute(
                    sa.update(jobs).where(self._fenced(lease)).values(updated_at=utcnow())
                ).rowcount
                if held != 1:
                    raise LeaseLost(lease.job_id, lease.fence)
            return outbox_ops.put(conn, key, method, payload, job_id, purpose)

    def outbox_put_all(self, posts: Sequence[OutboxPost], *, job_id: str | None = None) -> int:
        """Insert several rows in one transaction (all or none), each once per key. Returns
        how many were new."""
        with self._write() as conn:
            return sum(
                outbox_ops.put(conn, p.key, p.method, p.payload, job_id, p.purpose) for p in posts
            )

    def outbox_with_prefix(self, prefix: str) -> list[OutboxMessage]:
        """Rows whose key starts with `prefix`, oldest first."""
        with self._read() as conn:
            return [outbox_from_row(r) for r in outbox_ops.with_prefix(conn, prefix)]

    def outbox_failed_since(self, purpose: str, since: datetime) -> list[OutboxMessage]:
        """Rows of `purpose` (e.g. "page") that failed for good after `since`, newest first."""
        with self._read() as conn:
            return [outbox_from_row(r) for r in outbox_ops.failed_since(conn, purpose, since)]

    def outbox_due(self, *, limit: int = 50, now: datetime | None = None) -> list[OutboxMessage]:
        """Pending rows whose not_before has passed, plus rows left 'sending' (to verify)."""
        with self._read() as conn:
            return [outbox_from_row(r) for r in outbox_ops.due(conn, limit, now or utcnow())]

    def outbox_mark(
        self,
        key: str,
        state: str,
        *,
        ts: str | None = None,
        channel: str | None = None,
        not_before: datetime | None = None,
        error: str | None = None,
        leader: LeaderLease | None = None,
    ) -> None:
        """Move a row along. With `leader`, fenced: raises LeadershipLost (writing nothing)
        unless that sender lease still holds."""
        now = utcnow()
        if self.is_postgres:  # twice per Slack post: one round trip each
            params = one_trip.mark_params(key, state, ts, channel, not_before, error, now)
            with self._one_statement() as conn:
                if leader is None:
                    conn.execute(one_trip.MARK, params)
                    return
                params |= {
                    "b_name": leader.name,
                    "b_holder": leader.holder,
                    "b_token": leader.token,
                }
                if not conn.execute(one_trip.MARK_FENCED, params).scalar():
                    raise LeadershipLost(leader.name, leader.holder, leader.token)
            return
        with self._write() as conn:
            if leader is not None:
                leases.check(conn, leader, now)
            outbox_ops.mark(conn, key, state, ts, channel, not_before, error, now)

    def outbox_get(self, key: str) -> OutboxMessage | None:
        with self._read() as conn:
            row = outbox_ops.get(conn, key)
        return None if row is None else outbox_from_row(row)

    # --- leader leases (one outbox sender among several bots) -----------------------------
    def leader_acquire(self, name: str, holder: str, *, ttl: float) -> LeaderLease | None:
        """Take `name` if it is free or expired (a new fencing token). None: it is held."""
        with self._write() as conn:
            return leases.acquire(conn, name, holder, ttl, utcnow())

    def leader_renew(self, lease: LeaderLease, *, ttl: float) -> LeaderLease:
        """Extend the lease. Raises LeadershipLost when it expired or changed hands."""
        with self._write() as conn:
            return leases.renew(conn, lease, ttl, utcnow())

    def leader_release(self, lease: LeaderLease) -> None:
        """Give the lease up (clean shutdown); a no-op if it already changed hands."""
        with self._write() as conn:
            leases.release(conn, lease)

    def leader_current(self, name: str) -> tuple[str | None, int, datetime] | None:
        """(holder, token, expires_at) of `name`; None if never held."""
        with self._read() as conn:
            return leases.current(conn, name)

    def remember_signature(self, signature: str, expires_at: datetime) -> bool:
        """Record an accepted request signature until `expires_at`. False: it was seen before
        (a replay), by this process or any other sharing the database."""
        if self.is_postgres:  # on the Slack ack path: one round trip
            params = {"b_sig": signature, "b_exp": expires_at, "b_now": utcnow()}
            with self._one_statement() as conn:
                return conn.execute(one_trip.REMEMBER_SIGNATURE, params).first() is not None
        with self._write() as conn:
            return replay.remember(conn, signature, expires_at, utcnow())

    # --- retention --------------------------------------------------------------------------
    def prune_plan(self, cutoff: datetime) -> retention.PruneReport:
        """What `prune(cutoff)` would delete; changes nothing."""
        with self._read() as conn:
            return retention.plan(conn, cutoff)

    def prune(self, cutoff: datetime, *, actor: str) -> retention.PruneReport:
        """Delete terminal jobs finished before `cutoff` (with their events and outbox rows)
        and record who did it in `audit_log`, in one transaction."""
        with self._write() as conn:
            return retention.delete(conn, cutoff, actor, utcnow())

    def audit_records(self, *, limit: int = 50) -> list[dict[str, Any]]:
        with self._read() as conn:
            return retention.records(conn, limit)


__all__ = ["TERMINAL", "Store", "new_job_id", "utcnow"]
