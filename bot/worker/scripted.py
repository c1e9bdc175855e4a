"""A real multi-step handler with no model: tests, benchmarks and demos drive the worker with it.

Directives in the ticket text (all optional): `steps=N` (default 5), `step_ms=M` (work per
step, default 20), `outcome=succeeded|escalated|failed`, `ask=1` (stop once in waiting_human
until a `human_answer` event arrives). Each step is recorded as a `step` event *after* its work,
so a crash repeats at most the one step in flight and a recorded step never runs again.
"""

from __future__ import annotations

import logging
import time

from bot.handler import HandlerResult, JobContext
from bot.model import EventKind, JobStatus

_OUTCOMES = {
    "succeeded": (JobStatus.SUCCEEDED, "resolved"),
    "escalated": (JobStatus.ESCALATED, "escalated"),
    "failed": (JobStatus.FAILED, None),
}
log = logging.getLogger(__name__)


def parse_directives(text: str) -> dict[str, str]:
    pairs = (token.split("=", 1) for token in text.split() if "=" in token)
    return {k.strip().lower(): v.strip() for k, v in pairs}


class ScriptedHandler:
    def __init__(self, *, default_steps: int = 5, default_step_ms: float = 20.0) -> None:
        self.default_steps = default_steps
        self.default_step_ms = default_step_ms

    def run(self, ctx: JobContext) -> HandlerResult:
        opts = parse_directives(ctx.job.ticket.text)
        # Ticket text is user input and may hold a pasted credential: the log filter scrubs it.
        log.info("scripted run of %r", ctx.job.ticket.text[:200])
        try:
            steps = int(opts.get("steps", self.default_steps))
            step_s = float(opts.get("step_ms", self.default_step_ms)) / 1000
        except ValueError:
            return HandlerResult(
                JobStatus.FAILED,
                error_kind="bad_script",
                error_message="steps and step_ms must be numbers, e.g. `steps=5 step_ms=20`",
            )
        outcome = opts.get("outcome", "succeeded")
        if outcome not in _OUTCOMES:
            return HandlerResult(
                JobStatus.FAILED,
                error_kind="bad_script",
                error_message=f"outcome must be one of {', '.join(_OUTCOMES)}, not {outcome!r}",
            )
        if opts.get("ask") == "1" and not _seen(ctx, EventKind.HUMAN_ANSWER):
            if not _seen(ctx, EventKind.HUMAN_QUESTION):
                ctx.append(EventKind.HUMAN_QUESTION, {"question": "Shall I continue?"})
            return HandlerResult(JobStatus.WAITING_HUMAN)

        done = {int(e.data["step"]) for e in ctx.events if e.kind == EventKind.STEP}
        for step in range(steps):
            if step in done:
                continue
            ctx.checkpoint()
            time.sleep(step_s)  # the step's work (stands in for a model or tool call)
            ctx.append(
                EventKind.STEP,
                {"step": step, "of": steps, "worker": ctx.worker_name, "attempt": ctx.job.attempts},
            )
            log.debug("step %d of %d done", step, steps)
        status, verdict = _OUTCOMES[outcome]
        if status == JobStatus.FAILED:
            return HandlerResult(
                status, error_kind="scripted_failure", error_message="the script asked to fail"
            )
        return HandlerResult(status, verdict=verdict)


def _seen(ctx: JobContext, kind: str) -> bool:
    return any(e.kind == kind for e in ctx.events)
