"""Agent loop overhead: one `steadfast worker` process running N concurrent investigations
against the Anthropic emulator, whose every answer takes 1 s.

Per step, "overhead" is the time between two consecutive `model_response` events minus the
emulator's fixed latency: everything Steadfast adds (event writes, rebuilding the messages from
events, the SDK round trip, tools, the policy gate). Peak RSS is sampled from the worker.

    .venv/bin/python bench/bench_agent.py [--jobs 100] [--latency-ms 1000] [--database-url URL]

`--steps 10,40,100,250`: does a step get dearer as the investigation grows? For each length K,
a fresh worker runs investigations of K model steps (K-1 cheap tool calls, all different, then
`submit_handoff`) against the emulator at zero latency, about `--total-steps` steps in all, and
the table shows the worker's CPU per step side by side (ratio against the first length or 40).
Results also go to `bench/results/agent_steps.json` for `bench/plots.py`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def policy_file(tmp: Path, max_steps: int | None = None) -> Path:
    data = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())
    data["tenants"] = {"acme": {"channels": ["C1"], "namespaces": ["shop"]}}
    if max_steps is not None:  # long investigations: only the step count may end them
        data["budgets"].update(steps=max_steps + 5, tokens=10**9, wall_seconds=86_400)
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def wait_started(log: Path, timeout: float = 300) -> None:
    """Idle RSS is measured once the worker has imported everything and built its handler."""
    deadline = time.monotonic() + timeout
    while "started" not in log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise SystemExit(f"worker did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


def step_script(steps: int) -> dict[str, Any]:
    """An investigation of `steps` model steps: `steps - 1` cheap tool calls, every input
    different (the loop guard refuses repeats), then `submit_handoff`."""
    spec: list[dict[str, Any]] = []
    for i in range(1, steps):
        if i % 3 == 0:
            use = {"tool": "note_assumption", "input": {"text": f"Assumption {i}: no change."}}
        elif i % 3 == 1:
            selector = f"app=checkout,shard={i}"
            use = {
                "tool": "k8s_list",
                "input": {"resource": "pods", "namespace": "shop", "label_selector": selector},
            }
        else:
            use = {"tool": "query_logs", "input": {"query": f'{{app="checkout"}} |= "e{i}"'}}
        spec.append({"text": f"Step {i}: narrowing it down.", **use})
    spec.append(
        {
            "tool": "submit_handoff",
            "input": {
                "verdict": "inconclusive",
                "summary": "Checkout could not be inspected; nothing else found.",
                "recommended_actions": ["Check the cluster API from a workstation"],
                "confidence": 0.5,
            },
        }
    )
    script = {"name": f"steps{steps}", "match": f"scenario:steps{steps}$", "steps": spec}
    return {"anthropic": {"latency_ms": 0, "scripts": [script]}}


def worker_env(url: str, policy: Path, model_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STEADFAST_", "VAULT_"))}
    env.update(
        STEADFAST_DATABASE_URL=url,
        STEADFAST_POLICY=str(policy),
        ANTHROPIC_API_KEY="sk-bench",
        ANTHROPIC_BASE_URL=model_url,
        STEADFAST_LOG_LEVEL="INFO",
        STEADFAST_POLL_SECONDS="0.05",
    )
    return env


def length_run(
    steps: int, jobs: int, concurrency: int, tmp: Path, database_url: str | None
) -> dict[str, Any]:
    """One fresh worker, `jobs` investigations of `steps` model steps: its CPU per step."""
    work = tmp / f"steps{steps}"
    work.mkdir()
    url = database_url or f"sqlite:///{work / 'bench.db'}"
    emulator = AnthropicEmulator(step_script(steps)).start()
    store = Store(url, pool_size=4)
    store.upgrade()
    with open(work / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker", "--handler", "agent", "-c", str(concurrency)],
            env=worker_env(url, policy_file(work, max_steps=steps), emulator.url),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        proc = psutil.Process(worker.pid)
        wait_started(work / "worker.log")
        before = proc.cpu_times()
        started = time.perf_counter()
        ids = [
            store.submit(Ticket(text=f"#{i} scenario:steps{steps}", channel="C1"))[0].id
            for i in range(jobs)
        ]
        deadline = time.monotonic() + 120 + jobs * steps * 0.5  # catches a hang only
        while not all(store.get(i).status.terminal for i in ids):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit(f"steps={steps}: investigations did not finish; see {work}")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        after = proc.cpu_times()
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        emulator.stop()
    cpu = (after.user - before.user) + (after.system - before.system)
    logs = [store.events(i) for i in ids]
    store.close()
    model_steps = sum(1 for events in logs for e in events if e.kind == "model_response")
    finished = sum(store_ok(events) for events in logs)
    return {
        "steps": steps,
        "jobs": jobs,
        "finished": finished,
        "model_steps": model_steps,
        "cpu_s": round(cpu, 3),
        "wall_s": round(elapsed, 2),
        "cpu_ms_per_step": round(cpu / max(model_steps, 1) * 1000, 2),
        "events_per_step": round(sum(len(e) for e in logs) / max(model_steps, 1), 2),
    }


def store_ok(events: list[Any]) -> bool:
    return any(e.kind == "handoff" for e in events)


def steps_main(
    lengths: list[int], total: int, concurrency: int, database_url: str | None, name: str
) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-agent-steps-"))
    runs = []
    for steps in lengths:
        jobs = max(2, math.ceil(total / steps))
        runs.append(length_run(steps, jobs, min(concurrency, jobs), tmp, database_url))
    base = next((r for r in runs if r["steps"] == 40), runs[0])
    label = database_url.split(":")[0] if database_url else "sqlite"
    print(
        f"bench_agent --steps: one worker (-c {concurrency}), model latency 0 ms, {label}, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    rows: list[tuple[str, list[str]]] = [
        ("model steps per investigation", [str(r["steps"]) for r in runs]),
        ("investigations (finished)", [f"{r['jobs']} ({r['finished']})" for r in runs]),
        ("model steps measured", [str(r["model_steps"]) for r in runs]),
        ("worker CPU per step", [f"{r['cpu_ms_per_step']:.2f} ms" for r in runs]),
        (
            f"ratio to {base['steps']} steps",
            [f"{r['cpu_ms_per_step'] / base['cpu_ms_per_step']:.2f}x" for r in runs],
        ),
        ("events per step", [f"{r['events_per_step']:.1f}" for r in runs]),
        ("wall time", [f"{r['wall_s']:.1f} s" for r in runs]),
    ]
    width = max(len(k) for k, _ in rows)
    cell = max(len(v) for _, values in rows for v in values) + 2
    for key, values in rows:
        print(f"  {key:<{width}}" + "".join(f"{v:>{cell}}" for v in values))
    out = REPO / "bench" / "results" / "agent_steps.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "load": os.getloadavg()[0],
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    # each --label is one line in the plot; a rerun with the same label replaces its line
    series = json.loads(out.read_text()).get("series", []) if out.exists() else []
    series = [s for s in series if s.get("label") != name] + [
        {"label": name, "machine": machine, "runs": runs}
    ]
    doc = {"machine": machine, "database": label, "runs": runs, "series": series}
    out.write_text(json.dumps(doc, indent=2))
    print(f"  results: {out.relative_to(REPO)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=1000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--steps",
        default=None,
        help="comma-separated investigation lengths, e.g. 40,250: CPU per step for each",
    )
    parser.add_argument(
        "--total-steps", type=int, default=1000, help="--steps: model steps per length"
    )
    parser.add_argument("-c", "--concurrency", type=int, default=4, help="--steps: worker -c")
    parser.add_argument(
        "--label", default="this code", help="--steps: the line these results make in the plot"
    )
    args = parser.parse_args()
    if args.steps:
        lengths = [int(n) for n in args.steps.split(",") if n.strip()]
        steps_main(lengths, args.total_steps, args.concurrency, args.database_url, args.label)
        return
    overhead_main(args)


def overhead_main(args: argparse.Namespace) -> None:
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
