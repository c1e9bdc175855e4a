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
    }


def record(runs: Sequence[CaseRun], *, model: str, scripted: bool) -> dict[str, Any]:
    return {
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
    for r in runs:
        if r.error:
            out.print(f"[red]{r.case}[/red]: {r.error}")
