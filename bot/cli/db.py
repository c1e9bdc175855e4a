"""CLI commands: `steadfast db upgrade|current`."""

from __future__ import annotations

import typer

from bot.cli.common import errors_to_exit, load_settings, print_json
from bot.store import Store
from bot.store.migrate import HEAD_REVISION


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

    app.add_typer(db, name="db")
