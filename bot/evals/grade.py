"""The optional model-graded root-cause check (`steadfast eval --grade-with-model`).

A second opinion on "did the handoff find the cause?", for phrasings the case's regexes did
not foresee. It is reported beside the deterministic score and never changes it: the score is
what compares runs, the grade is what a human reads next to it.

The grader sees the case's ground truth and the handoff's text, scrubbed, and must answer
through one tool (`record_grade`). Anything else (no tool call, a verdict that fits no
schema, an API error after the SDK's retries) is `ungraded`, with the reason, never a crash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
from anthropic.types import ToolChoiceToolParam, ToolParam
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.evals.case import Case
from bot.evals.model import CaseRun, Grade
from bot.handoff.model import Handoff
from bot.handoff.render_text import render_text
from core.scrubber import Scrubber

GRADE_TOOL: ToolParam = {
    "name": "record_grade",
    "description": "Record whether the handoff identified the ground-truth root cause.",
    "input_schema": {
        "type": "object",
        "properties": {
            "root_cause_found": {
                "type": "boolean",
                "description": "true only if the handoff names the ground-truth cause "
                "(any wording) as the cause",
            },
            "reason": {
                "type": "string",
                "description": "one or two sentences: what the handoff said about the cause",
            },
        },
        "required": ["root_cause_found", "reason"],
        "additionalProperties": False,
    },
}
SYSTEM = (
    "You grade incident handoffs written by an automated investigator against the known root "
    "cause of the incident. Judge only whether the handoff identifies that cause; ignore "
    "style, length and everything else. A handoff that names another cause, only lists "
    "possibilities, or says the cause is unknown has not found it. Answer by calling "
    "record_grade exactly once."
)
_CHOICE: ToolChoiceToolParam = {"type": "tool", "name": GRADE_TOOL["name"]}
MAX_REASON = 500
MAX_TOKENS = 512


class _Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    root_cause_found: bool
    reason: str = Field(min_length=1)


def prompt(case: Case, handoff_text: str) -> str:
    truth = case.truth
    lines = [
        "Grade this handoff.",
        f"Case: {case.name}",
        f"Ground-truth root cause: {truth.root_cause.summary}",
        "Phrasings that name it (regular expressions, as hints): "
        + "; ".join(truth.root_cause.phrasings),
    ]
    if truth.escalate is False and not truth.unreachable:
        lines.append("(In this case the right answer may be that nothing is wrong.)")
    lines += ["", "<handoff>", handoff_text, "</handoff>"]
    return "\n".join(lines)


class Grader:
    """Grades handoffs with one model through the Anthropic SDK (its retries, its errors)."""

    def __init__(self, client: anthropic.Anthropic, model: str, scrubber: Scrubber) -> None:
        self.client = client
        self.model = model
        self.scrubber = scrubber

    def grade(self, case: Case, handoff: Handoff) -> Grade:
        text = self.scrubber.scrub(render_text(handoff))
        try:
            response = self.client.messages.create(
                model=self.model,
                max_tokens=MAX_TOKENS,
                system=SYSTEM,
                tools=[GRADE_TOOL],
                tool_choice=_CHOICE,
                messages=[{"role": "user", "content": prompt(case, text)}],
                metadata={"user_id": f"grade-{handoff.job_id}"},
            )
        except anthropic.APIError as exc:
            return self._ungraded(f"the grader could not be asked: {type(exc).__name__}: {exc}")
        uses = [
            b for b in response.content if b.type == "tool_use" and b.name == GRADE_TOOL["name"]
        ]
        if not uses:
            said = " ".join(b.text for b in response.content if b.type == "text").strip()
            return self._ungraded(
                f"the grader did not call {GRADE_TOOL['name']}"
                + (f"; it said: {said[:200]}" if said else "")
            )
        try:
            verdict = _Verdict.model_validate(uses[0].input)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()
            )
            return self._ungraded(f"the grader's verdict does not fit the schema: {problems}")
        return Grade(
            "found" if verdict.root_cause_found else "missed",
            self._clip(verdict.reason),
            self.model,
        )

    def close(self) -> None:
        self.client.close()

    def _clip(self, text: str) -> str:
        text = self.scrubber.scrub(" ".join(text.split()))
        return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"

    def _ungraded(self, reason: str) -> Grade:
        return Grade("ungraded", self._clip(reason), self.model)


def build_grader(
    api_key: str, base_url: str | None, model: str, scrubber: Scrubber, *, timeout: float = 120
) -> Grader:
    client = anthropic.Anthropic(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=3)
    return Grader(client, model, scrubber)


class GradeCache:
    """The grades a run has been given (job id → grade, in a JSON file beside the run), so
    running it again or resuming it asks the grader only about handoffs it has not graded.
    `ungraded` is not kept: that question is asked again. A file that cannot be read is
    ignored (the grades are asked for again), never a crash."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._grades: dict[str, dict[str, str]] = {}
        try:
            loaded = json.loads(path.read_text())
            if isinstance(loaded, dict):
                self._grades = {str(k): v for k, v in loaded.items() if isinstance(v, dict)}
        except (OSError, ValueError):
            pass

    def get(self, job_id: str | None, model: str) -> Grade | None:
        kept = self._grades.get(job_id or "")
        if kept is None or kept.get("model") != model:
            return None
        if kept.get("verdict") not in ("found", "missed"):
            return None
        reason = str(kept.get("reason", ""))
        return Grade("found" if kept["verdict"] == "found" else "missed", reason, model)

    def put(self, job_id: str | None, grade: Grade) -> None:
        if job_id and grade.verdict != "ungraded":
            self._grades[job_id] = grade.to_json()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._grades, indent=1) + "\n")
        tmp.replace(self.path)


def grade_runs(
    runs: Sequence[CaseRun],
    cases: Mapping[str, Case],
    grader: Grader,
    *,
    parallel: int = 4,
    cache: GradeCache | None = None,
) -> None:
    """Set `grade` on every run that has a handoff to grade (its score stays as it is)."""
    todo = []
    for run in runs:
        if run.handoff is None or run.case not in cases:
            continue
        kept = cache.get(run.job_id, grader.model) if cache is not None else None
        if kept is not None:
            run.grade = kept
        else:
            todo.append((run, run.handoff))
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        grades = pool.map(lambda pair: grader.grade(cases[pair[0].case], pair[1]), todo)
        for (run, _), grade in zip(todo, grades, strict=True):
            run.grade = grade
            if cache is not None:
                cache.put(run.job_id, grade)
    if cache is not None:
        cache.save()
