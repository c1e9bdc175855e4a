"""The worker process: N job threads, one heartbeat thread, and the reaper in the claim loop.

Threads, not asyncio: every SDK we call (anthropic, slack_sdk, hvac, kubernetes, SQLAlchemy) is
synchronous and a job spends its life waiting on I/O, which releases the GIL. See
docs/architecture.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from opentelemetry.trace import SpanKind

from bot.errors import LeaseLost, StopRequested, StoreError
from bot.handler import HandlerResult, JobHandler
from bot.metrics import Metrics
from bot.model import Event, EventKind, Job, JobStatus, Lease
from bot.settings import Settings
from bot.store import Store
from bot.tracing import Tracing
from bot.tracing.carry import ticket_traceparent
from bot.worker.context import LeasedContext, Run
from core import logcontext

log = logging.getLogger("steadfast.worker")

_STOP_TARGET = {"pause": JobStatus.PAUSED, "cancel": JobStatus.CANCELLED}


class Worker:
    def __init__(
        self,
        store: Store,
        handler: JobHandler,
        *,
        name: str,
        concurrency: int = 4,
        lease_ttl: float = 10.0,
        heartbeat: float | None = None,
        poll: float = 0.5,
        reap_interval: float = 1.0,
        metrics: Metrics | None = None,
        sweep: Callable[[], object] | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.store = store
        self.tracing = tracing or Tracing.disabled()
        # Periodic upkeep beside the reaper (reminding and giving up on jobs that wait for a
        # human, `bot.waits.sweep`): jobs in waiting_human have no worker to watch them.
        self.sweep = sweep
        self.handler = handler
        self.name = name
        self.concurrency = concurrency
        self.lease_ttl = lease_ttl
        self.heartbeat = heartbeat or lease_ttl / 3
        self.poll = poll
        self.reap_interval = reap_interval
        self.metrics = metrics
        self._stopping = threading.Event()
        self._finished = threading.Event()
        self._runs: dict[str, Run] = {}
        self._runs_lock = threading.Lock()
        self._slots = threading.Semaphore(concurrency)
        self.completed = 0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        store: Store,
        handler: JobHandler,
        *,
        name: str,
        metrics: Metrics | None = None,
        sweep: Callable[[], object] | None = None,
        tracing: Tracing | None = None,
    ) -> Worker:
        return cls(
            store,
            handler,
            name=name,
            concurrency=settings.concurrency,
            lease_ttl=settings.lease_ttl_seconds,
            heartbeat=settings.heartbeat_interval,
            poll=settings.poll_seconds,
            reap_interval=settings.reap_seconds,
            metrics=metrics,
            sweep=sweep,
            tracing=tracing,
        )

    # --- control ----------------------------------------------------------------------------
    def stop(self) -> None:
        """Graceful: claim nothing more; each job stops at its next step boundary and is
        released to the queue. Safe to call from a signal handler."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def held(self) -> list[str]:
        with self._runs_lock:
            return list(self._runs)

    # --- main loop --------------------------------------------------------------------------
    def run(self, *, until_idle: bool = False) -> None:
        """Claim and run jobs until `stop()` (or, with `until_idle`, until the queue is empty
        and nothing is running). Returns after every job thread has finished."""
        beat = threading.Thread(target=self._heartbeat_loop, name=f"{self.name}-heartbeat")
        beat.daemon = True
        beat.start()
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"{self.name}-job")
        next_reap = 0.0
        log.info("worker %s started (concurrency %d)", self.name, self.concurrency)
        try:
            while not self._stopping.is_set():
                if time.monotonic() >= next_reap:
                    self._reap()
                    next_reap = time.monotonic() + self.reap_interval
                if not self._slots.acquire(timeout=self.poll):
                    continue
                idle = 1
                while idle < self.concurrency and self._slots.acquire(blocking=False):
                    idle += 1
                claimed = self._claim(idle)
                for _ in range(idle - len(claimed)):
                    self._slots.release()
                if not claimed:
                    if until_idle and not self.held():
                        break
                    wait = max(0.0, min(self.poll, next_reap - time.monotonic()))
                    self.store.wait_for_work(wait)
                    continue
                for run in self._hold(claimed):
                    pool.submit(self._run_job, run)
        finally:
            self._stopping.set()
            pool.shutdown(wait=True)
            self._finished.set()
            beat.join()
            log.info("worker %s stopped", self.name)

    def _claim(self, idle: int) -> list[tuple[Job, Lease, list[Event]]]:
        """Up to one job per idle slot, in one claim (one round trip on PostgreSQL)."""
        try:
            claimed = self.store.claim_batch(self.name, lease_ttl=self.lease_ttl, limit=idle)
        except StoreError as exc:
            log.warning("claim failed, will retry: %s", exc)
            self._stopping.wait(self.poll)
            return []
        if claimed and self.metrics is not None:
            self.metrics.claims.inc(len(claimed))
        return claimed

    def _hold(self, claimed: list[tuple[Job, Lease, list[Event]]]) -> list[Run]:
        """Runs for jobs just claimed, under the heartbeat's care from now on."""
        runs = [Run(job=job, lease=lease, history=history) for job, lease, history in claimed]
        with self._runs_lock:
            for run in runs:
                self._runs[run.job.id] = run
        return runs

    def _reap(self) -> None:
        try:
            reaped = self.store.reap()
        except StoreError as exc:
            log.warning("reaper could not run: %s", exc)
            return
        if reaped:
            log.info("reaped expired leases: %s", ", ".join(reaped))
            if self.metrics is not None:
                self.metrics.interrupted.inc(len(reaped))
        if self.sweep is not None:
            try:
                self.sweep()
            except StoreError as exc:
                log.warning("wait sweep could not run: %s", exc)

    def _heartbeat_loop(self) -> None:
        # Runs until every job thread is done (not merely until stop()): jobs finishing their
        # last step during shutdown still need their leases.
        while not self._finished.wait(self.heartbeat):
            with self._runs_lock:
                runs = list(self._runs.values())
            for run in runs:
                if run.lost:
                    continue
                try:
                    run.lease = self.store.renew(run.lease, lease_ttl=self.lease_ttl)
                except LeaseLost:
                    # Either the job just finished (the renewal raced its last write) or another
                    # worker took it over; in the latter case its next write says so loudly.
                    log.debug("renewal refused for job %s", run.job.id)
                    run.lost = True
                except StoreError as exc:
                    log.warning("heartbeat for job %s failed, retrying: %s", run.job.id, exc)

    # --- one job ----------------------------------------------------------------------------
    def _run_job(self, first: Run) -> None:
        """Run a job in this slot, then the job its finish claimed, and so on: a busy worker
        takes its next job in the same round trip that ends the last, with no hand-off to the
        claim loop. The slot goes back when a run ends with nothing claimed after it."""
        run: Run | None = first
        while run is not None:
            # Every line logged for this job, here or deep in an adapter, carries these fields.
            fields = {"job_id": run.job.id, "tenant": run.job.ticket.tenant, "worker": self.name}
            with logcontext.bind(**fields, step=None):
                run = self._run_bound(run)

    def _run_bound(self, run: Run) -> Run | None:
        job_id = run.job.id
        try:
            self._execute(run)
        except LeaseLost as exc:
            log.warning("%s", exc)
        except StoreError as exc:
            # The database is unavailable: nothing can be recorded. The lease expires and the
            # reaper requeues the job, so no work is lost.
            log.error("job %s abandoned, database unavailable: %s", job_id, exc)
        except Exception:
            log.exception("job %s: unexpected worker error", job_id)
        finally:
            with self._runs_lock:
                self._runs.pop(job_id, None)
            self.completed += 1
            if run.successor is None:
                self._slots.release()
        return run.successor

    def _execute(self, run: Run) -> None:
        """One run of the job, in a `job.run` span joined to the trace its intake started
        (the traceparent in its `ticket_received` event)."""
        job = run.job
        attributes = {
            "steadfast.job.id": job.id,
            "steadfast.job.attempt": job.attempts,
            "steadfast.tenant": job.ticket.tenant,
            "steadfast.worker": self.name,
        }
        with self.tracing.span(
            "job.run", attributes, parent=ticket_traceparent(run.history), kind=SpanKind.CONSUMER
        ) as span:
            status = self._execute_run(run)
            span.set_attribute("steadfast.job.status", status)

    def _execute_run(self, run: Run) -> str:
        job_id = run.job.id
        started = time.monotonic()
        ctx = LeasedContext(
            self.store,
            run,
            run.history,
            worker_name=self.name,
            shutdown=self._stopping,
            lease_ttl=self.lease_ttl,
            metrics=self.metrics,
            tracing=self.tracing,
        )
        try:
            result = self.handler.run(ctx)
        except StopRequested as stop:
            target = _STOP_TARGET.get(stop.reason, JobStatus.QUEUED)
            self.store.finish(run.lease, target, reason=stop.reason)
            self._observe(target, started)
            return target.value
        except (LeaseLost, StoreError):
            raise
        except Exception as exc:
            log.exception("handler failed on job %s", job_id)
            error = {"kind": type(exc).__name__, "message": str(exc)[:500], "retryable": False}
            self.store.append(run.lease, EventKind.ERROR, error)
            self.store.finish(run.lease, JobStatus.FAILED, error=error, reason="handler error")
            self._observe(JobStatus.FAILED, started)
            return JobStatus.FAILED.value
        self._record(run, result)
        self._observe(result.status, started)
        return result.status.value

    def _observe(self, status: JobStatus, started: float) -> None:
        """One job run ended in `status` (waiting_human and queued are pauses, not outcomes,
        and are counted too: an alert on failures divides by all runs)."""
        if self.metrics is not None:
            self.metrics.job_outcomes.labels(status=status.value).inc()
            self.metrics.job_duration.labels(status=status.value).observe(
                time.monotonic() - started
            )

    def _record(self, run: Run, result: HandlerResult) -> None:
        error = None
        if result.error_kind or result.error_message:
            error = {
                "kind": result.error_kind or "error",
                "message": result.error_message or "",
                "retryable": False,
            }
        if self._stopping.is_set() or result.status == JobStatus.QUEUED:
            self.store.finish(run.lease, result.status, verdict=result.verdict, error=error)
            return
        _, claimed = self.store.finish_and_claim(
            run.lease,
            result.status,
            verdict=result.verdict,
            error=error,
            lease_ttl=self.lease_ttl,
        )
        if claimed and self.metrics is not None:
            self.metrics.claims.inc(len(claimed))
        successors = self._hold(claimed)
        run.successor = successors[0] if successors else None
