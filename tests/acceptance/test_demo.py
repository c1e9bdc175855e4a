"""The README's main command, run as a user runs it: a real `steadfast demo` process with its
own emulators, workers (one of them SIGKILLed) and SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _run_demo(tmp_path: Path, *args: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--json", "--workdir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_demo_survives_a_sigkill_and_escalates_with_evidence(tmp_path: Path) -> None:
    report = _run_demo(tmp_path, "--crash-at-step", "4")

    assert report["status"] == "escalated"
    assert report["verdict"] == "escalated"
    assert report["resumed"] is True
    # the resumed worker asked the model nothing it already had an answer for
    assert report["model_requests_repeated"] == 0
    assert report["blocked"] >= 1  # the refused `kubectl rollout restart`
    assert report["retries"] >= 1  # the 429 from the model API
    assert "vault" in report["degraded"]
    slack = report["slack"]
    assert isinstance(slack, dict)
    ticket = "\n".join(m.get("text", "") for m in slack["ticket_thread"])
    oncall = "\n".join(m.get("text", "") for m in slack["oncall_thread"])
    assert "i-123" in ticket and "Escalated" in ticket
    assert "i-123" in oncall
    # the planted canary secret never reaches Slack
    assert "canary-" not in json.dumps(report)
    # every confirmed fact is linked to the step it was read at, and Slack shows the link
    handoff = report["handoff"]
    assert isinstance(handoff, dict) and handoff["not_verified"] == []
    assert len(handoff["confirmed"]) == 5
    for fact in handoff["confirmed"]:
        assert fact["evidence"] and all(c["step"] >= 1 and c["tool"] for c in fact["evidence"])
    assert "· step 7, k8s_logs; step 8, query_logs" in json.dumps(slack, ensure_ascii=False)
    assert any(line.startswith("vault:") for line in handoff["could_not_reach"])


def test_demo_without_crash_reaches_the_same_verdict(tmp_path: Path) -> None:
    report = _run_demo(tmp_path, "--no-crash")
    assert report["resumed"] is False
    assert report["verdict"] == "escalated"
    assert report["model_requests_repeated"] == 0


def test_a_scenario_where_everything_fails_and_the_model_lies_escalates(tmp_path: Path) -> None:
    """The README's scenario: every dependency down, a model that says "resolved: All fine"
    with "logs show no errors" under Confirmed. The system confirms nothing, lists every
    failure and pages on-call."""
    scenario = REPO / "docs" / "scenarios" / "everything-down.yaml"
    report = _run_demo(tmp_path, "--no-crash", "--scenario", str(scenario))
    assert report["status"] == "escalated"
    handoff = report["handoff"]
    assert isinstance(handoff, dict)
    assert (handoff["verdict"], handoff["model_verdict"]) == ("escalated", "resolved")
    assert handoff["verdict_reason"] == "no source could be read"
    assert handoff["confirmed"] == []
    assert {u["fact"]: u["why"] for u in handoff["not_verified"]} == {
        "logs show no errors": "cited a failed call to logs:loki",
        "all pods are ready": "cited a call not in this job",
        "the instance is healthy": "cited nothing",
    }
    ledger = {line.split(": ")[0] for line in handoff["could_not_reach"]}
    assert ledger == {"http:platform", "kubernetes", "logs:loki", "vault"}
    assert handoff["score"]["uncertainty"] == 1.0
    slack = report["slack"]
    assert isinstance(slack, dict) and slack["oncall_thread"]
