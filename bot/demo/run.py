"""The demo, step by step: emulators up, bot up, a worker subprocess, a mention, a SIGKILL in
the middle of the investigation, a second worker that resumes, the handoff as Slack shows it."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr
from rich.console import Console
from rich.markup import escape

from bot.agent.factory import model_id
from bot.console.links import ConsoleLinks
from bot.console.server import ConsoleServer
from bot.demo.alert import demo_alert
from bot.demo.report import DemoReport, build_report
from bot.demo.scenario import Scenario, load_user_scenario
from bot.demo.stack import (
    ALERTS_TOKEN,
    ONCALL_CHANNEL,
    REPORTER,
    TICKET_CHANNEL,
    InProcessBot,
    Stack,
    child_env,
    demo_scenario,
    settings_for,
)
from bot.errors import SteadfastError
from bot.model import Event, Job, JobStatus
from bot.store import Store, open_store
from bot.timeline import summary
from bot.tracing import Tracing
from bot.wiring import build_console, console_signer
from core.scrubber import Scrubber
from emulators.base import Emulator
from policy.loader import PolicyLoader

TICKET = (
    "<@{bot}> instance i-123 for tenant acme has been in ERROR since 02:10, customers can't log in"
)


class DemoError(SteadfastError):
    """The demo could not run to a handoff; the message says where it stopped."""


@dataclass
class DemoOptions:
    crash_at_step: int | None = 5  # None: no crash
    workdir: Path | None = None
    # The demo waits for progress, not for a wall-clock deadline: a busy laptop is slow, not
    # broken. Only this long without any progress (no new event, no Slack post sent) is a hang.
    stall_seconds: float = 180.0
    # After this long without progress, say what the demo is waiting for (and again every
    # `notice_seconds`), so a slow run never looks frozen.
    notice_seconds: float = 5.0
    echo: bool = True
    scenario: Path | None = None  # a user's scenario file over the demo world
    console_port: int = 0  # the trace console's port on 127.0.0.1 (0: any free port)
    # Called with the report while everything still runs (the console can show the job);
    # the demo stops when it returns. `steadfast demo` in a terminal waits here for Ctrl-C.
    linger: Callable[[DemoReport], None] | None = None
    from_alert: bool = False  # start from an Alertmanager webhook instead of a Slack mention
    provider: str = "anthropic"  # how the workers call Claude (bot.demo.providers)


class _Progress:
    """The stall clock: restarted by every sign of progress; tells the user what it waits for
    when a wait is long, and raises DemoError when nothing has happened for `stall_seconds`."""

    def __init__(self, options: DemoOptions, say: Callable[[str], None]) -> None:
        self._options = options
        self._say = say
        self.moved()

    def moved(self) -> None:
        self._since = self._noticed = time.monotonic()

    def idle(self, waiting_for: str) -> None:
        """Called on each poll without progress; `waiting_for` says what for, in user words."""
        now = time.monotonic()
        waited = now - self._since
        if waited >= self._options.stall_seconds:
            raise DemoError(
                f"no progress for {self._options.stall_seconds:.0f} s while waiting for "
                f"{waiting_for}"
            )
        if now - self._noticed >= self._options.notice_seconds:
            self._noticed = now
            self._say(f"[dim]… waiting {waited:.0f} s for {escape(waiting_for)}[/dim]")


@dataclass
class _Workers:
    env: dict[str, str]
    logdir: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, name: str) -> subprocess.Popen[bytes]:
        # the child writes to its own copy of the descriptor; the parent's closes at once
        with (self.logdir / f"{name}.log").open("wb") as log:
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
    env = stack.settings_env(database_url=database_url, workdir=workdir, provider=options.provider)
    if options.from_alert:
        # the bot serves Alertmanager's endpoint on a loopback port of its own
        env |= {"STEADFAST_ALERTS_TOKEN": ALERTS_TOKEN, "STEADFAST_ALERTS_PORT": "0"}
    settings = settings_for(env)
    store = open_store(settings)
    policy = PolicyLoader(settings.policy)
    workers = _Workers(child_env(env), workdir)
    bot: InProcessBot | None = None
    trace_console: ConsoleServer | None = None
    # exported when OTEL_EXPORTER_OTLP_ENDPOINT is set; else real ids that go nowhere
    tracing = (
        Tracing.from_settings(settings, service="steadfast-bot")
        if settings.otel_exporter_otlp_endpoint
        else Tracing.local(service="steadfast-bot")
    )
    try:
        trace_console, links = _start_console(env, store, policy, options.console_port)
        bot = InProcessBot(settings, store, policy, tracing, console_links=links)
        say(f"[bold]Steadfast demo[/bold] — database {database_url}")
        say(f"trace console: {trace_console.local_url} (each handoff links its job's page)")
        say("emulators: " + ", ".join(f"{e.name} {e.url}" for e in stack.emulators()))
        say(f"model: {model_id(settings, settings.model_provider)} via {settings.model_provider}")
        if scenario is not None:
            say(f"scenario: {options.scenario}")
            _break(stack, scenario, say)
        first = workers.start("demo-worker-1")
        if options.from_alert:
            job = _post_alert(store, bot, say)
        else:
            mention = f"<@{stack.slack.bot_user_id}>"
            text = TICKET.format(bot=stack.slack.bot_user_id)
            if scenario is not None and scenario.ticket:
                text = (
                    scenario.ticket if "<@" in scenario.ticket else f"{mention} {scenario.ticket}"
                )
            message = stack.mention(TICKET_CHANNEL, REPORTER, text)
            say(f"[cyan]slack[/cyan] <#{TICKET_CHANNEL}> {REPORTER}: {message['text']}")
            job = _wait_for_job(store, message["ts"], _Progress(options, say))
        say(f"[cyan]job[/cyan] {job.id} queued for tenant {job.ticket.tenant}")
        crashed = _follow(store, stack, job.id, options, say, first, workers)
        _wait_outbox_drained(store, job.id, _Progress(options, say))
        report = build_report(
            store,
            stack,
            job.id,
            database_url=database_url,
            crashed_at=crashed,
            ticket_channel=TICKET_CHANNEL,
            oncall_channel=ONCALL_CHANNEL,
        )
        report.console_url = links.job_url(job.id, job.ticket.tenant)
        if job.ticket.tenant:
            report.console_jobs_url = links.tenant_url(job.ticket.tenant)
        if options.linger is not None:
            workers.stop()  # the job is done; only the console keeps serving it
            options.linger(report)
        return report
    finally:
        workers.stop()
        if bot is not None:
            bot.stop()
        if trace_console is not None:
            trace_console.stop()
        stack.stop()
        store.close()
        tracing.shutdown()


def _start_console(
    env: dict[str, str], store: Store, policy: PolicyLoader, port: int
) -> tuple[ConsoleServer, ConsoleLinks]:
    """The trace console on loopback with a secret made for this run: the bot signs the
    handoff's "Open the trace" link with it. Workers never see the secret."""
    settings = settings_for({**env, "STEADFAST_CONSOLE_SECRET": secrets.token_urlsafe(48)})
    scrubber = Scrubber()
    for name, value in settings:
        if isinstance(value, SecretStr):
            scrubber.register(name, value.get_secret_value())
    try:
        server = ConsoleServer(build_console(settings, store, policy, scrubber), port=port)
    except OSError as exc:
        raise DemoError(f"cannot serve the trace console on port {port}: {exc}") from exc
    server.start()
    return server, ConsoleLinks(console_signer(settings), server.local_url, policy)


