"""Flag normalisation: every spelling of a flag is judged, and executed, as one canonical form."""

from __future__ import annotations

import pytest

from sandbox.gate import Gate


def argv(gate: Gate, command: str, tenant: str | None = "acme") -> list[list[str]]:
    decision = gate.check_command(command, tenant)
    assert decision.allowed, decision
    return decision.argv


@pytest.mark.parametrize(
    "command",
    [
        "kubectl get pods -n acme-prod",
        "kubectl get pods --namespace acme-prod",
        "kubectl get pods --namespace=acme-prod",
        "kubectl -n acme-prod get pods",
        "kubectl get pods -nacme-prod",
        "kubectl get pods --names acme-prod",
        "kubectl get pods",  # no -n: the tenant's namespace is added
    ],
)
def test_namespace_spellings_normalise_to_one_flag(gate: Gate, command: str) -> None:
    (stage,) = argv(gate, command)
    assert "--namespace=acme-prod" in stage
    assert [a for a in stage if "acme-prod" in a] == ["--namespace=acme-prod"]


def test_clustered_short_flags_are_split_and_spelled_out(gate: Gate) -> None:
    (stage,) = argv(gate, "curl -sSfo /dev/null http://api.acme-prod.svc/")
    assert stage == [
        "curl", "--globoff", "--silent", "--show-error", "--fail", "--output", "/dev/null",
        "http://api.acme-prod.svc/",
    ]  # fmt: skip


def test_long_option_abbreviations_resolve_to_the_full_flag(gate: Gate) -> None:
    (stage,) = argv(gate, "curl --sil --max-t 3 http://api.acme-prod.svc/")
    assert stage[:5] == ["curl", "--globoff", "--silent", "--max-time", "3"]
    assert gate.check_command("kubectl --kube=/x get pods").rule == "kubectl --kubeconfig"
    assert gate.check_command("curl --jso '{}' http://a.b.svc/").rule == "curl --json"


def test_an_ambiguous_abbreviation_is_denied(gate: Gate) -> None:
    decision = gate.check_command("curl --s http://api.acme-prod.svc/")
    assert not decision.allowed
    assert "ambiguous" in decision.reason


def test_every_repetition_of_a_flag_is_checked(gate: Gate) -> None:
    # the program would use the last one; judging every one also catches the first
    assert not gate.check_command("curl -X GET -X POST http://a.acme-prod.svc/").allowed
    assert not gate.check_command("curl -X POST -X GET http://a.acme-prod.svc/").allowed
    assert not gate.check_command("kubectl get pods -n acme-prod -n kube-system", "acme").allowed


def test_a_switch_given_a_value_is_denied(gate: Gate) -> None:
    decision = gate.check_command("kubectl logs api-0 --previous=false", "acme")
    assert not decision.allowed and "takes no value" in decision.reason


def test_a_missing_flag_value_is_denied(gate: Gate) -> None:
    decision = gate.check_command("kubectl get pods -o", "acme")
    assert not decision.allowed and "needs a value" in decision.reason


def test_pipelines_and_stderr_merge(gate: Gate) -> None:
    decision = gate.check_command("kubectl logs api-0 2>&1 | grep -i error | wc -l", "acme")
    assert decision.allowed
    assert [s[0] for s in decision.argv] == ["kubectl", "grep", "wc"]
    assert decision.merge_stderr == [True, False, False]
    assert all("2>&1" not in s for s in decision.argv)


def test_quoted_arguments_reach_the_program_intact(gate: Gate) -> None:
    (_, jq) = argv(gate, "kubectl get pods -o json | jq -r '.items[] | .metadata.name'")
    assert jq == ["jq", "--raw-output", ".items[] | .metadata.name"]
    (stage,) = argv(gate, "kubectl get pods -o jsonpath='{.items[*].metadata.name}'")
    assert "--output=jsonpath={.items[*].metadata.name}" in stage


def test_double_dash_ends_flags(gate: Gate) -> None:
    (_, grep) = argv(gate, "kubectl logs api-0 | grep -- -v")
    assert grep == ["grep", "--", "-v"]


def test_head_numeric_shorthand(gate: Gate) -> None:
    (_, head) = argv(gate, "kubectl get events | head -20")
    assert head == ["head", "--lines", "20"]


def test_to_dict_has_the_contract_keys(gate: Gate) -> None:
    record = gate.check_command("kubectl get pods").to_dict()
    assert set(record) >= {"allowed", "rule", "reason", "hint", "argv"}


def test_no_policy_denies_everything() -> None:
    from policy.document import Policy

    decision = Gate(Policy()).check_command("kubectl get pods")
    assert not decision.allowed and decision.rule == "policy.empty"


def test_unknown_tenant_is_denied(gate: Gate) -> None:
    decision = gate.check_command("kubectl get pods", "nobody")
    assert not decision.allowed and decision.rule == "tenant.unknown"


def test_pflag_short_equals(gate: Gate) -> None:
    (stage,) = argv(gate, "kubectl get pods -o=json")
    assert stage[-1] == "--output=json"
    switch = gate.check_command("kubectl logs api-0 -p=true", "acme")
    assert not switch.allowed and "takes no value" in switch.reason
