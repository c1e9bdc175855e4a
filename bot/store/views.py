"""Read models built from a job row and its events: what `show` prints and the bot displays."""

from __future__ import annotations

from typing import Any

from bot.model import EventKind, Job
from bot.store.store import Store


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def degraded_dependencies(store: Store, job_id: str) -> list[str]:
    """Dependencies that answered with a degradation during this job, first seen first."""
    seen: dict[str, None] = {}
    for event in store.events(job_id, kinds=[EventKind.DEGRADED]):
        dep = event.data.get("dependency")
        if dep:
            seen.setdefault(str(dep), None)
    return list(seen)


def status_record(store: Store, job: Job) -> dict[str, Any]:
    """The status record of `steadfast show --json` (stable keys; add, never rename)."""
    t = job.ticket
    return {
        "id": job.id,
        "status": job.status.value,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "tenant": t.tenant,
        "team": t.team,
        "channel": t.channel,
        "ts": t.ts,
        "thread_ts": t.thread_ts,
        "user": t.user,
        "text": t.text,
        "idempotency_key": job.idempotency_key,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "updated_at": _iso(job.updated_at),
        "last_event_at": _iso(job.last_event_at),
        "lease_owner": job.lease_owner,
        "lease_expires_at": _iso(job.lease_expires_at),
        "fence": job.fence,
        "control": job.control,
        "last_error": job.last_error.to_dict() if job.last_error else None,
        "degraded": degraded_dependencies(store, job.id),
        "verdict": job.verdict,
        "events": job.event_count,
        "handoff": latest_handoff(store, job.id),
    }


def latest_handoff(store: Store, job_id: str) -> dict[str, Any] | None:
    """The job's last handoff as recorded: each confirmed fact with the calls (step, tool,
    tool_use id) it was read from, the facts not verified and why."""
    handoffs = store.events(job_id, kinds=[EventKind.HANDOFF])
    return dict(handoffs[-1].data) if handoffs else None
