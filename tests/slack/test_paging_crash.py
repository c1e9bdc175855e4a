"""Paging under SIGKILL: real `steadfast bot` processes (the elected outbox sender) and real
worker processes are killed again and again around the moment a page goes out, while jobs
escalate, fail, and after an operator's retry succeed. PagerDuty (the emulator, answering
slowly so kills land mid-call) must end with exactly one alert per job that escalated or
failed (0 duplicate pages, 0 missed pages), each resolved once its job succeeded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.model import JobStatus, OperatorAction, OutboxState, Ticket
from bot.store.leases import SENDER
from bot.store.store import Store
from emulators.pagerduty import PagerDutyEmulator
from emulators.slack import SlackEmulator
from tests.conftest import REPO
from tests.paging.conftest import PD_KEY
from tests.slack.conftest import ONCALL

pytestmark = pytest.mark.slow

JOBS = 10  # every third fails without a handoff; the others escalate
WORKER = textwrap.dedent(
    """
    import signal, sys, threading, time
    from bot.handler import HandlerResult
    from bot.handoff.model import Handoff
    from bot.model import EventKind, JobStatus
    from bot.settings import Settings
    from bot.slack.notifier import SlackNotifier, run_tag
    from bot.store.store import Store
    from bot.worker.worker import Worker
    from policy.loader import PolicyLoader

    class Paging:
        # steps, then escalate (or fail); a run started by a retry succeeds
        def __init__(self, notifier):
            self.notifier = notifier

        def run(self, ctx):
            retried = bool(run_tag(ctx))
            runs = [e for e in ctx.events if e.kind == "operator_action"]
            since = runs[-1].seq if runs else 0
            done = {e.data["step"] for e in ctx.events if e.kind == "step" and e.seq > since}
            for step in range(4):
                if step not in done:
                    ctx.checkpoint()
                    time.sleep(0.1)
                    ctx.append(EventKind.STEP, {"step": step})
            if "fail" in ctx.job.ticket.text and not retried:
                return HandlerResult(JobStatus.FAILED, error_kind="scripted",
                                     error_message="the script asked to fail")
            handoffs = [e for e in ctx.events if e.kind == "handoff" and e.seq > since]
            if handoffs:  # resumed after a crash: deliver the recorded handoff again
                handoff = Handoff.model_validate(handoffs[-1].data)
            else:
                handoff = Handoff(job_id=ctx.job.id,
                                  verdict="resolved" if retried else "escalated",
                                  summary="pods crash-loop")
                ctx.append(EventKind.HANDOFF, handoff.model_dump())
            self.notifier.handoff(ctx, handoff)
            status = JobStatus.SUCCEEDED if retried else JobStatus.ESCALATED
            return HandlerResult(status, verdict=handoff.verdict)

    settings = Settings()
    store = Store(settings.database_url, max_attempts=settings.max_attempts)
    policy = PolicyLoader(settings.policy)
    worker = Worker.from_settings(settings, store, Paging(SlackNotifier(policy)), name=sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    worker.run()
    """
)


@pytest.fixture
def max_attempts() -> int:
    return 100  # the kills must not use a job's attempts up


class Fleet:
    """The bots and workers, each a real process, killed with SIGKILL and started again."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.kills = {"bot": 0, "worker": 0}

    def start(self, name: str) -> None:
        argv = (
            [sys.executable, "-m", "bot.cli", "bot"]
            if name.startswith("bot")
            else [sys.executable, "-c", WORKER, name]
        )
        with (self.logs / f"{name}.log").open("ab") as out:
            self.procs[name] = subprocess.Popen(
                argv, cwd=REPO, env=self.env, stdout=out, stderr=out
            )

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        self.kills["bot" if name.startswith("bot") else "worker"] += 1
        self.start(name)

    def sender(self, store: Store) -> str | None:
        """The bot holding the sender lease, by its pid in the holder name."""
        held = store.leader_current(SENDER)
        if held is None or held[0] is None:
            return None
        pid = int(held[0].rsplit("-", 2)[1])
        return next((n for n, p in self.procs.items() if p.pid == pid), None)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)


@pytest.fixture
def pagerduty() -> Iterator[PagerDutyEmulator]:
    with PagerDutyEmulator({"pagerduty": {"routing_keys": [PD_KEY]}}) as emulator:
        yield emulator


def _pages(store: Store, job_ids: list[str]) -> list[Any]:
    return [r for j in job_ids for r in store.outbox_with_prefix(f"{j}:page:")]


def _settled(store: Store, job_ids: list[str], statuses: set[JobStatus]) -> bool:
    if any(store.get(j).status not in statuses for j in job_ids):
        return False
    return all(r.state in (OutboxState.SENT, OutboxState.FAILED) for r in _pages(store, job_ids))


