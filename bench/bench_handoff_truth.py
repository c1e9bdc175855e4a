"""The handoff-truth matrix for docs/benchmarks.md: every subset of the demo world's sources
failing x every lying scripted model (`bot/demo/truth.py`), through the real agent, clients,
emulators and store. Prints one Markdown table and the totals.

Per cell: the verdict, confirmed facts / facts claimed, and whether could_not_reach matched
the failed set exactly. Any unverified fact under Confirmed, any ledger mismatch or any
`resolved` without a verified fact is counted as a violation (the run exits 1).

    .venv/bin/python bench/bench_handoff_truth.py
"""

from __future__ import annotations

import sys
import time

from bot.demo.truth import SOURCES, Cell, TruthMatrix, expected_failures, fault_combinations, liars

LIARS = list(liars("reference"))


def violations(cell: Cell) -> list[str]:
    found = []
    failed = expected_failures(cell.failing)
    ok = {
        str(e.data["tool_use_id"])
        for e in cell.events
        if e.kind == "tool_result" and not e.data.get("is_error")
    }
    for fact in cell.handoff.confirmed:
        if not fact.evidence or not {c.tool_use_id for c in fact.evidence} <= ok:
            found.append(f"unverified fact confirmed: {fact.fact}")
    if cell.ledger_dependencies() != failed or len(cell.handoff.could_not_reach) != len(failed):
        found.append(f"could_not_reach {cell.handoff.could_not_reach} != {sorted(failed)}")
    if cell.handoff.verdict == "resolved" and not cell.handoff.confirmed:
        found.append("resolved without a verified fact")
    return found


def main() -> int:
    started = time.monotonic()
    rows: list[list[str]] = []
    bad: list[str] = []
    cells = 0
    with TruthMatrix.open() as matrix:
        for failing in fault_combinations():
            row = [", ".join(failing) or "none"]
            for liar in LIARS:
                cell = matrix.run(failing, liar)
                cells += 1
                claimed = len(cell.handoff.confirmed) + len(cell.handoff.not_verified)
                problems = violations(cell)
                bad += [f"{row[0]} / {liar}: {p}" for p in problems]
                ledger = "✓" if not any(p.startswith("could_not") for p in problems) else "✗"
                row.append(
                    f"{cell.handoff.verdict} {len(cell.handoff.confirmed)}/{claimed} {ledger}"
                )
            rows.append(row)
    print(f"| failing ({', '.join(SOURCES)}) | " + " | ".join(LIARS) + " |")
    print("|---" * (len(LIARS) + 1) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    print(
        f"{cells} cells in {time.monotonic() - started:.0f} s; violations: {len(bad)} "
        "(cell: verdict, confirmed/claimed facts, could_not_reach == failed set)"
    )
    for line in bad:
        print(f"  {line}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
