"""The chaos suite's short variant: the real `bench/chaos.py` as a subprocess (6 tickets, 3
worker subprocesses, 20 s of SIGKILLs and dependency faults) on every configured database, and
proof that its checks are not vacuous: fed a violation, each one counts it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.model import Event

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))  # bench/ is a directory of scripts, not a package

from chaos_lib.checks import Findings, check_ledger, check_model, check_tools  # noqa: E402
from chaos_lib.world import ModelCall  # noqa: E402

MUST_BE_ZERO = (
    "lost",
    "stuck",
    "duplicate_posts",
    "repeated_model_requests",
    "ledger_mismatches",
    "repeated_tool_calls",
    "seq_gaps",
    "duplicate_jobs",
    "undelivered_handoffs",
)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a ceiling for a hang: the run's drain waits while jobs progress
def test_chaos_short_run_loses_nothing_and_repeats_nothing(
    database_url: str, tmp_path: Path
) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "chaos.py"),
            "--tickets=6",
            "--workers=3",
            "--budget=20",
            "--drain=60",  # seconds without progress, not a deadline for the whole drain
            "--seed=3",
            f"--database-url={database_url}",
            "--no-fresh-schema",  # the fixture's URL already isolates this test's schema
            f"--workdir={tmp_path}",
            "--quiet",
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {k: result[k] for k in MUST_BE_ZERO} == dict.fromkeys(MUST_BE_ZERO, 0), result["details"]
    assert result["drained"] is True
    assert result["tickets"] == result["jobs"] == 6
    assert sum(result["by_status"].values()) == 6
    assert set(result["by_status"]) <= {"succeeded", "escalated", "failed", "cancelled"}
    # the chaos really happened: workers died mid-run and dependencies really failed requests
    # (a fault that met no request during the budget is re-armed for the drain: see faults.py)
    assert result["kills"] >= 3
    assert result["faults"] >= 5
    assert result["injected"]["vault"] > 0 and result["injected"]["anthropic"] > 0
    assert result["model_requests"] >= 6 * 5


def _event(seq: int, kind: str, data: dict[str, object], at: datetime) -> Event:
    return Event(job_id="j1", seq=seq, at=at, kind=kind, data=data)


def test_model_check_tells_a_repeat_from_the_one_in_flight() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    recorded = (t0 + timedelta(seconds=2)).timestamp()
    log = [
        # step 1: answered at t0+1, the worker died before recording it; asked again: allowed
        ModelCall("j1", 1, t0.timestamp(), t0.timestamp() + 1, 200),
        ModelCall("j1", 1, t0.timestamp() + 1.5, t0.timestamp() + 1.8, 200),
        # step 1 again after its response was recorded at t0+2: a violation
        ModelCall("j1", 1, t0.timestamp() + 3, t0.timestamp() + 3.1, 200),
        # a job outside the run is ignored
        ModelCall("other", 1, t0.timestamp() + 5),
    ]
    found = Findings()
    check_model(found, log, {("j1", 1): recorded}, {"j1"})
    assert found.model_requests == 3
    assert found.in_flight_repeats == 1
    assert found.repeated_model_requests == 1


def test_ledger_check_counts_missing_and_invented_dependencies() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        _event(1, "degraded", {"dependency": "vault", "reason": "timed out"}, at),
        _event(2, "degraded", {"dependency": "http:platform", "reason": "503"}, at),
        _event(
            3,
            "handoff",
            {
                "could_not_reach": [
                    "http:platform: 503",
                    "kubernetes: never failed in this run",
                    "blocked by policy: kubectl delete pod x (read-only)",
                ]
            },
            at,
        ),
    ]
    found = Findings()
    check_ledger(found, "j1", events)
    assert found.ledger_mismatches == 2  # vault missing, kubernetes invented
    assert "vault" in found.details[0] and "kubernetes" in found.details[0]

    honest = Findings()
    check_ledger(
        honest,
        "j1",
        [
            *events[:2],
            _event(3, "handoff", {"could_not_reach": ["vault: x", "http:platform: y"]}, at),
        ],
    )
    assert honest.ledger_mismatches == 0


def test_tool_check_allows_a_rerun_but_not_a_repeat() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        _event(1, "tool_call", {"tool_use_id": "t1"}, at),
        # the worker died; the next one re-runs the call that has no result: allowed
        _event(2, "tool_call", {"tool_use_id": "t1", "rerun": True}, at),
        _event(3, "tool_result", {"tool_use_id": "t1"}, at),
        # running it again after its result was recorded: a violation
        _event(4, "tool_call", {"tool_use_id": "t1"}, at),
    ]
    found = Findings()
    check_tools(found, "j1", events)
    assert (found.tool_reruns, found.repeated_tool_calls) == (1, 1)
