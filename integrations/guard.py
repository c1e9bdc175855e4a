"""The one place an integration call becomes an `Outcome`: breaker, retries, scrubbing and
translation of every error into a `Degraded` a human can act on."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from core.scrubber import Scrubber
from integrations.breaker import CircuitBreaker
from integrations.errors import AccessDenied, IntegrationError
from integrations.outcome import Degraded, Ok, Outcome
from integrations.retry import RetryPolicy, call_with_retry
from policy.judge import Decision

T = TypeVar("T")


class Guard:
    """Wraps the calls of one dependency (`"vault"`, `"kubernetes"`, `"http:<name>"`, ...)."""

    def __init__(
        self,
        dependency: str,
        scrubber: Scrubber,
        *,
        breaker: CircuitBreaker | None = None,
        retry: RetryPolicy | None = None,
        metrics: Any | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.dependency = dependency
        self.scrubber = scrubber
        self.breaker = breaker or CircuitBreaker(dependency)
        self.retry = retry or RetryPolicy()
        self.metrics = metrics  # bot.metrics.Metrics, optional
        self.log = logging.getLogger(f"steadfast.integrations.{dependency.split(':')[0]}")
        self._sleep = sleep

    def call(self, what: str, fn: Callable[[], T]) -> Outcome[T]:
        """Run `fn` (which raises only `IntegrationError`s on purpose); never raises."""
        if not self.breaker.allow():
            reason = (
                f"{what}: {self.dependency} is failing (circuit open after "
                f"{self.breaker.failure_threshold} consecutive failures, last: "
                f"{self.breaker.last_error or 'unknown'}); next attempt in "
                f"{self.breaker.retry_in():.0f}s"
            )
            return self._degraded(reason, retryable=True, log=False)
        try:
            value = call_with_retry(fn, self.retry, sleep=self._sleep, on_retry=self._on_retry)
        except IntegrationError as exc:
            message = self.scrubber.scrub(str(exc))
            if exc.dependency_failure:
                self.breaker.record_failure(message)
                self._up(False)
            else:
                # the dependency answered (not found, denied by policy): it is healthy
                self.breaker.record_success()
                self._up(True)
            denied = exc.decision if isinstance(exc, AccessDenied) else None
            return self._degraded(f"{what}: {message}", retryable=exc.retryable, denied=denied)
        except Exception as exc:  # a vendor error we did not translate, or a bug: never raise
            message = self.scrubber.scrub(f"{type(exc).__name__}: {exc}")
            self.breaker.record_failure(message)
            self._up(False)
            # no traceback: vendor exceptions can carry response bodies, and logs must stay clean
            self.log.error("unexpected error from %s during %s: %s", self.dependency, what, message)
            return self._degraded(f"{what}: unexpected error ({message})", retryable=True)
        self.breaker.record_success()
        self._up(True)
        return Ok(self.scrubber.scrub_obj(value))

    def _degraded(
        self, reason: str, *, retryable: bool, log: bool = True, denied: Decision | None = None
    ) -> Degraded:
        reason = self.scrubber.scrub(reason)
        if log:
            self.log.warning("%s degraded: %s", self.dependency, reason)
        return Degraded(self.dependency, reason, retryable, denied)

    def _on_retry(self, exc: BaseException, delay: float) -> None:
        self.log.info(
            "%s: retrying in %.2fs after %s", self.dependency, delay, self.scrubber.scrub(str(exc))
        )
        if self.metrics is not None:
            self.metrics.retries.labels(dependency=self.dependency).inc()

    def _up(self, up: bool) -> None:
        if self.metrics is not None:
            self.metrics.dependency_up.labels(dependency=self.dependency).set(1 if up else 0)
