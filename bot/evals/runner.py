"""Run eval cases: each case in its own emulated world (the demo stack) and its own store, as
a job through the real agent loop, gate and integrations, then scored.

Eval jobs never reach a real Slack workspace: their settings point Slack at the case's Slack
emulator whatever the user's environment says, their ticket channel is `EVAL_CHANNEL`, and
nothing sends their outbox. With `real_model` the user's ANTHROPIC_API_KEY and the chosen model
answer instead of the case's scripts; everything else stays emulated.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.agent.factory import build_agent_for_worker
from bot.demo.stack import Stack, child_env, settings_for
from bot.errors import SteadfastError
from bot.evals.case import Case
from bot.evals.score import CaseScore, score
from bot.handoff.model import Handoff
from bot.model import EventKind, Ticket
from bot.store import open_store
from bot.worker.context import LeasedContext, Run

# the setting that holds the model id in each provider's catalogue
MODEL_VARIABLES = {
    "anthropic": "STEADFAST_MODEL",
    "bedrock": "STEADFAST_BEDROCK_MODEL",
    "vertex": "STEADFAST_VERTEX_MODEL",
}
EVAL_CHANNEL = "C0EVAL"  # the Slack emulator's channel every eval ticket comes from
# A case runs in-process and is never reaped: the lease only has to outlast one investigation.
LEASE_TTL = 600.0


class EvalError(SteadfastError):
    """An eval run could not produce a handoff; the message names the case."""


@dataclass
class EvalOptions:
    model: str | None = None  # None: the settings' default
    api_key: str | None = None  # set: the real model API answers (not the case's script)
    base_url: str | None = None  # a real model API other than Anthropic's default
    provider: str = "anthropic"  # how Claude is called (bot.demo.providers; emulated offline)
    workdir: Path | None = None
    keep: bool = False  # keep each case's store and files (for `steadfast replay`-style digging)
    parallel: int = 4
    # Alembic's migration context is process-wide: stores are opened (and migrated) one at a
    # time, the runs themselves go in parallel.
    migrations: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class CaseRun:
    case: str
    repeat: int
    status: str
    handoff: Handoff | None
    score: CaseScore | None
    error: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "repeat": self.repeat,
            "status": self.status,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "verdict": self.handoff.verdict if self.handoff else None,
            "summary": self.handoff.summary if self.handoff else None,
            "score": self.score.to_json() if self.score else None,
        }


def run_case(case: Case, options: EvalOptions, *, repeat: int = 1) -> CaseRun:
    """One case, start to handoff, in a fresh world. Never raises for the case's own failure:
    a run that ends without a handoff is reported as such (and scores nothing)."""
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=f"steadfast-eval-{case.name}-", dir=options.workdir))
    stack = Stack.start(case.world)
    try:
        env = stack.settings_env(
            database_url=f"sqlite:///{workdir / 'eval.db'}",
            workdir=workdir,
            provider=options.provider,
        )
        if options.api_key is not None:
            env["ANTHROPIC_API_KEY"] = options.api_key
            env.pop("ANTHROPIC_BASE_URL")
            if options.base_url:
                env["ANTHROPIC_BASE_URL"] = options.base_url
        if options.model:
            env[MODEL_VARIABLES[options.provider]] = options.model
        settings = settings_for(env)
        for name, spec in case.faults.items():
            getattr(stack, name).faults.set(spec.mode, **spec.model_dump(exclude={"mode"}))
        with options.migrations:
            store = open_store(settings)
        try:
            job, _ = store.submit(
                Ticket(text=case.ticket, channel=EVAL_CHANNEL, tenant=case.tenant)
            )
            claimed = store.claim_with_history(f"eval-{case.name}", lease_ttl=LEASE_TTL)
            if claimed is None or claimed[0].id != job.id:
                raise EvalError(f"{case.name}: the eval job could not be claimed")
            job, lease, history = claimed
            run = Run(job, lease, history)
            ctx = LeasedContext(
                store,
                run,
                history,
                worker_name=f"eval-{case.name}",
                shutdown=threading.Event(),
                lease_ttl=LEASE_TTL,
            )
            agent = build_agent_for_worker(settings, None, environ=child_env(env))
            try:
                result = agent.run(ctx)
            finally:
                agent.close()
            store.finish(run.lease, result.status, verdict=result.verdict)
            events = store.events(job.id)
        finally:
            store.close()
    except Exception as exc:  # one broken case must not stop the others; the report says why
        return CaseRun(
            case.name,
            repeat,
            "error",
            None,
            None,
            f"{type(exc).__name__}: {exc}",
            time.monotonic() - started,
        )
    finally:
        stack.stop()
        if not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    recorded = [e for e in events if e.kind == EventKind.HANDOFF]
    if not recorded:
        failed = [e for e in events if e.kind == EventKind.ERROR]
        why = f": {failed[-1].data.get('message') or failed[-1].data}" if failed else ""
        return CaseRun(
            case.name,
            repeat,
            result.status.value,
            None,
            None,
            f"the run ended without a handoff{why}",
            time.monotonic() - started,
        )
    handoff = Handoff.model_validate(recorded[-1].data)
    return CaseRun(
        case=case.name,
        repeat=repeat,
        status=result.status.value,
        handoff=handoff,
        # a scripted model costs nothing; its token counts are the emulator's, not a price
        score=score(handoff, events, case.truth, model=settings.model if options.api_key else ""),
        seconds=time.monotonic() - started,
    )


def run_cases(
    cases: Sequence[Case],
    options: EvalOptions,
    *,
    repeat: int = 1,
    on_done: Callable[[CaseRun], None] | None = None,
) -> list[CaseRun]:
    """Every case `repeat` times, `options.parallel` at a time, in the order given."""
    todo = [(case, n) for case in cases for n in range(1, repeat + 1)]
    done: dict[tuple[str, int], CaseRun] = {}
    with ThreadPoolExecutor(max_workers=max(1, options.parallel)) as pool:
        futures = [pool.submit(run_case, case, options, repeat=n) for case, n in todo]
        for future in as_completed(futures):
            result = future.result()
            done[(result.case, result.repeat)] = result
            if on_done is not None:
                on_done(result)
    return [done[(case.name, n)] for case, n in todo]


def real_key(environ: dict[str, str] | None = None) -> str | None:
    """The user's model API key, when one is set (then the real model answers)."""
    env = os.environ if environ is None else environ
    return env.get("ANTHROPIC_API_KEY") or env.get("STEADFAST_ANTHROPIC_API_KEY") or None
