"""The chaos suite: N tickets, M worker subprocesses, random SIGKILLs and dependency faults for
a fixed budget, then the checks (see `chaos_lib/checks.py` for their exact definitions).

    .venv/bin/python bench/chaos.py [--tickets 20] [--workers 4] [--budget 60] [--seed 1]
                                    [--database-url URL] [--json]

Default database: the local PostgreSQL (postgresql+psycopg://postgres@127.0.0.1:5432/test), in a
schema of the run's own, dropped afterwards. Exit status 1 when any must-be-zero counter is not
zero or the drain did not finish; 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from chaos_lib.checks import as_dict
from chaos_lib.run import ChaosConfig, ChaosResult, run_chaos

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def own_schema(base: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for this run (via search_path), dropped afterwards."""
    schema = f"chaos_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in base else "?"
        try:
            yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


@contextmanager
def database(url: str | None, fresh_schema: bool, workdir: Path) -> Iterator[str]:
    if url is None:
        url = DEFAULT_PG
    if url == "sqlite":
        yield f"sqlite:///{workdir / 'chaos.db'}"
    elif url.startswith("postgresql") and fresh_schema:
        with own_schema(url) as scoped:
            yield scoped
    else:
        yield url


def table(result: ChaosResult) -> str:
    f = result.findings
    rows: list[tuple[str, object, str]] = [
        ("tickets", f.tickets, ""),
        ("jobs", f.jobs, ", ".join(f"{k} {v}" for k, v in sorted(f.by_status.items()))),
        ("worker kills (SIGKILL)", result.kills, f"{f.resumed_jobs} jobs resumed"),
        (
            "dependency faults",
            result.faults,
            ", ".join(f"{k} {v}" for k, v in sorted(result.applied.items()) if k != "kill_worker"),
        ),
        ("requests failed on purpose", sum(result.injected.values()), _kv(result.injected)),
        ("degraded events", f.degraded_events, ""),
        ("model requests", f.model_requests, f"{f.in_flight_repeats} in-flight repeats (allowed)"),
        ("lost", f.lost, "must be 0"),
        ("stuck", f.stuck, "must be 0"),
        ("duplicate posts", f.duplicate_posts, "must be 0"),
        ("repeated model requests", f.repeated_model_requests, "must be 0"),
        ("ledger mismatches", f.ledger_mismatches, "must be 0"),
        (
            "repeated tool calls",
            f.repeated_tool_calls,
            f"must be 0; {f.tool_reruns} in-flight reruns",
        ),
        ("seq gaps", f.seq_gaps, "must be 0"),
        ("duplicate jobs", f.duplicate_jobs, "must be 0"),
        ("undelivered handoffs", f.undelivered_handoffs, "must be 0"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{name:<{width}}  {value!s:>6}  {note}".rstrip() for name, value, note in rows]
    verdict = "PASS" if result.findings.ok and result.drained else "FAIL"
    lines.append(f"{'result':<{width}}  {verdict:>6}  {result.elapsed:.1f} s wall")
    return "\n".join(lines)


def _gap(text: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected MIN,MAX in seconds, e.g. 2,4.5"
        ) from None
    if not 0 < low <= high:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 < MIN <= MAX")
    return low, high


def _kv(d: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(d.items()))


def _run(args: argparse.Namespace, workdir: Path, say: Callable[[str], None]) -> ChaosResult:
    with database(args.database_url, not args.no_fresh_schema, workdir) as url:
        config = ChaosConfig(
            database_url=url,
            workdir=workdir,
            tickets=args.tickets,
            workers=args.workers,
            budget=args.budget,
            seed=args.seed,
            drain=args.drain,
            lease_ttl=args.lease_ttl,
            max_attempts=args.max_attempts,
            kill_gap=args.kill_gap,
            fault_gap=args.fault_gap,
        )
        result = run_chaos(config, say)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/chaos.py", description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=20, help="tickets to submit (N)")
    parser.add_argument("--workers", type=int, default=4, help="worker subprocesses (M)")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of faults")
    parser.add_argument(
        "--drain",
        type=float,
        default=120.0,
        help="after the faults: give up after this many seconds without progress",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--kill-gap", type=_gap, default=(2.0, 4.5), help="seconds between kills: MIN,MAX"
    )
    parser.add_argument(
        "--fault-gap",
        type=_gap,
        default=(0.8, 2.5),
        help="seconds between dependency faults: MIN,MAX",
    )
    parser.add_argument("--lease-ttl", type=float, default=2.0)
    parser.add_argument("--max-attempts", type=int, default=10)
    parser.add_argument(
        "--database-url",
        default=None,
        help=f"'sqlite' for a file in the workdir, or a URL (default {DEFAULT_PG}, in a fresh "
        "schema dropped afterwards)",
    )
    parser.add_argument(
        "--no-fresh-schema",
        action="store_true",
        help="use the PostgreSQL URL as given (its search_path already isolates the run)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="logs and SQLite file")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    if args.tickets < 1 or args.workers < 1 or args.budget <= 0:
        parser.error("--tickets and --workers must be at least 1 and --budget positive")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="steadfast-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    say = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    try:
        result = _run(args, workdir, say)
    except sa.exc.OperationalError as exc:
        detail = str(exc.orig or exc).strip().splitlines()[0]
        print(
            f"bench/chaos.py: cannot reach the database ({detail}); start PostgreSQL or pass "
            "--database-url sqlite",
            file=sys.stderr,
        )
        return 2
    print(table(result))
    for line in result.findings.details:
        print(f"  {line}")
    if not result.drained:
        print(
            f"  drain: jobs still unfinished after {args.drain:g} s without progress "
            f"(logs in {workdir})"
        )
    if args.json:
        out = as_dict(result.findings)
        out.update(
            kills=result.kills,
            faults=result.faults,
            applied=result.applied,
            injected=result.injected,
            drained=result.drained,
            unplanned_exits=result.unplanned_exits,
            elapsed=round(result.elapsed, 1),
            seed=args.seed,
            workdir=str(workdir),
            ok=result.findings.ok and result.drained,
        )
        print(json.dumps(out))
    return 0 if result.findings.ok and result.drained else 1


if __name__ == "__main__":
    sys.exit(main())
