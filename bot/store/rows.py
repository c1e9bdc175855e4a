"""Database rows to the record types in `bot.model`, and a new ticket to its rows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.model import ErrorInfo, Event, Job, JobStatus, OutboxMessage, OutboxState, Ticket


def job_from_row(row: sa.Row[Any]) -> Job:
    return job_from_mapping(row._mapping)


def job_from_mapping(m: Mapping[str, Any] | sa.RowMapping) -> Job:
    """A `Job` from the `jobs` columns by name (a row, or the values of one being written)."""
    error = None
    if m["error_kind"] is not None:
        error = ErrorInfo(
            kind=m["error_kind"],
            message=m["error_message"] or "",
            retryable=bool(m["error_retryable"]),
        )
    return Job(
        id=m["id"],
        idempotency_key=m["idempotency_key"],
        ticket=Ticket(
            text=m["text"],
            team=m["team"],
            channel=m["channel"],
            ts=m["ts"],
            thread_ts=m["thread_ts"],
            user=m["user_id"],
            tenant=m["tenant"],
            parent_job_id=m["parent_job_id"],
        ),
        status=JobStatus(m["status"]),
        attempts=m["attempts"],
        max_attempts=m["max_attempts"],
        fence=m["fence"],
        lease_owner=m["lease_owner"],
        lease_expires_at=m["lease_expires_at"],
        control=m["control"],
        created_at=m["created_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        updated_at=m["updated_at"],
        last_event_at=m["last_event_at"],
        last_error=error,
        verdict=m["verdict"],
        event_count=m["event_seq"],
    )


def event_from_row(row: sa.Row[Any]) -> Event:
    m = row._mapping
    return Event(job_id=m["job_id"], seq=m["seq"], at=m["at"], kind=m["kind"], data=m["data"])


def outbox_from_row(row: sa.Row[Any]) -> OutboxMessage:
    m = row._mapping
    return OutboxMessage(
        key=m["key"],
        job_id=m["job_id"],
        purpose=m["purpose"],
        method=m["method"],
        payload=m["payload"],
        state=OutboxState(m["state"]),
        attempts=m["attempts"],
        not_before=m["not_before"],
        ts=m["ts"],
        channel=m["channel"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        last_error=m["last_error"],
    )


def new_job_values(
    ticket: Ticket, job_id: str, key: str | None, max_attempts: int, now: datetime
) -> dict[str, Any]:
    """The `jobs` row of a ticket just submitted: queued, never claimed, one event so far."""
    return {
        "id": job_id,
        "idempotency_key": key,
        "text": ticket.text,
        "team": ticket.team,
        "channel": ticket.channel,
        "ts": ticket.ts,
        "thread_ts": ticket.thread_ts,
        "user_id": ticket.user,
        "tenant": ticket.tenant,
        "parent_job_id": ticket.parent_job_id,
        "status": JobStatus.QUEUED.value,
        "attempts": 0,
        "max_attempts": max_attempts,
        "fence": 0,
        "event_seq": 1,
        "created_at": now,
        "updated_at": now,
        "last_event_at": now,
    }


# What a follow-up job is told of the job it follows up on.
PREVIOUS_HANDOFF_KEYS = (
    "verdict",
    "summary",
    "confirmed",
    "could_not_reach",
    "assumptions",
    "recommended_actions",
)


def ticket_event_data(
    ticket: Ticket, key: str | None, previous_handoff: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The `ticket_received` event's data. A follow-up carries its parent's last handoff, so
    its own log is enough to replay it."""
    data: dict[str, Any] = {
        "text": ticket.text,
        "team": ticket.team,
        "channel": ticket.channel,
        "ts": ticket.ts,
        "thread_ts": ticket.thread_ts,
        "user": ticket.user,
        "tenant": ticket.tenant,
        "key": key,
    }
    if ticket.parent_job_id:
        data["parent_job_id"] = ticket.parent_job_id
    if ticket.traceparent:
        data["traceparent"] = ticket.traceparent  # the worker's run joins the intake's trace
    if previous_handoff is not None:
        data["previous_handoff"] = {
            k: previous_handoff[k] for k in PREVIOUS_HANDOFF_KEYS if k in previous_handoff
        }
    return data
