"""Retention: which jobs `steadfast db prune` may delete, deleting them, and its audit record.

A job may go when it is terminal, finished before the cutoff, and owes no Slack post (an
outbox row still pending or sending would otherwise lose its job mid-delivery). Its events
and outbox rows go with it, in the same transaction, and one `audit_log` row says who pruned
how much and when; that row is the one trace the deleted jobs leave.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.model import TERMINAL, OutboxState
from bot.store.schema import audit_log, job_events, jobs, outbox

PRUNE_ACTION = "db_prune"
# Keeps each IN (...) list well under SQLite's bound-parameter limit.
_CHUNK = 500
_OWED = (OutboxState.PENDING.value, OutboxState.SENDING.value)


@dataclass(frozen=True)
class PruneReport:
    """What a prune would delete (dry run) or did delete."""

    cutoff: datetime
    job_ids: list[str]
    by_status: dict[str, int]
    events: int
    outbox: int
    # Terminal and old enough, but a Slack post is still owed: kept this time.
    kept_owing_posts: int
    deleted: bool = False
    audit: dict[str, Any] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "deleted": self.deleted,
            "jobs": len(self.job_ids),
            "by_status": self.by_status,
            "events": self.events,
            "outbox": self.outbox,
            "kept_owing_posts": self.kept_owing_posts,
            "job_ids": self.job_ids,
        }


def _old_terminal(cutoff: datetime) -> sa.ColumnElement[bool]:
    finished = sa.func.coalesce(jobs.c.finished_at, jobs.c.updated_at)
    return sa.and_(jobs.c.status.in_([s.value for s in TERMINAL]), finished < cutoff)


def _owes_post() -> sa.Exists:
    return sa.exists().where(outbox.c.job_id == jobs.c.id, outbox.c.state.in_(_OWED))


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def _count(conn: sa.Connection, table: sa.Table, ids: list[str]) -> int:
    total = 0
    for chunk in _chunks(ids):
        total += conn.execute(
            sa.select(sa.func.count()).select_from(table).where(table.c.job_id.in_(chunk))
        ).scalar_one()
    return total


def plan(conn: sa.Connection, cutoff: datetime, *, lock: bool = False) -> PruneReport:
    """The jobs a prune at `cutoff` takes, with their event and outbox row counts. `lock`
    takes their row locks (PostgreSQL), so an operator's retry cannot revive one mid-prune."""
    query = (
        sa.select(jobs.c.id, jobs.c.status)
        .where(_old_terminal(cutoff), ~_owes_post())
        .order_by(jobs.c.created_at)
    )
    if lock:
        query = query.with_for_update(of=jobs)
    rows = conn.execute(query).all()
    ids = [r.id for r in rows]
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    owing = conn.execute(
        sa.select(sa.func.count()).select_from(jobs).where(_old_terminal(cutoff), _owes_post())
    ).scalar_one()
    return PruneReport(
        cutoff=cutoff,
        job_ids=ids,
        by_status=dict(sorted(by_status.items())),
        events=_count(conn, job_events, ids),
        outbox=_count(conn, outbox, ids),
        kept_owing_posts=owing,
    )


def delete(conn: sa.Connection, cutoff: datetime, actor: str, now: datetime) -> PruneReport:
    """Delete what `plan` names and write the audit row, all in the caller's transaction."""
    report = plan(conn, cutoff, lock=True)
    for chunk in _chunks(report.job_ids):
        # Children first: SQLite enforces the foreign keys only with its pragma, so do not
        # rely on ON DELETE CASCADE.
        conn.execute(sa.delete(job_events).where(job_events.c.job_id.in_(chunk)))
        conn.execute(sa.delete(outbox).where(outbox.c.job_id.in_(chunk)))
        conn.execute(sa.delete(jobs).where(jobs.c.id.in_(chunk)))
    record = {k: v for k, v in report.as_record().items() if k not in ("deleted", "job_ids")}
    conn.execute(sa.insert(audit_log).values(at=now, actor=actor, action=PRUNE_ACTION, data=record))
    audit = {"at": now.isoformat(), "actor": actor, "action": PRUNE_ACTION, **record}
    return PruneReport(
        cutoff=report.cutoff,
        job_ids=report.job_ids,
        by_status=report.by_status,
        events=report.events,
        outbox=report.outbox,
        kept_owing_posts=report.kept_owing_posts,
        deleted=True,
        audit=audit,
    )


def records(conn: sa.Connection, limit: int) -> list[dict[str, Any]]:
    """The newest audit rows first."""
    rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)).all()
    return [
        {"id": r.id, "at": r.at.isoformat(), "actor": r.actor, "action": r.action, **r.data}
        for r in rows
    ]
