"""The App Home tab and `/steadfast status|jobs` text: active and recent jobs with state, age,
degraded dependencies and the operator buttons."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.handoff.render_slack import context, escape, header, section
from bot.model import EventKind, Job
from bot.slack.messages import operator_buttons
from bot.store import views
from bot.store.store import Store

MAX_JOBS = 20  # each job takes 3 blocks; a Home view holds 100


def age(since: datetime, now: datetime | None = None) -> str:
    seconds = int(((now or datetime.now(UTC)) - since).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def degraded(store: Store, job_id: str) -> list[str]:
    names = {
        str(e.data.get("dependency"))
        for e in store.events(job_id, kinds=[EventKind.DEGRADED])
        if e.data.get("dependency")
    }
    return sorted(names)


def job_line(store: Store, job: Job) -> str:
    parts = [f"`{job.id}`", f"*{views.status_text(job)}*", f"{age(job.created_at)} old"]
    if job.ticket.tenant:
        parts.append(f"tenant {escape(job.ticket.tenant)}")
    if job.verdict:
        parts.append(f"verdict {escape(job.verdict)}")
    deps = degraded(store, job.id)
    if deps:
        parts.append("degraded: " + ", ".join(escape(d) for d in deps))
    text = job.ticket.text if len(job.ticket.text) <= 140 else job.ticket.text[:139] + "…"
    return " · ".join(parts) + f"\n>{escape(text)}"


def jobs_sorted(store: Store) -> list[Job]:
    jobs = store.list_jobs(limit=MAX_JOBS * 3)
    active = [j for j in jobs if not j.status.terminal]
    recent = [j for j in jobs if j.status.terminal]
    return (active + recent)[:MAX_JOBS]


def home_view(store: Store) -> dict[str, Any]:
    jobs = jobs_sorted(store)
    blocks: list[dict[str, Any]] = [header("Steadfast jobs")]
    if not jobs:
        blocks.append(section("No jobs yet. Mention me in a channel to open a ticket."))
    for job in jobs:
        blocks.append(section(job_line(store, job)))
        blocks.append(operator_buttons(job.id, finished=job.status.terminal))
        blocks.append({"type": "divider"})
    blocks.append(context(f"Updated {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"))
    return {"type": "home", "blocks": blocks}


def jobs_text(store: Store) -> str:
    jobs = jobs_sorted(store)
    if not jobs:
        return "No jobs yet."
    return "\n".join(job_line(store, j).split("\n")[0] for j in jobs)


def status_text(store: Store, job_id: str) -> str:
    job = store.get(job_id)
    lines = [job_line(store, job)]
    if job.last_error:
        lines.append(f"last error: {escape(job.last_error.message)}")
    lines.append(f"replay: `steadfast replay {job.id}`")
    return "\n".join(lines)
