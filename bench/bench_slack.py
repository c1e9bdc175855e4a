"""HTTP-mode front door under load: N signed mentions per second for S seconds on loopback.

Three processes, as in production where Slack is remote: the bot (`steadfast bot --mode
http`), the Slack emulator (`python -m emulators.slack`), and this load generator.

Prints ack latency (p50/p90/p99/max), throughput, and whether every mention became a job.
The bot acknowledges a mention only once its job is stored, so the acks also measure intake.
Goal: p99 <= 100 ms at 200 mentions/s, none lost.

    .venv/bin/python bench/bench_slack.py [--rate 200] [--seconds 30] [--database-url URL]
    .venv/bin/python bench/bench_slack.py --postgres    # a fresh schema in the local PostgreSQL
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from store_common import PG_BASE, pg_schema

from bot.store.store import Store
from emulators.slack_signing import send_event

REPO = Path(__file__).resolve().parent.parent

SECRET = "bench-secret"
CHANNEL = "C0BENCH"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=200, help="mentions per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--senders", type=int, default=8, help="concurrent client threads")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help=f"a schema of its own in {PG_BASE}, dropped afterwards",
    )
    args = parser.parse_args()
    with ExitStack() as stack:
        if args.postgres:
            args.database_url, _ = stack.enter_context(pg_schema())
        run(args, stack)


def _stop(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(30)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc; NaN elsewhere). Unlike the acks,
    this barely moves with the machine's load: the bot's own cost per mention."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(args: argparse.Namespace, stack: ExitStack) -> None:
    """One run; every process it starts is stopped through `stack`, whatever happens."""
    tmp = stack.enter_context(tempfile.TemporaryDirectory())
    url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
    slack = subprocess.Popen(
        [sys.executable, "-m", "emulators.slack"], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    stack.callback(_stop, slack)
    assert slack.stdout is not None
    slack_url = json.loads(slack.stdout.readline())["url"]
    store = Store(url, pool_size=20)
    stack.callback(store.close)
    store.upgrade()
    policy = Path(tmp) / "policy.yaml"
    policy.write_text(f"version: 1\ntenants:\n  bench:\n    channels: [{CHANNEL}]\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "STEADFAST_DATABASE_URL": url,
        "STEADFAST_POLICY": str(policy),
        "STEADFAST_LOG_LEVEL": "WARNING",
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": f"{slack_url}/api/",
    }
    steadfast = str(Path(sys.executable).parent / "steadfast")
    bot = subprocess.Popen(
        [steadfast, "bot", "--mode", "http", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=env,
    )
    stack.callback(_stop, bot)
    events_url = f"http://127.0.0.1:{port}/slack/events"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            if bot.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the bot did not start") from None
            time.sleep(0.1)

    total = int(args.rate * args.seconds)
    texts = [f"<@U0BOT> ticket {i}" for i in range(total)]
    stored = httpx.post(
        f"{slack_url}/_control/slack",
        json={"user_messages": {"channel": CHANNEL, "user": "U0BENCH", "texts": texts}},
        timeout=120,
    ).json()["messages"]
    events = [
        {
            "type": "app_mention",
            "user": m["user"],
            "text": m["text"],
            "ts": m["ts"],
            "channel": m["channel"],
            "event_ts": m["ts"],
        }
        for m in stored
    ]
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    local = threading.local()

    def send(event: dict) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client()
        started = time.perf_counter()
        try:
            response = send_event(events_url, SECRET, event, client=client)
            ok = response.status_code == 200
        except httpx.HTTPError as exc:
            ok, response = False, exc
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            if not ok:
                failures.append(str(response))

    cpu_before = _cpu_seconds(bot.pid)
    before = sum(store.counts_by_status().values())  # a reused database keeps older jobs
    pool = ThreadPoolExecutor(args.senders)
    begin = time.perf_counter()
    for i, event in enumerate(events):
        due = begin + i / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)  # pacing the load generator, not synchronisation
        pool.submit(send, event)
    pool.shutdown(wait=True)
    sent_for = time.perf_counter() - begin

    deadline = time.monotonic() + 120
    jobs = 0
    while time.monotonic() < deadline:
        jobs = sum(store.counts_by_status().values()) - before
        if jobs >= total:
            break
        time.sleep(0.2)
    drained_at = time.perf_counter() - begin
    bot_cpu = _cpu_seconds(bot.pid) - cpu_before

    ms = [v * 1000 for v in latencies]
    rows = [
        ("mentions sent", f"{total}"),
        ("send window (s)", f"{sent_for:.1f}"),
        ("achieved rate (/s)", f"{total / sent_for:.0f}"),
        ("non-200 / errors", f"{len(failures)}"),
        ("ack p50 (ms)", f"{statistics.median(ms):.1f}"),
        ("ack p90 (ms)", f"{percentile(ms, 90):.1f}"),
        ("ack p99 (ms)", f"{percentile(ms, 99):.1f}"),
        ("ack max (ms)", f"{max(ms):.1f}"),
        ("jobs created", f"{jobs}"),
        ("all jobs in by (s)", f"{drained_at:.1f}"),
        ("lost", f"{total - jobs}"),
        ("bot CPU per mention (ms)", f"{bot_cpu / total * 1000:.2f}"),
        ("database", url.split(":")[0]),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'metric'.ljust(width)} | value")
    print(f"{'-' * width}-+-------")
    for key, value in rows:
        print(f"{key.ljust(width)} | {value}")
    # The bot sets the pace too: acks that arrive slower than the rate mean it cannot keep up.
    kept_up = total / sent_for >= 0.95 * args.rate
    goal = kept_up and percentile(ms, 99) <= 100 and jobs == total and not failures
    print(f"goal ({args.rate}/s kept up, p99 <= 100 ms, none lost): {'met' if goal else 'NOT met'}")


if __name__ == "__main__":
    main()
