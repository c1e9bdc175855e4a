"""The ledger lines a run carries ("Could not reach", from `degraded` and `tool_blocked`
events: the model cannot drop one) and the layer rule that decides whether an escalation is
premature."""

from __future__ import annotations

from collections.abc import Callable

from bot.agent.history import History
from bot.handoff.verify import Evidence
from policy.document import Policy


def unreachable_from_events(history: History) -> list[str]:
    """One line per failed dependency (its latest reason) and per blocked action: the same
    ledger the handoff is built from (`bot.handoff.verify`)."""
    events = sorted([*history.degraded, *history.blocked], key=lambda e: e.seq)
    return Evidence.from_events(events).could_not_reach()


def merge(ours: list[str], theirs: list[str]) -> list[str]:
    """Event-derived lines first, then the model's lines that add something new."""
    seen = {line.strip().lower() for line in ours}
    merged = list(ours)
    for line in theirs:
        key = line.strip().lower()
        if key and key not in seen and not any(key.startswith(s.split(":")[0]) for s in seen):
            merged.append(line.strip())
            seen.add(key)
    return merged


def untried_layers(history: History, policy: Policy, available: Callable[[str], bool]) -> list[str]:
    """Layers with no tool tried yet although at least one of their tools is available."""
    tried = {call.name for call in history.calls.values() if call.result is not None}
    missing = []
    for layer in policy.layers:
        if not layer.tools or tried.intersection(layer.tools):
            continue
        if any(available(tool) for tool in layer.tools):
            missing.append(layer.name)
    return missing


def layer_of(policy: Policy, tool: str) -> str | None:
    return next((layer.name for layer in policy.layers if tool in layer.tools), None)
