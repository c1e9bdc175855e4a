"""Read models built from a job row and its events: what `show` prints and the bot displays."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.cost import PriceTable
from bot.model import Event, EventKind, Job, JobStatus
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


def lease_expired_seconds(job: Job, now: datetime | None = None) -> float | None:
    """How long ago a running job's lease expired, or None when it has not (or the job is not
    running). A job in this state has lost its worker and waits for a reaper to requeue it."""
    if job.status != JobStatus.RUNNING or job.lease_expires_at is None:
        return None
    late = ((now or datetime.now(UTC)) - job.lease_expires_at).total_seconds()
    return late if late > 0 else None


def status_text(job: Job, now: datetime | None = None) -> str:
    """The status as people read it: "running · lease expired 40 s ago" when the worker is
    gone and nobody has reaped the job yet, so a dead job never looks alive."""
    late = lease_expired_seconds(job, now)
    if late is None:
        return job.status.value
    return f"{job.status.value} · lease expired {late:.0f} s ago"


def current_step(events: list[Event]) -> tuple[int | None, str | None]:
    """(the step of the latest model request, the layer of the latest tool call)."""
    step: int | None = None
    layer: str | None = None
    for event in events:
        if event.kind == EventKind.MODEL_REQUEST and event.data.get("step") is not None:
            step = int(event.data["step"])
        elif event.kind == EventKind.STEP and event.data.get("step") is not None:
            step = int(event.data["step"])
        elif event.kind == EventKind.TOOL_CALL and event.data.get("layer"):
            layer = str(event.data["layer"])
    return step, layer


def versions_seen(events: list[Event]) -> list[dict[str, Any]]:
    """Each distinct set of versions (model id, system prompt, tool schemas and policy hashes)
    the job's model requests ran under, with the first step that used it, in order."""
    seen: list[dict[str, Any]] = []
    for event in events:
        versions = event.data.get("versions") if event.kind == EventKind.MODEL_REQUEST else None
        if not isinstance(versions, dict):
            continue
        if seen and {k: v for k, v in seen[-1].items() if k != "from_step"} == versions:
            continue
        seen.append({**versions, "from_step": event.data.get("step")})
    return seen


def status_record(
    store: Store, job: Job, *, prices: PriceTable | None = None, default_model: str = ""
) -> dict[str, Any]:
    """The status record of `steadfast show --json` (stable keys; add, never rename).
    `cost` prices the job's model responses with `prices` (default: the built-in table);
    responses that do not name their model are priced as `default_model`."""
    t = job.ticket
    events = store.events(
        job.id, kinds=[EventKind.MODEL_REQUEST, EventKind.TOOL_CALL, EventKind.STEP]
    )
    step, layer = current_step(events)
    late = lease_expired_seconds(job)
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
        "current_step": step,
        "layer": layer,
        "lease_expired": late is not None,
        "lease_expired_seconds": None if late is None else round(late, 1),
        "versions": versions_seen(events),
        "handoff": latest_handoff(store, job.id),
        "model_fallback": model_fallback(store, job.id),
        "cost": (prices or PriceTable())
        .of_events(store.events(job.id, kinds=[EventKind.MODEL_RESPONSE]), default_model)
        .as_dict(),
    }


def model_fallback(store: Store, job_id: str) -> dict[str, Any] | None:
    """The job's `model_fallback` event, if a provider stayed unavailable and another answered."""
    found = store.events(job_id, kinds=[EventKind.MODEL_FALLBACK])
    return dict(found[-1].data) if found else None


def latest_handoff(store: Store, job_id: str) -> dict[str, Any] | None:
    """The job's last handoff as recorded: each confirmed fact with the calls (step, tool,
    tool_use id) it was read from, the facts not verified and why."""
    handoffs = store.events(job_id, kinds=[EventKind.HANDOFF])
    return dict(handoffs[-1].data) if handoffs else None
