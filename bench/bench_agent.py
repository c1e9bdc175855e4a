"""Agent loop overhead: one `steadfast worker` process running N concurrent investigations
against the Anthropic emulator, whose every answer takes 1 s.

Per step, "overhead" is the time between two consecutive `model_response` events minus the
emulator's fixed latency: everything Steadfast adds (event writes, rebuilding the messages from
events, the SDK round trip, tools, the policy gate). Peak RSS is sampled from the worker.

    .venv/bin/python bench/bench_agent.py [--jobs 100] [--latency-ms 1000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

from bot.model import JobStatus, Ticket
from bot.store import Store
from emulators.anthropic import SCENARIO_DIR, AnthropicEmulator
from emulators.base import load_scenario

REPO = Path(__file__).resolve().parents[1]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def policy_file(tmp: Path) -> Path:
    data = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())
    data["tenants"] = {"acme": {"channels": ["C1"], "namespaces": ["shop"]}}
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def wait_started(log: Path, timeout: float = 60) -> None:
    """Idle RSS is measured once the worker has imported everything and built its handler."""
    deadline = time.monotonic() + timeout
    while "started" not in log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise SystemExit(f"worker did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=1000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    scenario = load_scenario(SCENARIO_DIR / "anthropic_bench.yaml")
    scenario["anthropic"]["latency_ms"] = args.latency_ms
    emulator = AnthropicEmulator(scenario).start()
    store = Store(url, pool_size=4)
    store.upgrade()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("STEADFAST_", "VAULT_"))}
    env.update(
        STEADFAST_DATABASE_URL=url,
        STEADFAST_POLICY=str(policy_file(tmp)),
        ANTHROPIC_API_KEY="sk-bench",
        ANTHROPIC_BASE_URL=emulator.url,
        STEADFAST_LOG_LEVEL="INFO",
        STEADFAST_POLL_SECONDS="0.05",
    )
    log = open(tmp / "worker.log", "wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker", "--handler", "agent", "-c", str(args.jobs)],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    proc = psutil.Process(worker.pid)
    wait_started(tmp / "worker.log")
    idle_rss = proc.memory_info().rss
    cpu_before = proc.cpu_times()
    peak = [idle_rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], proc.memory_info().rss)
            except psutil.Error:
                return
            stop.wait(0.1)

    threading.Thread(target=sample, daemon=True).start()
    started = time.perf_counter()
    ids = [
        store.submit(Ticket(text=f"#{i} scenario:bench", channel="C1"))[0].id
        for i in range(args.jobs)
    ]
    deadline = time.monotonic() + 60 + args.jobs * 0.5
    while time.monotonic() < deadline:
        if all(store.get(i).status.terminal for i in ids):
            break
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    cpu_after = proc.cpu_times()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    stop.set()
    worker.terminate()
    worker.wait(timeout=30)
    log.close()

    statuses = [store.get(i).status for i in ids]
    overheads: list[float] = []
    steps = 0
    for job_id in ids:
        events = store.events(job_id)
        marks = [e.at for e in events if e.kind in ("model_response",)]
        first_request = next(e.at for e in events if e.kind == "model_request")
        marks.insert(0, first_request)
        steps += len(marks) - 1
        for a, b in itertools.pairwise(marks):
            overheads.append((b - a).total_seconds() * 1000 - args.latency_ms)
    emulator.stop()
    store.close()

    ok = sum(s in (JobStatus.SUCCEEDED, JobStatus.ESCALATED) for s in statuses)
    rows = [
        ("investigations", f"{args.jobs} ({ok} finished)"),
        ("model steps", str(steps)),
        ("wall time", f"{elapsed:.1f} s"),
        (
            "throughput",
            f"{args.jobs / elapsed:.2f} investigations/s, {steps / elapsed:.1f} steps/s",
        ),
        (
            "worker CPU per step",
            f"{cpu / max(steps, 1) * 1000:.1f} ms (all threads, incl. SDK and store)",
        ),
        ("overhead per step p50", f"{pct(overheads, 50):.1f} ms"),
        ("overhead per step p99", f"{pct(overheads, 99):.1f} ms"),
        ("worker RSS idle / peak", f"{idle_rss / 2**20:.0f} MB / {peak[0] / 2**20:.0f} MB"),
        ("RSS per investigation", f"{(peak[0] - idle_rss) / 2**20 / args.jobs:.2f} MB"),
    ]
    width = max(len(k) for k, _ in rows)
    print(
        f"bench_agent: {args.jobs} concurrent, model latency {args.latency_ms} ms, {url.split(':')[0]}"
    )
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


if __name__ == "__main__":
    main()
