"""Statements on the hot path (append, claim), built once at import: constructing them costs
more than SQLite's commit."""

from __future__ import annotations

import sqlalchemy as sa

from bot.model import JobStatus
from bot.store.schema import job_events, jobs

Q, R = JobStatus.QUEUED.value, JobStatus.RUNNING.value

# Room for `b_n` events, fenced. Each append also holds the lease for a full TTL (`b_exp`; NULL
# keeps it) and reads the operator's pending request, so a step boundary right after an append
# needs neither a renewal nor a read of its own.
APPEND_BUMP = (
    sa.update(jobs)
    .where(
        jobs.c.id == sa.bindparam("b_id"),
        jobs.c.fence == sa.bindparam("b_fence"),
        jobs.c.lease_owner == sa.bindparam("b_owner"),
        jobs.c.status == R,
    )
    .values(
        event_seq=jobs.c.event_seq + sa.bindparam("b_n", type_=sa.Integer),
        last_event_at=sa.bindparam("b_now", type_=jobs.c.last_event_at.type),
        updated_at=sa.bindparam("b_now", type_=jobs.c.updated_at.type),
        lease_expires_at=sa.func.coalesce(
            sa.bindparam("b_exp", type_=jobs.c.lease_expires_at.type), jobs.c.lease_expires_at
        ),
    )
    .returning(jobs.c.event_seq, jobs.c.control)
)
INSERT_EVENT = sa.insert(job_events)
INSERT_JOB = sa.insert(jobs).returning(*jobs.c)
_T = jobs.c.updated_at.type
CLAIM = (
    sa.update(jobs)
    .where(
        jobs.c.id
        == sa.select(jobs.c.id)
        .where(jobs.c.status == Q)
        .order_by(jobs.c.created_at, jobs.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery(),
        jobs.c.status == Q,
    )
    .values(
        status=R,
        attempts=jobs.c.attempts + 1,
        fence=jobs.c.fence + 1,
        lease_owner=sa.bindparam("b_owner"),
        lease_expires_at=sa.bindparam("b_exp", type_=_T),
        control=None,
        started_at=sa.func.coalesce(jobs.c.started_at, sa.bindparam("b_now", type_=_T)),
        updated_at=sa.bindparam("b_now", type_=_T),
        last_event_at=sa.bindparam("b_now", type_=_T),
        # claimed + status_changed, and resumed when the job was claimed before
        event_seq=jobs.c.event_seq + sa.case((jobs.c.fence > 0, 3), else_=2),
    )
    .returning(*jobs.c)
)
