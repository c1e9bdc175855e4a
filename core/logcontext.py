"""Per-job log context: the fields every log line inside a job carries.

Context variables, not logger adapters, so a line logged deep inside an integration adapter
(which knows nothing of jobs) still says which job, tenant, step and worker it belongs to.
The worker sets them around each job; the agent loop updates `step`. `trace_id` is filled by
whoever owns tracing (set it with `bind(trace_id=...)`); when unset, the current
OpenTelemetry span's id is used if that library is importable.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager

FIELDS = ("job_id", "tenant", "step", "worker", "trace_id")

_VARS: dict[str, contextvars.ContextVar[str | None]] = {
    name: contextvars.ContextVar(f"steadfast_log_{name}", default=None) for name in FIELDS
}


def current() -> dict[str, str]:
    """The fields bound now (unset ones left out)."""
    values = {name: var.get() for name, var in _VARS.items()}
    if values["trace_id"] is None:
        values["trace_id"] = _otel_trace_id()
    return {k: v for k, v in values.items() if v is not None}


def set_field(name: str, value: object | None) -> None:
    """Set one field for the rest of this context (a thread's or a task's)."""
    _VARS[name].set(None if value is None else str(value))


@contextmanager
def bind(**fields: object | None) -> Iterator[None]:
    """Bind fields for the block, restoring the previous values after it."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown log context fields: {sorted(unknown)}")
    tokens = [(_VARS[k], _VARS[k].set(None if v is None else str(v))) for k, v in fields.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def _otel_trace_id() -> str | None:
    try:
        from opentelemetry import trace  # optional: present only when tracing is installed
    except ImportError:
        return None
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x")


class ContextFilter(logging.Filter):
    """Copies the bound fields onto each record, so formatters can print them."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True
