"""The lifecycle rules: which moves are legal, and what each writes. Pure decisions plus one
writer (`write_status`) that changes a job row and appends its events in one statement pair."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.errors import IllegalTransition, JobNotFound, LeaseLost
from bot.model import TERMINAL, Event, Job, JobStatus, OperatorAction
from bot.store.rows import job_from_row
from bot.store.schema import job_events, jobs

S = JobStatus
CONTROL_TARGET = {"pause": S.PAUSED, "cancel": S.CANCELLED}
# Leaving running for these is a clean stop, not a failure: the claim's attempt is given back.
GIVES_BACK_ATTEMPT = frozenset({S.QUEUED, S.PAUSED, S.WAITING_HUMAN})
_NO_LEASE = {"lease_owner": None, "lease_expires_at": None, "control": None}


def leave_running_values(
    status: JobStatus, verdict: str | None, error: dict[str, Any] | None
) -> dict[str, Any]:
    values: dict[str, Any] = {"status": status.value, **_NO_LEASE}
    if verdict is not None:
        values["verdict"] = verdict
    if error is not None:
        values["error_kind"] = str(error.get("kind", "error"))
        values["error_message"] = str(error.get("message", ""))
        values["error_retryable"] = bool(error.get("retryable", False))
    return values


def write_status(
    conn: sa.Connection,
    job_id: str,
    values: dict[str, Any],
    now: datetime,
    changes: list[dict[str, Any]],
    *,
    first: tuple[str, dict[str, Any]] | None = None,
    guard: sa.ColumnElement[bool] | None = None,
) -> tuple[Job, list[Event]]:
    """Apply `values` to the job and append `first` (if any) then one `status_changed` per
    entry of `changes`, with seqs taken from `event_seq` under the row lock this UPDATE takes.
    With `guard` (the lease check), a job that fails it raises LeaseLost and nothing is
    written."""
    kinds = ([first] if first else []) + [("status_changed", c) for c in changes]
    values = dict(values)
    if values.get("status") in {s.value for s in TERMINAL}:
        values.setdefault("finished_at", now)
    row = conn.execute(
        sa.update(jobs)
        .where(jobs.c.id == job_id if guard is None else guard)
        .values(
            **values,
            updated_at=now,
            last_event_at=now if kinds else jobs.c.last_event_at,
            event_seq=jobs.c.event_seq + len(kinds),
        )
        .returning(*jobs.c)
    ).one_or_none()
    if row is None:
        if guard is None:
            raise JobNotFound(job_id)
        raise LeaseLost(job_id, -1)
    job = job_from_row(row)
    start = job.event_count - len(kinds) + 1
    written = [
        Event(job_id=job_id, seq=start + i, at=now, kind=k, data=d)
        for i, (k, d) in enumerate(kinds)
    ]
    if written:
        conn.execute(
            sa.insert(job_events),
            [
                {"job_id": e.job_id, "seq": e.seq, "at": e.at, "kind": e.kind, "data": e.data}
                for e in written
            ],
        )
    return job, written


def reap_outcome(job: Job) -> tuple[JobStatus, dict[str, Any], dict[str, Any]]:
    """Where a job whose lease expired goes next, and the status_changed data saying why."""
    change: dict[str, Any] = {"from": S.RUNNING.value, "by": "reaper"}
    if job.control in CONTROL_TARGET:
        status = CONTROL_TARGET[job.control]
        change["reason"] = f"worker {job.lease_owner} stopped; operator {job.control} applied"
        return status, {"status": status.value, **_NO_LEASE}, {**change, "to": status.value}
    if job.attempts >= job.max_attempts:
        message = (
            f"gave up after {job.attempts} of {job.max_attempts} attempts: the lease of worker "
            f"{job.lease_owner} expired (worker died or stalled) on the last attempt"
        )
        values = leave_running_values(
            S.FAILED, None, {"kind": "attempts_exhausted", "message": message, "retryable": True}
        )
        return S.FAILED, values, {**change, "to": S.FAILED.value, "reason": message}
    change["reason"] = f"lease of worker {job.lease_owner} expired; requeued"
    return S.QUEUED, {"status": S.QUEUED.value, **_NO_LEASE}, {**change, "to": S.QUEUED.value}


def operator_plan(
    job: Job, action: OperatorAction, *, by: str, reason: str, from_start: bool = False
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """(row values, operator_action data, status_changed data or None). Raises
    IllegalTransition for moves the lifecycle forbids. A retry starts a new run of the agent
    from this event (see `bot.agent.history`); `from_start` makes it discard the old steps."""
    status = job.status
    audit: dict[str, Any] = {
        "action": action.value,
        "by": by,
        "reason": reason,
        "from": status.value,
    }
    if from_start:
        if action != OperatorAction.RETRY:
            raise IllegalTransition(job.id, status.value, f"{action.value} --from-start")
        audit["from_start"] = True

    def move(to: JobStatus, **extra: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        audit["to"] = to.value
        change = {"from": status.value, "to": to.value, "by": by, "reason": reason}
        return {"status": to.value, **_NO_LEASE, **extra}, audit, change

    def illegal(detail: str = "") -> IllegalTransition:
        return IllegalTransition(job.id, status.value + detail, action.value)

    if action in (OperatorAction.CANCEL, OperatorAction.PAUSE):
        if status == S.RUNNING:
            if job.control is not None:
                raise illegal(f" with {job.control} already requested")
            audit["pending"] = True
            return {"control": action.value}, audit, None
        if action == OperatorAction.CANCEL and status in (S.QUEUED, S.WAITING_HUMAN, S.PAUSED):
            return move(S.CANCELLED)
        if action == OperatorAction.PAUSE and status in (S.QUEUED, S.WAITING_HUMAN):
            return move(S.PAUSED)
        raise illegal()
    if action == OperatorAction.RESUME:
        if status == S.PAUSED:
            return move(S.QUEUED)
        if status == S.RUNNING and job.control == "pause":
            audit["withdrawn"] = "pause"
            return {"control": None}, audit, None
        raise illegal()
    if action == OperatorAction.RETRY:
        if status in (S.FAILED, S.ESCALATED, S.CANCELLED):
            return move(
                S.QUEUED,
                attempts=0,
                finished_at=None,
                verdict=None,
                error_kind=None,
                error_message=None,
                error_retryable=None,
            )
        raise illegal()
    raise illegal()