def _chaos(
    fleet: Fleet, store: Store, job_ids: list[str], statuses: set[JobStatus]
) -> None:
    """Until everything settles: kill the sender while a page is in flight, and the worker
    holding a running job (around its escalation: the job may be writing its page rows). Each
    kill waits for its moment in the store; none is on a timer."""
    deadline = time.monotonic() + 300
    last_worker_kill = 0.0
    while not _settled(store, job_ids, statuses):
        assert time.monotonic() < deadline, f"not settled; kills so far {fleet.kills}"
        in_flight = [r for r in _pages(store, job_ids) if r.state == OutboxState.SENDING]
        owners = {
            job.lease_owner
            for job in map(store.get, job_ids)
            if job.status == JobStatus.RUNNING and job.lease_owner in fleet.procs
        }
        sender = fleet.sender(store)
        if owners and fleet.kills["worker"] < 6 and time.monotonic() - last_worker_kill > 1.5:
            fleet.kill(sorted(owners)[0])  # type: ignore[arg-type]
            last_worker_kill = time.monotonic()
        elif in_flight and sender is not None and fleet.kills["bot"] < 6:
            fleet.kill(sender)
        time.sleep(0.2)  # pacing of the chaos loop only; every check above reads the store


def test_sigkills_around_pages_neither_duplicate_nor_miss_one(
    slack: SlackEmulator,
    store: Store,
    database_url: str,
    pagerduty: PagerDutyEmulator,
    tmp_path: Path,
) -> None:
    policy = tmp_path / "policy.yaml"
    route = {"channel": ONCALL, "pages": [{"service": "pagerduty", "key": "oncall"}]}
    policy.write_text(yaml.safe_dump({"version": 1, "escalation": {"routes": [route]}}))
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "STEADFAST_DATABASE_URL": database_url,
        "STEADFAST_POLICY": str(policy),
        "STEADFAST_MAX_ATTEMPTS": "100",
        "STEADFAST_LEASE_TTL_SECONDS": "2",
        "STEADFAST_REAP_SECONDS": "0.5",
        "STEADFAST_POLL_SECONDS": "0.1",
        "STEADFAST_SENDER_LEASE_TTL_SECONDS": "2",
        "STEADFAST_PAGING_KEYS": f'{{"oncall": "{PD_KEY}"}}',
        "STEADFAST_PAGERDUTY_URL": pagerduty.url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_APP_TOKEN": "xapp-test",
        "SLACK_API_URL": slack.api_url,
    }
    # slow answers: a page is in flight long enough for a kill to land in the middle of it
    pagerduty.faults.set("slow", delay_ms=400)
    fleet = Fleet(env, tmp_path)
    try:
        for name in ("bot-1", "bot-2", "worker-1", "worker-2"):
            fleet.start(name)
        job_ids = []
        for i in range(JOBS):
            text = f"ticket {i}" + (" fail" if i % 3 == 0 else "")
            job_ids.append(store.submit(Ticket(text=text))[0].id)
        _chaos(fleet, store, job_ids, {JobStatus.ESCALATED, JobStatus.FAILED})

        # every job paged exactly once, on its own dedup_key
        incidents = pagerduty.state()["incidents"]
        assert sorted(i["dedup_key"] for i in incidents) == sorted(job_ids)
        assert pagerduty.state()["refused"] == []

        # an operator retries each; the retried runs succeed and resolve the pages
        for job_id in job_ids:
            store.operator(job_id, OperatorAction.RETRY, by="U0OP", reason="fixed")
        first = dict(fleet.kills)
        fleet.kills = {"bot": 0, "worker": 0}
        _chaos(fleet, store, job_ids, {JobStatus.SUCCEEDED})
    finally:
        fleet.stop()
    kills = {k: first[k] + fleet.kills[k] for k in first}
    assert kills["bot"] > 0 and kills["worker"] > 0, kills  # the chaos did happen
    state = pagerduty.state()
    assert sorted(i["dedup_key"] for i in state["incidents"]) == sorted(job_ids)  # no new alert
    assert all(i["status"] == "resolved" for i in state["incidents"])
    resent = sum(i["triggers"] - 1 for i in state["incidents"])
    print(
        f"\npaging chaos: {JOBS} jobs, SIGKILLs: {kills['bot']} senders, "
        f"{kills['worker']} workers; {len(state['incidents'])} alerts, "
        f"{len(state['events'])} events received ({resent} triggers re-sent after a kill, "
        "folded by dedup_key), 0 duplicate alerts, 0 missed"
    )
