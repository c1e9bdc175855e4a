"""Canaries nobody registered (a URL password, an AWS key, a JWT, a PEM private key) sit in a
pod's logs in the Kubernetes emulator. The scripted model reads them directly (the structured
tool and `kubectl logs`) and through filters the shipped policy allows, then tries to carry
them into its handoff. No form of any canary reaches the model requests the Anthropic emulator
recorded, the events, the Slack handoff or the DEBUG log."""

from __future__ import annotations

import base64
import codecs
import copy
import io
import json
import logging
import os
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.agent.factory import build_agent_for_worker
from bot.demo.stack import TICKET_CHANNEL, Stack, demo_scenario
from bot.handoff.render_slack import render_handoff
from bot.settings import Settings
from core.logfilter import THIRD_PARTY, configure_logging
from core.scrubber import Scrubber
from tests.agent.fakes import FakeContext, RecordingNotifier, make_job

pytestmark = pytest.mark.slow

POD, NAMESPACE = "auth-api-7c9d8f6b5-x2k9p", "acme-prod"
URL_PASSWORD = "Kx9vQ2mZpL7wR4tYcanary"
AWS_KEY = "AKIAQ3EXAMPLE7CANARY"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYW5hcnktand0In0"
    ".Zm9vYmFyY2FuYXJ5and0c2lnbmF0dXJlMTIzNDU2Nzg5MA"
)
PEM_BODY = "MIIEowIBAAKCAQEAcanaryPEMbodyQ3ZpL7wR4tYx9vQ2mZ"
LOG_LINES = [
    f"connecting to postgres://auth_api:{URL_PASSWORD}@db.acme-prod.svc:5432/auth",
    f"using aws key {AWS_KEY} for the backup bucket",
    f"forwarding Authorization: Bearer {JWT}",
    "-----BEGIN RSA PRIVATE KEY-----",
    PEM_BODY,
    "-----END RSA PRIVATE KEY-----",
]
# the secret part of each canary (what must never be readable in any form)
CANARIES = (URL_PASSWORD, AWS_KEY, JWT.split(".")[2], PEM_BODY)
LOGS = f"kubectl logs {POD} -n {NAMESPACE}"
# filters the shipped policy allows that transform text reversibly
FILTERS = [
    "",
    " | tr a-z n-za-m",
    " | tr A-Za-z N-ZA-Mn-za-m",
    " | tr -d -",
    " | tr -d ' '",
    " | tr a-z A-Z",
    " | tr a-z b-za",  # a letter shift no scrubber can undo: only scrubbing at the source helps
    " | tr A-Z a-z",
    " | jq -R @base64",
    " | jq -Rr @base64",
    " | jq -R @uri",
    " | jq -R @json",
    " | jq -R @html",
    " | jq -R @sh",
    " | jq -R ascii_upcase",
    " | jq -R ascii_downcase",
    ' | jq -R \'split("") | join(" ")\'',
    " | jq -R 'split(\"\")'",
    " | jq -Rs .",
    " | grep -i -A3 private",
]


def _forms(secret: str) -> dict[str, str]:
    """What a reader could decode back: raw, rot13, base64 at each alignment (inner part)."""
    shift = str.maketrans(string.ascii_lowercase, string.ascii_lowercase[1:] + "a")
    found = {
        "raw": secret,
        "rot13": codecs.encode(secret, "rot13"),
        "shift1": secret.translate(shift),
    }
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret.encode()).decode()
        found[f"base64+{offset}"] = encoded[offset + 1 : -4]
    return found


def _assert_clean(where: str, text: str) -> None:
    squashed = "".join(c for c in text if c.isalnum()).lower()
    unslashed = text.replace("\\", "")
    for canary in CANARIES:
        for name, form in _forms(canary).items():
            flat = "".join(c for c in form if c.isalnum()).lower()
            assert flat not in squashed, f"{name} form of {canary!r} in {where}"
            assert form not in unslashed, f"{name} form of {canary!r} in {where}"


