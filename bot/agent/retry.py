"""Retrying model calls (tenacity) with the one `core.retry.RetryPolicy`: exponential backoff
with jitter, honouring `retry-after`, a bounded number of attempts. Every wait is reported
through `on_retry` before it starts, so the loop can write a `retry` event first."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from bot.agent.errors import ModelRetryable
from core.retry import RetryPolicy

T = TypeVar("T")
__all__ = ["RetryNotice", "RetryPolicy", "call_with_retries"]


@dataclass(frozen=True, slots=True)
class RetryNotice:
    attempt: int  # the try that failed, 1-based
    wait_seconds: float
    error: ModelRetryable


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    on_retry: Callable[[RetryNotice], None],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `fn`, retrying `ModelRetryable` per `policy`; the last error propagates."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = error.retry_after if isinstance(error, ModelRetryable) else None
        return policy.wait_for(state.attempt_number, retry_after)

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        assert isinstance(error, ModelRetryable)
        seconds = state.next_action.sleep if state.next_action else 0.0
        on_retry(RetryNotice(state.attempt_number, seconds, error))

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        retry=retry_if_exception_type(ModelRetryable),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
    return retrying(fn)
