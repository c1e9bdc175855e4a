"""Scenario files for `steadfast demo --scenario`: merging over the world, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.demo.scenario import ScenarioError, deep_merge, load_user_scenario
from bot.demo.stack import demo_scenario

REPO = Path(__file__).resolve().parents[2]


def test_maps_merge_and_lists_replace() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": [1]}
    assert deep_merge(base, {"a": {"c": [3]}, "d": {"x": 1}}) == {
        "a": {"b": 1, "c": [3]},
        "d": {"x": 1},
    }
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": [1]}  # the base is not changed


@pytest.mark.parametrize("name", ["everything-down.yaml", "logs-down.yaml"])
def test_the_shipped_examples_load_over_the_demo_world(name: str) -> None:
    world = demo_scenario()
    scenario = load_user_scenario(REPO / "docs" / "scenarios" / name, world)
    assert scenario.ticket and "loki" in scenario.faults
    assert scenario.world["cluster"] == world["cluster"]  # untouched sections stay
    [script] = scenario.world["anthropic"]["scripts"]  # the user's scripts replace the demo's
    assert script["steps"][-1]["tool"] == "submit_handoff"


def test_logs_down_changes_one_platform_response_and_keeps_the_rest() -> None:
    world = demo_scenario()
    scenario = load_user_scenario(REPO / "docs" / "scenarios" / "logs-down.yaml", world)
    record = scenario.world["platform"]["responses"]["/v1/instances/i-123"]
    assert record["type"] == "m6i.xlarge" and record["tenant"] == "acme"
    assert len(scenario.world["platform"]["responses"]) == len(world["platform"]["responses"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("faults: {redis: {mode: down}}", "faults.redis"),
        ("faults: {vault: {mode: broken}}", "faults.vault.mode"),
        ("ticket: {txt: hi}", "ticket.txt"),
        ("- a list", "a mapping of sections"),
        ("faults: {vault: {mode: down", "not valid YAML"),
    ],
)
def test_a_bad_scenario_names_the_file_and_the_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_user_scenario(path, {})
    assert str(path) in str(info.value) and expected in str(info.value)
