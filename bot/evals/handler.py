"""The `JobHandler` an eval run's worker runs: each eval job in its own case's emulated world
(the demo stack), through the agent a worker builds.

Eval jobs never reach a real Slack workspace: the agent gets no notifier (no status message,
no handoff post, no outbox row), and its settings point Slack at the case's Slack emulator
whatever the user's environment says. With `options.api_key` the user's key and model answer
instead of the case's scripts; everything else stays emulated.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from bot.agent.factory import build_agent_for_worker
from bot.demo.stack import Stack, child_env, settings_for
from bot.evals.case import Case
from bot.evals.model import MODEL_VARIABLES, EvalKey, EvalOptions
from bot.handler import HandlerResult, JobContext
from bot.model import JobStatus


class CaseHandler:
    """Runs eval jobs whose case it knows. The agent resumes a job from its events like any
    worker's: a recorded model response is not asked for again, a recorded tool result is not
    run again. The world is started afresh for every attempt; it is the same world (the case
    file), and every tool is read-only."""

    def __init__(
        self,
        cases: Mapping[str, Case],
        options: EvalOptions,
        scratch: Path,
        *,
        on_finished: Callable[[], None] | None = None,
    ) -> None:
        self.cases = dict(cases)
        self.options = options
        self.scratch = scratch
        self.on_finished = on_finished

    def run(self, ctx: JobContext) -> HandlerResult:
        try:
            return self._run(ctx)
        finally:
            if self.on_finished is not None:
                self.on_finished()

    def _run(self, ctx: JobContext) -> HandlerResult:
        key = EvalKey.parse(ctx.job.idempotency_key)
        case = self.cases.get(key.case) if key is not None else None
        if key is None or case is None:
            return HandlerResult(
                JobStatus.FAILED,
                error_kind="EvalError",
                error_message=f"job {ctx.job.id} is not an eval job of this run's cases "
                f"(key {ctx.job.idempotency_key!r})",
            )
        workdir = Path(tempfile.mkdtemp(prefix=f"{case.name}-", dir=self.scratch))
        stack = Stack.start(case.world)
        try:
            env = stack.settings_env(
                # the agent reads no store of its own; the job's store is the worker's
                database_url=f"sqlite:///{workdir / 'unused.db'}",
                workdir=workdir,
                provider=self.options.provider,
            )
            if self.options.api_key is not None:
                env["ANTHROPIC_API_KEY"] = self.options.api_key
                env.pop("ANTHROPIC_BASE_URL")
                if self.options.base_url:
                    env["ANTHROPIC_BASE_URL"] = self.options.base_url
            if self.options.model:
                env[MODEL_VARIABLES[self.options.provider]] = self.options.model
            settings = settings_for(env)
            for name, spec in case.faults.items():
                getattr(stack, name).faults.set(spec.mode, **spec.model_dump(exclude={"mode"}))
            agent = build_agent_for_worker(settings, None, environ=child_env(env))
            try:
                return agent.run(ctx)
            finally:
                agent.close()
        finally:
            stack.stop()
            if not self.options.keep:
                shutil.rmtree(workdir, ignore_errors=True)
