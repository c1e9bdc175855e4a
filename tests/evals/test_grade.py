"""The model-graded root-cause check, against the Anthropic emulator through the real SDK: a
verdict comes back through the tool; anything else is `ungraded` with its reason; the grader
never sees a secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from bot.evals.case import CASES_DIR, Case, load_case
from bot.evals.grade import GRADE_TOOL, Grader
from bot.handoff.model import Handoff
from core.scrubber import Scrubber
from emulators.anthropic import AnthropicEmulator

KEY = "sk-grader-test"
SECRET = "s3cr3t-db-passw0rd-xyz"


def _script(case: str, step: dict[str, Any]) -> dict[str, Any]:
    return {"name": case, "match": f"Case: {case}\\n", "steps": [step]}


SCRIPTS = [
    _script(
        "found",
        {
            "tool": "record_grade",
            "input": {"root_cause_found": True, "reason": "It names the rejected password."},
        },
    ),
    _script(
        "missed",
        {
            "tool": "record_grade",
            "input": {"root_cause_found": False, "reason": "It blames the database."},
        },
    ),
    # a verdict that fits no schema, the wrong type, and no tool call at all
    _script("garbage", {"tool": "record_grade", "input": {"verdict": "probably?"}}),
    _script(
        "stringly", {"tool": "record_grade", "input": {"root_cause_found": "yes", "reason": "x"}}
    ),
    _script("chatty", {"text": "I think it found the cause, mostly."}),
]


@pytest.fixture
def emulator() -> Iterator[AnthropicEmulator]:
    emu = AnthropicEmulator({"anthropic": {"api_key": KEY, "scripts": SCRIPTS}}).start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture(scope="module")
def case() -> Case:
    return load_case(CASES_DIR / "bad-credential.yaml")


def _named(case: Case, name: str) -> Case:
    # the emulator picks its script by the case name the prompt carries
    return Case(**{**case.__dict__, "name": name})


def _handoff() -> Handoff:
    return Handoff(
        job_id="job123",
        verdict="escalated",
        summary=f"auth-api's database password ({SECRET}) is rejected by the database.",
        confirmed=[{"fact": "auth-api logs: password authentication failed", "evidence": []}],
        could_not_reach=["vault: timed out"],
    )


def _grader(emulator: AnthropicEmulator, key: str = KEY) -> Iterator[Grader]:
    scrubber = Scrubber()
    scrubber.register("db-password", SECRET)
    client = anthropic.Anthropic(api_key=key, base_url=emulator.url, max_retries=0)
    grader = Grader(client, "claude-sonnet-5-5", scrubber)
    try:
        yield grader
    finally:
        grader.close()


@pytest.fixture
def grader(emulator: AnthropicEmulator) -> Iterator[Grader]:
    yield from _grader(emulator)


def test_a_verdict_through_the_tool_is_the_grade(grader: Grader, case: Case) -> None:
    found = grader.grade(_named(case, "found"), _handoff())
    missed = grader.grade(_named(case, "missed"), _handoff())
    assert (found.verdict, found.reason) == ("found", "It names the rejected password.")
    assert (missed.verdict, missed.reason) == ("missed", "It blames the database.")
    assert found.model == "claude-sonnet-5-5"


def test_the_grader_gets_the_truth_and_the_scrubbed_handoff_and_must_use_the_tool(
    emulator: AnthropicEmulator, grader: Grader, case: Case
) -> None:
    grader.grade(_named(case, "found"), _handoff())
    [request] = [r for r in emulator.requests if r.path == "/v1/messages"]
    body = request.json()
    assert SECRET not in request.body.decode()
    prompt = body["messages"][0]["content"]
    assert case.truth.root_cause.summary in prompt
    assert "password authentication failed" in prompt  # the handoff's own text
    assert "[redacted:db-password]" in prompt
    assert body["tool_choice"] == {"type": "tool", "name": GRADE_TOOL["name"]}
    assert [t["name"] for t in body["tools"]] == ["record_grade"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("garbage", "does not fit the schema"),
        ("stringly", "root_cause_found"),
        ("chatty", "did not call record_grade; it said: I think it found"),
    ],
)
def test_garbage_from_the_grader_is_ungraded_with_the_reason(
    grader: Grader, case: Case, name: str, why: str
) -> None:
    grade = grader.grade(_named(case, name), _handoff())
    assert grade.verdict == "ungraded"
    assert why in grade.reason


def test_a_grader_that_cannot_be_asked_is_ungraded_not_a_crash(
    emulator: AnthropicEmulator, case: Case
) -> None:
    for grader in _grader(emulator, key="sk-wrong"):
        grade = grader.grade(_named(case, "found"), _handoff())
    assert grade.verdict == "ungraded"
    assert "AuthenticationError" in grade.reason
    assert "sk-wrong" not in json.dumps(grade.to_json())


@pytest.mark.slow
def test_the_cli_reports_the_grade_beside_a_score_it_never_changes(tmp_path: Path) -> None:
    """The grader says the (perfect) scripted handoff missed the cause: the grade says so in
    its own column and field, and the deterministic score stays 100."""
    from typer.testing import CliRunner

    from bot.cli import build_app

    emu = AnthropicEmulator({"anthropic": {"api_key": KEY, "scripts": SCRIPTS}}).start()
    emu.scripts.insert(0, {**SCRIPTS[1], "match": "Case: bad-credential\\n"})
    args = [
        *("eval", "--cases", "bad-credential", "--scripted", "--grade-with-model"),
        *("--json", "--state-dir", str(tmp_path / "state"), "--run-id", "graded"),
        *("--out", str(tmp_path / "report.json")),
    ]
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": emu.url}
    try:
        result = CliRunner().invoke(build_app(), args, env=env)
        assert result.exit_code == 0, result.output
        # the same run again: its job and its grade are reused, the grader is not asked again
        again = CliRunner().invoke(build_app(), args, env=env)
        assert again.exit_code == 0, again.output
        asked = [r for r in emu.requests if r.path == "/v1/messages"]
    finally:
        emu.stop()
    assert len(asked) == 1
    # the same report: the job's own timings, the kept grade
    assert json.loads(again.stdout.strip().splitlines()[-1]) == json.loads(
        result.stdout.strip().splitlines()[-1]
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    [run] = report["cases"]
    assert run["score"]["total"] == 100
    assert run["model_grade"] == {
        "verdict": "missed",
        "reason": "It blames the database.",
        "model": "claude-sonnet-5-5",
    }
    assert report["totals"]["mean_score"] == 100
    assert report["totals"]["model_graded"] == {
        "found": 0,
        "missed": 1,
        "ungraded": 0,
        "model": "claude-sonnet-5-5",
    }
    assert "model-graded" in result.stdout
