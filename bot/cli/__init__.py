"""`steadfast`: the operator's command line. Each area registers its own commands."""

from __future__ import annotations

import os
from typing import Annotated, Literal

import typer

from bot import __version__
from bot.cli import db, demo, doctor, human, jobs, policy, runner, slack, worker
from bot.cli import eval as eval_command


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="steadfast",
        help="A sandboxed, read-only support agent that lives in Slack.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for module in (jobs, human, worker, runner, db, policy, doctor, slack, demo, eval_command):
        module.register(app)

    def _print_version(value: bool) -> None:
        if value:
            typer.echo(f"steadfast {__version__}")
            raise typer.Exit()

    @app.callback()
    def _root(
        _version: bool = typer.Option(
            False,
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
        log_format: Annotated[
            Literal["json", "text"] | None,
            typer.Option(
                "--log-format",
                help="log lines as json or text (default: text on a terminal, else JSON)",
                envvar="STEADFAST_LOG_FORMAT",
            ),
        ] = None,
    ) -> None:
        """A sandboxed, read-only support agent that lives in Slack."""
        # Settings read the environment (the one place they do), so the flag goes there; the
        # subprocesses a command starts (runner, demo stack) inherit it too.
        if log_format is not None:
            os.environ["STEADFAST_LOG_FORMAT"] = log_format

    @app.command()
    def version() -> None:
        """Print the version."""
        typer.echo(__version__)

    return app


def main() -> None:
    build_app()()
