"""One retry policy for every outbound call (model API, Vault, Kubernetes, HTTP, log stores,
Slack) and the one parser of a server's `Retry-After` header."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` tries in all; backoff doubles from `base_seconds` up to `max_seconds` with
    jitter (between half and all of it, so every retry waits a little). A server's
    `Retry-After` is honoured as a floor, capped at `max_retry_after` so one rude header
    cannot stall a job."""

    attempts: int = 3
    base_seconds: float = 0.2
    max_seconds: float = 5.0
    max_retry_after: float = 30.0

    def wait_for(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after `attempt` failed tries (1-based)."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** max(0, attempt - 1))
        wait = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait


def parse_retry_after(value: object, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds from now: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
    Anything unreadable (garbage, NaN, infinity, a date without a zone) is None, never an
    exception; a date in the past or a negative number is 0."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)
