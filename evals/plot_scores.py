"""The per-case score plot in docs/evals.md, from a `steadfast eval` JSON report.

    .venv/bin/steadfast eval --scripted --out docs/evals-scripted.json
    .venv/bin/steadfast eval --scripted --cases-dir evals/bad-scripts \
        --out docs/evals-bad-scripts.json
    .venv/bin/python evals/plot_scores.py docs/eval_scores.png \
        docs/evals-scripted.json docs/evals-bad-scripts.json

Each bar is one case, stacked by where its points came from (root cause, fact precision, no
forbidden claim, could-not-reach, escalation); a missing slice is points lost.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and CI
import matplotlib.pyplot as plt

PARTS = {
    "root_cause": "root cause found (30)",
    "fact_precision": "confirmed-fact precision (20)",
    "forbidden": "no forbidden claim (20)",
    "could_not_reach": "could-not-reach p/r (10)",
    "escalation": "escalation right (20)",
}


def plot(reports: list[Path], out: Path) -> None:
    loaded = [json.loads(r.read_text()) for r in reports]
    cases = [c for data in loaded for c in data["cases"] if c.get("score")]
    models = sorted({data["model"] for data in loaded})
    names = [c["case"] if c["repeat"] == 1 else f"{c['case']} #{c['repeat']}" for c in cases]
    fig, ax = plt.subplots(figsize=(13, 5.5))
    bottom = [0.0] * len(cases)
    for key, label in PARTS.items():
        values = [float(c["score"]["points"][key]) for c in cases]
        ax.bar(names, values, bottom=bottom, label=label)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylim(0, 105)
    ax.set_ylabel("score (points of 100)")
    ax.set_title(f"steadfast eval, per case ({', '.join(models)} model)")
    ax.tick_params(axis="x", labelrotation=60)
    plt.setp(ax.get_xticklabels(), ha="right")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("reports", type=Path, nargs="+")
    args = parser.parse_args()
    plot(args.reports, args.out)


if __name__ == "__main__":
    main()
