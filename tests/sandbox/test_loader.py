"""Policy files: clear errors with file:line:col, last good policy kept, hot reload."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from policy.document import Policy
from policy.errors import PolicyError
from policy.loader import SHIPPED_POLICY, PolicyLoader, load_policy, parse_policy
from sandbox.gate import Gate

GOOD = "version: 1\nbudgets:\n  steps: 7\n"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, text: str) -> None:
    """Write and move the mtime forward so a same-second rewrite is still seen as a change."""
    path.write_text(text, encoding="utf-8")
    stamp = path.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def error_of(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "p.yaml")
    return info.value


def test_the_shipped_policy_is_valid_and_complete(shipped: Policy) -> None:
    assert {"kubectl", "curl", "vault", "grep", "jq"} <= set(shipped.commands.programs)
    assert shipped.tenant_for_channel("C0ACME") == "acme"
    assert shipped.tenants["acme"].namespaces == ["acme-prod"]
    route = shipped.escalation.route_for("acme")
    assert route is not None and route.channel == "C0ONCALL" and route.usergroup == "S0ONCALL"
    assert shipped.operators.allowed("U0OPS", [], "cancel")
    assert not shipped.operators.allowed("U0SOMEONE", [], "cancel")
    assert [layer.name for layer in shipped.layers] == ["broad", "specific", "credentials"]


def test_the_exported_schema_is_up_to_date() -> None:
    from bot.cli.policy import schema_text

    shipped = (SHIPPED_POLICY.parent / "schema.json").read_text(encoding="utf-8")
    assert json.loads(shipped) == json.loads(schema_text()), (
        "policies/schema.json is stale: steadfast policy schema --output policies/schema.json"
    )


def test_invalid_yaml_names_line_and_column() -> None:
    error = error_of("version: 1\nbudgets:\n  steps: [1, 2\n")
    assert error.file == "p.yaml"
    assert error.line >= 3
    assert str(error).startswith(f"p.yaml:{error.line}:{error.column}: invalid YAML")


def test_an_unknown_key_is_an_error_at_that_key() -> None:
    error = error_of("version: 1\nbudgets:\n  steps: 5\n  stpes: 6\n")
    assert (error.line, error.column) == (4, 3)
    assert "budgets.stpes" in str(error) and "unknown key" in str(error)


def test_a_wrong_type_is_an_error_at_the_value() -> None:
    error = error_of("version: 1\nlimits:\n  command_timeout_seconds: soon\n")
    assert (error.line, error.column) == (3, 28)
    assert "limits.command_timeout_seconds" in str(error)


def test_a_bad_rule_deep_in_commands_is_located() -> None:
    text = (
        "commands:\n"
        "  programs:\n"
        "    kubectl:\n"
        "      flags:\n"
        "        --output: {value: required, allow: ['(unclosed']}\n"
    )
    error = error_of(text)
    assert error.line == 5
    assert "invalid regular expression" in str(error)


def test_an_empty_file_is_an_error() -> None:
    assert "empty" in str(error_of(""))
    assert "empty" in str(error_of("   \n# only a comment\n"))


def test_a_non_mapping_is_an_error() -> None:
    assert "mapping" in str(error_of("- a\n- b\n"))


def test_duplicate_keys_are_errors() -> None:
    error = error_of("version: 1\nbudgets: {steps: 1}\nbudgets: {steps: 2}\n")
    assert "duplicate key 'budgets'" in str(error)
    assert error.line == 3


def test_load_policy_on_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "nope.yaml")


def test_loader_without_a_file_denies_everything(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="policy.loader"):
        loader = PolicyLoader(tmp_path / "missing.yaml")
    assert not loader.loaded
    assert loader.error and "not found" in loader.error
    assert "every command is denied" in caplog.text
    assert not Gate(loader.current()).check_command("kubectl get pods").allowed


def test_loader_defaults_to_the_shipped_policy() -> None:
    loader = PolicyLoader(None)
    assert loader.loaded and loader.error is None
    assert loader.path == SHIPPED_POLICY


def test_hot_reload_keeps_the_last_good_policy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "policy.yaml"
    write(path, GOOD)
    clock = Clock()
    loader = PolicyLoader(path, clock=clock)
    assert loader.current().budgets.steps == 7

    write(path, "version: 1\nbudgets:\n  steps: 9\n")
    assert loader.current().budgets.steps == 7  # not re-checked within a second
    clock.now += 1.0
    assert loader.current().budgets.steps == 9

    with caplog.at_level(logging.ERROR, logger="policy.loader"):
        write(path, "version: 1\nbudgets:\n  stepz: 3\n")
        clock.now += 1.0
        assert loader.current().budgets.steps == 9  # the bad edit is refused
    assert loader.loaded
    assert loader.error is not None and f"{path}:3:3" in loader.error
    assert f"{path}:3:3" in caplog.text and "keeping the last valid policy" in caplog.text

    write(path, "version: 1\nbudgets:\n  steps: 11\n")
    clock.now += 1.0
    assert loader.current().budgets.steps == 11
    assert loader.error is None

    path.unlink()
    clock.now += 1.0
    assert loader.current().budgets.steps == 11  # a deleted file keeps the last good policy
    assert loader.error is not None


def test_an_invalid_file_at_start_denies_everything(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    write(path, "commands: 3\n")
    loader = PolicyLoader(path)
    assert not loader.loaded
    assert loader.error is not None and ":1:11:" in loader.error
    assert Gate(loader.current()).check_command("date").rule == "policy.empty"


def test_every_yaml_example_in_the_policy_readme_is_valid() -> None:
    readme = (SHIPPED_POLICY.parent / "README.md").read_text(encoding="utf-8")
    blocks = readme.split("```yaml\n")[1:]
    assert len(blocks) >= 10
    for block in blocks:
        parse_policy(block.split("```", 1)[0], "policies/README.md")
