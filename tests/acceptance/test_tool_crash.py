"""A real worker subprocess SIGKILLed while one of its tool calls is in flight, against the
demo's emulators: the resumed job runs that one call again (marked `rerun`), repeats no
completed tool call and no model request, and finishes."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.demo.stack import TICKET_CHANNEL, Stack, child_env, demo_scenario, settings_for
from bot.model import JobStatus, Ticket
from bot.store import Store, open_store
from tests.agent.acceptance import HANG, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # ceilings for a hang only
QUERY = "/loki/api/v1/query_range"


@pytest.fixture
def stack() -> Iterator[Stack]:
    s = Stack.start(demo_scenario())
    yield s
    s.stop()


def _worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker", "-c", "1", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_sigkill_during_a_tool_call_reruns_only_that_call(stack: Stack, tmp_path: Path) -> None:
    env = child_env(
        stack.settings_env(database_url=f"sqlite:///{tmp_path / 'steadfast.db'}", workdir=tmp_path)
    )
    store: Store = open_store(settings_for(env), pool_size=2)
    try:
        # The log store holds its first answer far longer than the test: the worker is inside
        # `query_logs` when it dies, and the re-run gets a normal answer.
        stack.loki.faults.set("slow", delay_ms=600_000, count=1, path=QUERY)
        job, _ = store.submit(
            Ticket(text="instance i-123 for tenant acme is in ERROR", channel=TICKET_CHANNEL)
        )
        first = _worker(env, tmp_path / "w1.log", "--name", "w1")
        try:
            wait_until(
                lambda: any(r.path == QUERY for r in stack.loki.requests),
                HANG,
                "the worker's log query reached the log store\n"
                + (tmp_path / "w1.log").read_text(),
            )
        finally:
            first.kill()  # SIGKILL: the query's answer is never read, the lease left to expire
            first.wait()
        in_flight = store.events(job.id, kinds=["tool_call"])[-1]
        rerun = in_flight.data["tool_use_id"]
        assert in_flight.data["name"] == "query_logs"
        assert rerun not in {
            e.data["tool_use_id"] for e in store.events(job.id, kinds=["tool_result"])
        }

        second = _worker(env, tmp_path / "w2.log", "--name", "w2", "--until-idle")
        assert second.wait(timeout=HANG) == 0, (tmp_path / "w2.log").read_text()[-3000:]

        assert store.get(job.id).status == JobStatus.ESCALATED
        events = store.events(job.id)
        calls = [e for e in events if e.kind == "tool_call"]
        per_call = Counter(e.data["tool_use_id"] for e in calls)
        assert per_call[rerun] >= 2
        # No call that had completed ran again: a call runs once, plus one re-run (marked) for
        # each lease lost while it was in flight. The planned kill is one; a worker starved past
        # its lease TTL on a very busy machine can add more, and each may leave one call to rerun.
        interrupted = sum(e.kind == "interrupted" for e in events)
        assert interrupted >= 1
        for tool_use_id in per_call:
            flags = [e.data.get("rerun") for e in calls if e.data["tool_use_id"] == tool_use_id]
            assert flags[0] is None and all(flags[1:]), (tool_use_id, flags)
        assert sum(n - 1 for n in per_call.values()) <= interrupted
        finished = Counter(
            e.data["tool_use_id"] for e in events if e.kind in ("tool_result", "tool_blocked")
        )
        assert set(finished.values()) == {1}
        assert sum(r.path == QUERY for r in stack.loki.requests) >= 2
        # the planned kill's model request was answered and recorded before the tool call
        assert stack.anthropic.state()["jobs"][job.id]["repeated"] <= interrupted - 1
    finally:
        store.close()
