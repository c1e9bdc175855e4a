"""PNG plots for docs/benchmarks.md from the JSON the benchmark scripts write.

    .venv/bin/python bench/plots.py [--results bench/results] [--out docs]

Reads `recovery.json` (bench_recovery.py), `storage.json` (bench_recovery.py --storage) and
`agent_steps.json` (bench_agent.py --steps); writes `recovery_time.png`, `repeated_work.png`,
`storage_growth.png` and `agent_step_cost.png` for whichever exist.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and CI
import matplotlib.pyplot as plt

BENCH = Path(__file__).resolve().parent
_STORAGE_SERIES = {
    "steadfast_sqlite": "Steadfast event log, SQLite",
    "steadfast_pg": "Steadfast event log, PostgreSQL",
    "langgraph_sqlite": "LangGraph SqliteSaver",
    "langgraph_pg": "LangGraph PostgresSaver",
}


def _label(run: dict[str, Any]) -> str:
    return f"{run['system']}\n({run['variant']})"


def _point(run: dict[str, Any]) -> tuple[str, int]:
    return str(run.get("kill_point", "model")), int(run["crash_step"])


def _grouped(runs: list[dict[str, Any]]) -> tuple[list[tuple[str, int]], list[str]]:
    points = sorted({_point(r) for r in runs})
    labels: list[str] = []
    for r in runs:
        if _label(r) not in labels:
            labels.append(_label(r))
    return points, labels


def _bars(ax: Any, runs: list[dict[str, Any]], key: str) -> None:
    points, labels = _grouped(runs)
    width = 0.8 / max(len(labels), 1)
    for i, label in enumerate(labels):
        values = []
        for point in points:
            match = [r for r in runs if _label(r) == label and _point(r) == point]
            values.append(float(match[0][key]) if match else 0.0)
        xs = [c + (i - (len(labels) - 1) / 2) * width for c in range(len(points))]
        bars = ax.bar(xs, values, width, label=label.replace("\n", " "))
        ax.bar_label(bars, fmt="%.3g", fontsize=6)
    names = [f"{'model wait' if k == 'model' else 'tool call'}\nof step {c + 1}" for k, c in points]
    ax.set_xticks(range(len(points)), names, fontsize=8)


def _legend_below(fig: Any, ax: Any) -> None:
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
    fig.subplots_adjust(bottom=0.22)


def recovery_time(doc: dict[str, Any], out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(12, 5))
    _bars(ax, doc["runs"], "regained_s")
    ax.set_ylabel("s from SIGKILL to the next step answered")
    ax.set_title("Crash recovery time: SIGKILL -> the step after the interrupted one is answered")
    _legend_below(fig, ax)
    return _save(fig, out / "recovery_time.png")


def repeated_work(doc: dict[str, Any], out: Path) -> Path:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7.5), sharex=True)
    _bars(top, doc["runs"], "model_repeated")
    top.set_ylabel("repeated model requests")
    top.set_title("Work repeated after a crash (counted at the emulators)")
    _bars(bottom, doc["runs"], "tool_repeated")
    bottom.set_ylabel("repeated tool calls")
    _legend_below(fig, bottom)
    return _save(fig, out / "repeated_work.png")


def storage_growth(doc: dict[str, Any], out: Path) -> Path:
    rows = doc["rows"]
    turns = [r["turns"] for r in rows]
    fig, (lin, log) = plt.subplots(1, 2, figsize=(11, 4.5))
    for key, name in _STORAGE_SERIES.items():
        if key not in rows[0]:
            continue
        kib = [r[key] / 1024 for r in rows]
        lin.plot(turns, kib, marker="o", label=name)
        log.plot(turns, kib, marker="o", label=name)
    lin.set_ylabel("KiB stored for one job")
    log.set_yscale("log")
    for ax in (lin, log):
        ax.set_xlabel("turns (one distinct ~500 B message each)")
        ax.grid(alpha=0.3)
    lin.set_title("Storage per job (linear scale)")
    log.set_title("Storage per job (log scale)")
    log.legend(fontsize=8)
    return _save(fig, out / "storage_growth.png")


def agent_step_cost(doc: dict[str, Any], out: Path) -> Path:
    """Worker CPU per model step against investigation length: flat means a step costs the
    same however long the investigation has run."""
    runs = sorted(doc["runs"], key=lambda r: r["steps"])
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for series in doc.get("series") or [{"label": "this run", "runs": runs}]:
        points = sorted(series["runs"], key=lambda r: r["steps"])
        xs = [r["steps"] for r in points]
        ys = [r["cpu_ms_per_step"] for r in points]
        ax.plot(xs, ys, marker="o", label=series["label"])
        for x, y in zip(xs, ys, strict=True):
            ax.annotate(f"{y:.1f}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center")
    ax.set_xscale("log")
    ax.set_xticks([r["steps"] for r in runs], [str(r["steps"]) for r in runs])
    ax.set_xlabel("model steps in the investigation")
    ax.set_ylabel("worker CPU per step (ms)")
    ax.set_ylim(bottom=0)
    machine = doc.get("machine") or {}
    ax.set_title(
        f"Agent step cost by investigation length ({doc.get('database', 'sqlite')}, "
        f"{machine.get('cpus', '?')} CPUs, load {machine.get('load', 0):.1f})"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, out / "agent_step_cost.png")


def _save(fig: Any, path: Path) -> Path:
    # leave room at the bottom for a figure legend
    fig.tight_layout(rect=(0, 0.12 if fig.legends else 0, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_all(results: Path, out: Path) -> list[Path]:
    """Every plot whose input JSON exists in `results`, written to `out`."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    recovery = results / "recovery.json"
    if recovery.exists():
        doc = json.loads(recovery.read_text())
        written += [recovery_time(doc, out), repeated_work(doc, out)]
    storage = results / "storage.json"
    if storage.exists():
        written.append(storage_growth(json.loads(storage.read_text()), out))
    steps = results / "agent_steps.json"
    if steps.exists():
        written.append(agent_step_cost(json.loads(steps.read_text()), out))
    return written


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", type=Path, default=BENCH / "results")
    ap.add_argument("--out", type=Path, default=BENCH.parent / "docs")
    args = ap.parse_args()
    for path in plot_all(args.results, args.out):
        print(path)


if __name__ == "__main__":
    main()
