"""The eval report: one row per case run, totals, the JSON record and a baseline comparison."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bot.evals.model import CaseRun, EvalError


def totals(runs: Sequence[CaseRun]) -> dict[str, Any]:
    scored = [r.score for r in runs if r.score is not None]
    n = len(scored) or 1
    costs = [s.cost_usd for s in scored if s.cost_usd is not None]
    return {
        "runs": len(runs),
        "scored": len(scored),
        "errors": sum(1 for r in runs if r.score is None),
        "mean_score": round(sum(s.total for s in scored) / n, 2),
        "root_cause_found": sum(s.root_cause_found for s in scored),
        "fact_precision": round(sum(s.fact_precision for s in scored) / n, 4),
        "forbidden_claims": sum(len(s.forbidden_claims) for s in scored),
        "cnr_precision": round(sum(s.cnr_precision for s in scored) / n, 4),
        "cnr_recall": round(sum(s.cnr_recall for s in scored) / n, 4),
        "escalation_right": sum(s.escalation_right for s in scored),
        "steps": sum(s.usage.steps for s in scored),
        "tokens": sum(s.usage.tokens for s in scored),
        "cost_usd": round(sum(costs), 6) if costs else None,
        "wall_seconds": round(sum(r.seconds for r in runs), 3),
        "model_graded": graded_totals(runs),
    }


def graded_totals(runs: Sequence[CaseRun]) -> dict[str, Any] | None:
    """The model-graded check's counts, apart from the score (None: nothing was graded)."""
    grades = [r.grade for r in runs if r.grade is not None]
    if not grades:
        return None
    counts = {v: sum(1 for g in grades if g.verdict == v) for v in ("found", "missed", "ungraded")}
    return {**counts, "model": grades[0].model}


def record(
    runs: Sequence[CaseRun], *, model: str, scripted: bool, run_id: str | None = None
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "model": "scripted" if scripted else model,
        "cases": [r.to_json() for r in runs],
        "totals": totals(runs),
    }


def load_baseline(path: Path) -> dict[str, float]:
    """case name → mean total of a previous run's JSON."""
    try:
        data = json.loads(path.read_text())
        per: dict[str, list[float]] = {}
        for case in data["cases"]:
            if case.get("score"):
                per.setdefault(case["case"], []).append(float(case["score"]["total"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EvalError(f"cannot read baseline {path}: {exc}") from exc
    return {name: sum(v) / len(v) for name, v in per.items()}


_GRADE_MARKS = {"found": "✓", "missed": "[red]✗[/red]", "ungraded": "[yellow]?[/yellow]"}


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def table(runs: Sequence[CaseRun], baseline: dict[str, float] | None = None) -> Table:
    t = Table(title="steadfast eval", show_lines=False)
    for col in (
        "case",
        "score",
        "cause",
        "facts",
        "forbidden",
        "cnr p/r",
        "esc",
        "steps",
        "tokens",
        "s",
    ):
        t.add_column(col, justify="left" if col == "case" else "right")
    graded = any(r.grade is not None for r in runs)
    if graded:
        t.add_column("model-graded", justify="right")
    if baseline is not None:
        t.add_column("Δ baseline", justify="right")
    for r in runs:
        name = r.case if r.repeat == 1 else f"{r.case} #{r.repeat}"
        s = r.score
        if s is None:
            row = [name, "[red]error[/red]", *[""] * 7, f"{r.seconds:.1f}"]
        else:
            row = [
                name,
                f"{s.total:.0f}",
                "✓" if s.root_cause_found else "[red]✗[/red]",
                f"{s.true_confirmed}/{s.claimed}",
                str(len(s.forbidden_claims)) if s.forbidden_claims else "0",
                f"{_pct(s.cnr_precision)}/{_pct(s.cnr_recall)}",
                "✓" if s.escalation_right else "[red]✗[/red]",
                str(s.usage.steps),
                str(s.usage.tokens),
                f"{r.seconds:.1f}",
            ]
        if graded:
            row.append(_GRADE_MARKS[r.grade.verdict] if r.grade is not None else "")
        if baseline is not None:
            before = baseline.get(r.case)
            row.append("new" if before is None or s is None else f"{s.total - before:+.0f}")
        t.add_row(*row)
    return t


def show(runs: Sequence[CaseRun], out: Console, baseline: dict[str, float] | None = None) -> None:
    out.print(table(runs, baseline))
    tot = totals(runs)
    cost = (
        f"${tot['cost_usd']:.4f}" if tot["cost_usd"] is not None else "n/a (scripted or unpriced)"
    )
    out.print(
        f"[bold]{tot['mean_score']:.1f}/100[/bold] mean over {tot['scored']} scored run(s); "
        f"root cause {tot['root_cause_found']}/{tot['scored']}, escalation right "
        f"{tot['escalation_right']}/{tot['scored']}, forbidden claims {tot['forbidden_claims']}, "
        f"fact precision {_pct(tot['fact_precision'])}, could-not-reach "
        f"{_pct(tot['cnr_precision'])}/{_pct(tot['cnr_recall'])}; {tot['steps']} steps, "
        f"{tot['tokens']} tokens, cost {cost}, {tot['wall_seconds']:.1f} s"
        + (f"; [red]{tot['errors']} run(s) without a score[/red]" if tot["errors"] else "")
    )
    graded = tot["model_graded"]
    if graded is not None:
        out.print(
            f"model-graded root cause ({graded['model']}, not part of the score): found "
            f"{graded['found']}, missed {graded['missed']}, ungraded {graded['ungraded']}"
        )
    for r in runs:
        if r.error:
            out.print(f"[red]{r.case}[/red]: {r.error}")
        if r.grade is not None and r.grade.verdict != "found":
            out.print(f"{r.case}: model-graded {r.grade.verdict}: {r.grade.reason}", markup=False)
