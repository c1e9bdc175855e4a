"""The seam between the worker and whatever does the work (the agent loop, the scripted handler).

A worker claims a job, builds a `JobContext` bound to its lease, and calls `handler.run(ctx)`.
The handler reads `ctx.events` (the whole history, including earlier attempts), decides where
to continue, and appends every step through `ctx.append` *before* acting on it. It returns a
`HandlerResult`; the worker records the status change. `LeaseLost` and `StopRequested` raised
from `ctx` propagate out of the handler untouched: the worker knows what to do with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.model import Event, EventKind, Job, JobStatus


@dataclass(frozen=True, slots=True)
class HandlerResult:
    """How a run ended. `status` is succeeded, escalated, failed or waiting_human."""

    status: JobStatus
    verdict: str | None = None
    error_kind: str | None = None
    error_message: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class JobContext(Protocol):
    @property
    def job(self) -> Job: ...

    @property
    def events(self) -> list[Event]:
        """Every event of this job so far, oldest first; grows as `append` is called."""
        ...

    @property
    def worker_name(self) -> str: ...

    def append(self, kind: EventKind, data: dict[str, Any] | None = None) -> Event:
        """Fenced append, committed before it returns; the same statement holds the lease for
        a full TTL from then, as `hold_lease` does. Raises LeaseLost."""
        ...

    def append_many(self, items: list[tuple[EventKind, dict[str, Any]]]) -> list[Event]:
        """`append` of several events in one commit, in order: for events that belong together
        (a tool's result and what it degraded), not to hold back one that announces an action."""
        ...

    def checkpoint(self) -> None:
        """A step boundary. Raises StopRequested when pause, cancel or shutdown is pending,
        and LeaseLost when another worker owns the job now."""
        ...

    def outbox(self, purpose: str, method: str, payload: dict[str, Any]) -> None:
        """Queue a Slack call, fenced, exactly once per (job, purpose)."""
        ...

    def hold_lease(self) -> None:
        """Renew the lease for a full TTL now. Raises LeaseLost. Called right before a call
        that is not a database write and must not be repeated (a model request): fencing stops
        a stale worker's writes, not its calls, so the call goes out at once on a lease no
        other worker can take for a whole TTL."""
        ...


class JobHandler(Protocol):
    def run(self, ctx: JobContext) -> HandlerResult: ...
