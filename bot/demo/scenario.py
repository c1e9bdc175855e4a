"""A user's scenario file for `steadfast demo --scenario FILE` (and anything else that runs the
demo world with changes): its sections deep-merge over the shipped world, `ticket` replaces the
ticket, `faults` breaks emulators from the first request of the run. See docs/scenarios.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import ConfigError

# The emulators a scenario may break, named as the demo world names them.
Dependency = Literal["vault", "kubernetes", "platform", "loki", "slack", "anthropic"]
DEPENDENCIES: tuple[str, ...] = get_args(Dependency)
FaultMode = Literal["down", "reset", "slow", "timeout", "500", "503", "529", "429", "expired_token"]


class ScenarioError(ConfigError):
    """The scenario file cannot be used; the message names the file and the problem."""


class FaultSpec(BaseModel):
    """One emulator's fault, as `emulators.base.Fault` takes it."""

    model_config = ConfigDict(extra="forbid")
    mode: FaultMode
    delay_ms: int = Field(0, ge=0)
    retry_after: float = Field(1.0, ge=0)
    count: int | None = Field(None, ge=1, description="only the next N requests")
    path: str | None = Field(None, description="regex the request path must match")


class Ticket(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1)


class ScenarioControls(BaseModel):
    """The sections that steer the run rather than describe the world."""

    model_config = ConfigDict(extra="forbid")
    ticket: Ticket | None = None
    faults: dict[Dependency, FaultSpec] = Field(default_factory=dict)


class Scenario(BaseModel):
    world: dict[str, Any]  # every emulator section, merged
    ticket: str | None = None
    faults: dict[str, FaultSpec] = Field(default_factory=dict)


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """`overlay` over `base`: maps merge key by key, anything else (lists too) replaces."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_user_scenario(path: Path, base: dict[str, Any]) -> Scenario:
    """`path` over the shipped world `base`. Raises `ScenarioError` with what to fix."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping of sections at the top level")
    controls = {k: data.pop(k) for k in ("ticket", "faults") if k in data}
    try:
        parsed = ScenarioControls.model_validate(controls)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ScenarioError(
            f"{path}: {problems} (faults may name {', '.join(DEPENDENCIES)}; see docs/scenarios.md)"
        ) from exc
    return Scenario(
        world=deep_merge(base, data),
        ticket=parsed.ticket.text if parsed.ticket else None,
        faults=dict(parsed.faults),
    )
