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


def test_demo_without_crash_reaches_the_same_verdict(tmp_path: Path) -> None:
    report = _run_demo(tmp_path, "--no-crash")
    # no kill: a resume only follows a lease lost by a starved worker on a very busy machine
    assert report["resumed"] is (report["interrupted"] > 0)
    assert report["verdict"] == "escalated"
    assert report["model_requests_repeated"] <= report["interrupted"]
