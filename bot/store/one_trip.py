"""PostgreSQL: the hot-path transactions as one statement each, sent on an autocommit
connection, so each is one round trip and one commit instead of BEGIN, a statement per row
and COMMIT.

The row change and the events (and outbox rows) it writes are sub-statements of one
data-modifying `WITH`: PostgreSQL runs them as one statement, so they commit together or not at
all, exactly as the multi-statement transactions they replace (which SQLite still runs: there a
statement costs no round trip). Event `seq`s are still taken from `jobs.event_seq`, bumped by the
same UPDATE that holds the job's row lock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from bot.model import Event, JobStatus
from bot.store.schema import UTCDateTime, job_events, jobs, outbox, seen_signatures
from bot.store.wakeup import CHANNEL

Q, R = JobStatus.QUEUED.value, JobStatus.RUNNING.value
JSONB = postgresql.JSONB()
_T = UTCDateTime()

# Up to :b_limit oldest queued jobs, each: running, attempts+1, fence+1, lease set, and its
# `status_changed` + `claimed` (+ `resumed` when it was claimed before) events; returns each
# job's row and its whole event log (the rows already there, plus the ones written here, which
# this statement's snapshot cannot read back from the table).
CLAIM = (
    sa.text(
        f"""
WITH picked AS (
    SELECT id FROM jobs
    WHERE status = '{Q}'
    ORDER BY created_at, id
    LIMIT :b_limit
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE jobs AS j SET
        status = '{R}',
        attempts = j.attempts + 1,
        fence = j.fence + 1,
        lease_owner = :b_owner,
        lease_expires_at = :b_exp,
        control = NULL,
        started_at = coalesce(j.started_at, :b_now),
        updated_at = :b_now,
        last_event_at = :b_now,
        event_seq = j.event_seq + CASE WHEN j.fence > 0 THEN 3 ELSE 2 END
    FROM picked
    WHERE j.id = picked.id AND j.status = '{Q}'
    RETURNING j.*
), fresh AS (
    SELECT c.id AS job_id, c.event_seq - e.back AS seq, e.kind, e.data
    FROM claimed AS c
    CROSS JOIN LATERAL (VALUES
        (CASE WHEN c.fence > 1 THEN 2 ELSE 1 END, 'status_changed',
         jsonb_build_object('from', '{Q}', 'to', '{R}', 'by', CAST(:b_owner AS text))),
        (CASE WHEN c.fence > 1 THEN 1 ELSE 0 END, 'claimed',
         jsonb_build_object('worker', CAST(:b_owner AS text), 'fence', c.fence,
                            'attempt', c.attempts,
                            'lease_expires_at', CAST(:b_exp_text AS text))),
        (0, 'resumed',
         jsonb_build_object('worker', CAST(:b_owner AS text), 'fence', c.fence,
                            'attempt', c.attempts))
    ) AS e(back, kind, data)
    WHERE e.kind <> 'resumed' OR c.fence > 1
), written AS (
    INSERT INTO job_events (job_id, seq, at, kind, data)
    SELECT job_id, seq, :b_now, kind, data FROM fresh
    RETURNING job_id, seq, at, kind, data
)
SELECT c.*, (
    SELECT jsonb_agg(
        jsonb_build_object('seq', h.seq, 'at', h.at, 'kind', h.kind, 'data', h.data)
        ORDER BY h.seq)
    FROM (
        SELECT seq, at, kind, data FROM job_events WHERE job_id = c.id
        UNION ALL
        SELECT seq, at, kind, data FROM written WHERE written.job_id = c.id
    ) AS h
) AS history
FROM claimed AS c
ORDER BY c.created_at, c.id
"""
    )
    .bindparams(sa.bindparam("b_now", type_=_T), sa.bindparam("b_exp", type_=_T))
    .columns(*jobs.c, sa.column("history", JSONB))
)


def history_from_json(job_id: str, history: list[dict[str, Any]] | None) -> list[Event]:
    """The `history` column of `CLAIM` as events (`at` arrives as ISO 8601 text)."""
    return [
        Event(
            job_id=job_id,
            seq=h["seq"],
            at=datetime.fromisoformat(h["at"]).astimezone(UTC),
            kind=h["kind"],
            data=h["data"],
        )
        for h in history or ()
    ]


def _events_from(rows: sa.CTE, offset: int) -> sa.Select[Any]:
    """(job_id, seq, at, kind, data) for the events in the JSON list `:b_events`
    (`[{"kind": .., "data": ..}, ..]`), numbered after `rows.event_seq - offset`."""
    listed = (
        sa.func.jsonb_array_elements(sa.bindparam("b_events", type_=JSONB))
        .table_valued(sa.column("value", JSONB), with_ordinality="ord")
        .render_derived(name="listed")
    )
    return sa.select(
        rows.c.id,
        rows.c.event_seq - offset + listed.c.ord,
        sa.bindparam("b_at", type_=_T),
        listed.c.value["kind"].astext,
        listed.c.value["data"],
    ).select_from(rows.join(listed, sa.true()))


_EVENT_COLUMNS = ["job_id", "seq", "at", "kind", "data"]


def write_status(update: sa.Update, count: int) -> sa.Select[Any]:
    """`update` (a job row change bumping `event_seq` by `count`, with RETURNING) and the
    insert of its `count` events, as one statement returning the changed row (none: the
    UPDATE's WHERE matched nothing, and nothing was written). Params: b_events, b_at."""
    moved = update.cte("moved")
    logged = sa.insert(job_events).from_select(_EVENT_COLUMNS, _events_from(moved, count))
    return sa.select(moved).add_cte(logged.cte("logged"))


_NEW_JOB_COLUMNS = (
    "id",
    "idempotency_key",
    "text",
    "team",
    "channel",
    "ts",
    "thread_ts",
    "user_id",
    "tenant",
    "parent_job_id",
    "status",
    "attempts",
    "max_attempts",
    "fence",
    "event_seq",
    "created_at",
    "updated_at",
    "last_event_at",
)


def _submit() -> sa.Select[Any]:
    new = (
        postgresql.insert(jobs)
        .values({c: sa.bindparam(f"j_{c}", type_=jobs.c[c].type) for c in _NEW_JOB_COLUMNS})
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(*jobs.c)
        .cte("new")
    )
    posts = (
        sa.func.jsonb_to_recordset(sa.bindparam("b_posts", type_=JSONB))
        .table_valued(
            sa.column("key", sa.Text),
            sa.column("method", sa.Text),
            sa.column("payload", JSONB),
            sa.column("purpose", sa.Text),
        )
        .render_derived(name="posts", with_types=True)
    )
    queued_posts = (
        postgresql.insert(outbox)
        .from_select(
            ["key", "job_id", "purpose", "method", "payload", "state", "attempts"]
            + ["created_at", "updated_at"],
            sa.select(
                posts.c.key,
                new.c.id,
                posts.c.purpose,
                posts.c.method,
                posts.c.payload,
                sa.literal_column("'pending'"),
                sa.literal_column("0"),
                new.c.created_at,
                new.c.created_at,
            ).select_from(new.join(posts, sa.true())),
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    received = sa.insert(job_events).from_select(
        _EVENT_COLUMNS,
        sa.select(
            new.c.id,
            sa.literal_column("1"),
            new.c.created_at,
            sa.literal_column("'ticket_received'"),
            sa.bindparam("b_data", type_=JSONB),
        ),
    )
    # pg_notify runs once per row returned: only when the job was created; delivered on commit
    wake = sa.func.pg_notify(CHANNEL, "", type_=sa.Text).label("woken")
    return sa.select(new, wake).add_cte(received.cte("received"), queued_posts.cte("queued_posts"))


# A new job, its `ticket_received` event and its first outbox rows (`b_posts`: a JSON list of
# {key, method, payload, purpose}); idempotent on `idempotency_key`: no row back means the key
# existed and nothing was written. Params: j_<column> for each new job column, b_data, b_posts.
SUBMIT = _submit()
NEW_JOB_COLUMNS = _NEW_JOB_COLUMNS


def _remember() -> sa.Select[Any]:
    # Expired rows go in the same statement; the signature itself is not deleted there (a row
    # may not be changed twice in one statement) but revived by the upsert when it expired.
    purge = sa.delete(seen_signatures).where(
        seen_signatures.c.expires_at < sa.bindparam("b_now", type_=_T),
        seen_signatures.c.signature != sa.bindparam("b_sig"),
    )
    stmt = postgresql.insert(seen_signatures).values(
        signature=sa.bindparam("b_sig"), expires_at=sa.bindparam("b_exp", type_=_T)
    )
    fresh = (
        stmt.on_conflict_do_update(
            index_elements=["signature"],
            set_={"expires_at": stmt.excluded.expires_at},
            where=seen_signatures.c.expires_at < sa.bindparam("b_now", type_=_T),
        )
        .returning(seen_signatures.c.signature)
        .cte("fresh")
    )
    return sa.select(fresh.c.signature).add_cte(purge.cte("purge"))


# Record a Slack request signature until b_exp; a row back means it was not seen (unexpired)
# before. Params: b_sig, b_exp, b_now.
REMEMBER_SIGNATURE = _remember()
