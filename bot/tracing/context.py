"""The trace id of the running code, for log lines; and the trace id inside a traceparent."""

from __future__ import annotations

from opentelemetry import trace


def current_trace_id() -> str | None:
    """The 32-hex trace id of the span active in this thread (or task), or None when no
    recording trace is active. Structured logs put it beside `job_id`."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x")


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id part of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`)."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or set(parts[1]) == {"0"}:
        return None
    return parts[1]
