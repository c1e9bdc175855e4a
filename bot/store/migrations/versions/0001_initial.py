"""jobs, job_events, outbox

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import JSONData, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
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
    )
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created_at"])
    op.create_index("ix_jobs_thread", "jobs", ["channel", "thread_ts"])
    op.create_table(
        "job_events",
        sa.Column(
            "job_id",
            sa.String(16),
            sa.ForeignKey("jobs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("data", JSONData, nullable=False),
    )
    op.create_table(
        "outbox",
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
    )
    op.create_index("ix_outbox_state", "outbox", ["state", "not_before"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("job_events")
    op.drop_table("jobs")
