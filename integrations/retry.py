"""Retries with tenacity: only `retryable` errors, waits from the one `core.retry.RetryPolicy`
(exponential backoff with jitter, a server's `Retry-After` honoured, capped)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from core.retry import RetryPolicy
from integrations.errors import IntegrationError, Unavailable

T = TypeVar("T")
__all__ = ["RetryPolicy", "call_with_retry"]


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, IntegrationError) and exc.retryable


def _wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = exc.retry_after if isinstance(exc, Unavailable) else None
        return policy.wait_for(state.attempt_number, retry_after)

    return wait


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> T:
    """Run `fn`, retrying retryable `IntegrationError`s; the last error is re-raised."""

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None and state.next_action is not None:
            exc = state.outcome.exception()
            if exc is not None:
                on_retry(exc, state.next_action.sleep)

    retrying = Retrying(
        stop=stop_after_attempt(max(1, policy.attempts)),
        wait=_wait(policy),
        retry=retry_if_exception(_retryable),
        reraise=True,
        sleep=sleep,
        before_sleep=before_sleep,
    )
    return retrying(fn)
