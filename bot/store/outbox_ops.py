"""Outbox queries (the Slack layer drives the state machine; this is only its storage)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.model import OutboxState
from bot.store.schema import outbox

# Built once: a statement built per call with its values in it costs SQLAlchemy a cache key
# walk and a crud pass each time, more than SQLite's own work for the row.
_PUT = {
    name: dialect.insert(outbox)
    .on_conflict_do_nothing(index_elements=["key"])
    .returning(outbox.c.key)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_MARK = sa.update(outbox).where(outbox.c.key == sa.bindparam("b_key"))
_MARK_SENDING = _MARK.values(attempts=outbox.c.attempts + 1)


def put(
    conn: sa.Connection,
    key: str,
    method: str,
    payload: dict[str, Any],
    job_id: str | None,
    purpose: str,
) -> bool:
    now = datetime.now(UTC)
    values = {
        "key": key,
        "job_id": job_id,
        "purpose": purpose,
        "method": method,
        "payload": payload,
        "state": OutboxState.PENDING.value,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }
    return conn.execute(_PUT[conn.dialect.name], values).scalar() is not None


def due(conn: sa.Connection, limit: int, now: datetime) -> list[sa.Row[Any]]:
    pending = sa.and_(
        outbox.c.state == OutboxState.PENDING.value,
        sa.or_(outbox.c.not_before.is_(None), outbox.c.not_before <= now),
    )
    query = (
        sa.select(outbox)
        .where(sa.or_(pending, outbox.c.state == OutboxState.SENDING.value))
        .order_by(outbox.c.created_at, outbox.c.key)
        .limit(limit)
    )
    return list(conn.execute(query).all())


def mark(
    conn: sa.Connection,
    key: str,
    state: str,
    ts: str | None,
    channel: str | None,
    not_before: datetime | None,
    error: str | None,
    now: datetime,
) -> None:
    state = OutboxState(state).value
    # the parameters name the columns set (beside `attempts` when sending)
    values: dict[str, Any] = {
        "b_key": key,
        "state": state,
        "updated_at": now,
        "not_before": not_before,
    }
    if ts is not None:
        values["ts"] = ts
    if channel is not None:
        values["channel"] = channel
    if error is not None:
        values["last_error"] = error
    conn.execute(_MARK_SENDING if state == OutboxState.SENDING.value else _MARK, values)


def get(conn: sa.Connection, key: str) -> sa.Row[Any] | None:
    return conn.execute(sa.select(outbox).where(outbox.c.key == key)).one_or_none()


def with_prefix(conn: sa.Connection, prefix: str) -> list[sa.Row[Any]]:
    """Rows whose key starts with `prefix` (e.g. one job's pages to one target), oldest first."""
    query = (
        sa.select(outbox)
        .where(outbox.c.key.startswith(prefix, autoescape=True))
        .order_by(outbox.c.created_at, outbox.c.key)
    )
    return list(conn.execute(query).all())


def failed_since(conn: sa.Connection, purpose: str, since: datetime) -> list[sa.Row[Any]]:
    """Rows of `purpose` that failed for good after `since`, newest first."""
    query = (
        sa.select(outbox)
        .where(
            outbox.c.purpose == purpose,
            outbox.c.state == OutboxState.FAILED.value,
            outbox.c.updated_at > since,
        )
        .order_by(outbox.c.updated_at.desc())
    )
    return list(conn.execute(query).all())
