"""CLI command: `steadfast demo` — the offline end-to-end demonstration."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli.common import console, fail, print_json


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
        provider: str = typer.Option(
            "anthropic",
            "--provider",
            envvar="STEADFAST_MODEL_PROVIDER",
            help="Call Claude as the Claude API (anthropic), Amazon Bedrock (bedrock) or "
            "Google Vertex AI (vertex); each is emulated offline.",
        ),
        json_: bool = typer.Option(False, "--json", help="Print one JSON object as the last line."),
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
        options = DemoOptions(
            crash_at_step=None if no_crash else crash_at_step,
            workdir=workdir,
            scenario=scenario,
            provider=provider,
        )
        try:
            report = run_demo(options, out)
        except (DemoError, ScenarioError) as exc:
            fail(str(exc))
        show(report, out)
        if json_:
            print_json(report.to_json())
        if not report.handoff_posted:
            fail("the run ended without a handoff")
