"""Claim -> complete throughput and enqueue -> start latency: Steadfast vs procrastinate.

Both run no-op jobs on the same PostgreSQL; every worker is its own process with one job slot.
Throughput: M jobs queued first, then N workers start together; jobs/s = M / time until the
queue is drained. Latency: one idle worker (LISTEN/NOTIFY on both), jobs submitted one by one;
start time is the worker's `claimed` event (Steadfast) or the `started` event (procrastinate).

    .venv/bin/python bench/bench_throughput.py [--jobs 1000] [--latency-jobs 100]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from store_common import pct, pg_schema, table

from bot.handler import HandlerResult, JobContext
from bot.model import JobStatus, Ticket
from bot.store import Store
from bot.worker import Worker


class NoOp:
    def run(self, ctx: JobContext) -> HandlerResult:
        return HandlerResult(JobStatus.SUCCEEDED, verdict="resolved")


# --- Steadfast ---------------------------------------------------------------------------------
def _sf_worker(url: str, name: str, ready: Any, go: Any, until_idle: bool) -> None:
    store = Store(url, pool_size=2)
    store.ping()
    store.wait_for_work(0.01)  # PostgreSQL: LISTEN before we say we are ready
    worker = Worker(store, NoOp(), name=name, concurrency=1, poll=0.05, reap_interval=5)
    ready.release()
    go.wait()
    if not until_idle:
        import signal

        signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    worker.run(until_idle=until_idle)
    store.close()


def _start(ctx: Any, target: Any, n: int, args: tuple[Any, ...]) -> tuple[list[Any], Any]:
    ready, go = ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=target, args=(*args, f"w{i}", ready, go)) for i in range(n)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    return procs, go


def sf_throughput(url: str, workers: int, jobs: int) -> float:
    store = Store(url)
    store.upgrade()
    for i in range(jobs):
        store.submit(Ticket(f"noop {i}"))
    ctx = mp.get_context("spawn")
    procs, go = _start(ctx, _sf_entry_idle, workers, (url,))
    t0 = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    done = store.counts_by_status()[JobStatus.SUCCEEDED]
    store.close()
    assert done == jobs, f"only {done} of {jobs} jobs completed"
    return jobs / elapsed


def _sf_entry_idle(url: str, name: str, ready: Any, go: Any) -> None:
    _sf_worker(url, name, ready, go, True)


def _sf_entry_forever(url: str, name: str, ready: Any, go: Any) -> None:
    _sf_worker(url, name, ready, go, False)


def sf_latency(url: str, n: int) -> list[float]:
    store = Store(url)
    store.upgrade()
    ctx = mp.get_context("spawn")
    procs, go = _start(ctx, _sf_entry_forever, 1, (url,))
    go.set()
    ids = []
    for i in range(n):
        ids.append(store.submit(Ticket(f"latency {i}"))[0].id)
        time.sleep(0.1)  # pacing: the worker is idle when each job arrives
    deadline = time.monotonic() + 30
    while store.counts_by_status()[JobStatus.SUCCEEDED] < n and time.monotonic() < deadline:
        time.sleep(0.05)
    for p in procs:
        p.terminate()
        p.join()
    out = []
    for job_id in ids:
        job = store.get(job_id)
        claimed = store.events(job_id, kinds=["claimed"])[0]
        out.append((claimed.at - job.created_at).total_seconds())
    store.close()
    return out


# --- procrastinate -----------------------------------------------------------------------------
def _pq_app(conninfo: str) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))

    @app.task(name="noop")
    def noop() -> None:
        return None

    return app


def _pq_worker(conninfo: str, wait: bool, name: str, ready: Any, go: Any) -> None:
    import logging

    logging.disable(logging.CRITICAL)
    app = _pq_app(conninfo)
    ready.release()
    go.wait()
    app.run_worker(
        wait=wait,
        concurrency=1,
        name=name,
        install_signal_handlers=wait,
        listen_notify=True,
        fetch_job_polling_interval=0.05 if not wait else 5.0,
        delete_jobs="never",
    )


def _pq_entry_idle(conninfo: str, name: str, ready: Any, go: Any) -> None:
    _pq_worker(conninfo, False, name, ready, go)


def _pq_entry_forever(conninfo: str, name: str, ready: Any, go: Any) -> None:
    _pq_worker(conninfo, True, name, ready, go)


def _pq_count(url: str, sql: str) -> Any:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(sa.text(sql)).all()
    engine.dispose()
    return value


def pq_throughput(url: str, conninfo: str, workers: int, jobs: int) -> float:
    app = _pq_app(conninfo)
    with app.open():
        app.schema_manager.apply_schema()
        task = app.tasks["noop"]
        for start in range(0, jobs, 500):
            task.batch_defer(*[{} for _ in range(min(500, jobs - start))])
    ctx = mp.get_context("spawn")
    procs, go = _start(ctx, _pq_entry_idle, workers, (conninfo,))
    t0 = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    done = _pq_count(url, "SELECT count(*) FROM procrastinate_jobs WHERE status='succeeded'")[0][0]
    assert done == jobs, f"procrastinate completed {done} of {jobs}"
    return jobs / elapsed


def pq_latency(url: str, conninfo: str, n: int) -> list[float]:
    app = _pq_app(conninfo)
    with app.open():
        app.schema_manager.apply_schema()
    ctx = mp.get_context("spawn")
    procs, go = _start(ctx, _pq_entry_forever, 1, (conninfo,))
    go.set()
    time.sleep(1.0)  # procrastinate has no readiness signal; let its LISTEN start
    with app.open():
        for _ in range(n):
            app.tasks["noop"].defer()
            time.sleep(0.1)
    deadline = time.monotonic() + 30
    sql = "SELECT count(*) FROM procrastinate_jobs WHERE status='succeeded'"
    while _pq_count(url, sql)[0][0] < n and time.monotonic() < deadline:
        time.sleep(0.05)
    for p in procs:
        p.terminate()
        p.join()
    rows = _pq_count(
        url,
        "SELECT extract(epoch FROM s.at - d.at) FROM procrastinate_events d "
        "JOIN procrastinate_events s ON s.job_id = d.job_id AND s.type = 'started' "
        "WHERE d.type = 'deferred'",
    )
    return [float(r[0]) for r in rows]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--latency-jobs", type=int, default=100)
    ap.add_argument("--workers", default="1,4,16")
    args = ap.parse_args()
    rows: list[list[object]] = []
    for n in [int(x) for x in args.workers.split(",")]:
        with pg_schema() as (url, _):
            sf = sf_throughput(url, n, args.jobs)
        with pg_schema() as (url, conninfo):
            pq = pq_throughput(url, conninfo, n, args.jobs)
        rows.append([n, round(sf), round(pq)])
    print(f"\nClaim -> complete throughput on PostgreSQL, no-op jobs/s ({args.jobs} jobs)\n")
    print(table(["workers", "steadfast", "procrastinate"], rows))

    with pg_schema() as (url, _):
        sf_lat = sf_latency(url, args.latency_jobs)
    with pg_schema() as (url, conninfo):
        pq_lat = pq_latency(url, conninfo, args.latency_jobs)
    lat_rows = [
        [name, len(v), round(pct(v, 50) * 1000, 2), round(pct(v, 99) * 1000, 2)]
        for name, v in (("steadfast", sf_lat), ("procrastinate", pq_lat))
    ]
    print("\nEnqueue -> start latency on PostgreSQL, one idle worker, ms\n")
    print(table(["system", "jobs", "p50", "p99"], lat_rows))


if __name__ == "__main__":
    main()
