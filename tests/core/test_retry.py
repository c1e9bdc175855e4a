"""The one retry policy and the one `Retry-After` parser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.retry import RetryPolicy, parse_retry_after

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 0.5 ", 0.5),
        ("-3", 0.0),
        ("Wed, 02 Dec 2026 12:00:30 GMT", 30.0),
        ("Wed, 02 Dec 2026 11:00:00 GMT", 0.0),  # in the past: now
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        ("Wed, 02 Dec 2026 12:00:30", None),  # no zone: unreadable, not a guess
        (b"\xff", None),
    ],
)
def test_parse_retry_after(value: object, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_waits_back_off_with_jitter_and_honour_a_capped_retry_after() -> None:
    policy = RetryPolicy(attempts=5, base_seconds=1.0, max_seconds=4.0, max_retry_after=10.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0)]:
        assert ceiling / 2 <= policy.wait_for(attempt) <= ceiling
    assert policy.wait_for(1, retry_after=7.0) == 7.0
    assert policy.wait_for(1, retry_after=60.0) == 10.0
