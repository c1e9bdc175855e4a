"""The demo, step by step: emulators up, bot up, a worker subprocess, a mention, a SIGKILL in
the middle of the investigation, a second worker that resumes, the handoff as Slack shows it."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from bot.demo.report import DemoReport, build_report
from bot.demo.scenario import Scenario, load_user_scenario
from bot.demo.stack import (
    ONCALL_CHANNEL,
    REPORTER,
    TICKET_CHANNEL,
    InProcessBot,
    Stack,
    child_env,
    demo_scenario,
    settings_for,
)
from bot.model import Event, Job
from bot.store import Store, open_store
from bot.timeline import summary
from emulators.base import Emulator
from sandbox.loader import PolicyLoader

TICKET = (
    "<@{bot}> instance i-123 for tenant acme has been in ERROR since 02:10, customers can't log in"
)


class DemoError(RuntimeError):
    """The demo could not run to a handoff; the message says where it stopped."""


@dataclass
class DemoOptions:
    crash_at_step: int | None = 5  # None: no crash
    workdir: Path | None = None
    timeout_seconds: float = 55.0
    echo: bool = True
    scenario: Path | None = None  # a user's scenario file over the demo world


@dataclass
class _Workers:
    env: dict[str, str]
    logdir: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, name: str) -> subprocess.Popen[bytes]:
        log = (self.logdir / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker", "--concurrency", "2", "--name", name],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.started.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.started:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def run_demo(options: DemoOptions, console: Console) -> DemoReport:
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="steadfast-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{workdir / 'demo.db'}"
    say: Callable[[str], None] = console.print if options.echo else (lambda _m: None)

    world = demo_scenario()
    scenario = load_user_scenario(options.scenario, world) if options.scenario else None
    stack = Stack.start(scenario.world if scenario else world)
    env = stack.settings_env(database_url=database_url, workdir=workdir)
    settings = settings_for(env)
    store = open_store(settings)
    policy = PolicyLoader(settings.policy)
    workers = _Workers(child_env(env), workdir)
    bot: InProcessBot | None = None
    try:
        bot = InProcessBot(settings, store, policy)
        say(f"[bold]Steadfast demo[/bold] — database {database_url}")
        say("emulators: " + ", ".join(f"{e.name} {e.url}" for e in stack.emulators()))
        if scenario is not None:
            say(f"scenario: {options.scenario}")
            _break(stack, scenario, say)
        first = workers.start("demo-worker-1")
        mention = f"<@{stack.slack.bot_user_id}>"
        text = TICKET.format(bot=stack.slack.bot_user_id)
        if scenario is not None and scenario.ticket:
            text = scenario.ticket if "<@" in scenario.ticket else f"{mention} {scenario.ticket}"
        message = stack.mention(TICKET_CHANNEL, REPORTER, text)
        say(f"[cyan]slack[/cyan] <#{TICKET_CHANNEL}> {REPORTER}: {message['text']}")
        job = _wait_for_job(store, message["ts"], deadline=time.monotonic() + 10)
        say(f"[cyan]job[/cyan] {job.id} queued for tenant {job.ticket.tenant}")
        crashed = _follow(
            store,
            stack,
            job.id,
            options,
            say,
            first,
            workers,
            deadline=time.monotonic() + options.timeout_seconds,
        )
        _wait_outbox_drained(store, job.id, deadline=time.monotonic() + 10)
        report = build_report(
            store,
            stack,
            job.id,
            database_url=database_url,
            crashed_at=crashed,
            ticket_channel=TICKET_CHANNEL,
            oncall_channel=ONCALL_CHANNEL,
        )
        return report
    finally:
        workers.stop()
        if bot is not None:
            bot.stop()
        stack.stop()
        store.close()


def _break(stack: Stack, scenario: Scenario, say: Callable[[str], None]) -> None:
    """The scenario's faults, set before the ticket arrives: every request of the run meets
    them (the bot's own start-up, which checks its Slack token, does not)."""
    for name, spec in scenario.faults.items():
        emulator: Emulator = getattr(stack, name)
        emulator.faults.set(spec.mode, **spec.model_dump(exclude={"mode"}))
        say(f"[yellow]fault[/yellow] {name}: {spec.mode}")


def _wait_for_job(store: Store, ts: str, *, deadline: float) -> Job:
    while time.monotonic() < deadline:
        jobs = store.find_by_thread(TICKET_CHANNEL, ts)
        if jobs:
            return jobs[0]
        time.sleep(0.05)
    raise DemoError("the bot did not turn the mention into a job within 10 s")


def _follow(
    store: Store,
    stack: Stack,
    job_id: str,
    options: DemoOptions,
    say: Callable[[str], None],
    first: subprocess.Popen[bytes],
    workers: _Workers,
    *,
    deadline: float,
) -> int | None:
    """Print events as they land. With a crash step N, the model emulator parks the worker's
    request for step N+1; once it is parked (the worker is waiting on the model, mid-
    investigation), the worker gets SIGKILL and a second worker is started. Returns N, or None
    when no crash happened."""
    hold = (
        stack.anthropic.hold(job_id, options.crash_at_step + 1)
        if options.crash_at_step is not None
        else None
    )
    seen = 0
    crashed: int | None = None
    while time.monotonic() < deadline:
        for event in store.events(job_id, after_seq=seen):
            seen = event.seq
            line = _progress(event)
            if line:
                say(line)
        if hold is not None and crashed is None and hold.arrived.is_set():
            first.send_signal(signal.SIGKILL)
            first.wait()
            stack.anthropic.release(job_id, drop=True)  # the dead worker never reads it
            crashed = hold.step - 1
            say(
                f"[bold red]SIGKILL[/bold red] demo-worker-1 while it waited for the model's "
                f"step {hold.step}; starting demo-worker-2 (it resumes when the lease expires)"
            )
            workers.start("demo-worker-2")
        if store.get(job_id).status.terminal:
            return crashed
        time.sleep(0.05)
    raise DemoError(f"job {job_id} did not finish within {options.timeout_seconds:.0f} s")


def _wait_outbox_drained(store: Store, job_id: str, *, deadline: float) -> None:
    """Until every Slack post of the job is sent, throttled status edits included."""
    while time.monotonic() < deadline:
        horizon = datetime.now(UTC) + timedelta(minutes=5)
        if not [m for m in store.outbox_due(limit=500, now=horizon) if m.job_id == job_id]:
            return
        time.sleep(0.05)


_STYLE = {
    "claimed": "bold",
    "resumed": "bold green",
    "interrupted": "bold red",
    "model_response": "magenta",
    "tool_call": "blue",
    "tool_result": "dim",
    "tool_blocked": "bold yellow",
    "retry": "yellow",
    "degraded": "yellow",
    "assumption": "cyan",
    "handoff": "bold green",
    "escalation_score": "bold",
    "status_changed": "dim",
}


def _progress(event: Event) -> str | None:
    style = _STYLE.get(event.kind)
    if style is None:
        return None
    return f"[{style}]{event.kind:<16}[/{style}] {escape(summary(event))}"
