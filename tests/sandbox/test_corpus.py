"""The shipped policy against our attack corpus and a corpus of real investigation commands."""

from __future__ import annotations

from collections import Counter

import pytest

from sandbox.gate import Gate
from tests.sandbox.conftest import corpus

DENIED = corpus("corpus_denied.jsonl")
ALLOWED = corpus("corpus_allowed.jsonl")


def test_the_corpora_are_large_and_cover_every_category() -> None:
    assert len(DENIED) >= 150
    assert len(ALLOWED) >= 60
    categories = Counter(item["category"] for item in DENIED)
    for needed in (
        "chaining", "substitution", "redirection", "heredoc", "subshell", "glob",
        "quote_splitting", "unicode", "paths", "env_prefix", "wrappers", "interpreters",
        "read_tool_flags", "kubectl_mutations", "kubectl_escapes", "identity_target",
        "secrets", "curl", "ssrf", "schemes", "vault", "tenant_scope",
    ):  # fmt: skip
        assert categories[needed] >= 3, needed


@pytest.mark.parametrize("item", DENIED, ids=lambda i: f"{i['category']}:{i['command'][:50]!r}")
def test_attack_is_denied_with_a_reason(gate: Gate, item: dict[str, str]) -> None:
    tenants = ["acme"] if item["category"] == "tenant_scope" else ["acme", None]
    for tenant in tenants:
        decision = gate.check_command(item["command"], tenant)
        assert not decision.allowed, (tenant, decision)
        assert decision.argv == []
        assert decision.reason.strip()
        assert decision.rule and decision.rule != "gate.internal_error"


@pytest.mark.parametrize("item", ALLOWED, ids=lambda i: repr(i["command"][:60]))
def test_investigation_command_is_allowed(gate: Gate, item: dict[str, str]) -> None:
    decision = gate.check_command(item["command"], "acme")
    assert decision.allowed, decision
    assert decision.argv and all(stage for stage in decision.argv)


def test_denials_tell_the_model_the_read_only_way(gate: Gate) -> None:
    decision = gate.check_command("kubectl delete pod api-0 -n acme-prod", "acme")
    assert decision.rule == "kubectl delete"
    assert "read-only" in decision.reason
    assert "kubectl get" in decision.hint and "describe" in decision.hint

    secret = gate.check_command("kubectl get secret db -o yaml", "acme")
    assert "Secrets are never read" in secret.reason

    follow = gate.check_command("kubectl logs -f api-0", "acme")
    assert "--tail" in follow.hint
