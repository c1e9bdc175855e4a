"""One chaos run: the world, the bot, M workers, N tickets, the fault plan for the budget, the
drain, the checks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.demo.stack import (
    REPORTER,
    TICKET_CHANNEL,
    InProcessBot,
    Stack,
    child_env,
    settings_for,
)
from bot.settings import Settings
from bot.store import Store, open_store
from chaos_lib.checks import Findings, check
from chaos_lib.faults import FaultPlan, clear_all, injected, rearm_unfired
from chaos_lib.workers import WorkerPool
from chaos_lib.world import SCRIPTS, start_world
from policy.loader import PolicyLoader

TICKET = "<@{bot}> chaos-{script} ticket {n}: instance i-123 for tenant acme is in ERROR"


@dataclass(frozen=True)
class ChaosConfig:
    database_url: str
    workdir: Path
    tickets: int = 20
    workers: int = 4
    budget: float = 60.0  # seconds of faults
    seed: int = 1
    # After the faults stop, the drain waits while jobs make progress; only this many seconds
    # without any (no new event, no Slack post sent) end it as not drained.
    drain: float = 120.0
    concurrency: int = 2  # jobs per worker process
    lease_ttl: float = 2.0
    max_attempts: int = 10
    fault_gap: tuple[float, float] = (0.8, 2.5)  # seconds between dependency faults
    kill_gap: tuple[float, float] = (2.0, 4.5)  # seconds between worker kills


@dataclass
class ChaosResult:
    config: ChaosConfig
    findings: Findings
    kills: int
    faults: int
    applied: dict[str, int]
    injected: dict[str, int]
    elapsed: float
    drained: bool
    unplanned_exits: int


def run_chaos(config: ChaosConfig, say: Callable[[str], None] = lambda _m: None) -> ChaosResult:
    config.workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    stack, model = start_world()
    env = stack.settings_env(database_url=config.database_url, workdir=config.workdir)
    env.update(
        {
            "STEADFAST_LEASE_TTL_SECONDS": f"{config.lease_ttl:g}",
            "STEADFAST_MAX_ATTEMPTS": str(config.max_attempts),
            "STEADFAST_MODEL_RETRY_BASE_SECONDS": "0.3",
            "STEADFAST_MODEL_RETRY_MAX_SECONDS": "2",
            "STEADFAST_LOG_LEVEL": "INFO",  # the "worker ... started" line the drain watches
        }
    )
    settings = settings_for(env)
    store = _open(settings)
    bot: InProcessBot | None = None
    pool: WorkerPool | None = None
    try:
        bot = InProcessBot(settings, store, PolicyLoader(settings.policy))
        pool = WorkerPool(
            child_env(env), config.workdir, config.workers, concurrency=config.concurrency
        )
        plan = FaultPlan.draw(
            config.seed,
            config.budget,
            config.workers,
            gap=config.fault_gap,
            kill_gap=config.kill_gap,
        )
        say(
            f"plan: {len(plan.steps)} kills and faults over {config.budget:g} s (seed {config.seed})"
        )
        tickets = _chaos(config, stack, pool, plan, say)
        clear_all(stack)
        rearmed = rearm_unfired(stack, plan)
        unplanned = pool.ensure_alive()
        say("faults stopped; draining" + (f" (re-armed: {', '.join(rearmed)})" if rearmed else ""))
        drained = _drain(store, pool, tickets, config.drain, say)
        pool.stop()
        findings = check(store, stack.slack, model.log(), tickets)
        return ChaosResult(
            config=config,
            findings=findings,
            kills=pool.kills,
            faults=plan.faults,
            applied=dict(plan.applied),
            injected=injected(stack),
            elapsed=time.monotonic() - started,
            drained=drained,
            unplanned_exits=unplanned,
        )
    finally:
        if pool is not None:
            pool.stop()
        if bot is not None:
            bot.stop()
        stack.stop()
        store.close()


def _chaos(
    config: ChaosConfig,
    stack: Stack,
    pool: WorkerPool,
    plan: FaultPlan,
    say: Callable[[str], None],
) -> list[tuple[str, str]]:
    """Tickets arrive over the first 70 % of the budget while the plan runs, so faults land
    on jobs at every stage."""
    tickets: list[tuple[str, str]] = []
    spread = config.budget * 0.7
    t0 = time.monotonic()
    done = 0
    while True:
        elapsed = time.monotonic() - t0
        while len(tickets) < config.tickets and elapsed >= spread * len(tickets) / config.tickets:
            tickets.append(_mention(stack, len(tickets)))
        for step in plan.due(elapsed, done):
            plan.apply(step, stack, pool)
            done += 1
            what = f"w{step.slot}" if step.action == "kill_worker" else ""
            what += f" for {step.duration:g} s" if step.duration else ""
            say(f"{elapsed:6.1f} s  {step.action} {what}")
        plan.end_outages(elapsed)
        if elapsed >= config.budget and len(tickets) == config.tickets:
            return tickets
        time.sleep(0.05)  # the schedule's tick, not a synchronisation


def _mention(stack: Stack, n: int) -> tuple[str, str]:
    script = SCRIPTS[n % len(SCRIPTS)].removeprefix("chaos-")
    text = TICKET.format(bot=stack.slack.bot_user_id, script=script, n=n)
    message = stack.mention(TICKET_CHANNEL, REPORTER, text)
    return TICKET_CHANNEL, str(message["ts"])


def _drain(
    store: Store,
    pool: WorkerPool,
    tickets: list[tuple[str, str]],
    stall: float,
    say: Callable[[str], None],
) -> bool:
    """Until every ticket's job is terminal and the outbox holds nothing due. A slow machine
    only makes this longer: it gives up after `stall` seconds without progress (a worker
    started, a new event on any job, a post leaving the outbox), or at ten times that in all
    (a livelock). While no worker is up yet, the wait is for start-up, not a stall."""
    started = last_move = time.monotonic()
    seen: tuple[int, int, int] | None = None
    while (now := time.monotonic()) - last_move < stall and now - started < 10 * stall:
        jobs = [store.get(j.id) for c, ts in tickets for j in store.find_by_thread(c, ts)]
        horizon = datetime.now(UTC) + timedelta(minutes=5)
        due = len(store.outbox_due(limit=500, now=horizon))
        if len(jobs) >= len(tickets) and all(j.status.terminal for j in jobs) and not due:
            return True
        up = pool.started()
        mark = (up, sum(j.event_count for j in jobs) + len(jobs), -due)
        if mark != seen or not up:
            seen, last_move = mark, now
        time.sleep(0.2)
    say(f"drain: no progress for {now - last_move:.0f} s, {now - started:.0f} s in all")
    return False


def _open(settings: Settings) -> Store:
    """The harness owns its database: a PostgreSQL schema is migrated here (workers refuse a
    schema behind head, as in production); SQLite migrates itself on open."""
    if settings.database_url.startswith("postgresql"):
        admin = Store(settings.database_url, pool_size=1)
        try:
            admin.upgrade()
        finally:
            admin.close()
    return open_store(settings)
