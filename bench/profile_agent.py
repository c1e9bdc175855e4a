"""Where a step's CPU goes: one investigation of K model steps run under cProfile.

The agent handler the worker builds (`build_handler("agent", ...)`: real SDK, Slack notifier,
integrations from settings) runs one job on this thread through the worker's own
`LeasedContext` on a real store, against the Anthropic emulator at zero latency. The emulator
answers from its own threads, which cProfile does not see, so the profile is the worker's side.
Heartbeats and claim/poll (once per job, not per step) are left out.

    .venv/bin/python bench/profile_agent.py --steps 250 [--top 30] [--sort tottime]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import threading
import time
from pathlib import Path

from bench.bench_agent import policy_file, step_script
from bot.model import Ticket
from bot.notify import NullNotifier
from bot.settings import Settings
from bot.store import Store
from bot.worker.context import LeasedContext, Run
from bot.worker.handlers import build_handler
from emulators.anthropic import AnthropicEmulator
from policy.loader import PolicyLoader


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--callers", default=None, help="also print who calls functions matching this")
    parser.add_argument("--output", type=Path, default=None, help="also write the raw stats")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="profile-agent-"))
    url = args.database_url or f"sqlite:///{tmp / 'profile.db'}"
    emulator = AnthropicEmulator(step_script(args.steps)).start()
    policy = policy_file(tmp, max_steps=args.steps)
    settings = Settings(database_url=url, policy=policy)
    settings = settings.model_copy(
        update={"anthropic_api_key": _secret("sk-profile"), "anthropic_base_url": emulator.url}
    )
    store = Store(url, pool_size=4)
    store.upgrade()
    handler = build_handler(
        "agent", settings, store, PolicyLoader(policy), NullNotifier(), environ={}
    )
    store.submit(Ticket(text=f"profile scenario:steps{args.steps}", channel="C1"))
    claimed = store.claim_with_history("profiler", lease_ttl=60)
    assert claimed is not None
    job, lease, events = claimed
    run = Run(job=job, lease=lease, history=events)
    ctx = LeasedContext(
        store, run, events, worker_name="profiler", shutdown=threading.Event(), lease_ttl=60
    )
    profiler = cProfile.Profile(time.thread_time)  # this thread's CPU, not wall time
    cpu = time.process_time()
    profiler.enable()
    result = handler.run(ctx)
    profiler.disable()
    cpu = time.process_time() - cpu  # the emulator's threads are in here too
    store.finish(run.lease, result.status, verdict=result.verdict)
    steps = sum(1 for e in ctx.events if e.kind == "model_response")
    kinds: dict[str, int] = {}
    for e in ctx.events:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    stats = pstats.Stats(profiler)
    print(
        f"profile_agent: {steps} model steps, {len(ctx.events)} events "
        f"({len(ctx.events) / steps:.1f} per step), status {result.status.value}"
    )
    print(f"  process CPU per step (incl. emulator threads): {cpu / steps * 1000:.2f} ms")
    print(f"  this thread's CPU per step (profiled): {stats.total_tt / steps * 1000:.2f} ms")
    print("  events: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
    if args.callers:
        pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_callers(args.callers)
    print(out.getvalue())
    if args.output is not None:
        stats.dump_stats(args.output)
    emulator.stop()
    store.close()
    handler_close = getattr(handler, "close", None)
    if callable(handler_close):
        handler_close()


def _secret(value: str) -> object:
    from pydantic import SecretStr

    return SecretStr(value)


if __name__ == "__main__":
    main()