def _break(stack: Stack, scenario: Scenario, say: Callable[[str], None]) -> None:
    """The scenario's faults, set before the ticket arrives: every request of the run meets
    them (the bot's own start-up, which checks its Slack token, does not)."""
    for name, spec in scenario.faults.items():
        emulator: Emulator = getattr(stack, name)
        emulator.faults.set(spec.mode, **spec.model_dump(exclude={"mode"}))
        say(f"[yellow]fault[/yellow] {name}: {spec.mode}")


def _post_alert(store: Store, bot: InProcessBot, say: Callable[[str], None]) -> Job:
    """Alertmanager's webhook, as its `webhook_config` would send it, to the bot's endpoint."""
    url = bot.alert_url
    if url is None:
        raise DemoError("the demo bot serves no alert endpoint (STEADFAST_ALERTS_TOKEN unset)")
    body = demo_alert()
    answer = httpx.post(
        url, json=body, headers={"Authorization": f"Bearer {ALERTS_TOKEN}"}, timeout=60
    )
    if answer.status_code != 202 or not answer.json().get("created"):
        raise DemoError(f"the alert endpoint answered {answer.status_code}: {answer.text[:300]}")
    summary = body["alerts"][0]["annotations"]["summary"]
    say(f"[cyan]alertmanager[/cyan] POST {url} ({answer.status_code}): {escape(summary)}")
    return store.get(str(answer.json()["created"][0]))


