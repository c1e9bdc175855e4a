"""Per-step durability cost and storage: Steadfast's event log vs LangGraph checkpointers.

A "turn" appends one ~500-byte message and makes it durable before returning:
- Steadfast: `Store.append` (one fenced UPDATE + one INSERT, one commit);
- LangGraph: one `graph.invoke(..., durability="sync")` of a one-node graph whose state is the
  growing message list (`SqliteSaver` / `PostgresSaver`).
Latency p50/p99 over turns 1-10 ("turn 1") and 191-200 ("turn 200") of every job; bytes stored
after one job of 50, 100 and 200 turns.

    .venv/bin/python bench/bench_store.py [--jobs 20] [--lg-jobs 10] [--no-postgres]
"""

from __future__ import annotations

import argparse
import operator
import os
import random
import sqlite3
import string
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from store_common import pct, pg_schema, table

from bot.model import JobStatus, Ticket
from bot.store import Store

TURNS = 200
_RNG = random.Random(7)
_WORDS = ["".join(_RNG.choices(string.ascii_lowercase, k=_RNG.randint(2, 9))) for _ in range(2000)]


def message() -> str:
    """~500 bytes of word-like text, different every call: repeated payloads would let
    PostgreSQL's TOAST compression hide how much each system really stores."""
    out: list[str] = []
    while sum(len(w) + 1 for w in out) < 500:
        out.append(_RNG.choice(_WORDS))
    return " ".join(out)[:500]


Window = tuple[list[float], list[float]]


def _windows(lat: list[list[float]]) -> Window:
    first = [d for job in lat for d in job[:10]]
    last = [d for job in lat for d in job[-10:]]
    return first, last


# --- Steadfast ---------------------------------------------------------------------------------
def steadfast_turns(url: str, jobs: int, turns: int = TURNS) -> Window:
    store = Store(url)
    store.upgrade()
    lat: list[list[float]] = []
    for j in range(jobs):
        store.submit(Ticket(f"bench {j}"))
        claimed = store.claim("bench", lease_ttl=600)
        assert claimed is not None
        _, lease = claimed
        per: list[float] = []
        for t in range(turns):
            data = {"turn": t, "role": "assistant", "content": message()}
            t0 = time.perf_counter()
            store.append(lease, "model_response", data)
            per.append(time.perf_counter() - t0)
        store.finish(lease, JobStatus.SUCCEEDED)
        lat.append(per)
    store.close()
    return _windows(lat)


def steadfast_bytes(url: str, turns: int, size: Callable[[], int]) -> int:
    store = Store(url)
    store.upgrade()
    before = size()
    store.submit(Ticket("bench"))
    claimed = store.claim("bench", lease_ttl=600)
    assert claimed is not None
    for t in range(turns):
        store.append(claimed[1], "model_response", {"turn": t, "content": message()})
    store.finish(claimed[1], JobStatus.SUCCEEDED)
    store.close()
    return size() - before


# --- LangGraph ---------------------------------------------------------------------------------
class State(TypedDict):
    messages: Annotated[list[dict[str, Any]], operator.add]


def _graph(saver: Any) -> Any:
    from langgraph.graph import END, START, StateGraph

    def model(state: State) -> dict[str, Any]:
        return {"messages": [{"role": "assistant", "content": message()}]}

    g = StateGraph(State)
    g.add_node("model", model)
    g.add_edge(START, "model")
    g.add_edge("model", END)
    return g.compile(checkpointer=saver)


def langgraph_turns(saver: Any, jobs: int, turns: int = TURNS, prefix: str = "t") -> Window:
    graph = _graph(saver)
    lat: list[list[float]] = []
    for j in range(jobs):
        config = {"configurable": {"thread_id": f"{prefix}{j}"}}
        per: list[float] = []
        for _ in range(turns):
            t0 = time.perf_counter()
            graph.invoke({"messages": []}, config, durability="sync")
            per.append(time.perf_counter() - t0)
        lat.append(per)
    return _windows(lat)


def _sqlite_saver(path: str) -> Any:
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(path, check_same_thread=False)
    # Same durability setting as Steadfast's store, so the comparison is like for like.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    saver = SqliteSaver(conn)
    saver.setup()
    return saver


def _sqlite_size(path: str) -> Callable[[], int]:
    def size() -> int:
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            page = conn.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * page)

    return size


def _pg_size(url: str) -> Callable[[], int]:
    def size() -> int:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            total = conn.execute(
                sa.text(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                )
            ).scalar()
        engine.dispose()
        return int(total or 0)

    return size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--lg-jobs", type=int, default=10)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench_store_")
    rows: list[list[object]] = []

    def add(system: str, backend: str, w: Window) -> None:
        ms = [round(pct(x, p) * 1000, 3) for x in w for p in (50, 99)]
        rows.append([system, backend, *ms])

    add("steadfast", "sqlite", steadfast_turns(f"sqlite:///{tmp}/sf.db", args.jobs))
    add("langgraph", "sqlite", langgraph_turns(_sqlite_saver(f"{tmp}/lg.db"), args.lg_jobs))
    if not args.no_postgres:
        with pg_schema() as (url, _):
            add("steadfast", "postgresql", steadfast_turns(url, args.jobs))
        from langgraph.checkpoint.postgres import PostgresSaver

        with pg_schema() as (_, conninfo), PostgresSaver.from_conn_string(conninfo) as saver:
            saver.setup()
            add("langgraph", "postgresql", langgraph_turns(saver, args.lg_jobs))
    print(f"\nPer-turn durability cost, ms (append one message + commit; {os.cpu_count()} CPUs)\n")
    print(
        table(["system", "backend", "turn1 p50", "turn1 p99", "turn200 p50", "turn200 p99"], rows)
    )

    size_rows: list[list[object]] = []
    for turns in (50, 100, 200):
        path = f"{tmp}/sf_bytes_{turns}.db"
        row: list[object] = [turns, steadfast_bytes(f"sqlite:///{path}", turns, _sqlite_size(path))]
        lg_path = f"{tmp}/lg_bytes_{turns}.db"
        saver = _sqlite_saver(lg_path)
        size = _sqlite_size(lg_path)
        before = size()
        langgraph_turns(saver, 1, turns)
        row.append(size() - before)
        if not args.no_postgres:
            with pg_schema() as (url, _):
                row.insert(2, steadfast_bytes(url, turns, _pg_size(url)))
            from langgraph.checkpoint.postgres import PostgresSaver

            with pg_schema() as (url, conninfo), PostgresSaver.from_conn_string(conninfo) as pgs:
                pgs.setup()
                size = _pg_size(url)
                before = size()
                langgraph_turns(pgs, 1, turns)
                row.append(size() - before)
        size_rows.append(row)
    headers = ["turns", "steadfast sqlite", "langgraph sqlite"]
    if not args.no_postgres:
        headers = ["turns", "steadfast sqlite", "steadfast pg", "langgraph sqlite", "langgraph pg"]
    print("\nBytes stored by one job (a distinct ~500 B message per turn)\n")
    print(table(headers, size_rows))


if __name__ == "__main__":
    main()
