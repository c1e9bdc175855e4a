"""The shipped policy against our attack corpus and a corpus of real investigation commands."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import yaml

from policy.document import Policy
from policy.loader import SHIPPED_POLICY
from sandbox.gate import Gate
from tests.sandbox.conftest import corpus

DENIED = corpus("corpus_denied.jsonl")
ALLOWED = corpus("corpus_allowed.jsonl")
# only out of scope for a ticket's tenant; without a tenant nothing is scoped
TENANT_ONLY = {"tenant_scope", "dns_names"}

_PERMISSIVE: dict[str, Any] = {
    "flags": {
        "--force": {},
        "--filename": {"aliases": ["-f"], "value": "required"},
        "--patch": {"aliases": ["-p"], "value": "required"},
        "--replicas": {"value": "required"},
        "--image": {"value": "required"},
        "--max": {"value": "required"},
    }
}


@pytest.fixture(scope="module")
def overridden() -> Gate:
    """The shipped policy after an admin 'allowed' every forbidden form (as if `policy check`
    had not been run): the gate must still deny each of them."""
    data = yaml.safe_load(SHIPPED_POLICY.read_text(encoding="utf-8"))
    programs = data["commands"]["programs"]
    kubectl = programs["kubectl"]["subcommands"]
    for verb in (
        "delete apply patch edit replace create scale cordon uncordon drain taint label "
        "annotate exec attach cp port-forward proxy debug run set autoscale expose certificate"
    ).split():
        kubectl[verb] = _PERMISSIVE
    kubectl["rollout"] = {
        **kubectl["rollout"],
        "subcommands": {v: _PERMISSIVE for v in ("restart", "undo", "pause", "resume")},
    }
    vault = programs["vault"]["subcommands"]
    for verb in ("write", "delete", "login", "operator", "lease"):
        vault[verb] = {}
    vault["kv"] = {**vault["kv"], "subcommands": {v: {} for v in ("put", "delete", "destroy")}}
    vault["token"] = {**vault["token"], "subcommands": {"create": {}}}
    curl = programs["curl"]["flags"]
    curl["--request"] = {"aliases": ["-X"], "value": "required"}
    curl["--output"] = {"aliases": ["-o"], "value": "required"}
    curl["--data-urlencode"] = {"value": "required"}
    for name, short in (("--data", "-d"), ("--form", "-F"), ("--upload-file", "-T"),
                        ("--config", "-K"), ("--cookie-jar", "-c")):  # fmt: skip
        curl[name] = {"aliases": [short], "value": "required"}
    curl["--data-binary"] = curl["--json"] = {"value": "required"}
    curl["--remote-name"] = {"aliases": ["-O"]}
    jq = programs["jq"]["flags"]
    jq["--library-path"] = {"aliases": ["-L"], "value": "required"}
    jq["--rawfile"] = {"value": "required", "arity": 2}
    return Gate(Policy.model_validate(data))


def test_the_corpora_are_large_and_cover_every_category() -> None:
    assert len(DENIED) >= 540
    assert len(ALLOWED) >= 150
    categories = Counter(item["category"] for item in DENIED)
    for needed in (
        "chaining", "substitution", "redirection", "heredoc", "subshell", "glob",
        "quote_splitting", "unicode", "paths", "env_prefix", "wrappers", "interpreters",
        "read_tool_flags", "kubectl_mutations", "kubectl_escapes", "identity_target",
        "secrets", "curl", "ssrf", "schemes", "vault", "tenant_scope",
        "jq_modules", "dns_names", "policy_overrides", "encodings", "sizes",
    ):  # fmt: skip
        assert categories[needed] >= 3, needed


@pytest.mark.parametrize("item", DENIED, ids=lambda i: f"{i['category']}:{i['command'][:50]!r}")
def test_attack_is_denied_with_a_reason(gate: Gate, overridden: Gate, item: dict[str, str]) -> None:
    if item["category"] == "policy_overrides":
        decision = overridden.check_command(item["command"], "acme")
        assert not decision.allowed and decision.rule.startswith("forbidden."), decision
    tenants = ["acme"] if item["category"] in TENANT_ONLY else ["acme", None]
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
