"""An eval case: a scenario file (the format of `steadfast demo --scenario`, docs/scenarios.md)
plus its ground truth in a `truth:` section of the same file."""

from __future__ import annotations

import copy
import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.demo.scenario import FaultSpec, ScenarioError, deep_merge, load_user_scenario
from bot.demo.stack import demo_scenario
from bot.evals.truth import GroundTruth

CASES_DIR = Path(__file__).resolve().parents[2] / "evals" / "cases"
# Sections of a case file that describe the case, not the world.
CASE_KEYS = ("truth", "description", "tenant")


@dataclass
class Case:
    name: str  # the file's stem
    path: Path
    description: str
    ticket: str
    tenant: str
    world: dict[str, Any]
    faults: dict[str, FaultSpec]
    truth: GroundTruth

    @property
    def scripted(self) -> bool:
        return bool((self.world.get("anthropic") or {}).get("scripts"))


def base_world() -> dict[str, Any]:
    """The demo world with Vault answering: a case that wants Vault slow says so itself."""
    world = demo_scenario()
    world["anthropic"] = {"scripts": []}  # a case without scripts needs a real model
    return deep_merge(world, {"vault": {"timeout_paths": []}})


def load_case(path: Path, base: dict[str, Any] | None = None) -> Case:
    """One case file. Raises `ScenarioError` naming the file and what to fix."""
    scenario = load_user_scenario(path, copy.deepcopy(base) if base is not None else base_world())
    raw = yaml.safe_load(path.read_text()) or {}
    for key in CASE_KEYS:
        scenario.world.pop(key, None)
    if "truth" not in raw:
        raise ScenarioError(f"{path}: an eval case needs a `truth:` section (docs/evals.md)")
    if not scenario.ticket:
        raise ScenarioError(f"{path}: an eval case needs `ticket: {{text: ...}}`")
    try:
        truth = GroundTruth.model_validate(raw["truth"])
    except ValidationError as exc:
        problems = "; ".join(
            f"truth.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ScenarioError(f"{path}: {problems}") from exc
    return Case(
        name=path.stem,
        path=path,
        description=str(raw.get("description") or "").strip(),
        ticket=scenario.ticket,
        tenant=str(raw.get("tenant") or "acme"),
        world=scenario.world,
        faults=scenario.faults,
        truth=truth,
    )


def find_cases(pattern: str = "*", directory: Path = CASES_DIR) -> list[Case]:
    """Every case whose name matches the glob `pattern` (comma-separated globs allowed)."""
    globs = [p.strip() for p in pattern.split(",") if p.strip()] or ["*"]
    base = base_world()
    paths = sorted(
        p for p in directory.glob("*.yaml") if any(fnmatch.fnmatch(p.stem, g) for g in globs)
    )
    if not paths:
        raise ScenarioError(f"no case in {directory} matches {pattern!r}")
    return [load_case(p, base) for p in paths]
