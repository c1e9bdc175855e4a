"""What a job that waits for a human is waiting for: an answer to a question, or an approval.

Every front door (CLI, slash command, button, thread reply) checks this before it writes the
reply, so a stray answer is refused with a reason instead of being attached to a later
question or requeueing a job that waits for something else.
"""

from __future__ import annotations

from typing import Literal

from bot.errors import NotWaiting
from bot.model import Event, JobStatus
from bot.store.store import Store

Wait = Literal["question", "approval"]


# (the event that asks, the event that replies); a reply answers the oldest open ask
_PAIRS = {
    "question": ("human_question", "human_answer"),
    "approval": ("approval_requested", "approval"),
}


def open_wait(events: list[Event], wait: Wait) -> str | None:
    """The open question (or the action awaiting approval), if there is one."""
    asks, replies = _PAIRS[wait]
    asked = [e for e in events if e.kind == asks]
    answered = sum(e.kind == replies for e in events)
    if len(asked) > answered:
        return str(asked[answered].data.get("question", ""))
    return None


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
