"""Records the store hands out: jobs, events, outbox rows. Plain frozen dataclasses, no ORM."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING_HUMAN = "waiting_human"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    ESCALATED = "escalated"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.ESCALATED, JobStatus.FAILED, JobStatus.CANCELLED}
)


class EventKind(enum.StrEnum):
    """Every kind of row in `job_events`. Handlers may only append these."""

    TICKET_RECEIVED = "ticket_received"
    CLAIMED = "claimed"
    INTERRUPTED = "interrupted"
    RESUMED = "resumed"
    STEP = "step"  # the scripted handler's unit of work
    MODEL_REQUEST = "model_request"
    MODEL_RESPONSE = "model_response"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    TOOL_BLOCKED = "tool_blocked"
    RETRY = "retry"
    DEGRADED = "degraded"
    ASSUMPTION = "assumption"
    COMPACTED = "compacted"
    HUMAN_QUESTION = "human_question"
    HUMAN_ANSWER = "human_answer"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL = "approval"
    DRIFT_CHECK = "drift_check"
    OPERATOR_ACTION = "operator_action"
    OPERATOR_REFUSED = "operator_refused"
    STATUS_CHANGED = "status_changed"
    POSTED = "posted"
    FEEDBACK = "feedback"
    ESCALATION_SCORE = "escalation_score"
    HANDOFF = "handoff"
    ERROR = "error"
    POLICY_CHANGED = "policy_changed"  # the policy in force differs from the last request's
    WAIT_REMINDER = "wait_reminder"  # waited `waits.remind_after` for a human; thread reminded
    WAIT_EXPIRED = "wait_expired"  # waited `waits.give_up_after`; the job escalates
    TOKEN_REFRESHED = "token_refreshed"  # an integration renewed or re-read its credentials
    BUDGET_EXCEEDED = "budget_exceeded"  # the tenant's daily spend is used up; the job escalates
    ALERT_RESOLVED = "alert_resolved"  # Alertmanager says the alert behind the job resolved
    PAGED = "paged"  # the outbox sender delivered (or could not deliver) a page to a pager
    # the provider stayed unavailable after every retry; this step and the rest go to the fallback
    MODEL_FALLBACK = "model_fallback"


class OperatorAction(enum.StrEnum):
    CANCEL = "cancel"
    PAUSE = "pause"
    RESUME = "resume"
    RETRY = "retry"


# A ticket is a request for an investigation, not a log dump: beyond this the model's context
# would be spent on the ticket itself. Both front doors (Slack, CLI) refuse longer ones.
MAX_TICKET_CHARS = 12_000


@dataclass(frozen=True, slots=True)
class Ticket:
    """What a human asked, and where it came from."""

    text: str
    team: str | None = None
    channel: str | None = None
    ts: str | None = None
    thread_ts: str | None = None
    user: str | None = None
    tenant: str | None = None
    parent_job_id: str | None = None
    # W3C traceparent of the intake's span; kept in the `ticket_received` event, not a column
    traceparent: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    kind: str
    message: str
    retryable: bool

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "retryable": self.retryable}


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    idempotency_key: str | None
    ticket: Ticket
    status: JobStatus
    attempts: int
    max_attempts: int
    fence: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    control: str | None  # a pending 'pause' or 'cancel' request for a running job
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    last_event_at: datetime | None
    last_error: ErrorInfo | None
    verdict: str | None
    event_count: int


@dataclass(frozen=True, slots=True)
class Event:
    job_id: str
    seq: int
    at: datetime
    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at.isoformat(), "kind": self.kind, "data": self.data}


@dataclass(frozen=True, slots=True)
class Lease:
    """Proof that a worker owns a job. Every write for the job presents it."""

    job_id: str
    fence: int
    owner: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Appended:
    """What a fenced append committed: its events, the operator's pending request ('pause' |
    'cancel' | None) as of that commit, and the lease as it stands after it."""

    events: list[Event]
    control: str | None
    lease: Lease


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


def outbox_key(job_id: str, purpose: str, *qualifiers: str) -> str:
    """The one way an outbox row's key is built: `job:purpose[:qualifier...]`. The key is how a
    post is found again after a crash (Slack message metadata carries it), so every writer
    must spell it the same."""
    return ":".join((job_id, purpose, *qualifiers))


@dataclass(frozen=True, slots=True)
class OutboxPost:
    """A Slack call to make once, written in the same transaction as the change behind it."""

    key: str
    method: str
    payload: dict[str, Any]
    purpose: str = ""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    key: str  # stable: outbox_key(job_id, purpose)
    job_id: str | None
    purpose: str
    method: str  # "chat.postMessage" or "chat.update" etc.
    payload: dict[str, Any]
    state: OutboxState
    attempts: int
    not_before: datetime | None
    ts: str | None
    channel: str | None
    created_at: datetime
    updated_at: datetime
    last_error: str | None
