"""CLI commands: submit, jobs, show, replay, cancel, pause, resume, retry."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.table import Table

from bot import timeline
from bot.cli.common import console, errors_to_exit, load_settings, print_json
from bot.cost import PriceTable
from bot.model import MAX_TICKET_CHARS, Job, JobStatus, OperatorAction, Ticket
from bot.store import Store, open_store
from bot.store.views import status_record, status_text

JSON_OPT = typer.Option(False, "--json", help="Print the record as JSON.")


@contextmanager
def _store() -> Iterator[Store]:
    settings = load_settings()
    with errors_to_exit():
        store = open_store(settings, pool_size=2)
        try:
            yield store
        finally:
            store.close()


def _operator(action: OperatorAction) -> Any:
    def command(
        job_id: str = typer.Argument(..., metavar="JOB"),
        by: str = typer.Option(
            None, "--by", help="Who is acting (default: your login), recorded in the audit."
        ),
        reason: str = typer.Option(..., "--reason", help="Why, recorded in the audit."),
        from_start: bool = typer.Option(
            False,
            "--from-start",
            help="Retry only: the new run discards the old steps instead of continuing from "
            "the recorded evidence and the previous handoff.",
            hidden=action != OperatorAction.RETRY,
        ),
        json_: bool = JSON_OPT,
    ) -> None:
        who = by or f"cli:{getpass.getuser()}"
        with _store() as store, errors_to_exit():
            job = store.operator(job_id, action, by=who, reason=reason, from_start=from_start)
            record = status_record(store, job)
        if json_:
            print_json(record)
        elif job.status == JobStatus.RUNNING and job.control:
            typer.echo(
                f"job {job.id}: {job.control} requested; it takes effect at the next step boundary"
            )
        else:
            typer.echo(f"job {job.id}: {action.value} -> {job.status.value}")

    command.__doc__ = {
        OperatorAction.CANCEL: "Cancel a job (a running job stops at its next step boundary).",
        OperatorAction.PAUSE: "Pause a job (a running job stops at its next step boundary).",
        OperatorAction.RESUME: "Resume a paused job (back to the queue).",
        OperatorAction.RETRY: (
            "Run a failed, escalated or cancelled job again: the model is asked anew, starting "
            "from the recorded evidence and the previous handoff (attempts reset)."
        ),
    }[action]
    return command


def _jobs_table(jobs: list[Job]) -> Table:
    table = Table(box=None)
    for col in ("id", "status", "attempts", "tenant", "channel", "created", "ticket"):
        table.add_column(col)
    for job in jobs:
        text = job.ticket.text.replace("\n", " ")
        table.add_row(
            job.id,
            status_text(job),
            f"{job.attempts}/{job.max_attempts}",
            job.ticket.tenant or "",
            job.ticket.channel or "",
            job.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            text if len(text) <= 60 else text[:57] + "...",
        )
    return table


def _versions_line(seen: dict[str, Any]) -> str:
    return (
        f"from step {seen.get('from_step')}: model {seen.get('model')} · system prompt "
        f"{str(seen.get('system_prompt'))[:12]} · tools {str(seen.get('tools'))[:12]} · "
        f"policy {str(seen.get('policy'))[:12]}"
    )


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""

    @app.command()
    def submit(
        text: str = typer.Argument(..., help="The ticket: what is wrong."),
        key: str = typer.Option(None, "--key", help="Idempotency key: a second submit is a no-op."),
        channel: str = typer.Option(None, "--channel"),
        user: str = typer.Option(None, "--user"),
        tenant: str = typer.Option(None, "--tenant"),
        thread_ts: str = typer.Option(None, "--thread-ts"),
        json_: bool = JSON_OPT,
    ) -> None:
        """Queue a ticket as a job."""
        if not text.strip():
            raise typer.BadParameter("the ticket text is empty; say what is wrong")
        if len(text) > MAX_TICKET_CHARS:
            raise typer.BadParameter(
                f"the ticket is {len(text):,} characters; the limit is {MAX_TICKET_CHARS:,}. "
                "Describe the problem and point at logs instead of pasting them"
            )
        ticket = Ticket(text=text, channel=channel, user=user, tenant=tenant, thread_ts=thread_ts)
        with _store() as store, errors_to_exit():
            job, created = store.submit(ticket, key=key)
        if json_:
            print_json({"id": job.id, "created": created, "status": job.status.value})
        elif created:
            typer.echo(f"job {job.id} queued")
        else:
            typer.echo(f"job {job.id} already exists for key {key!r} ({job.status.value})")

    @app.command("jobs")
    def list_jobs(
        status: Annotated[
            JobStatus | None, typer.Option("--status", help="Only jobs in this status.")
        ] = None,
        tenant: str = typer.Option(None, "--tenant"),
        limit: int = typer.Option(100, "--limit", min=1),
        json_: bool = JSON_OPT,
    ) -> None:
        """List jobs, newest first."""
        with _store() as store, errors_to_exit():
            jobs = store.list_jobs(status=status, tenant=tenant, limit=limit)
            if json_:
                for job in jobs:
                    print_json(status_record(store, job))
                return
        if not jobs:
            typer.echo("no jobs")
            return
        console().print(_jobs_table(jobs))

    @app.command()
    def show(job_id: str = typer.Argument(..., metavar="JOB"), json_: bool = JSON_OPT) -> None:
        """Show one job's status record."""
        settings = load_settings()
        prices = PriceTable(settings.model_prices)
        with _store() as store, errors_to_exit():
            job = store.get(job_id)
            record = status_record(store, job, prices=prices, default_model=settings.model)
        if json_:
            print_json(record)
            return
        width = max(len(k) for k in record)
        for k, v in record.items():
            if k == "status":
                v = status_text(job)
            if k == "versions":
                typer.echo(f"{k:<{width}}  {'-' if not v else ''}")
                for seen in v:
                    typer.echo(f"  {_versions_line(seen)}")
                continue
            if k == "cost":
                v = (
                    f"${v['usd']:.4f} ({v['input_tokens']} in, {v['output_tokens']} out, "
                    f"{v['cache_read_tokens']} cache read, {v['cache_write_tokens']} cache write)"
                )
            if k == "model_fallback" and v:
                v = timeline.fallback_line(v)
            if isinstance(v, dict | list):
                v = json.dumps(v) if v else "-"
            typer.echo(f"{k:<{width}}  {'-' if v is None else v}")

    @app.command()
    def replay(
        job_id: str = typer.Argument(..., metavar="JOB"),
        jsonl: bool = typer.Option(False, "--jsonl", help="One raw event per line."),
    ) -> None:
        """Render a job's whole run in order, from its event log."""
        with _store() as store, errors_to_exit():
            job = store.get(job_id)
            events = store.events(job_id)
        if jsonl:
            for event in events:
                print_json(event.to_dict())
            return
        typer.echo(f"job {job.id}  {status_text(job)}  attempts {job.attempts}")
        for event in events:
            typer.echo(timeline.line(event))
            for detail in timeline.details(event):
                typer.echo(f"{'':>5}  {'':<12}  {'':<18} {detail}")

    for action in OperatorAction:
        app.command(action.value)(_operator(action))
