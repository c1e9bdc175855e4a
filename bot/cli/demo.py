"""CLI command: `steadfast demo` — the offline end-to-end demonstration."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from bot.cli.common import console, fail, print_json

if TYPE_CHECKING:  # the demo's modules load only when it runs
    from bot.demo.report import DemoReport


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        crash_at_step: int = typer.Option(
            5, "--crash-at-step", min=1, help="SIGKILL the worker after this model step."
        ),
        no_crash: bool = typer.Option(False, "--no-crash", help="Run without killing a worker."),
        workdir: Path = typer.Option(
            None, "--workdir", help="Where the demo's SQLite file goes (default: a temp dir)."
        ),
        scenario: Path = typer.Option(
            None,
            "--scenario",
            help="A scenario file over the demo world: ticket, faults, scripted model "
            "(docs/scenarios.md).",
        ),
        from_alert: bool = typer.Option(
            False,
            "--from-alert",
            help="Start from an Alertmanager webhook posted to the bot's alert endpoint "
            "instead of a Slack mention (docs/alerts-and-paging.md).",
        ),
        provider: str = typer.Option(
            "anthropic",
            "--provider",
            envvar="STEADFAST_MODEL_PROVIDER",
            help="Call Claude as the Claude API (anthropic), Amazon Bedrock (bedrock) or "
            "Google Vertex AI (vertex); each is emulated offline.",
        ),
        json_: bool = typer.Option(False, "--json", help="Print one JSON object as the last line."),
        console_port: int = typer.Option(
            0, "--console-port", min=0, max=65535, help="The trace console's port (0: any free)."
        ),
    ) -> None:
        """Run a whole investigation offline: emulated Slack, Claude, Vault, Kubernetes, platform
        API and logs; a worker killed mid-run and resumed by another; the handoff as posted."""
        from bot.demo.providers import UnknownProvider, check_provider
        from bot.demo.report import show
        from bot.demo.run import DemoError, DemoOptions, run_demo
        from bot.demo.scenario import ScenarioError

        out = console()
        try:
            check_provider(provider)
        except UnknownProvider as exc:
            fail(str(exc))
        # In a terminal the console stays up for the reader until Ctrl-C; scripts, CI and
        # --json runs end as soon as the report is printed.
        interactive = not json_ and sys.stdout.isatty()
        shown: list[DemoReport] = []

        def linger(report: DemoReport) -> None:
            show(report, out)
            shown.append(report)
            _wait_for_ctrl_c(out, report)

        options = DemoOptions(
            crash_at_step=None if no_crash else crash_at_step,
            workdir=workdir,
            scenario=scenario,
            console_port=console_port,
            linger=linger if interactive else None,
            from_alert=from_alert,
            provider=provider,
        )
        try:
            report = run_demo(options, out)
        except (DemoError, ScenarioError) as exc:
            fail(str(exc))
        if not shown:
            show(report, out)
            out.print(
                "[dim](the trace console stopped with the demo; run it in a terminal to "
                "keep it up)[/dim]"
            )
        if json_:
            print_json(report.to_json())
        if not report.handoff_posted:
            fail("the run ended without a handoff")


def _wait_for_ctrl_c(out: Console, report: DemoReport) -> None:
    jobs = report.console_jobs_url
    out.print(
        f"\n[bold]Open the trace:[/bold] {report.console_url}\n"
        + (f"[bold]The tenant's jobs:[/bold] {jobs}\n" if jobs else "")
        + "The trace console stays up until you press Ctrl-C.",
        soft_wrap=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        out.print("stopping the demo")
