"""The README's main command, run as a user runs it: a real `steadfast demo` process with its
own emulators, workers (one of them SIGKILLed) and SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The demo has no wall-clock deadline of its own (it fails after a long stall without progress);
# these ceilings only catch a hang.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
REPO = Path(__file__).resolve().parents[2]


def _run_demo(tmp_path: Path, *args: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--json", "--workdir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_demo_survives_a_sigkill_and_escalates_with_evidence(tmp_path: Path) -> None:
    report = _run_demo(tmp_path, "--crash-at-step", "4")

    assert report["status"] == "escalated"
    assert report["verdict"] == "escalated"
    assert report["resumed"] is True
    # The resumed worker asked the model nothing it already had an answer for. The planned kill
    # drops its request unanswered; only a lease lost besides it (a worker starved for longer
    # than the lease TTL on a very busy machine) may leave one answered request in flight.
    assert report["interrupted"] >= 1
    assert report["model_requests_repeated"] <= report["interrupted"] - 1
    assert report["blocked"] >= 1  # the refused `kubectl rollout restart`
    assert report["retries"] >= 1  # the 429 from the model API
    assert "vault" in report["degraded"]
    slack = report["slack"]
    assert isinstance(slack, dict)
    ticket = "\n".join(m.get("text", "") for m in slack["ticket_thread"])
    oncall = "\n".join(m.get("text", "") for m in slack["oncall_thread"])
    assert "i-123" in ticket and "Escalated" in ticket
    assert "i-123" in oncall
    # one allowed kubectl ran in the runner and read the emulated cluster's pods
    commands = report["commands"]
    assert isinstance(commands, list)
    [kubectl] = [c for c in commands if c["command"] == "kubectl get pods -n acme-prod"]
    if "not installed" in kubectl["output"] and os.environ.get("STEADFAST_REQUIRE_TOOLS") != "1":
        pytest.skip("kubectl is not installed (make tools)")
    assert kubectl["is_error"] is False, kubectl
    assert (
        "auth-api-7c9d8f6b5-x2k9p" in kubectl["output"] and "CrashLoopBackOff" in kubectl["output"]
    )
    # the planted canary secret never reaches Slack
    assert "canary-" not in json.dumps(report)
    # every confirmed fact is linked to the step it was read at, and Slack shows the link
    handoff = report["handoff"]
    assert isinstance(handoff, dict) and handoff["not_verified"] == []
    assert len(handoff["confirmed"]) == 5
    for fact in handoff["confirmed"]:
        assert fact["evidence"] and all(c["step"] >= 1 and c["tool"] for c in fact["evidence"])
    # a fact read from two calls links both steps
    assert "· step 8, k8s_logs; step 9, query_logs" in json.dumps(slack, ensure_ascii=False)
    assert any(line.startswith("vault:") for line in handoff["could_not_reach"])


def test_demo_without_crash_reaches_the_same_verdict(tmp_path: Path) -> None:
    report = _run_demo(tmp_path, "--no-crash")
    # no kill: a resume only follows a lease lost by a starved worker on a very busy machine
    assert report["resumed"] is (report["interrupted"] > 0)
    assert report["verdict"] == "escalated"
    assert report["model_requests_repeated"] <= report["interrupted"]


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


def test_demo_from_an_alert_opens_the_thread_and_hands_off_there(tmp_path: Path) -> None:
    report = _run_demo(tmp_path, "--from-alert", "--no-crash")
    assert report["status"] == "escalated"
    slack = report["slack"]
    assert isinstance(slack, dict)
    thread = slack["ticket_thread"]
    assert "Alert firing" in thread[0]["text"] and "i-123" in thread[0]["text"]
    assert thread[0]["user"] == "U0BOT"  # the bot opened the thread, nobody mentioned it
    assert any("Escalated" in (m.get("text") or "") for m in thread[1:])
    assert any("open the ticket thread" in str(m.get("blocks")) for m in slack["oncall_thread"])


# Vertex only: its worker subprocesses exchange a Google service-account token on loopback, the
# longer credential path; Bedrock's SigV4 run end to end is in tests/agent/test_providers.py.
@pytest.mark.parametrize("provider", ["vertex"])
def test_demo_on_a_cloud_provider_survives_a_sigkill(tmp_path: Path, provider: str) -> None:
    """The same run with Claude called through `AnthropicVertex` in the worker subprocesses."""
    report = _run_demo(tmp_path, "--crash-at-step", "4", "--provider", provider)
    assert report["status"] == "escalated" and report["resumed"] is True
    assert report["model_requests_repeated"] <= report["interrupted"] - 1
    db = tmp_path / "demo.db"
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "replay", str(report["job_id"]), "--jsonl"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "STEADFAST_DATABASE_URL": f"sqlite:///{db}"},
    )
    assert out.returncode == 0, out.stderr
    responses = [
        json.loads(line)["data"]
        for line in out.stdout.splitlines()
        if json.loads(line)["kind"] == "model_response"
    ]
    assert responses and {r["provider"] for r in responses} == {provider}
