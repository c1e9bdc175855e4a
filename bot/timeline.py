"""One line per event, for humans: `steadfast replay` and the demo's live progress share it."""

from __future__ import annotations

import json
from typing import Any

from bot.model import Event


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _model_text(data: dict[str, Any]) -> str:
    content = data.get("content") or (data.get("response") or {}).get("content") or []
    parts = []
    for block in content:
        if block.get("type") == "text":
            parts.append(block.get("text", ""))
        elif block.get("type") == "tool_use":
            parts.append(f"→ {block.get('name')}({_short(block.get('input'), 80)})")
    return _short(" ".join(parts)) if parts else "(no content)"


def fallback_line(d: dict[str, Any]) -> str:
    """A `model_fallback` event as the handoff, `show` and `replay` print it."""
    return (
        f"step {d.get('step', '?')} went to {d.get('provider')} {d.get('model')}: "
        f"{d.get('from_provider')} {d.get('from_model')} stayed unavailable "
        f"({_short(d.get('cause', ''), 100)})"
    )


def summary(event: Event) -> str:
    """What happened, in one line, without the kind."""
    d, k = event.data, event.kind
    if k == "ticket_received":
        return repr(_short(d.get("text", "")))
    if k == "status_changed":
        return f"{d.get('from')} → {d.get('to')}" + (f" ({d['reason']})" if d.get("reason") else "")
    if k == "claimed":
        return f"by {d.get('worker')} (attempt {d.get('attempt')}, fence {d.get('fence')})"
    if k == "resumed":
        return f"on {d.get('worker', '?')} (attempt {d.get('attempt')}, fence {d.get('fence')})"
    if k == "interrupted":
        return f"worker {d.get('worker')} lost its lease (attempt {d.get('attempt')})"
    if k == "paged":
        why = f": {d['error']}" if d.get("error") else ""
        return f"{d.get('service')} {d.get('action')} {d.get('outcome')} (dedup_key {d.get('dedup_key')}){why}"
    if k == "token_refreshed":
        return f"{d.get('dependency')}: {d.get('what')}"
    if k == "policy_changed":
        return f"policy {str(d.get('from'))[:12]} → {str(d.get('to'))[:12]}"
    if k in ("wait_reminder", "wait_expired"):
        return f"waited {d.get('waited_seconds')} s for a human (limit {d.get('after_seconds')} s)"
    if k == "operator_action":
        return f"{d.get('action')} by {d.get('by')}: {d.get('reason')}"
    if k == "model_request":
        return f"step {d.get('step', '?')}: asking {d.get('model', 'the model')}"
    if k == "model_response":
        usage = d.get("usage") or {}
        tokens = f" [{usage.get('input_tokens', 0)}→{usage.get('output_tokens', 0)} tokens]"
        return f"step {d.get('step', '?')}: {_model_text(d)}" + (tokens if usage else "")
    if k == "tool_call":
        return f"{d.get('name') or d.get('tool')} {_short(d.get('input', {}), 100)}"
    if k == "tool_result":
        flag = "error: " if d.get("is_error") else ""
        return f"{d.get('name') or d.get('tool', '')} {flag}{_short(d.get('content', ''), 100)}"
    if k == "tool_blocked":
        return f"{_short(d.get('command') or d.get('input', ''), 80)} — {d.get('reason', '')}"
    if k == "retry":
        return (
            f"{d.get('dependency', 'model')}: {d.get('reason', '')}; "
            f"waiting {float(d.get('wait_seconds', d.get('wait', 0)) or 0):.1f} s "
            f"(attempt {d.get('attempt', '?')})"
        )
    if k == "degraded":
        return f"{d.get('dependency')}: {_short(d.get('reason', ''), 100)}"
    if k in ("assumption", "human_answer"):
        return _short(d.get("text", ""))
    if k == "human_question":
        return _short(d.get("question", ""))
    if k == "handoff":
        return f"{d.get('verdict')}: {_short(d.get('summary', ''), 100)}"
    if k == "escalation_score":
        return f"score {d.get('total', 0):.2f} (threshold {d.get('threshold', 0):.2f})"
    if k == "step":
        return f"step {d.get('step')}/{d.get('of')} on {d.get('worker')}"
    if k == "model_fallback":
        return fallback_line(d)
    return _short(d, 140)


def line(event: Event) -> str:
    at = event.at.strftime("%H:%M:%S.%f")[:-3]
    return f"{event.seq:>5}  {at}  {event.kind:<18} {summary(event)}"


def details(event: Event) -> list[str]:
    """Lines under an event's line when it has more to show: a handoff's facts, each with the
    steps it was read from, and the facts the system did not verify, with why."""
    if event.kind != "handoff":
        return []
    lines = []
    for fact in event.data.get("confirmed") or []:
        fact = fact if isinstance(fact, dict) else {"fact": fact}
        links = "; ".join(
            f"step {c.get('step')}, {c.get('tool')}" for c in fact.get("evidence") or []
        )
        lines.append(f"confirmed: {fact.get('fact', '')}" + (f" · {links}" if links else ""))
    for item in event.data.get("not_verified") or []:
        lines.append(f"not verified: {item.get('fact', '')} ({item.get('why', '')})")
    for item in event.data.get("could_not_reach") or []:
        lines.append(f"could not reach: {item}")
    return lines
