"""Deny wins: forms no policy can allow, and policy values `policy check` must refuse.

Each policy here is the shipped file with one admin edit, so a refusal is about that edit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import build_app
from policy.document import Policy
from policy.errors import PolicyError
from policy.forbidden import check_argv
from policy.loader import SHIPPED_POLICY, parse_policy
from sandbox.gate import Gate

SHIPPED_TEXT = SHIPPED_POLICY.read_text(encoding="utf-8")


def edited(old: str, new: str) -> str:
    assert SHIPPED_TEXT.count(old) == 1, old
    return SHIPPED_TEXT.replace(old, new)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def gate_without_check(text: str) -> Gate:
    """A gate on a policy that skipped `policy check`: the gate alone must still refuse."""
    return Gate(Policy.model_validate(yaml.safe_load(text)))


KUBECTL_DELETE = edited(
    "      subcommands:\n        get: &get\n",
    "      subcommands:\n        delete: {positionals: {max: 3}}\n        get: &get\n",
)


def test_a_policy_allowing_kubectl_delete_is_refused_with_its_line() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(KUBECTL_DELETE, "admin.yaml")
    assert info.value.line == line_of(KUBECTL_DELETE, "delete: {positionals")
    assert "kubectl delete" in info.value.problem and "deny wins" in info.value.problem


def test_the_gate_denies_kubectl_delete_even_when_the_policy_allows_it() -> None:
    gate = gate_without_check(KUBECTL_DELETE)
    decision = gate.check_command("kubectl delete pod api-0 -n acme-prod", "acme")
    assert not decision.allowed
    assert decision.rule == "forbidden.kubectl"
    assert "read-only" in decision.reason and "kubectl get" in decision.hint


def test_policy_check_cli_refuses_the_edit(tmp_path: Path) -> None:
    path = tmp_path / "admin.yaml"
    path.write_text(KUBECTL_DELETE, encoding="utf-8")
    result = CliRunner().invoke(build_app(), ["policy", "check", str(path)])
    assert result.exit_code == 1
    assert f"{path}:{line_of(KUBECTL_DELETE, 'delete: {positionals')}:" in result.output


# (edit to the shipped policy, command it would allow, needle on the refused line)
OVERRIDES: list[tuple[str, str, str, str]] = [
    (
        "            status:\n              flags:\n                --watch:",
        "            restart: {positionals: {max: 2}}\n"
        "            status:\n              flags:\n                --watch:",
        "kubectl rollout restart deploy/api -n acme-prod",
        "restart: {positionals",
    ),
    (
        "        label: &listonly\n          require_flags: [--list]\n",
        "        label: &listonly\n          require_flags: []\n",
        "kubectl label pod api-0 team=x -n acme-prod",
        "label: &listonly",
    ),
    (
        "        --request: {aliases: [-X], value: required, allow: ['GET', 'HEAD'],",
        "        --request: {aliases: [-X], value: required, allow: ['.*'], deny: []}\n"
        "        --unused: {value: required,",
        "curl -X POST http://api.acme-prod.svc/",
        "--request: {aliases",
    ),
    (
        "        --silent: {aliases: [-s]}\n        --show-error",
        "        --silent: {aliases: [-s]}\n        --data: {aliases: [-d], value: required}\n"
        "        --show-error",
        "curl -d x=1 http://api.acme-prod.svc/",
        "--data: {aliases",
    ),
    (
        "        --tab: {}\n",
        "        --tab: {}\n        --library: {aliases: [-L], value: required}\n",
        "kubectl get pods -o json | jq -L / '.'",
        "--library:",
    ),
    (
        "          subcommands:\n            lookup:\n",
        "          subcommands:\n            create: {}\n            lookup:\n",
        "vault token create",
        "create: {}",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "command", "needle"),
    OVERRIDES,
    ids=[o[2] for o in OVERRIDES],
)
def test_policy_overrides_of_forbidden_forms_are_refused(
    old: str, new: str, command: str, needle: str
) -> None:
    text = edited(old, new)
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "admin.yaml")
    assert info.value.line == line_of(text, needle), info.value
    decision = gate_without_check(text).check_command(command, "acme")
    assert not decision.allowed, decision
    assert decision.rule.startswith("forbidden."), decision


def test_a_policy_allowing_post_is_refused_and_the_gate_still_denies_it() -> None:
    text = edited("  methods: [GET, HEAD]\n", "  methods: [GET, HEAD, POST]\n")
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "admin.yaml")
    assert info.value.line == line_of(text, "methods: [GET, HEAD, POST]")
    gate = gate_without_check(text)
    assert not gate.check_http("POST", "http://api.acme-prod.svc/", "acme").allowed
    assert gate.check_http("GET", "http://api.acme-prod.svc/", "acme").allowed


def test_a_verb_hidden_as_a_mis_declared_flag_value_is_still_denied() -> None:
    """kubectl reads `--namespace get` as a value, so its verb is `delete`."""
    text = edited(
        "        --namespace: {aliases: [-n], value: required, kind: namespace}\n",
        "        --namespace: {aliases: [-n]}\n",
    )
    gate = gate_without_check(text)
    decision = gate.check_command("kubectl --namespace get delete pod api-0", None)
    assert not decision.allowed and decision.rule == "forbidden.kubectl", decision


@pytest.mark.parametrize(
    "argv",
    [
        ["kubectl", "--namespace=acme-prod", "delete", "pod", "x"],
        ["kubectl", "rollout", "--namespace=x", "undo", "deploy/api"],
        ["kubectl", "annotate", "pod", "x", "a=b"],
        ["vault", "kv", "put", "secret/acme/x", "a=b"],
        ["vault", "token", "create"],
        ["vault", "write", "-f", "sys/rotate"],
        ["curl", "--data", "x", "http://h.ns.svc/"],
        ["curl", "--dat", "x", "http://h.ns.svc/"],
        ["curl", "-sSd", "x", "http://h.ns.svc/"],
        ["curl", "-XPOST", "http://h.ns.svc/"],
        ["curl", "--request", "delete", "http://h.ns.svc/"],
        ["curl", "-o", "/tmp/x", "http://h.ns.svc/"],
        ["curl", "-w", "%output{/tmp/x}", "http://h.ns.svc/"],
        ["curl", "--data-urlencode", "a=b", "http://h.ns.svc/"],
        ["curl", "-K", "cfg", "http://h.ns.svc/"],
        ["jq", "-rL/", "."],
        ["jq", "--rawfile", "a", "/etc/passwd", "."],
        ["jq", ".", "/etc/passwd"],
        ["jq", "-n", "env"],
    ],
)
def test_check_argv_refuses_forbidden_forms(argv: list[str]) -> None:
    assert check_argv(argv) is not None


@pytest.mark.parametrize(
    "argv",
    [
        ["kubectl", "get", "pods", "--namespace=acme-prod"],
        ["kubectl", "auth", "can-i", "delete", "pods"],
        ["kubectl", "label", "pods", "--list"],
        ["vault", "kv", "metadata", "get", "secret/acme/db"],
        ["curl", "--globoff", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://h.ns.svc/"],
        ["curl", "-X", "HEAD", "http://h.ns.svc/"],
        ["curl", "--get", "--data-urlencode", "q=up", "http://h.ns.svc/"],
        ["jq", "-r", "--arg", "env", "prod", '.items[] | select(.env == $env) | "import"'],
    ],
)
def test_check_argv_lets_read_only_forms_through(argv: list[str]) -> None:
    assert check_argv(argv) is None


# --- values policy check must refuse ------------------------------------------------------
VALUES = [
    ("  command_timeout_seconds: 20\n", "  command_timeout_seconds: -5\n"),
    ("  output_cap_bytes: 65536\n", "  output_cap_bytes: -1\n"),
    ("  ports: [80, 443, 8080,", "  ports: [0, 443, 8080,"),
    ("  ports: [80, 443, 8080,", "  ports: [70000, 443, 8080,"),
    ("  threshold: 0.6\n", "  threshold: 1.5\n"),
    ("  threshold: 0.6\n", "  threshold: -0.1\n"),
    ("version: 1\n", "version: 2\n"),
    ("  hosts: ['*.svc', '*.svc.cluster.local']", "  hosts: ['*']"),
    ("    hosts: []\n", "    hosts: ['*.*']\n"),
]


@pytest.mark.parametrize(("old", "new"), VALUES, ids=[v[1].strip() for v in VALUES])
def test_out_of_range_values_are_refused_with_their_line(old: str, new: str) -> None:
    needle = new.strip()
    text = edited(old, new)
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "admin.yaml")
    assert info.value.file == "admin.yaml"
    assert info.value.line == line_of(text, needle), info.value


def test_the_shipped_policy_passes_the_forbidden_check(shipped: Policy) -> None:
    data: dict[str, Any] = yaml.safe_load(SHIPPED_TEXT)
    from policy.forbidden import policy_violations

    assert policy_violations(data) == []
    assert shipped.version == 1
