"""jq may filter the piped input and nothing else: no modules, files, environment or paths."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from policy.document import Limits
from policy.jq import find_problem
from sandbox.executor import Executor
from sandbox.gate import Decision, Gate

REFUSED = [
    'import "creds" as $c {search: "/var/run/secrets"}; $c',
    'include "x" {search: "/etc"}; .',
    'import "m" as m; m::f',
    "env.HOME",
    "$ENV.PATH",
    "$ ENV",
    "input_filename",
    "$__loc__",
    "{a: env}",
    '"\\(env)"',
    '"x \\("y" + ($ENV | tostring)) z"',
    '"\\\\" | env',
    "..env",
    "get_search_list",
    "modulemeta",
    '"unterminated',
    '"\\(1 + (2)"',
]
ALLOWED = [
    '"import" + "include"',
    '.items[] | select(.metadata.name | test("env"))',
    ".env",
    ".spec.env[]",
    "{env: .spec.env}",
    '"\\(.env) and \\("$ENV")"',
    "$env",
    ".a as $input_filename | 1",
    '"# not a comment" | length',
    "[.items[] | {name: .metadata.name, restarts: .status.containerStatuses[0].restartCount}]",
]


@pytest.mark.parametrize("program", REFUSED)
def test_module_and_host_access_is_found(program: str) -> None:
    assert find_problem(program) is not None


@pytest.mark.parametrize("program", ALLOWED)
def test_string_contents_and_fields_are_not_mistaken_for_code(program: str) -> None:
    assert find_problem(program) is None


@pytest.mark.parametrize("program", REFUSED)
def test_the_gate_refuses_jq_programs_that_read_the_host(gate: Gate, program: str) -> None:
    quoted = "'" + program.replace("'", "'\\''") + "'"
    decision = gate.check_command(f"kubectl get pods -o json | jq -r {quoted}", "acme")
    assert not decision.allowed, decision


@pytest.mark.parametrize("flags", ["-L /", "-L/", "-rL /etc", "--library-path /"])
def test_jq_library_path_flags_are_refused(gate: Gate, flags: str) -> None:
    decision = gate.check_command(f"kubectl get pods -o json | jq {flags} .", "acme")
    assert not decision.allowed, decision


def test_jq_runs_with_an_empty_library_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """jq searches `$ORIGIN/../lib/jq`, and $ORIGIN is the executor's link directory under the
    temporary directory: anyone who can write there could plant a module. The executor gives
    jq no search path, so even a program the gate never saw cannot import it."""
    if Executor(Limits()).find("jq") is None:
        pytest.skip("jq is not installed")
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    planted = temp / "lib" / "jq"
    planted.mkdir(parents=True)
    (planted / "planted.jq").write_text('def leak: "PLANTED";', encoding="utf-8")
    with Executor(Limits(), sandbox=False) as executor:
        unjudged = Decision(
            True, "test", "test", argv=[["jq", "-n", 'import "planted" as p; p::leak']]
        )
        result = executor.run(unjudged)
    assert "PLANTED" not in result.stdout
    assert "module not found" in result.stderr
