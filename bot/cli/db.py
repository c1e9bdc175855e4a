"""CLI commands: `steadfast db upgrade|current`."""

from __future__ import annotations

import getpass
import os
import re
from datetime import UTC, datetime, timedelta

import typer

from bot.cli.common import errors_to_exit, load_settings, print_json
from bot.store import Store
from bot.store.migrate import HEAD_REVISION
from bot.store.retention import PruneReport

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_AGE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")


def parse_age(text: str) -> timedelta:
    """`90d`, `12h`, `2w`, `30m` -> a positive timedelta; anything else is a usage error."""
    match = _AGE.match(text.lower())
    if match is None or int(match.group(1)) == 0:
        raise typer.BadParameter(
            f"{text!r} is not an age; write a positive number and a unit: 90d, 12h, 2w or 30m"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _login() -> str:
    # getpass reads the password database, which has no entry for an arbitrary container uid.
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid-{os.getuid()}"


def _describe(report: PruneReport) -> str:
    verb = "deleted" if report.deleted else "would delete"
    statuses = ", ".join(f"{n} {s}" for s, n in report.by_status.items()) or "none"
    lines = [
        f"{verb} {len(report.job_ids)} job(s) finished before {report.cutoff:%Y-%m-%d %H:%M} UTC "
        f"({statuses}), with {report.events} event(s) and {report.outbox} outbox row(s)"
    ]
    if report.kept_owing_posts:
        lines.append(f"kept {report.kept_owing_posts} old job(s) whose Slack post is still owed")
    if not report.deleted and report.job_ids:
        lines.append("dry run: nothing changed; add --yes to delete")
    if report.deleted:
        lines.append(f"audited: {report.audit['actor']} at {report.audit['at']}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""
    db = typer.Typer(help="Database schema: migrate and inspect.", no_args_is_help=True)

    @db.command()
    def upgrade() -> None:
        """Migrate the database at STEADFAST_DATABASE_URL to the latest schema."""
        settings = load_settings()
        with errors_to_exit():
            store = Store(settings.database_url, max_attempts=settings.max_attempts, pool_size=1)
            try:
                before = store.revision()
                store.upgrade()
                after = store.revision()
            finally:
                store.close()
        typer.echo(f"schema: {before or 'empty'} -> {after}")

    @db.command()
    def current(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """Show the schema revision the database is at, and the one this version needs."""
        settings = load_settings()
        with errors_to_exit():
            store = Store(settings.database_url, pool_size=1)
            try:
                revision = store.revision()
            finally:
                store.close()
        if json_:
            print_json({"current": revision, "head": HEAD_REVISION})
        else:
            state = "up to date" if revision == HEAD_REVISION else "needs `steadfast db upgrade`"
            typer.echo(f"schema: {revision or 'empty'} (head {HEAD_REVISION}): {state}")

    @db.command()
    def prune(
        older_than: str = typer.Option(
            ..., "--older-than", help="Age cutoff: 90d, 12h, 2w or 30m (finished before it)."
        ),
        yes: bool = typer.Option(
            False, "--yes", help="Delete. Without it: a dry run that shows what would go."
        ),
        by: str = typer.Option(
            None, "--by", help="Who is pruning (default: your login), recorded in the audit."
        ),
        json_: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Delete finished jobs (succeeded, escalated, failed, cancelled) older than a cutoff,
        with their events and outbox rows. Dry run unless --yes; every deletion is audited."""
        age = parse_age(older_than)  # a usage error exits 2 before the database is opened
        settings = load_settings()
        cutoff = datetime.now(UTC) - age
        with errors_to_exit():
            store = Store(settings.database_url, pool_size=1)
            try:
                if yes:
                    report = store.prune(cutoff, actor=by or _login())
                else:
                    report = store.prune_plan(cutoff)
            finally:
                store.close()
        if json_:
            record = report.as_record()
            if report.deleted:
                record["audit"] = report.audit
            print_json(record)
        else:
            typer.echo(_describe(report))

    @db.command()
    def audit(
        limit: int = typer.Option(20, "--limit", min=1, help="How many records, newest first."),
        json_: bool = typer.Option(False, "--json", help="Print JSON (one list)."),
    ) -> None:
        """Show the audit log of database-wide actions (prunes): who, when, how many."""
        settings = load_settings()
        with errors_to_exit():
            store = Store(settings.database_url, pool_size=1)
            try:
                records = store.audit_records(limit=limit)
            finally:
                store.close()
        if json_:
            print_json(records)
            return
        for r in records:
            typer.echo(
                f"{r['at']}  {r['actor']}  {r['action']}: {r.get('jobs', 0)} job(s), "
                f"{r.get('events', 0)} event(s), {r.get('outbox', 0)} outbox row(s) "
                f"before {r.get('cutoff', '?')}"
            )
        if not records:
            typer.echo("no audit records")

    app.add_typer(db, name="db")
