"""`bot.handoff.verify` on hand-written event logs: which citations count, and why not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.handoff.verify import Evidence
from bot.model import Event

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def log(*rows: tuple[float, str, dict[str, Any]]) -> list[Event]:
    return [
        Event(job_id="j", seq=i, at=T0 + timedelta(seconds=t), kind=kind, data=data)
        for i, (t, kind, data) in enumerate(rows, start=1)
    ]


def call(step: int, *uses: tuple[str, str]) -> tuple[float, str, dict[str, Any]]:
    content = [{"type": "tool_use", "id": i, "name": n, "input": {}} for i, n in uses]
    return (step, "model_response", {"step": step, "content": content})


def result(t: float, use_id: str, *, error: bool = False) -> tuple[float, str, dict[str, Any]]:
    return (t, "tool_result", {"tool_use_id": use_id, "content": "pods: 3/3", "is_error": error})


EVENTS = log(
    call(1, ("a", "k8s_list"), ("b", "query_logs")),
    result(1.1, "a"),
    (1.2, "degraded", {"tool_use_id": "b", "dependency": "logs:loki", "reason": "HTTP 503"}),
    result(1.3, "b", error=True),
    call(2, ("c", "run_command"), ("d", "note_assumption")),
    (2.1, "tool_blocked", {"tool_use_id": "c", "command": "kubectl delete pod x", "reason": "no"}),
    result(2.2, "d"),
    call(3, ("e", "k8s_get")),
    result(3.1, "e", error=True),
)


def check(events: list[Event], *facts: tuple[str, list[str]], drift: float = 600) -> Any:
    return Evidence.from_events(events).check(
        list(facts), now=T0 + timedelta(seconds=10), drift_seconds=drift
    )


def test_only_a_successful_call_of_this_job_confirms_a_fact() -> None:
    confirmed, unverified = check(
        EVENTS,
        ("pods are ready", ["a"]),
        ("no errors in the logs", ["b"]),
        ("deleting is not allowed", ["c"]),
        ("assumed", ["d"]),
        ("errored", ["e"]),
        ("foreign", ["toolu_other"]),
        ("bare", []),
        ("mixed", ["b", "a"]),
    )
    assert [(f.fact, [(c.step, c.tool) for c in f.evidence]) for f in confirmed] == [
        ("pods are ready", [(1, "k8s_list")]),
        ("mixed", [(1, "k8s_list")]),  # the failed citation is dropped, the good one stands
    ]
    assert {u.fact: u.why for u in unverified} == {
        "no errors in the logs": "cited a failed call to logs:loki",
        "deleting is not allowed": "cited a call the policy refused (run_command)",
        "assumed": "cited note_assumption, which reads no source",
        "errored": "cited a call that returned an error (k8s_get)",
        "foreign": "cited a call not in this job",
        "bare": "cited nothing",
    }


def test_a_fact_about_a_source_that_failed_needs_a_call_to_that_source() -> None:
    confirmed, unverified = check(EVENTS, ("Loki shows no errors", ["a"]))
    assert confirmed == []
    assert unverified[0].why.startswith("about logs:loki, which could not be read")


def test_results_older_than_the_drift_window_or_a_drift_check_are_stale() -> None:
    _, unverified = check(EVENTS, ("pods are ready", ["a"]), drift=5)
    assert unverified[0].why == "older than the drift window"
    drifted = [*EVENTS, Event("j", 99, T0 + timedelta(seconds=4), "drift_check", {})]
    _, unverified = check(drifted, ("pods are ready", ["a"]))
    assert unverified[0].why == "older than the drift window"


def test_the_ledger_and_what_the_job_could_read() -> None:
    evidence = Evidence.from_events(EVENTS)
    assert evidence.could_not_reach() == [
        "logs:loki: HTTP 503",
        "blocked by policy: kubectl delete pod x (no)",
    ]
    assert evidence.failed_dependencies() == ["logs:loki"]
    assert not evidence.nothing_readable()
    # tried: a (ok), b (degraded), c (refused); e returned an error without reaching a failure
    assert evidence.unseen_share() == 2 / 3
    only_failures = Evidence.from_events(EVENTS[:4])
    only_failures.calls.pop("a")
    assert only_failures.nothing_readable()
    [gathered] = Evidence.from_events(EVENTS).gathered()
    assert gathered.fact == "k8s_list answered: pods: 3/3"
    assert [(c.step, c.tool) for c in gathered.evidence] == [(1, "k8s_list")]
