"""The records an eval run is made of: its options, the key that tags each eval job, one case
run's result and its model-graded check. Plain data, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bot.errors import SteadfastError
from bot.evals.score import CaseScore
from bot.handoff.model import Handoff
from bot.model import Job

EVAL_CHANNEL = "C0EVAL"  # the Slack emulator's channel every eval ticket comes from
EVAL_KEY_PREFIX = "eval:"
# A run id names a file in the state dir and sits inside every job key: no separators in it.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Long enough to ride out a slow step on a busy machine (the heartbeat renews it every third);
# short enough that resuming after a crash waits only this long for the dead process's leases.
LEASE_TTL = 10.0


class EvalError(SteadfastError):
    """An eval run cannot go on: a bad case, run id, report or database; the message says
    what to fix."""


def check_run_id(run_id: str) -> str:
    if not RUN_ID.fullmatch(run_id):
        raise EvalError(
            f"run id {run_id!r} is not usable: letters, digits, '.', '_' and '-', "
            "at most 64, starting with a letter or digit"
        )
    return run_id


@dataclass(frozen=True, slots=True)
class EvalKey:
    """The idempotency key of one case and repeat of one run: `eval:RUN:CASE:REPEAT`. It is what
    tags a job as an eval (with the ticket's channel, `EVAL_CHANNEL`), and what finds the job
    again when a run resumes."""

    run_id: str
    case: str
    repeat: int

    def __str__(self) -> str:
        return f"{EVAL_KEY_PREFIX}{self.run_id}:{self.case}:{self.repeat}"

    @classmethod
    def parse(cls, key: str | None) -> EvalKey | None:
        if not key or not key.startswith(EVAL_KEY_PREFIX):
            return None
        parts = key.split(":", 2)
        if len(parts) != 3:
            return None
        case, _, repeat = parts[2].rpartition(":")
        if not case or not repeat.isdigit():
            return None
        return cls(parts[1], case, int(repeat))


def is_eval_job(job: Job) -> bool:
    return EvalKey.parse(job.idempotency_key) is not None and job.ticket.channel == EVAL_CHANNEL


# the setting that holds the model id in each provider's catalogue
MODEL_VARIABLES = {
    "anthropic": "STEADFAST_MODEL",
    "bedrock": "STEADFAST_BEDROCK_MODEL",
    "vertex": "STEADFAST_VERTEX_MODEL",
}


@dataclass
class EvalOptions:
    model: str | None = None  # None: the settings' default
    api_key: str | None = None  # set: the real model API answers (not the case's script)
    base_url: str | None = None  # a real model API other than Anthropic's default
    provider: str = "anthropic"  # how Claude is called (bot.demo.providers; emulated offline)
    workdir: Path | None = None  # where each case's scratch files go (a temp dir by default)
    keep: bool = False  # keep each case's scratch files (and a temporary store)
    parallel: int = 4
    run_id: str | None = None  # None: a new run in a temporary store
    lease_ttl: float = LEASE_TTL


@dataclass(frozen=True, slots=True)
class Grade:
    """The model-graded root-cause check of one handoff. Beside the deterministic score, never
    part of it: `ungraded` when the grader could not be asked or answered nonsense."""

    verdict: Literal["found", "missed", "ungraded"]
    reason: str
    model: str

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reason": self.reason, "model": self.model}


@dataclass
class CaseRun:
    case: str
    repeat: int
    status: str
    handoff: Handoff | None
    score: CaseScore | None
    error: str | None = None
    seconds: float = 0.0
    job_id: str | None = None
    grade: Grade | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "repeat": self.repeat,
            "job_id": self.job_id,
            "status": self.status,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "verdict": self.handoff.verdict if self.handoff else None,
            "summary": self.handoff.summary if self.handoff else None,
            "score": self.score.to_json() if self.score else None,
            "model_grade": self.grade.to_json() if self.grade else None,
        }
