"""CLI commands for the human side of an investigation: answer, approve, deny.

Each writes one event through `Store.human_event` (which requeues the waiting job in the same
transaction) after checking that the job really waits for that kind of reply (`bot.waits`).
"""

from __future__ import annotations

import getpass
from typing import Any

import typer

from bot.cli.common import console, errors_to_exit, fail, load_settings, print_json
from bot.store import open_store
from bot.waits import Wait, require_wait

JSON_OPT = typer.Option(False, "--json", help="Print the written event as JSON.")
BY_OPT = typer.Option(
    None, "--by", help="Who replies (default: your login, as for cancel), recorded in the event."
)


def _who(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


def _reply(job_id: str, wait: Wait, kind: str, data: dict[str, Any], as_json: bool) -> None:
    settings = load_settings()
    with errors_to_exit():
        store = open_store(settings, pool_size=1)
        try:
            require_wait(store, job_id, wait)
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
        by: str | None = BY_OPT,
        json_: bool = JSON_OPT,
    ) -> None:
        """Answer the question a job asked (ask_human); the job resumes."""
        if not text.strip():
            fail("the answer is empty; nothing sent")
        _reply(job_id, "question", "human_answer", {"text": text, "by": _who(by)}, json_)

    @app.command()
    def approve(
        job_id: str = typer.Argument(..., metavar="JOB"),
        by: str | None = BY_OPT,
        json_: bool = JSON_OPT,
    ) -> None:
        """Allow the action a job is waiting to run; the job resumes and runs it."""
        _reply(job_id, "approval", "approval", {"approved": True, "by": _who(by)}, json_)

    @app.command()
    def deny(
        job_id: str = typer.Argument(..., metavar="JOB"),
        by: str | None = BY_OPT,
        reason: str = typer.Option("", "--reason", help="Why; the agent is told."),
        json_: bool = JSON_OPT,
    ) -> None:
        """Refuse the action a job is waiting to run; the agent is told and continues."""
        data = {"approved": False, "by": _who(by), "reason": reason}
        _reply(job_id, "approval", "approval", data, json_)