def _wait_for_job(store: Store, ts: str, progress: _Progress) -> Job:
    while True:
        jobs = store.find_by_thread(TICKET_CHANNEL, ts)
        if jobs:
            return jobs[0]
        progress.idle("the bot to turn the Slack mention into a job")
        time.sleep(0.05)


def _follow(
    store: Store,
    stack: Stack,
    job_id: str,
    options: DemoOptions,
    say: Callable[[str], None],
    first: subprocess.Popen[bytes],
    workers: _Workers,
) -> int | None:
    """Print events as they land. With a crash step N, the model emulator parks the worker's
    request for step N+1; once it is parked (the worker is waiting on the model, mid-
    investigation), the worker gets SIGKILL and a second worker is started. Returns N, or None
    when no crash happened. There is no overall deadline: each new event is progress."""
    hold = (
        stack.anthropic.hold(job_id, options.crash_at_step + 1)
        if options.crash_at_step is not None
        else None
    )
    progress = _Progress(options, say)
    seen = 0
    last: Event | None = None
    crashed: int | None = None
    while True:
        for event in store.events(job_id, after_seq=seen):
            seen, last = event.seq, event
            progress.moved()
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
            progress.moved()
        job = store.get(job_id)
        if job.status.terminal:
            return crashed
        progress.idle(_waiting_for(job, last, crashed is not None))
        time.sleep(0.05)


def _waiting_for(job: Job, last: Event | None, crashed: bool) -> str:
    """What the job is waiting for, in the user's words."""
    after = f" (last event: {last.kind})" if last is not None else ""
    if job.status == JobStatus.QUEUED:
        # Starting a worker process (Python and every SDK) is the slow part on a busy machine.
        who = f"demo-worker-{2 if crashed else 1} to start and claim the job"
        return who + after
    if crashed and job.lease_owner == "demo-worker-1":
        expires = job.lease_expires_at
        if expires is not None and expires <= datetime.now(UTC):
            return (
                f"demo-worker-2 to start and resume the job (demo-worker-1's lease expired at "
                f"{expires.astimezone(UTC):%H:%M:%S} UTC)"
            )
        when = f" at {expires.astimezone(UTC):%H:%M:%S} UTC" if expires is not None else ""
        return f"demo-worker-1's lease to expire{when} so demo-worker-2 can resume the job"
    if last is not None and last.kind == "tool_call":
        return f"{job.lease_owner or 'the worker'} to finish the tool call {last.data.get('name')}"
    return f"{job.lease_owner or 'the worker'}'s next step (job {job.status.value}){after}"


def _wait_outbox_drained(store: Store, job_id: str, progress: _Progress) -> None:
    """Until every Slack post of the job is sent, throttled status edits included."""
    pending = -1
    while True:
        horizon = datetime.now(UTC) + timedelta(minutes=5)
        due = [m for m in store.outbox_due(limit=500, now=horizon) if m.job_id == job_id]
        if not due:
            return
        if len(due) != pending:
            pending = len(due)
            progress.moved()
        progress.idle(f"the bot to post {len(due)} more message(s) to Slack")
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
