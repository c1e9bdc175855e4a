"""What a job that waits for a human is waiting for: an answer to a question, or an approval.

Every front door (CLI, slash command, button, thread reply) checks this before it writes the
reply, so a stray answer is refused with a reason instead of being attached to a later
question or requeueing a job that waits for something else.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from bot.errors import NotWaiting
from bot.handoff.render_slack import escape
from bot.model import Event, EventKind, JobStatus
from bot.slack import messages
from bot.slack.notifier import thread_of
from bot.store.store import Store, utcnow
from policy.document import Waits

log = logging.getLogger(__name__)

Wait = Literal["question", "approval"]


# (the event that asks, the event that replies); a reply answers the oldest open ask
_PAIRS = {
    "question": ("human_question", "human_answer"),
    "approval": ("approval_requested", "approval"),
}


def _open(events: list[Event], wait: Wait) -> Event | None:
    """The oldest ask of this kind with no reply; an ask given up on (`wait_expired`) is
    closed, so a later reply goes to a later ask."""
    asks, replies = _PAIRS[wait]
    expired = {e.data.get("ask_seq") for e in events if e.kind == EventKind.WAIT_EXPIRED}
    asked = [e for e in events if e.kind == asks and e.seq not in expired]
    answered = sum(e.kind == replies for e in events)
    return asked[answered] if len(asked) > answered else None


def open_wait(events: list[Event], wait: Wait) -> str | None:
    """The open question (or the action awaiting approval), if there is one."""
    ask = _open(events, wait)
    return None if ask is None else str(ask.data.get("question", ""))


def require_wait(store: Store, job_id: str, wait: Wait) -> str:
    """The open question or approval; raises NotWaiting (or JobNotFound) otherwise."""
    job = store.get(job_id)
    if job.status != JobStatus.WAITING_HUMAN:
        raise NotWaiting(
            f"job {job_id} is {job.status.value}, not waiting for a human; nothing sent"
        )
    asked = open_wait(store.events(job_id), wait)
    if asked is None:
        other = "an answer" if wait == "approval" else "an approval"
        raise NotWaiting(f"job {job_id} has no open {wait}; it is waiting for {other}")
    return asked


def open_ask(events: list[Event]) -> Event | None:
    """The oldest question or approval request nobody has replied to yet."""
    waits: tuple[Wait, ...] = ("question", "approval")
    open_asks = [ask for wait in waits if (ask := _open(events, wait)) is not None]
    return min(open_asks, key=lambda e: e.seq, default=None)


def duration(seconds: float) -> str:
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def sweep(store: Store, waits: Waits, *, now: datetime | None = None) -> list[str]:
    """Remind the thread of, then give up on, jobs that waited too long for a human (policy
    `waits`). Returns the ids acted on. Safe to run from every worker at once: a second
    reminder is one more event but no second post (the outbox key is per question), and a
    give-up only requeues a job still waiting."""
    now = now or utcnow()
    acted: list[str] = []
    for job in store.list_jobs(status=JobStatus.WAITING_HUMAN, limit=500):
        events = store.events(job.id)
        ask = open_ask(events)
        if ask is None:
            continue
        waited = (now - ask.at).total_seconds()
        done = {
            (e.kind, e.data.get("ask_seq"))
            for e in events
            if e.kind in (EventKind.WAIT_REMINDER, EventKind.WAIT_EXPIRED)
        }
        data: dict[str, Any] = {
            "ask_seq": ask.seq,
            "tool_use_id": ask.data.get("tool_use_id"),
            "waited_seconds": round(waited, 1),
        }
        if waited >= waits.give_up_after:
            if (EventKind.WAIT_EXPIRED, ask.seq) not in done:
                data["after_seconds"] = waits.give_up_after
                store.human_event(job.id, EventKind.WAIT_EXPIRED, data, requeue=True)
                acted.append(job.id)
        elif waited >= waits.remind_after and (EventKind.WAIT_REMINDER, ask.seq) not in done:
            data["after_seconds"] = waits.remind_after
            store.human_event(job.id, EventKind.WAIT_REMINDER, data, requeue=False)
            _post_reminder(store, job.id, ask, waits.give_up_after - waited)
            acted.append(job.id)
    return acted


def _post_reminder(store: Store, job_id: str, ask: Event, left: float) -> None:
    where = thread_of(store.get(job_id))
    if where is None:
        return
    what = str(ask.data.get("question", "")).strip()
    text = (
        f":hourglass: Job `{job_id}` is still waiting for a reply"
        + (f" to: {escape(what)}" if what else "")
        + f". Without one it escalates with what it has in {duration(max(left, 0))}."
    )
    store.outbox_put(
        f"{job_id}:reminder:{ask.seq}",
        "chat.postMessage",
        {"channel": where[0], "thread_ts": where[1], **messages.note(text)},
        job_id=job_id,
        purpose="reminder",
    )
