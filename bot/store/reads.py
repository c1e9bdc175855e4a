"""Read-only job and event queries. `Store` opens the connection; these only ask."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bot.model import JobStatus
from bot.store.schema import job_events, jobs, outbox

_NEWEST_FIRST = (jobs.c.created_at.desc(), jobs.c.id.desc())


def job(conn: sa.Connection, job_id: str) -> sa.Row[Any] | None:
    return conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).one_or_none()


def job_by_key(conn: sa.Connection, key: str) -> sa.Row[Any] | None:
    return conn.execute(sa.select(jobs).where(jobs.c.idempotency_key == key)).one_or_none()


def jobs_in_thread(conn: sa.Connection, channel: str, thread_ts: str) -> list[sa.Row[Any]]:
    return list(
        conn.execute(
            sa.select(jobs)
            .where(jobs.c.channel == channel)
            .where(sa.or_(jobs.c.thread_ts == thread_ts, jobs.c.ts == thread_ts))
            .order_by(*_NEWEST_FIRST)
        )
    )


def recent_jobs(
    conn: sa.Connection,
    status: JobStatus | None,
    limit: int,
    tenant: str | None,
    *,
    verdict: str | None = None,
    text_contains: str | None = None,
) -> list[sa.Row[Any]]:
    query = sa.select(jobs).order_by(*_NEWEST_FIRST).limit(limit)
    if status is not None:
        query = query.where(jobs.c.status == JobStatus(status).value)
    if tenant is not None:
        query = query.where(jobs.c.tenant == tenant)
    if verdict is not None:
        query = query.where(jobs.c.verdict == verdict)
    if text_contains:
        # the user's text is a literal: %, _ and the escape character match only themselves
        literal = text_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(jobs.c.text.ilike(f"%{literal}%", escape="\\"))
    return list(conn.execute(query))


def changed_since(
    conn: sa.Connection, since: datetime, statuses: tuple[JobStatus, ...]
) -> list[sa.Row[Any]]:
    # A job holding only its ticket has had nothing happen to it (a backlog of fresh mentions
    # would otherwise be read whole on every pass).
    query = (
        sa.select(jobs)
        .where(
            jobs.c.status.in_([s.value for s in statuses]),
            jobs.c.updated_at > since,
            jobs.c.event_seq > 1,
        )
        .order_by(jobs.c.updated_at)
    )
    return list(conn.execute(query))


def events(
    conn: sa.Connection, job_id: str, after_seq: int, kinds: list[str] | None
) -> list[sa.Row[Any]]:
    query = (
        sa.select(job_events)
        .where(job_events.c.job_id == job_id, job_events.c.seq > after_seq)
        .order_by(job_events.c.seq)
    )
    if kinds:
        query = query.where(job_events.c.kind.in_(kinds))
    return list(conn.execute(query))


def counts_by_status(conn: sa.Connection) -> dict[JobStatus, int]:
    rows = conn.execute(sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)).all()
    counts = dict.fromkeys(JobStatus, 0)
    counts.update({JobStatus(s): n for s, n in rows})
    return counts


def oldest_queued(conn: sa.Connection) -> datetime | None:
    return _min_time(
        conn,
        sa.select(sa.func.min(jobs.c.created_at)).where(jobs.c.status == JobStatus.QUEUED.value),
    )


def oldest_waiting_human(conn: sa.Connection) -> datetime | None:
    """When the longest-waiting job entered waiting_human (its row last changed then)."""
    return _min_time(
        conn,
        sa.select(sa.func.min(jobs.c.updated_at)).where(
            jobs.c.status == JobStatus.WAITING_HUMAN.value
        ),
    )


def outbox_backlog(conn: sa.Connection) -> tuple[int, datetime | None]:
    """Unsent posts (pending or sending) and when the oldest was written."""
    unsent = outbox.c.state.in_(["pending", "sending"])
    count = conn.execute(sa.select(sa.func.count()).where(unsent)).scalar() or 0
    return int(count), _min_time(conn, sa.select(sa.func.min(outbox.c.created_at)).where(unsent))


def _min_time(conn: sa.Connection, query: sa.Select[Any]) -> datetime | None:
    oldest = conn.execute(query).scalar()
    if oldest is None or oldest.tzinfo is not None:
        return oldest
    # aggregate results bypass the column type on SQLite
    parsed = datetime.fromisoformat(oldest) if isinstance(oldest, str) else oldest
    return parsed.replace(tzinfo=UTC)


def tenant_model_responses(conn: sa.Connection, tenant: str, since: datetime) -> list[sa.Row[Any]]:
    """Model responses recorded since `since` for the tenant's jobs (the daily budget)."""
    query = (
        sa.select(job_events)
        .join(jobs, jobs.c.id == job_events.c.job_id)
        .where(jobs.c.tenant == tenant, job_events.c.kind == "model_response")
        .where(job_events.c.at >= since)
    )
    return list(conn.execute(query))
