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

from bot.model import TERMINAL, Event, Job, JobStatus, Lease, OutboxState
from bot.store import statements, transitions
from bot.store.rows import job_from_row
from bot.store.schema import (
    UTCDateTime,
    job_events,
    jobs,
    leader_leases,
    outbox,
    seen_signatures,
)
from bot.store.wakeup import CHANNEL

Q, R = JobStatus.QUEUED.value, JobStatus.RUNNING.value
JSONB = postgresql.JSONB()
_T = UTCDateTime()

_COLS = [c.name for c in jobs.c]


def _cols(alias: str) -> str:
    # listed, not `*`: the result is typed by position against `jobs.c`
    return ", ".join(f"{alias}.{c}" for c in _COLS)


def _claim_ctes(only_if: str = "") -> str:
    """The CTEs `picked`, `claimed`, `fresh`, `written` of a claim of up to :b_limit oldest
    queued jobs, each: running, attempts+1, fence+1, lease set, and its `status_changed` +
    `claimed` (+ `resumed` when it was claimed before) events. `only_if`: an extra condition
    on claiming at all."""
    return f"""
picked AS (
    SELECT id FROM jobs
    WHERE status = '{Q}' {only_if}
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
    RETURNING {_cols("j")}
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
)"""


# Each claimed job's row and its whole event log: the rows already there plus the ones
# `written` here, which this statement's snapshot cannot read back from the table.
_CLAIMED_ROWS = f"""
SELECT 'claimed' AS part, {_cols("c")}, (
    SELECT jsonb_agg(
        jsonb_build_object('seq', h.seq, 'at', h.at, 'kind', h.kind, 'data', h.data)
        ORDER BY h.seq)
    FROM (
        SELECT seq, at, kind, data FROM job_events WHERE job_id = c.id
        UNION ALL
        SELECT seq, at, kind, data FROM written WHERE written.job_id = c.id
    ) AS h
) AS history
FROM claimed AS c"""

# A worker's job leaves running for :b_status (never queued: see `Store.finish`), fenced by
# its lease, with its `status_changed` event: `transitions.leave_running_values` as SQL. A NULL
# parameter leaves its column as it was, as an absent key does there.
_LEAVE_RUNNING_CTES = f"""
moved AS (
    UPDATE jobs SET
        status = :b_status,
        lease_owner = NULL,
        lease_expires_at = NULL,
        control = NULL,
        verdict = coalesce(:b_verdict, verdict),
        error_kind = coalesce(:b_error_kind, error_kind),
        error_message = CASE WHEN :b_error_kind IS NULL THEN error_message
                             ELSE :b_error_message END,
        error_retryable = CASE WHEN :b_error_kind IS NULL THEN error_retryable
                               ELSE :b_error_retryable END,
        finished_at = coalesce(:b_finished, finished_at),
        attempts = attempts - :b_give_back,
        updated_at = :b_now,
        last_event_at = :b_now,
        event_seq = event_seq + 1
    WHERE id = :b_id AND fence = :b_fence AND lease_owner = :b_lease_owner
      AND status = '{R}'
    RETURNING {", ".join(_COLS)}
), logged AS (
    INSERT INTO job_events (job_id, seq, at, kind, data)
    SELECT id, event_seq, :b_now, 'status_changed', :b_event FROM moved
)"""

_PARAMS = (
    sa.bindparam("b_now", type_=_T),
    sa.bindparam("b_exp", type_=_T),
    sa.bindparam("b_finished", type_=_T),
    sa.bindparam("b_event", type_=JSONB),
    sa.bindparam("b_status", type_=sa.String()),
    sa.bindparam("b_verdict", type_=sa.String()),
    sa.bindparam("b_error_kind", type_=sa.String()),
    sa.bindparam("b_error_message", type_=sa.Text()),
    sa.bindparam("b_error_retryable", type_=sa.Boolean()),
    sa.bindparam("b_give_back", type_=sa.Integer()),
)
_RESULT = (sa.column("part", sa.Text), *jobs.c, sa.column("history", JSONB))


def _statement(sql: str) -> sa.TextClause:
    used = [b for b in _PARAMS if f":{b.key}" in sql]
    return sa.text(sql).bindparams(*used)


# Claim up to :b_limit jobs (`Store.claim_batch`): one row per job, part 'claimed'.
# Params: b_limit, b_owner, b_now, b_exp, b_exp_text (b_exp as the `claimed` event shows it).
CLAIM = _statement(f"WITH {_claim_ctes()}{_CLAIMED_ROWS}").columns(*_RESULT)

# `Store.finish` to anything but queued. No row back: the lease is lost, nothing written.
# Params: b_id, b_fence, b_lease_owner (the lease), b_status, b_verdict, b_error_kind,
# b_error_message, b_error_retryable, b_finished, b_give_back (None: unchanged), b_now, b_event.
LEAVE_RUNNING = _statement(
    f"WITH {_LEAVE_RUNNING_CTES}\nSELECT 'finished' AS part, {_cols('moved')}, NULL AS history"
    " FROM moved"
).columns(*_RESULT)

# Both in one statement (`Store.finish_and_claim`): the 'finished' row, then a row per job
# claimed; nothing is claimed (or written) when the lease was lost.
FINISH_AND_CLAIM = _statement(
    f"WITH {_LEAVE_RUNNING_CTES}, {_claim_ctes('AND EXISTS (SELECT 1 FROM moved)')}\n"
    f"SELECT 'finished' AS part, {_cols('moved')}, NULL AS history FROM moved\n"
    f"UNION ALL{_CLAIMED_ROWS}"
).columns(*_RESULT)


def history_from_json(job_id: str, history: list[dict[str, Any]] | None) -> list[Event]:
    """The `history` column of a claimed row as events (`at` arrives as ISO 8601 text)."""
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


