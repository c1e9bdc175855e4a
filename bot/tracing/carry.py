"""Where a trace's context travels between processes: the `ticket_received` event (intake →
worker) and an outbox row's `_traceparent` directive (worker → the bot's dispatcher). Both are
JSON already stored, so carrying the context needs no schema change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.model import Event, EventKind

TRACEPARENT = "traceparent"
OUTBOX_DIRECTIVE = "_traceparent"


def ticket_traceparent(events: Iterable[Event]) -> str | None:
    """The traceparent the intake recorded with the ticket, if it traced the mention."""
    for event in events:
        if event.kind == EventKind.TICKET_RECEIVED:
            value = event.data.get(TRACEPARENT)
            return str(value) if value else None
    return None


def with_traceparent(payload: dict[str, Any], traceparent: str | None) -> dict[str, Any]:
    """`payload` with the directive that lets the sender's span join the trace; unchanged
    when tracing is off."""
    if traceparent is None:
        return payload
    return {**payload, OUTBOX_DIRECTIVE: traceparent}
