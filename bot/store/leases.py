"""Leader leases: one holder per name, elected through the database, with a fencing token.

A name (today only `outbox-sender`) has one row. A process takes it when it is free or expired,
which bumps `token`; it keeps it by renewing before `expires_at`; it gives it up on a clean
shutdown so the next holder need not wait out the TTL. Every write the holder makes in its
role first checks, in the same transaction, that (holder, token) still own an unexpired row
(`check`): a process paused past its lease, or cut off from the database, writes nothing once
another has taken over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.errors import LeadershipLost
from bot.store.schema import leader_leases

SENDER = "outbox-sender"
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class LeaderLease:
    name: str
    holder: str
    token: int
    expires_at: datetime


def acquire(
    conn: sa.Connection, name: str, holder: str, ttl: float, now: datetime
) -> LeaderLease | None:
    """Take `name` if it is free or its lease has expired. None: someone else holds it."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        insert(leader_leases)
        .values(name=name, holder=None, token=0, expires_at=_NEVER)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    expires = now + timedelta(seconds=ttl)
    # PostgreSQL re-checks the WHERE after a concurrent taker commits, so of two processes
    # racing for an expired row exactly one matches; SQLite has one writer at a time anyway.
    taken = conn.execute(
        sa.update(leader_leases)
        .where(
            leader_leases.c.name == name,
            sa.or_(leader_leases.c.holder.is_(None), leader_leases.c.expires_at <= now),
        )
        .values(holder=holder, token=leader_leases.c.token + 1, expires_at=expires)
    ).rowcount
    if taken != 1:
        return None
    token = conn.execute(
        sa.select(leader_leases.c.token).where(leader_leases.c.name == name)
    ).scalar_one()
    return LeaderLease(name=name, holder=holder, token=int(token), expires_at=expires)


def _owned(lease: LeaderLease, now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        leader_leases.c.name == lease.name,
        leader_leases.c.holder == lease.holder,
        leader_leases.c.token == lease.token,
        leader_leases.c.expires_at > now,
    )


def renew(conn: sa.Connection, lease: LeaderLease, ttl: float, now: datetime) -> LeaderLease:
    """Extend an unexpired lease. Raises LeadershipLost when it expired or changed hands."""
    expires = now + timedelta(seconds=ttl)
    n = conn.execute(
        sa.update(leader_leases).where(_owned(lease, now)).values(expires_at=expires)
    ).rowcount
    if n != 1:
        raise LeadershipLost(lease.name, lease.holder, lease.token)
    return LeaderLease(lease.name, lease.holder, lease.token, expires)


def check(conn: sa.Connection, lease: LeaderLease, now: datetime) -> None:
    """The fence: raise LeadershipLost unless `lease` still holds. The row is share-locked
    (PostgreSQL) until the caller's transaction ends, so a taker waits for the write to commit."""
    held = conn.execute(
        sa.select(leader_leases.c.token).where(_owned(lease, now)).with_for_update(read=True)
    ).one_or_none()
    if held is None:
        raise LeadershipLost(lease.name, lease.holder, lease.token)


def release(conn: sa.Connection, lease: LeaderLease) -> None:
    """Give the lease up now (a clean shutdown) so the next holder takes over at once."""
    conn.execute(
        sa.update(leader_leases)
        .where(
            leader_leases.c.name == lease.name,
            leader_leases.c.holder == lease.holder,
            leader_leases.c.token == lease.token,
        )
        .values(holder=None, expires_at=_NEVER)
    )


def current(conn: sa.Connection, name: str) -> tuple[str | None, int, datetime] | None:
    """(holder, token, expires_at) of `name`, or None if no one ever held it."""
    row = conn.execute(sa.select(leader_leases).where(leader_leases.c.name == name)).one_or_none()
    return None if row is None else (row.holder, int(row.token), row.expires_at)