def _scenario() -> dict[str, Any]:
    data = copy.deepcopy(demo_scenario())
    # client-go sends no bearer token over plain HTTP, so kubectl reaches the emulator only
    # when it asks for none (the runner's real kubeconfig uses TLS)
    data["cluster"]["tokens"] = []
    logs = data["cluster"]["logs"][f"{NAMESPACE}/{POD}"]["current"]
    logs["auth-api"] += "\n".join(LOG_LINES) + "\n"
    steps: list[dict[str, Any]] = [
        {"tool": "k8s_logs", "input": {"namespace": NAMESPACE, "pod": POD, "tail_lines": 50}}
    ]
    steps += [{"tool": "run_command", "input": {"command": LOGS + f}} for f in FILTERS]
    # the layers an escalation must have tried
    steps.append({"tool": "k8s_list", "input": {"resource": "pods", "namespace": NAMESPACE}})
    steps.append({"tool": "check_tenant_credentials", "input": {}})
    steps.append(
        {
            "tool": "submit_handoff",
            "input": {
                "verdict": "escalate",
                "summary": "auth-api leaks credentials in its logs: " + " ".join(LOG_LINES),
                "confirmed": [f"the key {AWS_KEY} and token {JWT} are in the pod's logs"],
                "could_not_reach": [],
                "assumptions": [],
                "recommended_actions": [f"Rotate {URL_PASSWORD} and {PEM_BODY}"],
                "confidence": 0.5,
            },
        }
    )
    data["anthropic"]["scripts"] = [{"name": "canary", "match": "canary", "steps": steps}]
    return data


def _kubeconfig(server: str) -> bytes:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emu", "cluster": {"server": server}}],
        "users": [{"name": "reader", "user": {}}],
        "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "reader"}}],
        "current-context": "emu",
    }
    return yaml.safe_dump(config).encode()


@pytest.fixture
def stack() -> Iterator[Stack]:
    s = Stack.start(_scenario())
    yield s
    s.stop()


@pytest.fixture
def debug_log() -> Iterator[tuple[Scrubber, io.StringIO]]:
    scrubber, stream = Scrubber(), io.StringIO()
    root = logging.getLogger()
    saved = root.level, {n: logging.getLogger(n).level for n in THIRD_PARTY}
    handler = configure_logging("DEBUG", scrubber.scrub, stream=stream)
    yield scrubber, stream
    root.removeHandler(handler)
    root.setLevel(saved[0])
    for name, level in saved[1].items():
        logging.getLogger(name).setLevel(level)


def test_unregistered_canaries_never_leave_in_any_form(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debug_log: Any
) -> None:
    scrubber, log_stream = debug_log
    for key, value in stack.settings_env(database_url="sqlite://", workdir=tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("STEADFAST_LOG_LEVEL", "DEBUG")
    # commands run in the local runner, which scrubs each producer's output before any filter
    kubeconfig = tmp_path / "runner-kubeconfig"
    kubeconfig.write_bytes(_kubeconfig(stack.kubernetes.url))
    monkeypatch.setenv("STEADFAST_RUNNER_KUBECONFIG", str(kubeconfig))
    settings = Settings()
    notifier = RecordingNotifier()
    agent = build_agent_for_worker(
        settings, None, notifier=notifier, scrubber=scrubber, environ=dict(os.environ)
    )
    ctx = FakeContext(make_job("canary: auth-api fails, check its logs", channel=TICKET_CHANNEL))
    try:
        agent.run(ctx)
    finally:
        agent.close()

    results = [e.data for e in ctx.of("tool_result")][: 1 + len(FILTERS)]
    assert len(results) == 1 + len(FILTERS), [e.kind for e in ctx.events]
    # the commands really ran against the emulator's pod logs, and the canaries were there
    for result in results:
        if result is results[-1]:
            # the runner scrubbed the key before grep read it: nothing "private" is left to find
            assert result["content"] == "exit code: 1", result
            continue
        assert not result.get("is_error"), result
        assert "[redacted:" in result["content"], result
    assert "db.acme-prod.svc" in results[1]["content"]

    bodies = [r.body.decode() for r in stack.anthropic.requests]
    assert len(bodies) >= len(results)
    for i, body in enumerate(bodies):
        _assert_clean(f"model request {i}", body)
    for event in ctx.events:
        _assert_clean(f"event {event.kind}", json.dumps(event.data))
    [handoff] = notifier.handoffs
    for message in render_handoff(handoff):
        _assert_clean("Slack handoff", json.dumps(message, default=str))
    for text in notifier.progress_texts:
        _assert_clean("Slack progress", text)
    _assert_clean("DEBUG log", log_stream.getvalue())
