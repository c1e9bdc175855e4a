"""CLI command: `steadfast eval` — run the incident library and score every handoff."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from bot.cli.common import fail, print_json

PROVIDERS = ("anthropic", "bedrock", "vertex")


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_(
        cases: str = typer.Option(
            "*", "--cases", help="Glob(s) over case names in evals/cases, comma-separated."
        ),
        model: str = typer.Option(
            None, "--model", help="The model to evaluate (default: STEADFAST_MODEL's)."
        ),
        provider: str = typer.Option(
            "anthropic",
            "--provider",
            envvar="STEADFAST_MODEL_PROVIDER",
            help="The model API: anthropic, or bedrock / vertex (scripted cases, through the "
            "emulator's Bedrock or Vertex endpoint and the SDK's client for it).",
        ),
        repeat: int = typer.Option(1, "--repeat", min=1, help="Runs per case."),
        parallel: int = typer.Option(4, "--parallel", min=1, help="Cases run at once."),
        scripted: bool = typer.Option(
            False,
            "--scripted",
            help="Use each case's scripted model even when ANTHROPIC_API_KEY is set.",
        ),
        baseline: Path = typer.Option(
            None, "--baseline", help="A previous run's JSON: show each case's change."
        ),
        out: Path = typer.Option(
            Path(".cache/evals/latest.json"), "--out", help="Where the JSON report goes."
        ),
        cases_dir: Path = typer.Option(None, "--cases-dir", help="Another case library."),
        json_: bool = typer.Option(False, "--json", help="Print the report as one JSON line."),
        keep: bool = typer.Option(
            False, "--keep", help="Keep each case's SQLite store and files in a temp dir."
        ),
    ) -> None:
        """Run incident cases through the real loop, gate and emulators and score each
        handoff: root cause, fact precision, forbidden claims, could-not-reach, escalation.
        With ANTHROPIC_API_KEY set (and no --scripted) the real model answers; without it
        each case's scripted model does."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from bot.demo.providers import DEMO_MODELS
        from bot.demo.scenario import ScenarioError
        from bot.evals.case import CASES_DIR, find_cases
        from bot.evals.report import load_baseline, record, show
        from bot.evals.runner import EvalError, EvalOptions, real_key, run_cases
        from bot.settings import Settings

        if provider not in PROVIDERS:
            fail(f"unknown provider {provider!r}: steadfast eval speaks to {', '.join(PROVIDERS)}")
        try:
            found = find_cases(cases, cases_dir or CASES_DIR)
            before = load_baseline(baseline) if baseline is not None else None
        except (ScenarioError, EvalError) as exc:
            fail(str(exc))
        # Bedrock and Vertex are evaluated offline: the SDK's cloud client against the
        # emulator's cloud paths, answering with each case's script
        key = None if scripted or provider != "anthropic" else real_key()
        if key is None and not all(c.scripted for c in found):
            missing = ", ".join(c.name for c in found if not c.scripted)
            if provider != "anthropic":
                fail(f"--provider {provider} runs scripted cases only; no script for: {missing}")
            fail(f"no ANTHROPIC_API_KEY and no scripted model for: {missing}")
        options = EvalOptions(
            model=model, api_key=key, parallel=parallel, keep=keep, provider=provider
        )
        model_name = model or DEMO_MODELS.get(provider) or Settings.model_fields["model"].default
        progress_out = Console(stderr=True, highlight=False)
        with Progress(
            TextColumn("eval"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=progress_out,
            transient=True,
        ) as progress:
            task = progress.add_task("", total=len(found) * repeat)
            runs = run_cases(
                found,
                options,
                repeat=repeat,
                on_done=lambda r: progress.update(
                    task,
                    advance=1,
                    description=f"{r.case}: {r.score.total:.0f}" if r.score else f"{r.case}: error",
                ),
            )
        report = record(runs, model=model_name, scripted=key is None)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        # wide enough for the table when the output is a pipe or a file
        screen = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
        show(runs, screen, before)
        screen.print(f"report: {out}")
        if json_:
            print_json(report)
        if any(r.score is None for r in runs):
            raise typer.Exit(1)
