"""Run eval cases as jobs: every case and repeat is a job in a store, tagged as an eval
(`EvalKey`), claimed and run by a real `Worker` on the `CaseHandler`, then scored from the
handoff and events it recorded.

The store makes a run durable. Jobs are submitted idempotently on their keys, so running the
same run id again (`steadfast eval --resume RUN`) finds the jobs it has: a finished job is
scored from its events without running again; a job a crashed process left `running` waits
out its lease, is requeued by the worker's reaper and resumes from its events (the worker's
normal path: no recorded model response or tool result is asked for again).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.evals.case import Case
from bot.evals.handler import CaseHandler
from bot.evals.model import (
    EVAL_CHANNEL,
    CaseRun,
    EvalError,
    EvalKey,
    EvalOptions,
    check_run_id,
    is_eval_job,
)
from bot.evals.score import score
from bot.handoff.model import Handoff
from bot.model import Event, EventKind, Job, JobStatus, Ticket
from bot.store import Store
from bot.worker import Worker

__all__ = [
    "EVAL_CHANNEL",
    "CaseRun",
    "EvalError",
    "EvalOptions",
    "new_run_id",
    "real_key",
    "run_case",
    "run_cases",
]

# A job in one of these will not move without a human: the run is done with it.
SETTLED = frozenset(
    {
        JobStatus.SUCCEEDED,
        JobStatus.ESCALATED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.WAITING_HUMAN,
        JobStatus.PAUSED,
    }
)
# How often the run looks at its jobs when no handler has said one finished (the reaper's
# requeues and the worker's own status writes come without a signal).
CHECK_SECONDS = 0.5
# Other jobs in an eval store this many at most are looked at before refusing to share it.
_SCAN_LIMIT = 10_000


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def run_cases(
    cases: Sequence[Case],
    options: EvalOptions,
    *,
    repeat: int = 1,
    store: Store | None = None,
    on_done: Callable[[CaseRun], None] | None = None,
) -> list[CaseRun]:
    """Every case `repeat` times, `options.parallel` at a time, in the order given. Without a
    `store` the run lives in a temporary SQLite store, gone afterwards (unless `keep`)."""
    todo = [(case, n) for case in cases for n in range(1, repeat + 1)]
    return _run(todo, options, store, on_done)


def run_case(case: Case, options: EvalOptions, *, repeat: int = 1) -> CaseRun:
    """One case, start to handoff, in a fresh world. Never raises for the case's own failure:
    a run that ends without a handoff is reported as such (and scores nothing)."""
    return _run([(case, repeat)], options, None, None)[0]


def _run(
    todo: list[tuple[Case, int]],
    options: EvalOptions,
    store: Store | None,
    on_done: Callable[[CaseRun], None] | None,
) -> list[CaseRun]:
    run_id = check_run_id(options.run_id or new_run_id())
    scratch = Path(tempfile.mkdtemp(prefix=f"steadfast-eval-{run_id}-", dir=options.workdir))
    own = store is None
    if store is None:
        store = Store(f"sqlite:///{scratch / 'eval.db'}")
        store.upgrade()
    try:
        return _execute(store, todo, options, run_id, scratch, on_done)
    finally:
        if own:
            store.close()
        if not options.keep:
            shutil.rmtree(scratch, ignore_errors=True)


def check_store(store: Store, run_id: str) -> None:
    """An eval store holds eval jobs only, and no other run's unfinished ones: its worker claims
    whatever is queued, and a real ticket must never be investigated in an emulated world (nor
    an eval job by a real worker). Refuses before anything is submitted."""
    for job in store.list_jobs(limit=_SCAN_LIMIT):
        if not is_eval_job(job):
            raise EvalError(
                f"the eval database holds job {job.id}, which is not an eval job: give "
                "steadfast eval a database of its own (--database, or the default file)"
            )
        key = EvalKey.parse(job.idempotency_key)
        if key is not None and key.run_id != run_id and job.status not in SETTLED:
            raise EvalError(
                f"eval run {key.run_id} has unfinished jobs in this database ({job.id} is "
                f"{job.status.value}): finish it first (steadfast eval --resume {key.run_id}) "
                "or use another database"
            )


def _execute(
    store: Store,
    todo: list[tuple[Case, int]],
    options: EvalOptions,
    run_id: str,
    scratch: Path,
    on_done: Callable[[CaseRun], None] | None,
) -> list[CaseRun]:
    check_store(store, run_id)
    wanted: dict[EvalKey, Case] = {EvalKey(run_id, c.name, n): c for c, n in todo}
    job_ids: dict[EvalKey, str] = {}
    for key, case in wanted.items():
        ticket = Ticket(text=case.ticket, channel=EVAL_CHANNEL, tenant=case.tenant)
        job, _ = store.submit(ticket, key=str(key))  # a resumed run finds its job here
        job_ids[key] = job.id
    changed = threading.Event()
    handler = CaseHandler(
        {c.name: c for c in wanted.values()}, options, scratch, on_finished=changed.set
    )
    worker = Worker(
        store,
        handler,
        name=f"eval-{run_id}-{os.getpid()}",
        concurrency=max(1, options.parallel),
        lease_ttl=options.lease_ttl,
        poll=0.2,
        reap_interval=CHECK_SECONDS,
    )
    thread = threading.Thread(target=worker.run, name=f"eval-{run_id}", daemon=True)
    results: dict[EvalKey, CaseRun] = {}
    try:
        while True:
            for key, job_id in job_ids.items():
                if key in results:
                    continue
                job = store.get(job_id)
                if job.status in SETTLED:
                    events = store.events(job_id)
                    results[key] = case_run(
                        wanted[key], key.repeat, job, events, priced=options.api_key is not None
                    )
                    if on_done is not None:
                        on_done(results[key])
            if len(results) == len(job_ids):
                break
            if not thread.is_alive():
                if thread.ident is not None:
                    raise EvalError(f"the eval worker of run {run_id} stopped; see the log")
                thread.start()  # only once something is left to run
            changed.wait(CHECK_SECONDS)
            changed.clear()
    finally:
        # Interrupted (Ctrl-C, an error): each job stops at its next step boundary and goes
        # back to the queue, ready for --resume.
        worker.stop()
        if thread.ident is not None:
            thread.join()
    return [results[key] for key in wanted]


def case_run(
    case: Case, repeat: int, job: Job, events: Sequence[Event], *, priced: bool
) -> CaseRun:
    """Score a settled eval job from what it recorded. `priced`: a real model answered (a
    scripted one costs nothing; its token counts are the emulator's, not a price)."""
    seconds = 0.0
    if job.started_at and job.finished_at:
        seconds = (job.finished_at - job.started_at).total_seconds()
    recorded = [e for e in events if e.kind == EventKind.HANDOFF]
    if not recorded:
        failed = [e for e in events if e.kind == EventKind.ERROR]
        why = f": {failed[-1].data.get('message') or failed[-1].data}" if failed else ""
        if not failed and job.last_error is not None:
            why = f": {job.last_error.message}"
        return CaseRun(
            case.name,
            repeat,
            job.status.value,
            None,
            None,
            f"the run ended {job.status.value} without a handoff{why}",
            seconds,
            job_id=job.id,
        )
    handoff = Handoff.model_validate(recorded[-1].data)
    model = next(
        (str(e.data.get("model") or "") for e in events if e.kind == EventKind.MODEL_RESPONSE),
        "",
    )
    if not priced:
        model = ""
    return CaseRun(
        case=case.name,
        repeat=repeat,
        status=job.status.value,
        handoff=handoff,
        score=score(handoff, events, case.truth, model=model),
        seconds=seconds,
        job_id=job.id,
    )


def real_key(environ: dict[str, str] | None = None) -> str | None:
    """The user's model API key, when one is set (then the real model answers)."""
    env = os.environ if environ is None else environ
    return env.get("ANTHROPIC_API_KEY") or env.get("STEADFAST_ANTHROPIC_API_KEY") or None
