"""Smoke test of bench/plots.py on fixture results: the PNGs the docs link are produced."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.slow  # matplotlib renders real PNGs: seconds, not milliseconds
REPO = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def _plots() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_plots", REPO / "bench" / "plots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(
    system: str, variant: str, crash: int, regained: float, repeated: int
) -> dict[str, object]:
    return {
        "system": system,
        "variant": variant,
        "crash_step": crash,
        "finished": True,
        "next_step_s": regained,
        "regained_s": regained,
        "claim_s": None,
        "model_requests": 22,
        "model_repeated": repeated,
        "tool_calls": 20,
        "tool_repeated": repeated,
    }


def test_plots_written_from_results(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    runs = [
        {**_run(system, variant, crash, 1.0 + crash / 10, rep), "kill_point": point}
        for point in ("model", "tool")
        for crash in (5, 10)
        for system, variant, rep in (
            ("steadfast", "lease TTL 2 s", 0),
            ("langgraph", "PostgresSaver sync", 0),
            ("scratch", "rerun", crash),
        )
    ]
    (results / "recovery.json").write_text(json.dumps({"runs": runs}))
    rows = [
        {"turns": t, "steadfast_sqlite": 700 * t, "langgraph_sqlite": 600 * t * t}
        for t in (10, 50, 200)
    ]
    (results / "storage.json").write_text(json.dumps({"rows": rows}))

    written = _plots().plot_all(results, tmp_path / "docs")

    names = sorted(p.name for p in written)
    assert names == ["recovery_time.png", "repeated_work.png", "storage_growth.png"]
    for path in written:
        assert path.read_bytes()[:8] == PNG


def test_only_available_results_are_plotted(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    rows = [{"turns": t, "steadfast_sqlite": 700 * t} for t in (10, 20)]
    (results / "storage.json").write_text(json.dumps({"rows": rows}))

    written = _plots().plot_all(results, tmp_path / "out")

    assert [p.name for p in written] == ["storage_growth.png"]


def test_agent_step_cost_plotted_with_every_series(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()

    def runs(base: float, growth: float) -> list[dict[str, object]]:
        return [{"steps": k, "cpu_ms_per_step": base + growth * k} for k in (10, 40, 100, 250)]

    doc = {
        "machine": {"cpus": 2, "load": 3.0},
        "database": "sqlite",
        "runs": runs(7.0, 0.01),
        "series": [
            {"label": "after", "runs": runs(7.0, 0.01)},
            {"label": "before", "runs": runs(20.0, 0.12)},
        ],
    }
    (results / "agent_steps.json").write_text(json.dumps(doc))

    [written] = _plots().plot_all(results, tmp_path / "docs")

    assert written.name == "agent_step_cost.png"
    assert written.read_bytes()[:8] == PNG
