"""One span per agent step. A step (a model call and the tool calls of its turn) spans two
iterations of the agent loop, so its span is held open across them and made current for each."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span

from bot.tracing.setup import Tracing


class StepSpans:
    def __init__(self, tracing: Tracing) -> None:
        self._tracing = tracing
        self._step: int | None = None
        self._span: Span | None = None

    @contextmanager
    def at(self, step: int) -> Iterator[Span]:
        """Make step `step`'s span current for the block, starting it (and ending the previous
        step's) when the loop has moved on to a new step."""
        if step != self._step or self._span is None:
            self.close()
            self._span = self._tracing.tracer.start_span(
                "agent.step", attributes={"steadfast.step": step}
            )
            self._step = step
        with trace.use_span(self._span, end_on_exit=False, record_exception=False):
            yield self._span

    def close(self) -> None:
        if self._span is not None:
            self._span.end()
        self._span = None
        self._step = None
