"""The `JobContext` a handler receives: every write goes through the job's lease."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import SpanKind

from bot.alerts.keys import is_alert_job
from bot.errors import LeaseLost, StopRequested
from bot.metrics import Metrics
from bot.model import Event, EventKind, Job, Lease, outbox_key
from bot.store import Store
from bot.tracing import Tracing
from bot.tracing.carry import with_traceparent
from core import logcontext

# Events the bot appends to a job while a worker runs it. The worker's history is in memory, so
# these are read back at each step boundary (only for the jobs that can receive them).
EXTERNAL_KINDS = [EventKind.ALERT_RESOLVED.value]

_UNREAD = object()  # no append since the last step boundary: `checkpoint` reads the store


@dataclass
class Run:
    """A job this worker holds. The heartbeat thread replaces `lease` (same fence, later expiry)
    and sets `lost` when renewal is refused."""

    job: Job
    lease: Lease
    history: list[Event] = field(default_factory=list)
    lost: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    # the job this run's thread claimed as it finished (`Store.finish_and_claim`) and runs next
    successor: Run | None = None


class LeasedContext:
    def __init__(
        self,
        store: Store,
        run: Run,
        events: list[Event],
        *,
        worker_name: str,
        shutdown: threading.Event,
        lease_ttl: float,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self._store = store
        self._lease_ttl = lease_ttl
        self._tracing = tracing or Tracing.disabled()
        self._run = run
        self._events = events
        self._worker_name = worker_name
        self._shutdown = shutdown
        self._metrics = metrics
        self._last_step = time.perf_counter()
        self._control: str | object | None = _UNREAD

    @property
    def job(self) -> Job:
        return self._run.job

    @property
    def events(self) -> list[Event]:
        return self._events

    @property
    def worker_name(self) -> str:
        return self._worker_name

    def _lease(self) -> Lease:
        if self._run.lost:
            raise LeaseLost(self._run.lease.job_id, self._run.lease.fence)
        return self._run.lease

    def append(self, kind: EventKind, data: dict[str, Any] | None = None) -> Event:
        return self.append_many([(kind, {} if data is None else data)])[0]

    def append_many(self, items: list[tuple[EventKind, dict[str, Any]]]) -> list[Event]:
        try:
            appended = self._store.append_batch(self._lease(), items, lease_ttl=self._lease_ttl)
        except LeaseLost:
            self._run.lost = True
            raise
        self._run.lease = appended.lease
        self._control = appended.control
        self._events.extend(appended.events)
        for event in appended.events:
            if "step" in event.data:  # log lines from here on say which step they belong to
                logcontext.set_field("step", event.data["step"])
        if self._metrics is not None:
            now = time.perf_counter()
            for event in appended.events:
                self._metrics.step_latency.labels(kind=event.kind).observe(now - self._last_step)
            self._last_step = now
        return appended.events

    def checkpoint(self) -> None:
        # The last append read the operator's request in its own statement: a boundary right
        # after one asks the store only when something else came in between.
        pending, self._control = self._control, _UNREAD
        try:
            if pending is _UNREAD:
                pending = self._store.control(self._lease())
        except LeaseLost:
            self._run.lost = True
            raise
        # An operator's pause/cancel wins over shutdown: releasing would lose their request.
        if pending:
            raise StopRequested(self.job.id, str(pending))
        if self._shutdown.is_set():
            raise StopRequested(self.job.id, "shutdown")
        self._take_external()

    def _take_external(self) -> None:
        """Merge events others appended (a resolved alert) into the history, in seq order, so
        the next model request is built with them."""
        if not is_alert_job(self.job):
            return
        known = {e.seq for e in self._events}
        new = [
            e for e in self._store.events(self.job.id, kinds=EXTERNAL_KINDS) if e.seq not in known
        ]
        if new:
            self._events.extend(new)
            self._events.sort(key=lambda e: e.seq)

    def hold_lease(self) -> None:
        try:
            lease = self._store.renew(self._lease(), lease_ttl=self._lease_ttl)
        except LeaseLost:
            self._run.lost = True
            raise
        # the heartbeat thread writes this too: same fence, either expiry is the held one
        self._run.lease = lease

    def outbox(self, purpose: str, method: str, payload: dict[str, Any]) -> None:
        job_id = self.job.id
        attributes = {"steadfast.outbox.purpose": purpose, "steadfast.outbox.method": method}
        with self._tracing.span("outbox.put", attributes, kind=SpanKind.PRODUCER):
            # the dispatcher's `outbox.send` span joins this trace (an `_` directive: not sent)
            payload = with_traceparent(payload, self._tracing.traceparent())
            self._put(job_id, purpose, method, payload)

    def _put(self, job_id: str, purpose: str, method: str, payload: dict[str, Any]) -> None:
        try:
            self._store.outbox_put(
                outbox_key(job_id, purpose),
                method,
                payload,
                job_id=job_id,
                purpose=purpose,
                lease=self._lease(),
            )
        except LeaseLost:
            self._run.lost = True
            raise
