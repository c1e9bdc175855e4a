"""Statements on the hot path (append, claim), built once at import: constructing them costs
more than SQLite's commit."""

from __future__ import annotations

import sqlalchemy as sa

from bot.model import JobStatus
from bot.store.schema import job_events, jobs

Q, R = JobStatus.QUEUED.value, JobStatus.RUNNING.value

APPEND_BUMP = (
    sa.update(jobs)
    .where(
        jobs.c.id == sa.bindparam("b_id"),
        jobs.c.fence == sa.bindparam("b_fence"),
        jobs.c.lease_owner == sa.bindparam("b_owner"),
        jobs.c.status == R,
    )
    .values(
        event_seq=jobs.c.event_seq + 1,
        last_event_at=sa.bindparam("b_now", type_=jobs.c.last_event_at.type),
        updated_at=sa.bindparam("b_now", type_=jobs.c.updated_at.type),
    )
    .returning(jobs.c.event_seq)
)
INSERT_EVENT = sa.insert(job_events)
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
