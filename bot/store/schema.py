"""Table definitions (SQLAlchemy Core). The migrations create exactly these; queries use them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zone type, so values are stored as naive UTC; the fixed-width text form
    keeps `<` comparisons (lease expiry) correct there.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONData = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

metadata = sa.MetaData()

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("idempotency_key", sa.String(255), unique=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("team", sa.String(64)),
    sa.Column("channel", sa.String(64)),
    sa.Column("ts", sa.String(32)),
    sa.Column("thread_ts", sa.String(32)),
    sa.Column("user_id", sa.String(64)),
    sa.Column("tenant", sa.String(128)),
    sa.Column("parent_job_id", sa.String(16)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("fence", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lease_owner", sa.String(255)),
    sa.Column("lease_expires_at", UTCDateTime()),
    sa.Column("control", sa.String(16)),
    sa.Column("event_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("started_at", UTCDateTime()),
    sa.Column("finished_at", UTCDateTime()),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("last_event_at", UTCDateTime()),
    sa.Column("error_kind", sa.String(64)),
    sa.Column("error_message", sa.Text),
    sa.Column("error_retryable", sa.Boolean),
    sa.Column("verdict", sa.String(32)),
    sa.Index("ix_jobs_status_created", "status", "created_at"),
    sa.Index("ix_jobs_thread", "channel", "thread_ts"),
)

job_events = sa.Table(
    "job_events",
    metadata,
    sa.Column(
        "job_id", sa.String(16), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("data", JSONData, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("job_id", sa.String(16), sa.ForeignKey("jobs.id", ondelete="CASCADE")),
    sa.Column("purpose", sa.String(64), nullable=False, server_default=""),
    sa.Column("method", sa.String(64), nullable=False),
    sa.Column("payload", JSONData, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("not_before", UTCDateTime()),
    sa.Column("ts", sa.String(32)),
    sa.Column("channel", sa.String(64)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Index("ix_outbox_state", "state", "not_before"),
)

# Signed Slack requests already accepted, kept until their timestamp leaves Slack's 5-minute
# window: a captured request replayed inside the window is refused, by every bot process.
seen_signatures = sa.Table(
    "seen_signatures",
    metadata,
    sa.Column("signature", sa.String(128), primary_key=True),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Index("ix_seen_signatures_expires", "expires_at"),
)

# One row per elected role (today only the outbox sender). `token` grows by one at every change
# of holder: the holder's writes name it, so a process that lost the lease writes nothing.
leader_leases = sa.Table(
    "leader_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(255)),
    sa.Column("token", sa.Integer, nullable=False, server_default="0"),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

# Who did what to the database itself (today: `steadfast db prune`). Operator actions on a job
# are events of that job; this table outlives the jobs it speaks of.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("data", JSONData, nullable=False),
)
