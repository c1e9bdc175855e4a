"""Fill the database-derived gauges (`steadfast_jobs`, queue depth and oldest queued age,
outbox backlog and oldest unsent age, longest human wait) from the store on scrape.

They describe the whole deployment, so exactly one process should export them (otherwise
`sum()` counts them once per pod): `STEADFAST_DB_METRICS` (default on) says whether this process
registers the collector; the chart turns it on for the bot only.

Only the database knows these numbers for the whole deployment, so every scrape asks it. The
collector takes the three gauges out of the registry and re-exposes them itself: a collector
registered after them would refresh *after* they were already serialised, one scrape late.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from bot.metrics import Metrics
from bot.model import JobStatus

log = logging.getLogger(__name__)


class JobCounts(Protocol):
    """The part of `Store` this collector reads."""

    def counts_by_status(self) -> dict[JobStatus, int]: ...

    def oldest_queued_age_seconds(self) -> float | None: ...

    def oldest_waiting_human_seconds(self) -> float | None: ...

    def outbox_backlog(self) -> tuple[int, float | None]: ...


class StoreCollector(Collector):
    """Refresh the database-derived gauges of `metrics` per scrape.

    At most one query per `min_interval` seconds however many scrapers there are. When the
    store fails the last values stay and `steadfast_dependency_up{dependency="database"}` is 0.
    """

    def __init__(
        self,
        metrics: Metrics,
        store: JobCounts,
        *,
        min_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metrics = metrics
        self.store = store
        self.min_interval = min_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last: float | None = None
        self._gauges = (
            metrics.jobs,
            metrics.queue_depth,
            metrics.oldest_queued_age,
            metrics.outbox_backlog,
            metrics.outbox_oldest_age,
            metrics.human_wait_oldest,
        )
        self._registered = False

    def register(self) -> StoreCollector:
        """Swap the gauges in `metrics.registry` for this collector. Idempotent."""
        if not self._registered:
            registry = self.metrics.registry
            for gauge in self._gauges:
                registry.unregister(gauge)
            # A scrape serialises collectors in registration order and refresh() sets the
            # database's dependency_up, so that gauge moves behind this collector.
            registry.unregister(self.metrics.dependency_up)
            registry.register(self)
            registry.register(self.metrics.dependency_up)
            self._registered = True
        return self

    def unregister(self) -> None:
        if self._registered:
            self.metrics.registry.unregister(self)
            for gauge in self._gauges:
                self.metrics.registry.register(gauge)
            self._registered = False

    def refresh(self) -> bool:
        """Query the store now (rate-limited). Returns False when the store failed."""
        with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last < self.min_interval:
                return True
            self._last = now
            try:
                counts = self.store.counts_by_status()
                oldest = self.store.oldest_queued_age_seconds()
                waiting = self.store.oldest_waiting_human_seconds()
                backlog, backlog_age = self.store.outbox_backlog()
            except Exception as exc:  # a scrape must still answer while the database is down
                log.warning("job metrics not refreshed: %s", type(exc).__name__)
                self.metrics.dependency_up.labels(dependency="database").set(0)
                return False
            for status in JobStatus:
                self.metrics.jobs.labels(status=status.value).set(counts.get(status, 0))
            self.metrics.queue_depth.set(counts.get(JobStatus.QUEUED, 0))
            self.metrics.oldest_queued_age.set(oldest or 0.0)
            self.metrics.human_wait_oldest.set(waiting or 0.0)
            self.metrics.outbox_backlog.set(backlog)
            self.metrics.outbox_oldest_age.set(backlog_age or 0.0)
            self.metrics.dependency_up.labels(dependency="database").set(1)
            return True

    def collect(self) -> Iterator[Metric]:
        self.refresh()
        for gauge in self._gauges:
            yield from gauge.collect()

    def describe(self) -> Iterator[Metric]:
        # Lets the registry check names for clashes at register() without querying the store.
        for gauge in self._gauges:
            yield from gauge.describe()
