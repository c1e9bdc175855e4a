"""What the handoff may claim, checked against the events: "Could not reach" is built from
`degraded` and `tool_blocked` events (the model cannot drop one), and the layer rule decides
whether an escalation is premature."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.agent.history import History
from policy.document import Policy


def unreachable_from_events(history: History) -> list[str]:
    """One line per failed dependency (its latest reason) and per blocked action."""
    latest: dict[str, str] = {}
    for event in history.degraded:
        dep = str(event.data.get("dependency", "unknown"))
        latest[dep] = str(event.data.get("reason", ""))
    items = [f"{dep}: {reason}" if reason else dep for dep, reason in latest.items()]
    for event in history.blocked:
        what = event.data.get("command") or event.data.get("name", "action")
        items.append(f"blocked by policy: {what} ({event.data.get('reason', 'not allowed')})")
    return items


def failed_dependencies(history: History) -> list[str]:
    return list(dict.fromkeys(str(e.data.get("dependency", "unknown")) for e in history.degraded))


def unverified_confirmations(
    confirmed: list[str], failed: list[str]
) -> tuple[list[str], list[str]]:
    """(confirmed lines that stand, lines turned into assumptions). A line that opens with a
    dependency that failed for this job ("vault credentials resolve" after Vault timed out)
    claims what the events contradict, so it cannot be listed as confirmed."""
    names = {name: dep for dep in failed for name in (dep, dep.split(":", 1)[-1]) if name}
    kept: list[str] = []
    demoted: list[str] = []
    for line in confirmed:
        dep = next(
            (d for n, d in names.items() if re.match(rf"{re.escape(n)}\b", line.strip(), re.I)),
            None,
        )
        if dep is None:
            kept.append(line)
        else:
            demoted.append(f"Not verified ({dep} failed during this job): {line.strip()}")
    return kept, demoted


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
