"""A console on loopback over a real store, and jobs whose event logs look like a worker's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.console.links import ConsoleLinks
from bot.console.server import ConsoleServer
from bot.console.tokens import TokenSigner
from bot.model import EventKind, JobStatus, Lease, Ticket
from bot.settings import Settings
from bot.store import Store
from bot.wiring import build_console
from core.scrubber import Scrubber
from policy.loader import PolicyLoader

SECRET = SecretStr("console-test-secret-" + "x" * 40)
VAULT_TOKEN = "hvs.CAESIconsoleTestTokenThatMustNeverShow0123456789"


@dataclass
class Console:
    store: Store
    server: ConsoleServer
    signer: TokenSigner
    links: ConsoleLinks
    scrubber: Scrubber

    @property
    def url(self) -> str:
        return self.server.local_url


@pytest.fixture
def console(store: Store, tmp_path: Path) -> Iterator[Console]:
    settings = Settings(console_secret=SECRET, database_url="sqlite://")
    scrubber = Scrubber()
    scrubber.register("vault_token", VAULT_TOKEN)
    policy = PolicyLoader(None)
    app = build_console(settings, store, policy, scrubber)
    server = ConsoleServer(app, port=0).start()
    signer = TokenSigner(SECRET)
    try:
        yield Console(
            store, server, signer, ConsoleLinks(signer, server.local_url, policy), scrubber
        )
    finally:
        server.stop()


def start_job(store: Store, text: str, *, tenant: str | None = "acme") -> tuple[str, Lease]:
    job, _ = store.submit(Ticket(text=text, tenant=tenant, channel="C0ACME", ts="1700000000.1"))
    claimed = store.claim("test-worker-1", lease_ttl=60)
    assert claimed is not None and claimed[0].id == job.id
    return job.id, claimed[1]


def investigate(store: Store, lease: Lease) -> None:
    """Events shaped as the agent loop writes them: a model turn choosing a tool, the call and
    its result, a blocked command, a retry and a degraded dependency, then the handoff."""
    a = store.append
    a(
        lease,
        EventKind.MODEL_REQUEST,
        {
            "step": 1,
            "model": "claude-sonnet-5-5",
            "versions": {
                "model": "claude-sonnet-5-5",
                "system_prompt": "a" * 64,
                "tools": "b" * 64,
                "policy": "c" * 64,
            },
        },
    )
    a(
        lease,
        EventKind.MODEL_RESPONSE,
        {
            "step": 1,
            "model": "claude-sonnet-5-5",
            "usage": {"input_tokens": 1200, "output_tokens": 80},
            "content": [
                {"type": "text", "text": "Broad signals first."},
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "http_get",
                    "input": {"url": "platform:/v1/instances/i-123"},
                },
            ],
        },
    )
    a(
        lease,
        EventKind.TOOL_CALL,
        {
            "tool_use_id": "toolu_01",
            "name": "http_get",
            "input": {"url": "platform:/v1/instances/i-123"},
        },
    )
    a(
        lease,
        EventKind.TOOL_RESULT,
        {
            "tool_use_id": "toolu_01",
            "name": "http_get",
            "content": "state: ERROR since 02:10\n" + "line\n" * 40,
            "is_error": False,
        },
    )
    a(
        lease,
        EventKind.MODEL_RESPONSE,
        {
            "step": 2,
            "model": "claude-sonnet-5-5",
            "usage": {"input_tokens": 1500, "output_tokens": 60},
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_02",
                    "name": "run_command",
                    "input": {"command": "kubectl delete pod auth-api-1 -n acme-prod"},
                }
            ],
        },
    )
    a(
        lease,
        EventKind.TOOL_CALL,
        {
            "tool_use_id": "toolu_02",
            "name": "run_command",
            "input": {"command": "kubectl delete pod auth-api-1 -n acme-prod"},
        },
    )
    a(
        lease,
        EventKind.TOOL_BLOCKED,
        {
            "tool_use_id": "toolu_02",
            "name": "run_command",
            "command": "kubectl delete pod auth-api-1 -n acme-prod",
            "rule": "forbidden.verb",
            "reason": "kubectl delete changes cluster state and this agent is read-only",
            "hint": "inspect with kubectl get or kubectl describe instead",
        },
    )
    a(
        lease,
        EventKind.RETRY,
        {
            "dependency": "model",
            "attempt": 1,
            "wait_seconds": 1.0,
            "kind": "rate_limited",
            "reason": "429 Too Many Requests",
        },
    )
    a(
        lease,
        EventKind.DEGRADED,
        {
            "dependency": "vault",
            "reason": f"timed out after 1 s (token {VAULT_TOKEN})",
            "retryable": True,
        },
    )
    a(
        lease,
        EventKind.HANDOFF,
        {
            "job_id": lease.job_id,
            "verdict": "escalated",
            "summary": "auth-api crash-loops.",
            "confirmed": [
                {
                    "fact": "Instance i-123 is in ERROR since 02:10",
                    "evidence": [{"tool_use_id": "toolu_01", "step": 1, "tool": "http_get"}],
                }
            ],
            "not_verified": [{"fact": "The database is up", "why": "cited nothing"}],
            "could_not_reach": ["vault: timed out after 1 s"],
            "assumptions": ["The acme database itself is up"],
            "recommended_actions": ["Rotate auth-api's database credential"],
            "score": {
                "total": 0.72,
                "uncertainty": 0.8,
                "novelty": 0.5,
                "intervention_benefit": 0.9,
                "threshold": 0.6,
            },
            "tenant": "acme",
        },
    )
    store.finish(lease, JobStatus.ESCALATED, verdict="escalated")
