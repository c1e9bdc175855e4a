"""The incident library through the real loop, gate, integrations and emulators, with each
case's scripted model: every well-investigating script scores 100, and scripts that lie, guess
or stop early lose exactly the points they should."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import build_app
from bot.evals.case import CASES_DIR, Case, find_cases, load_case
from bot.evals.runner import CaseRun, EvalOptions, run_case, run_cases
from bot.evals.score import WEIGHTS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def library_runs(tmp_path_factory: pytest.TempPathFactory) -> list[CaseRun]:
    cases = find_cases("*")
    options = EvalOptions(workdir=tmp_path_factory.mktemp("evals"), parallel=6)
    return run_cases(cases, options)


def test_the_library_has_every_kind_of_incident() -> None:
    names = {c.name for c in find_cases("*")}
    assert len(names) >= 20
    for needed in (
        "bad-credential",
        "oomkilled",
        "image-pull-backoff",
        "failed-rollout",
        "missing-configmap-key",
        "dns-failure",
        "node-notready",
        "pvc-pending",
        "quota-exhausted",
        "expired-tls",
        "upstream-5xx",
        "noisy-neighbour",
        "healthy",
        "vault-down",
        "logs-down",
        "cluster-down",
    ):
        assert needed in names


def test_every_scripted_investigation_scores_full_marks(library_runs: list[CaseRun]) -> None:
    problems = {
        r.case: r.error or (r.score.to_json() if r.score else None)
        for r in library_runs
        if r.score is None or r.score.total != 100
    }
    assert not problems, json.dumps(problems, indent=1, default=str)


def _with_handoff(case: Case, steps: list[dict[str, Any]]) -> Case:
    changed = copy.deepcopy(case)
    script = changed.world["anthropic"]["scripts"][0]
    script["steps"] = steps
    return changed


@pytest.fixture(scope="module")
def demo_case() -> Case:
    return load_case(CASES_DIR / "bad-credential.yaml")


def _run(case: Case, tmp_path: Path) -> CaseRun:
    result = run_case(case, EvalOptions(workdir=tmp_path))
    assert result.score is not None, result.error
    return result


def test_a_liar_loses_the_forbidden_and_precision_points(demo_case: Case, tmp_path: Path) -> None:
    steps = copy.deepcopy(demo_case.world["anthropic"]["scripts"][0]["steps"])
    submit = steps[-1]["input"]
    # an untrue claim with a real citation, and a forbidden one with none
    submit["confirmed"] = [
        *submit["confirmed"],
        {"fact": "the database is down", "evidence": ["{{step 3}}"]},
        {"fact": "billing-worker is the cause"},
    ]
    result = _run(_with_handoff(demo_case, steps), tmp_path)
    assert result.score is not None
    assert result.score.forbidden_claims == ["billing-worker.*(cause|crash)", "database (is )?down"]
    assert (result.score.true_confirmed, result.score.claimed) == (4, 6)
    assert result.score.total == pytest.approx(
        100 - WEIGHTS["forbidden"] - WEIGHTS["fact_precision"] * 2 / 6
    )


def test_a_guess_without_evidence_loses_only_precision(demo_case: Case, tmp_path: Path) -> None:
    """The model names the cause without reading the pod log (it looks at another app's
    logs instead): the cause is in its summary (found), but its log fact cites nothing and is
    shown as not verified."""
    steps = copy.deepcopy(demo_case.world["anthropic"]["scripts"][0]["steps"])
    steps[3] = {
        "tool": "query_logs",
        "input": {"query": '{tenant="acme", app="billing-worker"}', "since_minutes": 60},
    }
    submit = steps[-1]["input"]
    submit["confirmed"] = [
        {"fact": "Instance i-123 is in state ERROR", "evidence": ["{{step 1}}"]},
        {"fact": "auth-api logs: password authentication failed for user auth_api"},
    ]
    result = _run(_with_handoff(demo_case, steps), tmp_path)
    assert result.score is not None
    assert result.score.root_cause_found
    assert (result.score.true_confirmed, result.score.claimed) == (1, 2)
    assert result.score.total == pytest.approx(100 - WEIGHTS["fact_precision"] / 2)


def test_stopping_early_loses_the_cause_and_the_unseen(demo_case: Case, tmp_path: Path) -> None:
    """One look at the platform, then a handoff: no cause, nothing about Vault it never
    tried, and 'inconclusive' where on-call should have been paged."""
    steps = copy.deepcopy(demo_case.world["anthropic"]["scripts"][0]["steps"][:1])
    steps.append(
        {
            "tool": "submit_handoff",
            "input": {
                "verdict": "inconclusive",
                "summary": "i-123 is in ERROR; cause not investigated.",
                "confirmed": [
                    {"fact": "Instance i-123 is in state ERROR", "evidence": ["{{step 1}}"]}
                ],
                "confidence": 0.3,
            },
        }
    )
    result = _run(_with_handoff(demo_case, steps), tmp_path)
    assert result.score is not None
    lost = 100 - result.score.total
    assert not result.score.root_cause_found
    assert result.score.cnr_recall == 0.0 and result.score.cnr_precision == 1.0
    expected = WEIGHTS["root_cause"] + WEIGHTS["could_not_reach"] / 2
    if not result.score.escalation_right:
        expected += WEIGHTS["escalation"]
    assert lost == pytest.approx(expected)


def test_the_cli_runs_one_case_and_prints_json(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        build_app(),
        [
            *("eval", "--cases", "bad-credential", "--json", "--out", str(out)),
            *("--state-dir", str(tmp_path / "state")),
        ],
        env={"ANTHROPIC_API_KEY": "", "STEADFAST_ANTHROPIC_API_KEY": ""},
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["model"] == "scripted"
    assert [c["case"] for c in report["cases"]] == ["bad-credential"]
    assert report["cases"][0]["score"]["total"] == 100
    assert json.loads(out.read_text())["totals"]["mean_score"] == 100
    # comparing against itself: no change anywhere
    again = CliRunner().invoke(
        build_app(),
        [
            "eval",
            "--cases",
            "bad-credential",
            "--baseline",
            str(out),
            "--out",
            str(tmp_path / "second.json"),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env={"ANTHROPIC_API_KEY": ""},
    )
    assert again.exit_code == 0, again.output
    assert "+0" in again.output


def test_a_glob_matching_nothing_is_a_clear_error() -> None:
    result = CliRunner().invoke(build_app(), ["eval", "--cases", "no-such-case"])
    assert result.exit_code == 1
    assert "no case" in result.output
