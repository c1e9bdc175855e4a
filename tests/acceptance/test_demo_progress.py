"""The demo's stall clock: it says what it waits for when a wait is long, and gives up only
after a long time without progress, never at a fixed wall-clock deadline."""

from __future__ import annotations

import pytest

from bot.demo.run import DemoError, DemoOptions, _Progress


def test_a_long_wait_says_what_it_waits_for_and_progress_restarts_the_clock() -> None:
    said: list[str] = []
    progress = _Progress(DemoOptions(stall_seconds=60, notice_seconds=0), said.append)
    progress.idle("demo-worker-1's lease to expire")
    assert len(said) == 1 and "demo-worker-1's lease to expire" in said[0]
    progress.moved()
    progress.idle("the next step")  # restarted: no stall however long the run has been going
    assert "the next step" in said[-1]


def test_no_progress_for_the_stall_limit_is_a_hang_that_names_the_wait() -> None:
    progress = _Progress(DemoOptions(stall_seconds=0, notice_seconds=60), lambda _m: None)
    with pytest.raises(
        DemoError, match=r"no progress for 0 s while waiting for demo-worker-1 to start"
    ):
        progress.idle("demo-worker-1 to start and claim the job")
