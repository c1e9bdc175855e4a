"""CLI command: `steadfast eval` — run the incident library and score every handoff."""

from __future__ import annotations

import json
import sys
from contextlib import closing
from pathlib import Path

import typer

from bot.cli.common import fail, print_json
from bot.errors import SteadfastError

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
            False, "--keep", help="Keep each case's scratch files in a temp dir."
        ),
        run_id: str = typer.Option(
            None,
            "--run-id",
            help="Name this run (default: a new id). The same command with the same id "
            "finishes what a crashed or interrupted run left undone.",
        ),
        resume: str = typer.Option(
            None,
            "--resume",
            help="Finish run RUN_ID: only its unfinished cases run, finished ones are reused. "
            "Its cases, repeat and model are the run's own.",
            metavar="RUN_ID",
        ),
        database: str = typer.Option(
            None,
            "--database",
            help="The runs' store, holding eval jobs only (default: a SQLite file per run "
            "in --state-dir).",
        ),
        state_dir: Path = typer.Option(
            Path(".cache/evals"), "--state-dir", help="Where runs and their stores are kept."
        ),
        grade_with_model: bool = typer.Option(
            False,
            "--grade-with-model",
            help="Also ask a model whether each handoff found the root cause; reported in its "
            "own column, never part of the score. Needs ANTHROPIC_API_KEY.",
        ),
        grader_model: str = typer.Option(
            None, "--grader-model", help="The grading model (default: the evaluated one)."
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
        from bot.evals import manifest as runs
        from bot.evals.case import CASES_DIR, find_cases
        from bot.evals.report import load_baseline, record, show
        from bot.evals.runner import EvalError, EvalOptions, new_run_id, real_key, run_cases
        from bot.settings import Settings
        from bot.store import open_store

        if provider not in PROVIDERS:
            fail(f"unknown provider {provider!r}: steadfast eval speaks to {', '.join(PROVIDERS)}")
        if resume and run_id and resume != run_id:
            fail(f"--resume {resume} and --run-id {run_id} name different runs")
        try:
            if resume:
                started = runs.load(state_dir, resume)
                found = find_cases(",".join(started.cases), Path(started.cases_dir))
                gone = sorted(set(started.cases) - {c.name for c in found})
                if gone:
                    fail(f"run {resume}: cases gone from {started.cases_dir}: {', '.join(gone)}")
                repeat, scripted = started.repeat, started.scripted
                model = started.model or ""
            else:
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
        settings = Settings()
        if grade_with_model and settings.anthropic_api_key is None:
            fail("--grade-with-model needs ANTHROPIC_API_KEY: the grader is a real model")
        try:
            if not resume:
                started = runs.Manifest(
                    run_id=run_id or new_run_id(),
                    cases=[c.name for c in found],
                    cases_dir=str((cases_dir or CASES_DIR).resolve()),
                    repeat=repeat,
                    model=model or None,
                    scripted=key is None,
                    database=runs.storable_url(database) if database else None,
                )
                runs.save(state_dir, started)
            url = runs.database_for(started, state_dir, database)
            store = open_store(
                settings.model_copy(update={"database_url": url}), pool_size=parallel + 4
            )
        except SteadfastError as exc:
            fail(str(exc))
        options = EvalOptions(
            model=model or None,
            api_key=key,
            parallel=parallel,
            keep=keep,
            run_id=started.run_id,
            provider=provider,
        )
        model_name = model or DEMO_MODELS.get(provider) or Settings.model_fields["model"].default
        progress_out = Console(stderr=True, highlight=False)
        where = "" if state_dir == runs.STATE_DIR else f" --state-dir {state_dir}"
        progress_out.print(
            f"eval run {started.run_id} (store {runs.storable_url(url)}); if it stops, "
            f"finish it with: steadfast eval --resume {started.run_id}{where}"
        )
        with (
            closing(store),
            Progress(
                TextColumn("eval"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                console=progress_out,
                transient=True,
            ) as progress,
        ):
            task = progress.add_task("", total=len(found) * repeat)
            try:
                done = run_cases(
                    found,
                    options,
                    repeat=repeat,
                    store=store,
                    on_done=lambda r: progress.update(
                        task,
                        advance=1,
                        description=f"{r.case}: {r.score.total:.0f}"
                        if r.score
                        else f"{r.case}: error",
                    ),
                )
            except SteadfastError as exc:
                fail(str(exc))
        if grade_with_model:
            from bot.evals.grade import GradeCache, build_grader, grade_runs
            from core.scrubber import Scrubber

            assert settings.anthropic_api_key is not None  # checked above
            grader = build_grader(
                settings.anthropic_api_key.get_secret_value(),
                settings.anthropic_base_url,
                grader_model or model_name,
                Scrubber(),
            )
            try:
                grade_runs(
                    done,
                    {c.name: c for c in found},
                    grader,
                    parallel=parallel,
                    cache=GradeCache(runs.grades_path(state_dir, started.run_id)),
                )
            finally:
                grader.close()
        report = record(done, model=model_name, scripted=key is None, run_id=started.run_id)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        # wide enough for the table when the output is a pipe or a file
        screen = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
        show(done, screen, before)
        screen.print(f"report: {out}")
        if json_:
            print_json(report)
        if any(r.score is None for r in done):
            raise typer.Exit(1)
