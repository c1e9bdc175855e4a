"""Gate and executor costs: decisions per second over the test corpora, policy load time,
and the per-command overhead of plain vs bwrap execution. Prints a table.

    .venv/bin/python bench/bench_gate.py
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from policy.loader import SHIPPED_POLICY, load_policy
from sandbox.executor import Executor
from sandbox.gate import Gate

REPO = Path(__file__).resolve().parent.parent


def corpus(name: str) -> list[str]:
    path = REPO / "tests" / "sandbox" / name
    return [json.loads(line)["command"] for line in path.read_text().splitlines() if line]


def per_call(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    rows: list[tuple[str, str]] = []
    load = per_call(lambda: load_policy(SHIPPED_POLICY), 20)
    rows.append(("load + validate default.yaml", f"{load * 1000:.1f} ms"))
    gate = Gate(load_policy(SHIPPED_POLICY))
    for name in ("corpus_allowed.jsonl", "corpus_denied.jsonl"):
        commands = corpus(name)
        rounds = 20
        started = time.perf_counter()
        for _ in range(rounds):
            for command in commands:
                gate.check_command(command, "acme")
        elapsed = time.perf_counter() - started
        per = elapsed / (rounds * len(commands))
        rows.append((f"check_command, {name} ({len(commands)})", f"{per * 1e6:.0f} µs/decision"))
    decision = gate.check_command("date -u +%s")
    pipeline = gate.check_command("date -u +%s | wc -c")
    for mode in (False, None):
        with Executor(load_policy(SHIPPED_POLICY).limits, sandbox=mode) as ex:
            label = ex.describe()["mode"]
            ex.run(decision)  # warm the PATH directory
            one = per_call(lambda ex=ex: ex.run(decision), 30)
            two = per_call(lambda ex=ex: ex.run(pipeline), 30)
        rows.append((f"run `date` ({label})", f"{one * 1000:.1f} ms"))
        rows.append((f"run `date | wc` ({label})", f"{two * 1000:.1f} ms"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  median")
    print(f"{'-' * width}  ------")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
