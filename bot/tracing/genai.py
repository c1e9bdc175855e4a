"""Span attributes by OpenTelemetry's GenAI semantic conventions (model calls and tool calls),
and Steadfast's own for what the conventions do not cover (decision rule, dependency)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.util.types import AttributeValue

SYSTEM = "anthropic"


def model_request(model: str, max_tokens: int, step: int) -> dict[str, AttributeValue]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": SYSTEM,
        "gen_ai.provider.name": SYSTEM,  # the name newer conventions use for gen_ai.system
        "gen_ai.request.model": model,
        "gen_ai.request.max_tokens": max_tokens,
        "steadfast.step": step,
    }


def model_response(raw: dict[str, Any]) -> dict[str, AttributeValue | None]:
    """Usage and finish reason of an Anthropic Messages API response."""
    usage = raw.get("usage") or {}
    stop = raw.get("stop_reason")
    return {
        "gen_ai.response.id": raw.get("id"),
        "gen_ai.response.model": raw.get("model"),
        "gen_ai.response.finish_reasons": [str(stop)] if stop else None,
        "gen_ai.usage.input_tokens": int(usage.get("input_tokens") or 0),
        "gen_ai.usage.output_tokens": int(usage.get("output_tokens") or 0),
        "gen_ai.usage.cache_read.input_tokens": int(usage.get("cache_read_input_tokens") or 0),
        "gen_ai.usage.cache_creation.input_tokens": int(
            usage.get("cache_creation_input_tokens") or 0
        ),
    }


def tool_request(name: str, call_id: str, step: int) -> dict[str, AttributeValue]:
    return {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.id": call_id,
        "steadfast.step": step,
    }


def tool_outcome(kinds_and_data: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, AttributeValue]:
    """What a tool call came to, from the events it appended (kind, data), oldest first:
    `steadfast.tool.outcome` is ok, error, blocked, degraded, waiting or pending; the decision
    rule and the dependency when there is one."""
    out: dict[str, AttributeValue] = {"steadfast.tool.outcome": "pending"}
    for kind, data in kinds_and_data:
        if data.get("rule"):
            out["steadfast.tool.rule"] = str(data["rule"])
        if kind == "degraded":
            out["steadfast.tool.dependency"] = str(data.get("dependency"))
            out["steadfast.tool.outcome"] = "degraded"
        elif kind == "tool_blocked":
            out["steadfast.tool.outcome"] = "blocked"
        elif kind in ("human_question", "approval_requested"):
            out["steadfast.tool.outcome"] = "waiting"
        elif kind == "tool_result" and out["steadfast.tool.outcome"] != "degraded":
            out["steadfast.tool.outcome"] = "error" if data.get("is_error") else "ok"
    return out
