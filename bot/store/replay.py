"""Queries for `seen_signatures`: remember each accepted Slack signature until it expires."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.schema import seen_signatures

_FORGET = sa.delete(seen_signatures).where(seen_signatures.c.expires_at < sa.bindparam("b_now"))
_REMEMBER = {
    name: dialect.insert(seen_signatures)
    .on_conflict_do_nothing(index_elements=["signature"])
    .returning(seen_signatures.c.signature)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def remember(conn: sa.Connection, signature: str, expires_at: datetime, now: datetime) -> bool:
    """Record `signature`; False if it is already recorded and unexpired. Expired rows are
    dropped first, so the table holds at most five minutes of requests."""
    conn.execute(_FORGET, {"b_now": now})
    values = {"signature": signature, "expires_at": expires_at}
    return conn.execute(_REMEMBER[conn.dialect.name], values).first() is not None
