"""CLI commands for the human side of an investigation: answer, approve, deny.

Each writes one event through `Store.human_event` (which requeues the waiting job in the same
transaction) after checking that the job really waits for that kind of reply, so a stray
answer is refused with a reason instead of being attached to a later question.
"""

from __future__ import annotations

from typing import Any

import typer

from bot.agent.history import History
from bot.cli.common import console, errors_to_exit, fail, load_settings, print_json
from bot.model import JobStatus
from bot.store import open_store

JSON_OPT = typer.Option(False, "--json", help="Print the written event as JSON.")
BY_OPT = typer.Option(..., "--by", help="Who replies; recorded in the event.")


def _open_wait(events: list[Any], kind: str) -> str | None:
    """The open question (or the action awaiting approval) of this kind, if any."""
    history = History.parse(events)
    for call in history.calls.values():
        if kind == "question" and call.question is not None and call.answer is None:
            return str(call.question.data.get("question", ""))
        if kind == "approval" and call.approval_requested is not None and call.approval is None:
            return str(call.approval_requested.data.get("question", call.name))
    return None


def _reply(job_id: str, wait: str, kind: str, data: dict[str, Any], as_json: bool) -> None:
    settings = load_settings()
    with errors_to_exit():
        store = open_store(settings, pool_size=1)
        try:
            job = store.get(job_id)
            if job.status != JobStatus.WAITING_HUMAN:
                fail(f"job {job_id} is {job.status.value}, not waiting for a human; nothing sent")
            asked = _open_wait(store.events(job_id), wait)
            if asked is None:
                other = "an answer" if wait == "approval" else "an approval"
                fail(f"job {job_id} has no open {wait}; it is waiting for {other}")
            event = store.human_event(job_id, kind, {**data, "via": "cli"}, requeue=True)
        finally:
            store.close()
    if as_json:
        print_json({"job_id": job_id, **event.to_dict()})
    else:
        console().print(f"job {job_id}: {kind} recorded (event {event.seq}); it resumes next.")


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""

    @app.command()
    def answer(
        job_id: str = typer.Argument(..., metavar="JOB"),
        text: str = typer.Argument(..., metavar="TEXT", help="The answer to the agent's question."),
        by: str = BY_OPT,
        json_: bool = JSON_OPT,
    ) -> None:
        """Answer the question a job asked (ask_human); the job resumes."""
        if not text.strip():
            fail("the answer is empty; nothing sent")
        _reply(job_id, "question", "human_answer", {"text": text, "by": by}, json_)

    @app.command()
    def approve(
        job_id: str = typer.Argument(..., metavar="JOB"),
        by: str = BY_OPT,
        json_: bool = JSON_OPT,
    ) -> None:
        """Allow the action a job is waiting to run; the job resumes and runs it."""
        _reply(job_id, "approval", "approval", {"approved": True, "by": by}, json_)

    @app.command()
    def deny(
        job_id: str = typer.Argument(..., metavar="JOB"),
        by: str = BY_OPT,
        reason: str = typer.Option("", "--reason", help="Why; the agent is told."),
        json_: bool = JSON_OPT,
    ) -> None:
        """Refuse the action a job is waiting to run; the agent is told and continues."""
        data = {"approved": False, "by": by, "reason": reason}
        _reply(job_id, "approval", "approval", data, json_)
