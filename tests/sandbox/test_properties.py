"""Property-based tests: the gate never raises, and what it allows is plain argv."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy.loader import SHIPPED_POLICY, load_policy
from sandbox.gate import Gate

GATE = Gate(load_policy(SHIPPED_POLICY))
PROGRAMS = set(GATE.policy.commands.programs)

VOCABULARY = [
    "kubectl", "curl", "vault", "grep", "jq", "head", "wc", "sort", "date", "sh", "env",
    "get", "pods", "logs", "describe", "delete", "exec", "secrets", "kv", "status", "list",
    "metadata", "-n", "acme-prod", "kube-system", "-o", "json", "-A", "--kube", "-s", "-sS",
    "-X", "POST", "GET", "-o", "/dev/null", "-w", "'%{http_code}'", "http://api.acme-prod.svc/",
    "http://127.1/", "file:///etc/passwd", "|", "||", ";", "&", "&&", "2>&1", ">", "<", "<<",
    "$(id)", "`id`", "$HOME", "${X}", "$'\\x41'", "*", "?", "[a]", "{a,b}", "(", ")", "'",
    '"', "\\", "#", "~", "\n", "\u2013n", "\u00a0", "--", "-", "=", "-p", "--tail=5", "'a b'",
    '"c d"', "-l", "app=api", "-i", "ERROR", ".items[]", "'.items[]'", "+%s", "-u",
]  # fmt: skip

commands = st.one_of(
    st.text(max_size=80),
    st.lists(
        st.one_of(st.sampled_from(VOCABULARY), st.text(max_size=6)), min_size=1, max_size=10
    ).map(" ".join),
    st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=12).map(" ".join),
)
tenants = st.sampled_from([None, "acme", "ghost"])

_QUOTED = re.compile(r"'[^']*'|\"(?:[^\"\\\\]|\\\\.)*\"")


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands, tenants)
def test_the_gate_never_raises_and_always_explains(command: str, tenant: str | None) -> None:
    decision = GATE.check_command(command, tenant)
    assert decision.rule != "gate.internal_error", (command, decision)
    assert decision.reason
    assert decision.allowed == bool(decision.argv)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands, tenants)
def test_allowed_commands_are_allowlisted_argv_without_shell_syntax(
    command: str, tenant: str | None
) -> None:
    decision = GATE.check_command(command, tenant)
    if not decision.allowed:
        return
    for stage in decision.argv:
        assert stage[0] in PROGRAMS
        assert "/" not in stage[0]
        assert all(isinstance(arg, str) and "\n" not in arg for arg in stage)
    bare = _QUOTED.sub("", command).replace("2>&1", "")
    assert not set(bare) & set(";&<>()`$\\*?[]{}\n\r"), (command, decision.argv)
    assert bare.count("|") == len(decision.argv) - 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.text(max_size=60), tenants)
def test_structured_checks_never_raise(method: str, text: str, tenant: str | None) -> None:
    for decision in (
        GATE.check_http(method, text, tenant),
        GATE.check_vault_path(text, tenant),
        GATE.check_kubernetes(text, text or None, tenant),
    ):
        assert decision.reason
        assert decision.argv == []