def claim_params(owner: str, limit: int, now: datetime, expires: datetime) -> dict[str, Any]:
    return {
        "b_limit": limit,
        "b_owner": owner,
        "b_now": now,
        "b_exp": expires,
        "b_exp_text": expires.isoformat(),  # as the `claimed` event has always shown it
    }


def leave_params(
    lease: Lease,
    status: JobStatus,
    verdict: str | None,
    error: dict[str, Any] | None,
    event: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    values = transitions.leave_running_values(status, verdict, error)
    return {
        "b_id": lease.job_id,
        "b_fence": lease.fence,
        "b_lease_owner": lease.owner,
        "b_status": values["status"],
        "b_verdict": values.get("verdict"),
        "b_error_kind": values.get("error_kind"),
        "b_error_message": values.get("error_message"),
        "b_error_retryable": values.get("error_retryable"),
        "b_finished": now if status in TERMINAL else None,
        "b_give_back": 1 if status in transitions.GIVES_BACK_ATTEMPT else 0,
        "b_now": now,
        "b_event": event,
    }


def split_rows(
    rows: list[sa.Row[Any]], owner: str, expires: datetime
) -> tuple[Job | None, list[tuple[Job, Lease, list[Event]]]]:
    """(the finished job, if a row says so; the claimed jobs with their leases and logs)."""
    finished = None
    claimed = []
    for row in rows:
        job = job_from_row(row)
        if row.part == "finished":
            finished = job
            continue
        lease = Lease(job_id=job.id, fence=job.fence, owner=owner, expires_at=expires)
        claimed.append((job, lease, history_from_json(job.id, row.history)))
    return finished, claimed


_EVENT_COLUMNS = ["job_id", "seq", "at", "kind", "data"]


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


_OUTBOX_COLUMNS = "key job_id purpose method payload state attempts created_at updated_at".split()


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
            _OUTBOX_COLUMNS,
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


def _mark() -> tuple[sa.Update, sa.Select[Any]]:
    # `outbox_ops.mark` as one prebuilt statement: a NULL ts, channel or error leaves the
    # column as it was, as there.
    b_now = sa.bindparam("b_now", type_=_T)
    values = {
        "state": sa.bindparam("b_state", type_=sa.String()),
        "updated_at": b_now,
        "not_before": sa.bindparam("b_not_before", type_=_T),
        "attempts": outbox.c.attempts + sa.bindparam("b_bump", type_=sa.Integer()),
        "ts": sa.func.coalesce(sa.bindparam("b_ts", type_=sa.String()), outbox.c.ts),
        "channel": sa.func.coalesce(sa.bindparam("b_channel", type_=sa.String()), outbox.c.channel),
        "last_error": sa.func.coalesce(
            sa.bindparam("b_error", type_=sa.Text()), outbox.c.last_error
        ),
    }
    mark = sa.update(outbox).where(outbox.c.key == sa.bindparam("b_key")).values(values)
    # `leases.check` in the same statement: the sender lease's row is share-locked until this
    # commits, so a new holder's takeover waits for the write; a lost lease writes nothing.
    held = (
        sa.select(leader_leases.c.token)
        .where(
            leader_leases.c.name == sa.bindparam("b_name"),
            leader_leases.c.holder == sa.bindparam("b_holder"),
            leader_leases.c.token == sa.bindparam("b_token"),
            leader_leases.c.expires_at > b_now,
        )
        .with_for_update(read=True)
        .cte("held")
    )
    fenced = mark.where(sa.exists(sa.select(held.c.token))).cte("marked")
    return mark, sa.select(sa.func.count()).select_from(held).add_cte(fenced)


def mark_params(
    key: str,
    state: str,
    ts: str | None,
    channel: str | None,
    not_before: datetime | None,
    error: str | None,
    now: datetime,
) -> dict[str, Any]:
    state = OutboxState(state).value
    return {
        "b_key": key,
        "b_state": state,
        "b_now": now,
        "b_not_before": not_before,
        "b_bump": 1 if state == OutboxState.SENDING.value else 0,
        "b_ts": ts,
        "b_channel": channel,
        "b_error": error,
    }


# Move an outbox row along (`Store.outbox_mark`). Params: mark_params().
# MARK_FENCED also takes b_name, b_holder, b_token (the sender lease) and returns one row, 0
# when the lease no longer holds (and nothing was written).
MARK, MARK_FENCED = _mark()


def _append() -> sa.Select[Any]:
    bump = statements.APPEND_BUMP.cte("bump")
    rows = (
        sa.func.jsonb_to_recordset(sa.bindparam("b_events", type_=JSONB))
        .table_valued(
            sa.column("ord", sa.Integer), sa.column("kind", sa.Text), sa.column("data", JSONB)
        )
        .render_derived(name="rows", with_types=True)
    )
    # `ord` counts from 1: the last row takes the bumped `event_seq`
    written = sa.insert(job_events).from_select(
        _EVENT_COLUMNS,
        sa.select(
            sa.bindparam("b_id"),
            bump.c.event_seq - sa.bindparam("b_n", type_=sa.Integer) + rows.c.ord,
            sa.bindparam("b_now", type_=_T),
            rows.c.kind,
            rows.c.data,
        ).select_from(bump.join(rows, sa.true())),
    )
    return sa.select(bump.c.event_seq, bump.c.control).add_cte(written.cte("written"))


# `Store.append_batch`: room for b_n events on the fenced job row and the events themselves;
# one row back (the last seq and the pending control), none when the lease is lost. Params:
# statements.APPEND_BUMP's and b_events, a JSON list of {ord, kind, data}.
APPEND = _append()
