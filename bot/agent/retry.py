"""One retry policy for model calls (tenacity): exponential backoff with jitter, honouring
`retry-after`, a bounded number of attempts. Every wait is reported through `on_retry` before
it starts, so the loop can write a `retry` event first."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from bot.agent.errors import ModelRetryable

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6
    base_seconds: float = 1.0
    max_seconds: float = 60.0

    def wait_for(self, attempt: int, error: BaseException | None) -> float:
        """Backoff after `attempt` failed tries (1-based): between half and all of 2^n (so
        every retry waits a little), never below the server's `retry-after`, at most
        `max_seconds`: a longer wait would outlast an operator's cancel."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1))
        wait = random.uniform(ceiling / 2, ceiling)
        if isinstance(error, ModelRetryable) and error.retry_after is not None:
            wait = max(wait, min(error.retry_after, self.max_seconds))
        return wait


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
        return policy.wait_for(state.attempt_number, error)

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
