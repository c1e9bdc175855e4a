"""Storage per job over 10...200 turns: Steadfast's event log vs LangGraph's SqliteSaver and
PostgresSaver, with the measuring helpers of `bench_store.py` (run through
`bench_recovery.py --storage`)."""

from __future__ import annotations

import tempfile
from typing import Any

from store_common import pg_schema, table


def storage(turns_list: list[int], postgres: bool) -> list[dict[str, Any]]:
    import bench_store as bs
    from langgraph.checkpoint.postgres import PostgresSaver

    tmp = tempfile.mkdtemp(prefix="bench-storage-")
    rows: list[dict[str, Any]] = []
    for turns in turns_list:
        path = f"{tmp}/sf_{turns}.db"
        row: dict[str, Any] = {"turns": turns}
        row["steadfast_sqlite"] = bs.steadfast_bytes(
            f"sqlite:///{path}", turns, bs._sqlite_size(path)
        )
        lg_path = f"{tmp}/lg_{turns}.db"
        saver, size = bs._sqlite_saver(lg_path), bs._sqlite_size(lg_path)
        before = size()
        bs.langgraph_turns(saver, 1, turns)
        row["langgraph_sqlite"] = size() - before
        if postgres:
            with pg_schema() as (url, _):
                row["steadfast_pg"] = bs.steadfast_bytes(url, turns, bs._pg_size(url))
            with pg_schema() as (url, conninfo), PostgresSaver.from_conn_string(conninfo) as pgs:
                pgs.setup()
                size = bs._pg_size(url)
                before = size()
                bs.langgraph_turns(pgs, 1, turns)
                row["langgraph_pg"] = size() - before
        rows.append(row)
        print(f"  storage {turns} turns: {row}")
    return rows


def print_storage(rows: list[dict[str, Any]]) -> None:
    keys = ["steadfast_sqlite", "steadfast_pg", "langgraph_sqlite", "langgraph_pg"]
    keys = [k for k in keys if k in rows[0]]
    print("\nBytes stored by one job (a distinct ~500 B message per turn)\n")
    body = [[r["turns"], *[f"{r[k]:,}" for k in keys]] for r in rows]
    print(table(["turns", *[k.replace("_", " ") for k in keys]], body))
